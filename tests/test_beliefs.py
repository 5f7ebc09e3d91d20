"""Beliefs from the local node's view: reliability, verified and raw compliance (DESIGN 7)."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from tests.harness.beliefs import AREA, DEC_1, NORTH, NOW, SOUTH, T0, World, baseline, demo
from trustnet.errors import ConfigError, NotFound
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.trust.beliefs import (
    BeliefEngine,
    TrustParams,
    compute_beliefs,
    observation_confirmed,
)
from trustnet.trust.opinion import Opinion


@pytest.fixture
def w() -> World:
    return World()


# -- the demo scenario -------------------------------------------------------------------------


def test_demo_from_north_1(w: World) -> None:
    baseline(w)
    before = w.beliefs("north-1")
    s = demo(w)
    after = w.beliefs("north-1")
    s1 = w.party("south-1")
    b0, b1 = before.party(s1), after.party(s1)
    # Settles below its baseline: the inspection proved the undercount.
    assert b1.verified.score < b0.verified.score
    assert b0.verified.score > 0.5  # the on-time annual exchange, self-proving
    rules = {c.rule for c in b1.verified.evidence}
    assert rules == {
        "annual_exchange_on_time",
        "consultation_answered",
        "inspection_accepted",
        "undercounted_notification",
        "observers_not_invited",
    }
    under = next(c for c in b1.verified.evidence if c.rule == "undercounted_notification")
    assert under.verified and under.verifiable and under.credibility == 1.0  # own inspection
    assert under.attesters == tuple(sorted([w.party("north-3"), w.party("south-3")]))
    assert s["report"].id_hex in under.entries
    # The observation and the inspection of one activity are one fact in the raw view.
    raw_under = [c for c in b1.raw.evidence if c.rule == "undercounted_notification"]
    assert len(raw_under) == 1 and s["observation"].id_hex in raw_under[0].entries
    # south-1's reliability drops, below the northern sources'.
    rel = {p: after.party(w.party(p)).reliability for p in (*NORTH, *SOUTH)}
    assert rel["south-1"].refuted > 0
    assert rel["south-1"].p < before.party(s1).reliability.p
    assert rel["south-1"].p < rel["north-2"].p and rel["south-1"].p < rel["north-3"].p
    # north-2's observation (20,000 against 16,000 found: within 30%) is confirmed.
    assert rel["north-2"].confirmed > 0 and rel["north-2"].refuted == 0
    # Confirmation is local trust north-1 -> north-2: its EigenTrust share grows (its
    # reliability is already at the cap, trust_belief, as a direct trustee).
    assert rel["north-2"].share > before.party(w.party("north-2")).reliability.share
    assert rel["north-1"].p == 1.0  # the node itself


def test_demo_from_south_2_moves_less_in_the_same_direction(w: World) -> None:
    baseline(w)
    before = {v: w.beliefs(v) for v in ("north-1", "south-2")}
    demo(w)
    after = {v: w.beliefs(v) for v in ("north-1", "south-2")}
    s1 = w.party("south-1")
    move = {v: after[v].party(s1).verified.score - before[v].party(s1).verified.score for v in after}
    # South-2 moves far less: it relies on the north at +0 and on its own moderate at +800,
    # the undercount weighs its severity (0.78), the inspectors and north-3 are one bloc
    # (issue 12, findings 8 and 9), and the accepted inspection's credit balances it.
    assert move["north-1"] < -0.04 and abs(move["south-2"]) < abs(move["north-1"]) / 10
    rel_move = {
        v: after[v].party(s1).reliability.p - before[v].party(s1).reliability.p for v in after
    }
    assert rel_move["north-1"] < 0 and rel_move["south-2"] < 0
    # south-2 believes the northern report as far as it trusts its inspector and attesters.
    under = next(
        c for c in after["south-2"].party(s1).verified.evidence
        if c.rule == "undercounted_notification"
    )
    assert 0.0 < under.credibility < 1.0


def test_southern_view_without_trust_in_any_attester_does_not_move(w: World) -> None:
    # Nobody in the south relies on a northern party and only north-3 attests the report:
    # south-2 does not move on the northern inspection at all.
    baseline_no_cross(w)
    before = w.beliefs("south-2")
    s = demo_without_southern_attester(w)
    after = w.beliefs("south-2")
    s1 = w.party("south-1")
    assert after.party(s1).verified.score == before.party(s1).verified.score
    assert after.party(s1).reliability.p == before.party(s1).reliability.p
    assert s["report"].id_hex not in {
        i for c in after.party(s1).verified.evidence for i in c.entries
    }
    # ... while north-1, who inspected, does.
    n1 = w.beliefs("north-1").party(s1)
    assert s["report"].id_hex in {i for c in n1.verified.evidence for i in c.entries}


def baseline_no_cross(w: World) -> None:
    for p in (*NORTH, *SOUTH):
        w.profile(p)
        w.exchange(p)
    for bloc in (NORTH, SOUTH):
        for a in bloc:
            for b in bloc:
                if a != b:
                    w.trust(a, b, 800)


def demo_without_southern_attester(w: World) -> dict[str, Entry]:
    s = {}
    s["notification"] = w.notify("south-1", T0 - 42 * DAY_MS, troops=12_500, tanks=250)
    s["inspection"] = w.inspect("north-1", "south-1", T0 + 4 * DAY_MS)
    s["response"] = w.respond("south-1", s["inspection"], T0 + 4 * DAY_MS + 10 * HOUR_MS, True)
    s["report"] = w.report(
        "north-1", s["inspection"], "south-1", T0 + 6 * DAY_MS,
        troops=16_000, tanks=320, verdict="inconsistent", activity="Shield-25",
    )
    w.attest("north-3", s["report"], T0 + 7 * DAY_MS)
    return s


def test_explanation_names_rules_and_figures(w: World) -> None:
    baseline(w)
    demo(w)
    b = w.beliefs("north-1").party(w.party("south-1"))
    text = b.explanation
    assert text.startswith("south-1: verified compliance ")
    assert "undercounted_notification" in text and "16000 troops" in text
    assert "12500 troops" in text and "Down:" in text and "Up:" in text
    assert "inspection_accepted" in text
    assert "north-1" in text  # who reported it, by name
    assert "refuted" in b.reliability.explain()


def test_explanation_is_made_when_read_from_the_snapshot_it_belongs_to(w: World) -> None:
    # A snapshot's explanations are made when first read (most readers want the scores
    # alone), but from that snapshot's views and names: later statements change nothing.
    baseline(w)
    demo(w)
    engine = BeliefEngine(w.party("north-1"))
    engine.add(w.entries)
    before = engine.snapshot(NOW)
    s1 = w.party("south-1")
    rename = w.post("south-1", "profile", {"name": "south-renamed", "role": "state", "urls": []},
                    NOW - HOUR_MS)
    cleared = w.attest("north-3", w.entries[-2], NOW - HOUR_MS)
    engine.add([rename, cleared])
    after = engine.snapshot(NOW)
    assert after.party(s1).explanation.startswith("south-renamed: ")
    old = before.party(s1)
    assert old.explanation.startswith("south-1: ")
    assert old.explanation == compute_beliefs(w.entries[:-2], w.party("north-1"), NOW).party(
        s1).explanation
    assert old == before.party(s1) and old != after.party(s1)
    with pytest.raises(AttributeError):
        old.explanation = "something else"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        old.party = "00" * 32  # type: ignore[misc]
    # copied and pickled with the explanation made
    import copy
    import pickle

    fresh = engine.snapshot(NOW).party(s1)
    for twin in (copy.copy(fresh), copy.deepcopy(fresh), pickle.loads(pickle.dumps(fresh))):
        assert twin == fresh and twin.explanation == fresh.explanation


def test_json_shape(w: World) -> None:
    baseline(w)
    demo(w)
    beliefs = w.beliefs("north-1")
    doc = json.loads(json.dumps(beliefs.to_json()))
    assert set(doc) == {"node", "now", "anchors", "params", "parties"}
    assert doc["node"] == w.party("north-1") and doc["now"] == NOW
    assert [p["party"] for p in doc["parties"]] == sorted(beliefs.parties)
    one = beliefs.party(w.party("south-1")).to_json()
    assert set(one) == {"party", "name", "forked", "reliability", "verified", "raw", "explanation"}
    assert one["name"] == "south-1"
    assert set(one["verified"]) == {"opinion", "score", "evidence"}
    assert set(one["verified"]["opinion"]) == {"b", "d", "u", "a", "p"}
    ev = one["verified"]["evidence"][0]
    assert set(ev) == {
        "rule", "weight", "at", "entries", "sources", "attesters", "refuters", "note",
        "verifiable", "verified", "basis", "credibility", "contribution",
    }
    assert set(one["reliability"]) >= {"p", "opinion", "share", "confirmed", "refuted"}
    with pytest.raises(NotFound):
        beliefs.party("00" * 32)


# -- equivocation -------------------------------------------------------------------------------


def test_equivocation_zeroes_reliability_and_statements_stop_counting(w: World) -> None:
    baseline(w)
    demo(w)
    # north-2 signs a second, different entry as one of its seqs: a fork.
    n2 = w.identity("north-2")
    held = next(e for e in w.entries if e.author_hex == w.party("north-2") and e.seq == 2)
    other = sign_entry(n2, seq=2, prev=held.prev, ts=held.ts + 1, kind="trust",
                       body={"subject": w.party("south-1"), "level": 1000})
    proof = ForkProof.of(held, other)
    honest = w.beliefs("north-1")
    forked = w.beliefs("north-1", forks=[proof])
    n2_id, s1 = w.party("north-2"), w.party("south-1")
    assert honest.party(n2_id).reliability.p > 0
    b = forked.party(n2_id)
    assert b.forked and b.reliability.p == 0.0 and b.reliability.opinion == Opinion(0, 1, 0, 0)
    assert b.verified.score == 0.0 and b.raw.score == 0.0
    assert "equivocat" in b.explanation
    # north-2's observation no longer supports anything about south-1.
    raw_under = next(
        c for c in forked.party(s1).raw.evidence if c.rule == "undercounted_notification"
    )
    assert n2_id not in raw_under.sources
    assert n2_id in next(
        c for c in honest.party(s1).raw.evidence if c.rule == "undercounted_notification"
    ).sources
    # The engine finds the fork by itself when both entries arrive.
    found = compute_beliefs([*w.entries, other], w.party("north-1"), NOW)
    assert found.party(n2_id).forked
    assert found.to_json() == forked.to_json()


# -- determinism and the incremental engine ------------------------------------------------------


def test_deterministic_and_order_independent(w: World) -> None:
    baseline(w)
    demo(w)
    expected = w.beliefs("north-1").to_json()
    shuffled = list(w.entries) * 2
    random.Random(5).shuffle(shuffled)
    assert compute_beliefs(shuffled, w.party("north-1"), NOW).to_json() == expected


def test_incremental_engine_equals_full_recompute(w: World) -> None:
    baseline(w)
    demo(w)
    engine = BeliefEngine(w.party("north-1"))
    for i, e in enumerate(w.entries):
        engine.add([e])
        if i % 7 == 0:  # snapshots in between leave caches behind
            now = e.ts + HOUR_MS
            snap = engine.snapshot(now).to_json()
            full = compute_beliefs(w.entries[: i + 1], w.party("north-1"), now).to_json()
            assert snap == full
    assert engine.snapshot(NOW).to_json() == w.beliefs("north-1").to_json()


def test_deadline_crossing_invalidates_the_cache(w: World) -> None:
    baseline(w)
    q = w.consult("north-1", "south-1", T0)
    engine = BeliefEngine(w.party("north-1"))
    engine.add(w.entries)
    s1 = w.party("south-1")
    early = engine.snapshot(T0 + HOUR_MS).party(s1)
    late = engine.snapshot(T0 + 49 * HOUR_MS).party(s1)
    assert "consultation_unanswered" not in {c.rule for c in early.raw.evidence}
    unanswered = [c for c in late.raw.evidence if c.rule == "consultation_unanswered"]
    assert [c.entries for c in unanswered] == [(q.id_hex,)]
    assert not unanswered[0].verified  # gossip may not have delivered the answer
    assert late.raw.score < early.raw.score
    assert late.verified.score == early.verified.score


# -- parameters and pure helpers -----------------------------------------------------------------


def test_params_from_mapping() -> None:
    p = TrustParams.from_mapping({"quorum": 3, "a": 0.3, "reliable": 0.5})
    assert (p.quorum, p.a, p.reliable) == (3, 0.3, 0.5)
    for bad in ({"nope": 1}, {"quorum": 0}, {"quorum": 1.5}, {"a": 0}, {"reliable": 2},
                {"trust_weight": -1}, {"a": "x"}, {"quorum": True}, {"tolerance": float("nan")}):
        with pytest.raises(ConfigError):
            TrustParams.from_mapping(bad)


def test_observation_confirmed_by_tolerance_or_thresholds(w: World) -> None:
    from trustnet.statements.figures import DEFAULT_FIGURES
    from trustnet.statements.kinds import InspectionReport, Observation

    def obs(troops: int, tanks: int) -> Observation:
        return Observation("ab" * 32, AREA, T0, troops, tanks, 0, 0, "aerial", 700, ())

    rep = InspectionReport("cd" * 32, "ab" * 32, 16_000, 320, 0, 0, "inconsistent", ())
    assert observation_confirmed(obs(20_000, 350), rep, DEFAULT_FIGURES, 0.3)
    assert observation_confirmed(obs(40_000, 700), rep, DEFAULT_FIGURES, 0.3)  # same thresholds
    assert not observation_confirmed(obs(8_000, 100), rep, DEFAULT_FIGURES, 0.3)
    low = InspectionReport("cd" * 32, "ab" * 32, 8_200, 100, 0, 0, "consistent", ())
    assert not observation_confirmed(obs(30_000, 100), low, DEFAULT_FIGURES, 0.3)


def test_views_made_on_demand_match_their_contributions(w: World) -> None:
    from trustnet.trust.opinion import cumulative_fuse

    baseline(w)
    demo(w)
    beliefs = w.beliefs("north-1")
    fused_several = 0
    for pb in beliefs.parties.values():
        for view in (pb.raw, pb.verified):
            facts = view.facts()  # before the contributions are made
            made = view.evidence
            assert facts == [
                (c.rule, c.entries[0] if c.entries else None, c.credibility, c.verified)
                for c in made
            ]
            assert all(c.credibility > 0 for c in made)
            if len(made) > 1:
                fused_several += 1
                f = cumulative_fuse(*(c.opinion for c in made))
                assert (view.opinion.b, view.opinion.d, view.opinion.u) == pytest.approx(
                    (f.b, f.d, f.u), abs=1e-12
                )
    assert fused_several > 0


# -- issue 12, finding 8: trust levels keep their magnitude; distrust counts ----------------


def test_a_party_trusted_at_150_is_a_weaker_source_than_one_at_800() -> None:
    w = World()
    for name in ("me", "friend", "weak", "strong"):
        w.profile(name)
    w.trust("me", "friend", 800)
    for truster in ("me", "friend"):  # the node and those it trusts agree
        w.trust(truster, "weak", 150)
        w.trust(truster, "strong", 800)
    rel = w.beliefs("me").parties
    weak, strong = rel[w.party("weak")].reliability.p, rel[w.party("strong")].reliability.p
    assert 0.0 < weak < 0.5 < strong
    assert weak < strong / 3


def test_distrust_counts_and_stops_propagation() -> None:
    w = World()
    for name in ("me", "friend", "suspect", "crony"):
        w.profile(name)
    w.trust("me", "friend", 800)
    w.trust("friend", "suspect", 800)
    w.trust("suspect", "crony", 1000)
    before = w.beliefs("me").parties
    assert before[w.party("suspect")].reliability.p > 0.3
    assert before[w.party("crony")].reliability.p > 0.1
    w.trust("me", "suspect", -800)
    after = w.beliefs("me").parties
    suspect = after[w.party("suspect")].reliability.opinion
    assert suspect.d > suspect.b and suspect.p < before[w.party("suspect")].reliability.p / 2
    assert after[w.party("crony")].reliability.p == 0.0  # trust stops at a distrusted party


# -- issue 12, finding 7: a report is verified by the host's co-signature or a quorum ----------


def _suspicion_of(entries: list[Entry], viewer: str, party: str, now: int) -> float:
    from trustnet.analysis.views import NodeViews, Settings
    from trustnet.clock import ManualClock
    from trustnet.config.loader import NodeConfig
    from trustnet.store.sqlite import Store

    store = Store(None)
    for e in entries:
        store.ingest([e], e.ts)  # received when signed: nothing backdated
    views = NodeViews(store, viewer, (), Settings.from_config(NodeConfig()), ManualClock(now))
    return views.current(now)[1].report(party, now).level


def _inspected(verdict: str | None) -> tuple[World, Entry]:
    """A neutral node's world: north-1 inspects south-1 (accepted) and reports 40,000 troops
    against 12,500 notified; the host attests the report with `verdict` (None: not yet)."""
    w = World()
    for name in ("neutral", "north-1", "south-1"):
        w.profile(name)
    for party in ("north-1", "south-1"):  # neutral: it relies on both sides alike
        w.trust("neutral", party, 500)
    w.exchange("south-1")
    w.notify("south-1", T0 - 45 * DAY_MS, troops=12_500, tanks=250)
    q = w.inspect("north-1", "south-1", T0 + DAY_MS)
    w.respond("south-1", q, T0 + DAY_MS + HOUR_MS, accept=True)
    if verdict is None:
        return w, q
    report = w.report("north-1", q, "south-1", T0 + 2 * DAY_MS, troops=40_000, tanks=600,
                      verdict="inconsistent")
    w.attest("south-1", report, T0 + 2 * DAY_MS + HOUR_MS, verdict=verdict)
    return w, report


def test_a_report_the_host_refutes_and_nobody_confirms_moves_a_neutral_node_little() -> None:
    w0, _ = _inspected(None)
    w, _report = _inspected("refute")
    host, viewer = w.party("south-1"), w.party("neutral")
    before = w0.beliefs("neutral").party(host)
    after = w.beliefs("neutral").party(host)
    assert abs(after.verified.score - before.verified.score) <= 0.05
    assert not any(c.rule == "undercounted_notification" for c in after.verified.evidence)
    # The raw view shows the claim, and the host's refutation of it, by name.
    shown = [c for c in after.raw.evidence if c.rule == "undercounted_notification"]
    assert shown and "refuted by the host" in shown[0].basis and host in shown[0].refuters
    level_before = _suspicion_of(list(w0.entries), viewer, host, NOW)
    level_after = _suspicion_of(list(w.entries), viewer, host, NOW)
    assert abs(level_after - level_before) <= 0.05
    # The same report co-signed by the host is verified.
    cosigned = _inspected("confirm")[0].beliefs("neutral").party(host)
    facts = [c for c in cosigned.verified.evidence if c.rule == "undercounted_notification"]
    assert facts and "co-signed by the host" in facts[0].basis
    assert cosigned.verified.score < before.verified.score - 0.1


def test_only_states_request_inspections() -> None:
    # VD11 chapter IX; issue 12, finding 9: roles are used. An observer mission's "inspection
    # request" is no inspection: refusing it is no violation, accepting it earns nothing.
    w = World()
    w.profile("me")
    w.post("monitor", "profile", {"name": "monitor", "role": "observer", "urls": []}, DEC_1)
    w.profile("north-1")
    w.profile("south-1")
    w.trust("me", "monitor", 800)
    w.trust("me", "north-1", 800)
    by_monitor = w.inspect("monitor", "south-1", T0)
    w.respond("south-1", by_monitor, T0 + HOUR_MS, accept=False)
    by_state = w.inspect("north-1", "south-1", T0 + DAY_MS)
    w.respond("south-1", by_state, T0 + DAY_MS + HOUR_MS, accept=False)
    facts = w.beliefs("me").party(w.party("south-1")).raw.evidence
    refused = [c for c in facts if c.rule == "inspection_refused"]
    assert [c.entries[0] for c in refused] == [by_state.id_hex]


def test_attesters_of_one_bloc_are_not_independent() -> None:
    # Issue 12, finding 8: two attesters who trust each other strongly (one bloc) are one
    # voice: they make no quorum, and together weigh what one of them weighs.
    def world(second: str) -> World:
        w = World()
        for name in ("me", "a", "b", "c", "inspector", "south-1"):
            w.profile(name)
        for name in ("a", "b", "c"):
            w.trust("me", name, 600)
        w.trust("a", "b", 900)
        w.trust("b", "a", 900)
        w.notify("south-1", T0 - 42 * DAY_MS, troops=12_500, tanks=250)
        obs = w.observe("inspector", "south-1", T0 + DAY_MS, troops=20_000, tanks=350)
        w.attest("a", obs, T0 + 2 * DAY_MS)
        w.attest(second, obs, T0 + 2 * DAY_MS)
        return w

    def fact(w: World, view: str) -> list[Any]:
        b = w.beliefs("me").party(w.party("south-1"))
        return [c for c in getattr(b, view).evidence if c.rule == "undercounted_notification"]

    same, independent = world("b"), world("c")
    assert not fact(same, "verified")  # a and b: one bloc, no quorum
    assert fact(independent, "verified")  # a and c: two
    assert fact(same, "raw")[0].credibility < fact(independent, "raw")[0].credibility


def test_every_driver_an_explanation_names_is_a_fact_that_counts(w: World) -> None:
    # Issue 12: beliefs and explanations agree. Each "[rule, basis]" driver in a party's
    # explanation is a contribution of its views, with a positive credibility.
    baseline(w)
    demo(w)
    w.observe("north-2", "south-1", T0 + 8 * DAY_MS, troops=40_000, tanks=600)  # unverified
    drivers = 0
    for viewer in ("north-1", "south-2"):
        for belief in w.beliefs(viewer).parties.values():
            counted = {
                f"[{c.rule}, {c.basis}]"
                for c in (*belief.verified.evidence, *belief.raw.evidence)
                if c.credibility > 0.0
            }
            named = re.findall(r"\[[a-z_]+, [^\[\]]*\]", belief.explanation)
            assert all(n in counted for n in named), (viewer, belief.name, named, counted)
            drivers += len(named)
    assert drivers > 10


def test_attestation_sums_do_not_depend_on_arrival_order(w: World) -> None:
    """Confidences 0.1 + 0.2 + 0.3 as floats are 0.6000000000000001 in one order and 0.6 in
    another: a stranger choosing the order the attestations arrive in moved the last bit of
    the track record (review); they are summed as whole numbers now."""
    baseline(w)
    statements = [w.exchange("south-1", DEC_1 + i) for i in (1, 2, 3)]
    atts = [w.post("north-2", "attestation", {
        "subject": s.id_hex, "verdict": verdict, "method": "aerial", "confidence": permille,
        "evidence": ["ab" * 32], "note": ""}, DEC_1 + 10 + i)
        for i, (s, verdict, permille) in enumerate(zip(
            statements, ("confirm", "confirm", "partial"), (100, 200, 600), strict=True))]
    rest = [e for e in w.entries if e not in atts]
    south = w.party("south-1")

    def confirmed(order: list[Entry]) -> Any:
        js = compute_beliefs(rest + order, w.party("north-1"), NOW).to_json()
        (party,) = [p for p in js["parties"] if p["party"] == south]
        return party["reliability"]["confirmed"]

    assert confirmed(atts) == confirmed(atts[::-1]) == confirmed(atts[1:] + atts[:1])
