"""The round simulator (`trustnet sim`): real protocols, virtual clock, exact byte counts."""

from __future__ import annotations

import json

import pytest

from trustnet.bench import sim as bench_sim
from trustnet.errors import ConfigError
from trustnet.protocol import messages as m
from trustnet.sim import SimConfig, Simulator, main, simulate


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
    a = simulate(SimConfig(nodes=200, seed=5, drop_rate=0.05, in_sync_rounds=2)).to_json()
    b = simulate(SimConfig(nodes=200, seed=5, drop_rate=0.05, in_sync_rounds=2)).to_json()
    c = simulate(SimConfig(nodes=200, seed=6, drop_rate=0.05, in_sync_rounds=2)).to_json()
    a.pop("peak_rss_mb")
    b.pop("peak_rss_mb")
    c.pop("peak_rss_mb")
    assert a == b
    assert a["rounds"] != c["rounds"]


def test_in_sync_cost_per_node_per_round_is_constant_across_nodes_and_authors() -> None:
    # 10 measured rounds: every node runs exactly one peer exchange among them.
    runs = {
        (n, p, a): simulate(SimConfig(nodes=n, publishers=p, authors=a, seed=3,
                                      in_sync_rounds=10)).in_sync
        for n, p, a in [(100, 1, 0), (300, 1, 0), (300, 1, 300)]
    }
    assert all(s is not None and s.mismatches == 0 for s in runs.values())
    digest = {k: s.digest_bytes_per_node_round for k, s in runs.items() if s is not None}
    # One digest exchange per node per round, counted exactly off the wire codec.
    one = len(m.encode(m.Digest(bytes(32)))) + len(m.encode(m.InSync()))
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


def test_cli_prints_json_and_a_progress_line_per_round(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "60", "--peers", "4", "--json", "--in-sync-rounds", "1"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["config"]["nodes"] == 60 and data["rounds_to_all"] >= 1
    assert err.count("round ") == len(data["rounds"])
    assert main(["--nodes", "60", "--rounds", "1"]) == 1
    out, _ = capsys.readouterr()
    assert "NOT disseminated" in out
    assert main(["--nodes", "1"]) == 2


def test_bench_reports_the_figures() -> None:
    out = bench_sim.run(nodes=100, compare_authors=10)
    assert out["rounds_to_all"] is not None and out["within_bound"]
    assert out["compare"]["publishers"] == 10
    assert out["in_sync_digest_bytes_per_node_round"] == \
        out["compare"]["in_sync_digest_bytes_per_node_round"]
