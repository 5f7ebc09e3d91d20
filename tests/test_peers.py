"""The peer table: decay, graylist and cool-down, rate limits, back-off, bounds, reasons."""

from __future__ import annotations

import random

import pytest

from trustnet.protocol.peers import PeerPolicy, PeerTable

T0 = 1_767_225_600_000
MIN = 60_000


def table(**kw: object) -> PeerTable:
    return PeerTable(PeerPolicy(**kw), own_url="http://me")  # type: ignore[arg-type]


def test_scores_decay_with_the_half_life() -> None:
    t = table(half_life_ms=10 * MIN)
    t.add("http://a", "config", T0)
    t.penalize("http://a", "bad_message", T0)  # -10
    assert t.score("http://a", T0) == pytest.approx(-10.0)
    assert t.score("http://a", T0 + 10 * MIN) == pytest.approx(-5.0)
    assert t.score("http://a", T0 + 20 * MIN) == pytest.approx(-2.5)
    t.reward("http://a", "new entries", 4.0, T0 + 10 * MIN)
    assert t.score("http://a", T0 + 10 * MIN) == pytest.approx(-1.0)


def test_rewards_are_capped() -> None:
    t = table(max_score=20.0)
    for _ in range(100):
        t.reward("n1", "new entries", 1.0, T0, kind="node")
    assert t.score("n1", T0) == 20.0
    # A long record of good data does not buy forgiveness for a forged signature burst.
    for _ in range(3):
        t.penalize("n1", "bad_signature", T0, kind="node")
    assert t.is_ignored("n1", T0)


def test_graylist_at_threshold_for_a_cooldown_with_reason() -> None:
    t = table(graylist_threshold=-50.0, cooldown_ms=5 * MIN)
    t.add("http://a", "config", T0)
    t.penalize("http://a", "bad_signature", T0)
    assert not t.is_ignored("http://a", T0)
    t.penalize("http://a", "bad_signature", T0)  # -50: at the threshold
    assert t.is_ignored("http://a", T0 + 1)
    assert t.usable(T0 + 1) == []
    view = t.to_json(T0 + 2)
    [peer] = view["peers"]
    assert peer["state"] == "graylisted"
    assert "bad_signature" in peer["reason"] and "-50.0" in peer["reason"]
    assert [e["event"] for e in peer["log"]] == ["added", "penalty", "penalty", "graylisted"]
    assert view["graylisted"] == 1
    # After the cool-down it is usable again, on probation: its score is still low.
    later = T0 + 5 * MIN + 1
    assert not t.is_ignored("http://a", later)
    assert t.usable(later) == ["http://a"]
    assert t.score("http://a", later) < -25
    t.penalize("http://a", "bad_message", later)
    t.penalize("http://a", "bad_message", later)
    assert t.is_ignored("http://a", later)


def test_token_buckets_refill_on_the_injected_clock() -> None:
    t = table(rates={"/gossip/digest": (2.0, 5.0)}, graylist_threshold=-1000.0)
    assert all(t.allow("n", "/gossip/digest", T0) for _ in range(5))
    assert not t.allow("n", "/gossip/digest", T0)
    assert t.score("n", T0) < 0  # a breach costs score
    assert not t.allow("n", "/gossip/digest", T0 + 100)  # 0.2 tokens refilled: not enough
    assert t.allow("n", "/gossip/digest", T0 + 600)
    assert all(t.allow("n", "/gossip/other", T0) for _ in range(10))  # other endpoints: own bucket


def test_a_flood_ends_in_the_graylist() -> None:
    t = table()
    results = [t.allow("flooder", "/gossip/push", T0) for _ in range(1000)]
    assert results.count(True) == 300  # the burst
    assert t.is_ignored("flooder", T0)
    log = t.to_json(T0)["peers"][0]["log"]
    assert any("rate_limited" in e["reason"] for e in log)


def test_contact_failures_back_off_without_penalty() -> None:
    t = table(backoff_base_ms=1000, backoff_max_ms=8000)
    t.add("http://a", "config", T0)
    delays = []
    for _ in range(6):
        t.failed("http://a", "unreachable", T0)
        delays.append(t.get("http://a").next_try_ms - T0)  # type: ignore[union-attr]
    assert delays == [1000, 2000, 4000, 8000, 8000, 8000]
    assert t.score("http://a", T0) == 0
    assert t.state("http://a", T0) == "backoff"
    assert t.usable(T0) == []
    t.succeeded("http://a", T0)
    assert t.usable(T0) == ["http://a"]
    assert t.to_json(T0)["peers"][0]["failures"] == 0


def test_table_is_bounded_evicts_by_recency_and_keeps_config_peers() -> None:
    t = table(max_peers=4)
    t.add("http://cfg", "config", T0)
    t.penalize("bad", "bad_signature", T0, kind="node")
    t.penalize("bad", "bad_signature", T0, kind="node")
    assert t.is_ignored("bad", T0)
    assert t.add("http://x1", "exchange", T0 + 1)
    assert t.add("http://x2", "exchange", T0 + 2)
    assert t.add("http://x3", "exchange", T0 + 3)  # evicts "bad", the least recently seen
    assert t.add("http://x4", "exchange", T0 + 4)  # evicts x1
    assert len(t) == 4 and t.evicted == 2
    assert "http://x1" not in t and "bad" not in t and "http://cfg" in t
    # The graylisted record is gone, its penalty is not: still refused, score kept.
    assert t.is_ignored("bad", T0 + 4) and t.score("bad", T0 + 4) == pytest.approx(-50.0, abs=0.1)
    assert not t.add("http://me", "exchange", T0)  # never ourselves
    assert not t.add("http://x3/", "exchange", T0)  # known already (trailing slash ignored)


def test_penalised_strangers_cannot_lock_the_table() -> None:
    # Issue 11 item 2: every stranger leaves a penalised record; none may keep others out.
    t = table(max_peers=8, data_peers_reserved=2)
    t.add("http://cfg", "config", T0)
    t.reward("honest", "new entries", 3.0, T0, kind="node")
    t.count("honest", accepted=3)
    for i in range(100):
        t.penalize(f"stranger{i}", "bad_message", T0 + i, kind="node")
    assert len(t) == 8
    assert t.allow("newcomer", "/gossip/digest", T0 + 200)  # a record, served
    assert t.add("http://op", "admin", T0 + 201)  # the operator always gets room
    assert "honest" in t and "http://cfg" in t  # a supplier and a configured peer stay
    # A penalty survives its record's eviction, and comes back with the key.
    assert t.score("stranger0", T0 + 200) < 0
    t.record("stranger0", "node", T0 + 300)
    assert t.score("stranger0", T0 + 300) < 0


def test_suppliers_beyond_their_reserve_evict_each_other() -> None:
    t = table(max_peers=4, data_peers_reserved=1)
    for i in range(3):
        t.record(f"s{i}", "node", T0 + i)
        t.count(f"s{i}", accepted=1)
    t.record("x", "node", T0 + 10)
    t.record("y", "node", T0 + 11)  # suppliers hold 3 > 1: the oldest supplier goes
    assert "s0" not in t and "x" in t and "y" in t


def test_full_table_of_operator_peers_refuses_strangers_not_the_operator() -> None:
    t = table(max_peers=2)
    t.add("http://c1", "config", T0)
    t.add("http://c2", "config", T0)
    assert not t.add("http://x", "exchange", T0)
    assert t.dropped == 1
    assert not t.allow("stranger", "/gossip/push", T0)
    assert t.add("http://op", "admin", T0)  # beyond max_peers: the operator chose it
    assert len(t) == 3


def test_the_operator_adding_a_known_url_makes_it_theirs() -> None:
    t = table(max_peers=2)
    t.add("http://x", "exchange", T0)
    assert not t.add("http://x", "admin", T0 + 1)  # not new ...
    assert t.get("http://x").source == "admin"  # ... but now never evicted
    t.add("http://y", "exchange", T0 + 2)
    t.add("http://z", "exchange", T0 + 3)
    assert "http://x" in t


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:7400", "http://[::1]:7400", "http://10.0.0.8", "http://192.168.1.1",
    "http://172.16.0.1", "http://169.254.169.254", "http://100.64.0.1", "http://0.0.0.0",
    "http://224.0.0.1", "http://[fd00::1]", "http://[fe80::1]", "http://[::ffff:10.0.0.1]",
    "http://localhost:7400", "http://node.localhost",
])
def test_private_urls_learned_from_gossip_are_refused(url: str) -> None:
    t = table()
    assert not t.add(url, "exchange", T0)
    assert not t.add(url, "profile", T0)
    assert url not in t and t.refused[url]["reason"] == "private_address"
    assert t.refused[url]["count"] == 2 and t.refused_total == 2
    assert t.decisions  # logged for the operator
    # The operator's own choice is dialled anyway; so is anything when allowed.
    assert t.add(url, "admin", T0)
    assert table(allow_private_peers=True).add(url, "exchange", T0)


def test_public_urls_and_host_names_are_kept_and_guarded() -> None:
    t = table()
    assert t.add("http://203.0.114.1:7400", "exchange", T0)
    assert t.add("https://node.example.org", "profile", T0)
    assert t.guarded("https://node.example.org")  # the shell checks what it resolves to
    t.add("http://cfg.example.org", "config", T0)
    assert not t.guarded("http://cfg.example.org")
    assert not table(allow_private_peers=True).guarded("https://node.example.org")
    t.refuse("https://node.example.org", "profile", "resolves to 10.0.0.1", T0)
    assert "https://node.example.org" not in t


def test_without_detail_the_view_hides_reasons_and_errors() -> None:
    t = table()
    t.add("http://203.0.114.1:7400", "exchange", T0)
    t.failed("http://203.0.114.1:7400", "http_501", T0)
    t.add("http://10.0.0.1", "exchange", T0)
    full = t.to_json(T0)
    assert full["peers"][0]["last_error"] == "http_501" and full["refused"][0]["url"] == "http://10.0.0.1"
    public = t.to_json(T0, detail=False)
    row = public["peers"][0]
    assert row["last_error"] == "hidden" and row["reason"] == "hidden"
    assert all(line["reason"] == "hidden" for line in row["log"])
    assert public["refused"] is None and public["refused_total"] == 1 and not public["detail"]


def test_sample_is_seeded_and_skips_excluded() -> None:
    t = table()
    for i in range(20):
        t.add(f"http://p{i:02d}", "config", T0)
    a = t.sample(random.Random(7), 3, T0, exclude=["http://p00"])
    b = t.sample(random.Random(7), 3, T0, exclude=["http://p00"])
    assert a == b and len(set(a)) == 3 and "http://p00" not in a
    assert len(t.sample(random.Random(1), 50, T0)) == 20


def test_reward_log_lines_are_merged() -> None:
    t = table()
    for _ in range(50):
        t.reward("n", "new entries", 1.0, T0, kind="node")
    log = t.to_json(T0)["peers"][0]["log"]
    assert [e["event"] for e in log] == ["added", "reward"]
    assert log[-1]["delta"] == 50.0


def test_policy_validation() -> None:
    with pytest.raises(Exception, match="negative"):
        PeerPolicy(graylist_threshold=0.0)
    with pytest.raises(Exception, match="half_life"):
        PeerPolicy(half_life_ms=0)
