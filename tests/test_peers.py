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


def test_table_is_bounded_and_keeps_config_and_graylisted_peers() -> None:
    t = table(max_peers=4)
    t.add("http://cfg", "config", T0)
    t.penalize("bad", "bad_signature", T0, kind="node")
    t.penalize("bad", "bad_signature", T0, kind="node")
    assert t.is_ignored("bad", T0)
    assert t.add("http://x1", "exchange", T0 + 1)
    assert t.add("http://x2", "exchange", T0 + 2)
    assert t.add("http://x3", "exchange", T0 + 3)  # evicts x1, the least recently seen
    assert len(t) == 4
    assert "http://x1" not in t and "http://cfg" in t and "bad" in t
    assert not t.add("http://me", "exchange", T0)  # never ourselves
    assert not t.add("http://x3/", "exchange", T0)  # known already (trailing slash ignored)


def test_full_table_of_unevictable_peers_refuses_strangers() -> None:
    t = table(max_peers=2)
    t.add("http://c1", "config", T0)
    t.add("http://c2", "config", T0)
    assert not t.add("http://x", "exchange", T0)
    assert t.dropped == 1
    assert not t.allow("stranger", "/gossip/push", T0)


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
