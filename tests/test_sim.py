"""The round simulator (`trustnet sim`): real protocols, virtual clock, exact byte counts."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from trustnet.bench import sim as bench_sim
from trustnet.cli import main as cli
from trustnet.errors import ConfigError
from trustnet.protocol import messages as m
from trustnet.sim.cli import main
from trustnet.sim.config import SimConfig
from trustnet.sim.engine import T0, Simulator, simulate
from trustnet.sim.result import SimResult


def _comparable(result: SimResult) -> dict[str, object]:
    out = result.to_json()
    out.pop("peak_rss_mb")  # what this process used so far: not part of the run
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_full_dissemination_within_log3_n_plus_3_rounds(seed: int) -> None:
    cfg = SimConfig(nodes=300, seed=seed, in_sync_rounds=2)
    result = simulate(cfg)
    assert result.rounds_to_all is not None
    assert result.rounds_to_all <= cfg.bound  # log3(300) + 3 = 8.19
    assert result.within_bound
    # Holders only grow, and one hop per round: round 0 reaches at most publisher + fanout.
    holders = [r.holders for r in result.rounds]
    assert holders == sorted(holders)
    assert holders[0] <= 1 + cfg.fanout
    assert holders[result.rounds_to_all - 1] == 300
    assert result.requests == sum(r.requests for r in result.rounds[: result.rounds_to_all])
    assert result.in_sync is not None and result.in_sync.mismatches == 0


def test_every_node_ends_with_the_same_entries_and_digest() -> None:
    sim = Simulator(SimConfig(nodes=200, publishers=5, seed=9, in_sync_rounds=1))
    result = sim.run()
    assert result.rounds_to_all is not None
    assert sim.quiet()
    ids = {e.id for e in sim.published}
    assert len(ids) == 5
    for proto in sim.protocols:
        assert proto.store.count() == 5
        assert all(proto.store.get(i) is not None for i in ids)


def test_deterministic_for_a_seed() -> None:
    cfg = SimConfig(nodes=200, seed=5, drop_rate=0.05, churn=0.05, byzantine=0.1,
                    in_sync_rounds=2, settle_rounds=3)
    a = _comparable(simulate(cfg))
    b = _comparable(simulate(cfg))
    c = _comparable(simulate(replace(cfg, seed=6)))
    assert a == b
    assert a["per_round"] != c["per_round"]


def test_in_sync_cost_per_node_per_round_is_constant_across_nodes_and_authors() -> None:
    # 10 measured rounds: every node runs exactly one peer exchange among them.
    runs = {
        (n, p, a): simulate(SimConfig(nodes=n, publishers=p, authors=a, seed=3,
                                      in_sync_rounds=10)).in_sync
        for n, p, a in [(100, 1, 0), (300, 1, 0), (300, 1, 300)]
    }
    assert all(s is not None and s.mismatches == 0 for s in runs.values())
    digest = {k: s.digest_bytes_per_node_round for k, s in runs.items() if s is not None}
    # One digest exchange per node per round, counted exactly off the wire codec (the
    # digest says it speaks reconciliation; in sync it carries no recent heads).
    one = len(m.encode(m.Digest(bytes(32), recon=True))) + len(m.encode(m.InSync()))
    assert set(digest.values()) == {one}
    requests = {s.requests_per_node_round for s in runs.values() if s is not None}
    assert requests == {1.1}  # a digest every round, a peer exchange every 10th
    # Everything in sync (peer exchange included) is bounded by a constant: URLs shared
    # are capped (peers_shared) and their length grows only with the digits of a name.
    totals = [s.bytes_per_node_round for s in runs.values() if s is not None]
    assert max(totals) <= 1.1 * min(totals)
    by_path = [s.bytes_by_path for s in runs.values() if s is not None]
    assert all(set(b) == {m.DIGEST, m.PEERS} for b in by_path)  # no heads, fetch or push


def test_held_authors_are_in_every_store_and_gossip_only_the_new_entry() -> None:
    sim = Simulator(SimConfig(nodes=100, authors=40, seed=8, in_sync_rounds=1))
    assert all(p.store.author_count() == 40 for p in sim.protocols)
    assert sim.quiet()
    result = sim.run()
    assert result.rounds_to_all is not None
    assert all(p.store.count() == 41 for p in sim.protocols)


def test_converges_with_ten_percent_drops() -> None:
    result = simulate(SimConfig(nodes=300, seed=2, drop_rate=0.10, in_sync_rounds=1))
    assert result.rounds_to_all is not None
    assert result.rounds_to_all <= 2 * result.bound
    assert sum(r.failures for r in result.rounds) > 0
    assert result.in_sync is not None and result.in_sync.mismatches == 0


def test_drain_mode_completes_the_eager_cascade_in_round_zero() -> None:
    hop = simulate(SimConfig(nodes=300, seed=4, in_sync_rounds=1))
    drain = simulate(SimConfig(nodes=300, seed=4, mode="drain", in_sync_rounds=1))
    assert drain.rounds_to_all is not None and hop.rounds_to_all is not None
    # Fanout-3 infect-once push alone reaches most nodes (all but ~e^-3 of them).
    assert drain.rounds[0].holders >= 0.8 * 300
    assert drain.rounds_to_all <= hop.rounds_to_all
    assert all(r.deferred == 0 for r in drain.rounds)


def test_not_disseminated_is_reported() -> None:
    result = simulate(SimConfig(nodes=200, max_rounds=1))
    assert result.rounds_to_all is None and not result.within_bound and result.in_sync is None


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        SimConfig(nodes=10, peers=10)
    with pytest.raises(ConfigError):
        SimConfig(drop_rate=1.0)
    with pytest.raises(ConfigError):
        SimConfig(publishers=0)
    with pytest.raises(ConfigError):
        SimConfig(nodes=10, peers=3, byzantine=0.5, publishers=6)  # publishers are honest
    with pytest.raises(ConfigError):
        SimConfig(churn=1.0)
    with pytest.raises(ConfigError):
        SimConfig(downtime=0.5)
    with pytest.raises(ConfigError):
        SimConfig(byzantine=1.0)
    with pytest.raises(ConfigError):
        SimConfig(tick_ms=0)


def test_bench_reports_the_figures() -> None:
    out = bench_sim.run(nodes=100, compare_authors=10)
    assert out["rounds_to_all"] is not None and out["within_bound"]
    assert out["compare"]["publishers"] == 10
    assert out["in_sync_digest_bytes_per_node_round"] == \
        out["compare"]["in_sync_digest_bytes_per_node_round"]
    # The figure against DESIGN 11's bound, with the raw numbers it comes from.
    assert out["ratio"] == pytest.approx(out["rounds_to_all"] / out["bound"], abs=0.01)
    assert 0 < out["ratio"] <= 1 and out["requests"] > 0 and out["body_bytes"] > 0
    assert out["bytes_per_node"] == round(out["body_bytes"] / 100, 1)


# -- the options of issue 7: loss, round interval, churn, byzantine nodes ----------------


def test_loss_costs_rounds_or_messages_and_is_survived() -> None:
    clean = simulate(SimConfig(nodes=200, seed=1, in_sync_rounds=1))
    lossy = simulate(SimConfig(nodes=200, seed=1, drop_rate=0.2, in_sync_rounds=1))
    assert clean.failures == 0 and lossy.failures > 0
    assert lossy.rounds_to_all is not None and clean.rounds_to_all is not None
    assert lossy.reached == 200
    # Lost pushes and digests are made up for by more rounds or more requests (here both).
    assert lossy.rounds_to_all > clean.rounds_to_all
    assert lossy.requests > clean.requests


def test_round_interval_is_the_virtual_time_of_a_round() -> None:
    fast = Simulator(SimConfig(nodes=200, seed=2, tick_ms=500, in_sync_rounds=1))
    slow = Simulator(SimConfig(nodes=200, seed=2, tick_ms=10_000, in_sync_rounds=1))
    assert fast.gossip.tick_interval_s == 0.5 and slow.gossip.tick_interval_s == 10.0
    a, b = fast.run(), slow.run()
    # Nothing fails in a clean run, so no timer fires: the same rounds, in more virtual time.
    assert [r.holders for r in a.rounds] == [r.holders for r in b.rounds]
    assert a.rounds_to_all is not None and a.rounds_to_all == b.rounds_to_all
    assert a.virtual_seconds == a.rounds_to_all * 0.5
    assert b.virtual_seconds == b.rounds_to_all * 10.0
    assert slow.now == T0 + (len(b.rounds) - 1) * 10_000  # the clock the protocols ran on
    assert a.to_json()["round_interval_s"] == 0.5


def test_round_interval_drives_the_protocol_timers() -> None:
    # Scores decay with a 10-minute half-life and a graylisting lasts 10 minutes: with
    # 2-minute rounds, garbage penalties fade before they add up and cool-downs end
    # within the run, so fewer byzantine nodes end graylisted than with 1-second rounds.
    cfg = SimConfig(nodes=200, seed=1, byzantine=0.2, in_sync_rounds=1, settle_rounds=10)
    short = simulate(cfg).graylisting
    long = simulate(replace(cfg, tick_ms=120_000)).graylisting
    assert long.graylisted < short.graylisted
    assert long.by_behaviour["garbage"]["graylisted"] < short.by_behaviour["garbage"]["graylisted"]


def test_churn_still_reaches_every_honest_node_once_they_return() -> None:
    cfg = SimConfig(nodes=200, seed=1, churn=0.1, downtime=3, in_sync_rounds=1)
    result = simulate(cfg)
    clean = simulate(replace(cfg, churn=0.0))
    assert min(r.online for r in result.rounds) < 200 - 20  # a tenth leaves every round
    assert result.failures > 0  # requests to nodes that are down fail at once
    assert result.rounds_to_all is not None and result.reached == 200
    assert clean.rounds_to_all is not None and result.rounds_to_all > clean.rounds_to_all
    # At some round every online node held it and only nodes away lacked it; they got it
    # after they came back (stores kept, anti-entropy on return).
    waiting = [r for r in result.rounds if r.missing_online == 0 and r.holders < 200]
    assert waiting
    assert result.rounds_online is not None and result.rounds_online < result.rounds_to_all
    assert clean.rounds_online == clean.rounds_to_all
    assert result.reached_online == result.online  # every node online at the end holds it
    assert result.in_sync is not None and result.in_sync.mismatches == 0


def test_byzantine_nodes_delay_but_do_not_stop_dissemination_and_are_graylisted() -> None:
    clean = simulate(SimConfig(nodes=200, seed=1, in_sync_rounds=1))
    result = simulate(SimConfig(nodes=200, seed=1, byzantine=0.4, in_sync_rounds=1,
                                settle_rounds=5))
    cfg = result.config
    assert cfg.byzantine_count == 80 and cfg.honest == 120
    # Rounds to all count honest nodes only; byzantine ones need not hold anything.
    assert result.rounds_to_all is not None and result.reached == 120
    assert clean.rounds_to_all is not None and result.rounds_to_all > clean.rounds_to_all
    g = result.graylisting
    assert g.byzantine == 80 and g.honest_pairs == 0  # no honest node graylisted
    by = g.by_behaviour
    assert by["forge"]["nodes"] == 27 and by["forge"]["graylisted"] == 27
    assert by["forge"]["by_mean"] >= 5  # broken signatures: graylisted at first contact
    assert by["garbage"]["graylisted"] > 0
    assert by["silent"]["graylisted"] == 0  # a black hole that looks honest: invisible
    assert g.graylisted == by["forge"]["graylisted"] + by["garbage"]["graylisted"]


def test_byzantine_modes_are_what_they_say() -> None:
    silent = Simulator(SimConfig(nodes=100, seed=3, byzantine=0.2, byzantine_mode="silent",
                                 in_sync_rounds=1))
    result = silent.run()
    assert result.rounds_to_all is not None
    # Silent nodes swallow what they are pushed: they hold nothing of it.
    assert all(silent.protocols[i].store.count() == 0
               for i, b in enumerate(silent.behaviour) if b == "silent")
    assert result.graylisting.graylisted == 0 and result.failures == 0
    forge = simulate(SimConfig(nodes=100, seed=3, byzantine=0.2, byzantine_mode="forge",
                               in_sync_rounds=1, settle_rounds=3))
    assert forge.graylisting.graylisted == 20 and forge.graylisting.honest_pairs == 0


def test_cli_json_last_line_has_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "--nodes", "200", "--peers", "4", "--in-sync-rounds", "1", "--loss", "0.05",
            "--churn", "0.02", "--byzantine", "0.1", "--round-interval", "2", "--json"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    data = json.loads(out.strip().splitlines()[-1])
    for key in ("nodes", "rounds", "reached", "messages", "bytes_per_node", "virtual_seconds",
                "reached_fraction", "graylisting", "wall_s", "peak_rss_mb", "ratio",
                "rounds_to_all", "bound"):
        assert key in data, key
    assert data["nodes"] == 200 and data["reached"] == 180 == data["honest"]
    assert data["rounds"] == data["rounds_to_all"] >= 1
    assert data["virtual_seconds"] == 2 * data["rounds"]
    assert data["config"]["drop_rate"] == 0.05 and data["config"]["tick_ms"] == 2000
    assert "round " not in err  # --json: no progress lines
    # --drop-rate is the old name of --loss.
    assert main(["--nodes", "60", "--peers", "4", "--drop-rate", "0.05", "--json"]) == 0
    assert json.loads(capsys.readouterr()[0].splitlines()[-1])["config"]["drop_rate"] == 0.05


def test_cli_progress_table_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "60", "--peers", "4", "--in-sync-rounds", "1"]) == 0
    out, err = capsys.readouterr()
    assert "rounds to full dissemination" in out
    rounds = int(out.split("rounds to full dissemination")[1].split()[0])
    assert err.count("honest nodes hold it") >= rounds  # a progress line per round
    assert main(["--nodes", "60", "--rounds", "1", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "NOT disseminated" in out and err == ""
    assert main(["--nodes", "1"]) == 2
    assert main(["--nodes", "60", "--churn", "1.5"]) == 2
