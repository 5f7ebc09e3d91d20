"""Statements -> suspicion signals -> the estimator (DESIGN section 8, DOMAIN.md demo scenario)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from tests.world import World as BaseWorld
from trustnet.errors import ConfigError
from trustnet.feedback import (
    HostilityWeights,
    PartySuspicion,
    Signal,
    SuspicionParams,
    SuspicionView,
    default_verification,
    signals_from,
    suspicion_for,
)
from trustnet.feedback.richardson import FeedbackError
from trustnet.feedback.signals import GroupMemo, evidence_signals, hostility_signals
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.statements.rules import evaluate

T0 = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp() * 1000)  # the activity starts
ON_TIME = T0 - 42 * DAY_MS
AREA = "Southern Plain"
DIGEST = "ab" * 32
K_ONE_SOURCE = 0.25  # Kalman gain v / (v + noise (1 - v)) of one unverified source, noise 1


def day(d: float) -> int:
    return T0 + int(d * DAY_MS)


class World(BaseWorld):
    """Parties by name, each with its own chain of really signed entries (from test_rules)."""


    def notify(self, name: str, ts: int, *, troops: int, tanks: int) -> Entry:
        return self.post(
            name,
            "notification",
            {
                "activity": "Shield-25",
                "type": "exercise",
                "start": T0,
                "end": T0 + 10 * DAY_MS,
                "area": AREA,
                "troops": troops,
                "tanks": tanks,
                "acv": 0,
                "artillery": 0,
                "amphibious": 0,
                "sorties": 0,
                "observers_invited": False,
            },
            ts,
        )

    def observe(
        self, name: str, subject: str, ts: int, *, troops: int, tanks: int, confidence: int = 700
    ) -> Entry:
        body = {
            "subject": self.party(subject),
            "area": AREA,
            "at": ts,
            "troops": troops,
            "tanks": tanks,
            "acv": 0,
            "artillery": 0,
            "method": "aerial",
            "confidence": confidence,
            "evidence": [DIGEST],
        }
        return self.post(name, "observation", body, ts)

    def inspect(self, name: str, host: str, ts: int) -> Entry:
        body = {"host": self.party(host), "area": AREA, "grounds": "observed build-up"}
        return self.post(name, "inspection_request", body, ts)

    def report(self, name: str, request: Entry, host: str, ts: int, **counts: int) -> Entry:
        body = {
            "request": request.id_hex,
            "host": self.party(host),
            "troops": counts["troops"],
            "tanks": counts["tanks"],
            "acv": 0,
            "artillery": 0,
            "verdict": "inconsistent",
            "evidence": [DIGEST],
            "activity": "Shield-25",
        }
        return self.post(name, "inspection_report", body, ts)

    def trust(self, name: str, subject: str, ts: int, level: int) -> Entry:
        return self.post(name, "trust", {"subject": self.party(subject), "level": level}, ts)

    def exchange(self, name: str, ts: int) -> Entry:
        unit = {
            "unit": "1st brigade",
            "location": "Capital",
            "personnel": 4000,
            "tanks": 90,
            "acv": 120,
            "artillery": 36,
            "aircraft": 0,
            "helicopters": 12,
        }
        valid_from = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
        return self.post(name, "annual_exchange", {"valid_from": valid_from, "units": [unit]}, ts)


def demo(w: World, *, accept: bool) -> dict[str, Entry]:
    """DOMAIN.md "just under the threshold", with the timing of tests/test_rules.py."""
    parties = [f"{bloc}-{i}" for bloc in ("north", "south") for i in (1, 2, 3)]
    dec_1 = int(datetime(2024, 12, 1, tzinfo=UTC).timestamp() * 1000)
    for i, p in enumerate(parties):  # 1. profile and annual exchange
        w.post(p, "profile", {"name": p, "role": "state", "urls": []}, dec_1 + i)
        w.exchange(p, dec_1 + i)
    s = {}
    # 2. south-1 notifies 42 days ahead, just under the observation threshold, no observers.
    s["notification"] = w.notify("south-1", ON_TIME, troops=12_500, tanks=250)
    # 3. north-2 observes about 20,000 troops and 350 tanks there.
    s["observation"] = w.observe("north-2", "south-1", day(2), troops=20_000, tanks=350)
    # 4. north-1 asks for an explanation; south-1 answers within 48 h.
    s["request"] = w.consult("north-1", "south-1", day(3))
    s["reply"] = w.reply("south-1", s["request"], day(3) + 20 * HOUR_MS)
    # 5. north-1 requests an inspection; south-1 answers within 24 h.
    s["inspection"] = w.inspect("north-1", "south-1", day(4))
    s["response"] = w.respond("south-1", s["inspection"], day(4) + 10 * HOUR_MS, accept)
    if accept:
        s["report"] = w.report(
            "north-1", s["inspection"], "south-1", day(6), troops=16_000, tanks=320
        )
        for p in ("north-3", "south-3"):
            w.attest(p, s["report"], day(7))
    return s


@pytest.fixture
def w() -> World:
    return World()


def view_of(w: World, name: str, d: float) -> dict[str, PartySuspicion]:
    return suspicion_for(w.entries, w.party(name), day(d))


# -- the demo scenario, from north-1's view -----------------------------------------------------


def test_demo_spike_damping_and_a_level_above_baseline(w: World) -> None:
    demo(w, accept=True)
    me, s1 = w.party("north-1"), w.party("south-1")

    def at(d: float) -> PartySuspicion:
        return suspicion_for(w.entries, me, day(d))[s1]

    baseline = at(1.9)  # before north-2's observation: cooperation only, no suspicion
    assert baseline.level == 0.0 and baseline.threat == 0.0
    # step 3: the unverified observation (one source) raises the level, a little
    step3 = at(3.5)
    assert step3.level > baseline.level and step3.trend > 0.0
    assert {d.rule for d in step3.drivers if d.kind == "threat"} == {
        "undercounted_notification",
        "observers_not_invited",
    }
    # steps 4-5: the answered consultation and the accepted inspection raise the restraint
    # above the reactivity: the index turns negative and stays so for months
    damped = [at(d) for d in (4.5, 10, 30, 60, 90, 120)]
    assert all(r.escalation_index < 0.0 for r in damped)
    assert damped[0].restraint > step3.restraint + 0.09  # 0.1 * (0.9 + 0.1 consultation)
    coop = {d.rule for r in damped for d in r.drivers if d.kind == "cooperation"}
    assert {"inspection_accepted", "consultation_answered"} <= coop
    # the verified undercount (the report, day 6) moves the level fully: it peaks, then decays
    peak = max((at(d) for d in range(6, 40)), key=lambda r: r.level)
    later = [at(d).level for d in (30, 45, 60, 75, 90)]
    assert later == sorted(later, reverse=True)
    assert at(30).trend < 0.0
    # ... and settles above its baseline: the observation obligation was breached (verified)
    end = at(120)
    assert baseline.level < 0.03 < end.level < peak.level
    assert end.grievance > 0.0
    assert abs(end.trend) < 0.002
    # with no standing grievance it would fall further: the breach is what keeps it up
    forget = suspicion_for(w.entries, me, day(120), params=SuspicionParams(grievance_fraction=0))
    assert forget[s1].level < end.level / 10


def test_demo_variant_refused_inspection_is_not_damped(w: World) -> None:
    demo(w, accept=False)
    refused_view = {d: view_of(w, "north-1", d) for d in (5, 30, 60, 90, 120)}
    accepted = World()
    demo(accepted, accept=True)
    s1 = w.party("south-1")
    assert accepted.party("south-1") == s1
    accepted_view = {d: view_of(accepted, "north-1", d) for d in (5, 30, 60, 90, 120)}
    refused = {d: v[s1] for d, v in refused_view.items()}
    ok = {d: v[s1] for d, v in accepted_view.items()}
    # no damping gained: the refusal is a verified threat, not cooperation
    assert refused[5].restraint < ok[5].restraint - 0.08
    assert any(d.rule == "inspection_refused" and d.kind == "threat" for d in refused[5].drivers)
    # the only restraint left is old goodwill (last December's annual exchange, the answered
    # consultation, the notification, whose credit an unverified sighting no longer voids:
    # issue 12, finding 6), drawn down by the refusal: the threats in force keep the
    # reactivity above it, the escalation index positive: the relationship would spiral
    assert refused[60].escalation_index > 0.0 > ok[60].escalation_index
    assert all(refused[d].escalation_index > 0.0 for d in (30, 60))
    assert refused[60].regime == "escalating"
    assert all(refused[d].escalation_index > ok[d].escalation_index for d in (30, 60, 90, 120))
    # suspicion itself is what the model follows: it rises above the accepted variant's
    # while the threats are in force, and relaxes only as they fade (nothing damps it);
    # by day 120 only the accepted variant's verified breach still stands
    assert refused[30].level > 2 * ok[30].level
    for d in (30, 60):
        assert refused[d].level > ok[d].level


def test_southern_nodes_see_no_threat_from_the_north(w: World) -> None:
    demo(w, accept=True)
    # south-2 sees north-1's inspection request and north-2's observation aimed at south-1,
    # not at itself: no hostility towards it, and the north broke no rule
    view = view_of(w, "south-2", 30)
    assert w.party("north-1") not in view or view[w.party("north-1")].threat == 0.0
    s1 = view[w.party("south-1")]
    assert s1.threat > 0.0  # the verified undercount is a fact for everyone
    # south-1 itself sees north-1's requests and north-2's observation: verification rights
    # used within the rules, not hostility (DESIGN 8; issue 12, finding 2)
    own = view_of(w, "south-1", 30)
    for name in ("north-1", "north-2"):
        r = own.get(w.party(name))
        assert r is None or (r.level == 0.0 and r.hostility == 0.0)


# -- mutual hostility without verification -----------------------------------------------------


def hostile_exchange(w: World, days: int = 10) -> None:
    """Both sides watch and challenge each other every day; nobody notifies or answers."""
    for d in range(days):
        w.observe("north-1", "south-1", day(d) + HOUR_MS, troops=10_000, tanks=100)
        w.observe("south-1", "north-1", day(d) + 2 * HOUR_MS, troops=10_000, tanks=100)
        if d % 3 == 0:
            w.inspect("south-1", "north-1", day(d) + 3 * HOUR_MS)
            w.inspect("north-1", "south-1", day(d) + 4 * HOUR_MS)
    w.trust("south-1", "north-1", day(1), -600)


def test_mutual_hostility_without_verification_escalates(w: World) -> None:
    hostile_exchange(w)
    me, s1 = w.party("north-1"), w.party("south-1")
    reports = [suspicion_for(w.entries, me, day(d))[s1] for d in (5, 15, 30, 60)]
    for r in reports:
        assert r.escalation_index > 0.0 and r.regime == "escalating"
        assert r.restraint == SuspicionParams().restraint  # no cooperation at all
    assert reports[1].level > reports[0].level > 0.0
    kinds = {d.kind for d in reports[0].drivers}
    assert kinds == {"threat", "hostility"}
    # what drives it is unverified: the unnotified activities rest on our own observations
    ev = evaluate(w.entries, day(90))
    about_s1 = [e for e in ev if e.party == s1]
    assert about_s1 and not any(e.verifiable for e in about_s1)
    # south-1's observations of us are a right; its repeated inspection requests (beyond
    # one a year from one requester, and it declared no standing) and its distrust are not
    sigs = signals_from(w.entries, ev, me)
    assert {s.rule for s in sigs if s.kind == "hostility"} == {
        "hostile_inspection_request",
        "hostile_trust",
    }
    assert all(s.verification < 1.0 for s in sigs if s.kind == "threat")
    # and when it stops, the relationship relaxes: a quiet year later nothing is left
    late = suspicion_for(w.entries, me, day(400))[s1]
    assert late.level < reports[1].level / 10 and late.regime != "escalating"


# -- signals ------------------------------------------------------------------------------------


def ev(
    rule: str,
    weight: float,
    at: int,
    entries: tuple[str, ...] = ("n1",),
    sources: tuple[str, ...] = ("obs",),
    verifiable: bool = False,
    party: str = "p",
) -> Evidence:
    return Evidence(party, rule, weight, at, entries, sources, "", verifiable)


def test_default_verification() -> None:
    assert default_verification(ev("r", -1, 0, verifiable=True, sources=())) == 1.0
    assert default_verification(ev("r", -1, 0, sources=("a",))) == 0.25
    assert default_verification(ev("r", -1, 0, sources=("a", "b", "a"))) == 0.5
    assert default_verification(ev("r", -1, 0, sources=("a", "b", "c", "d", "e"))) == 1.0
    assert default_verification(ev("r", -1, 0, sources=())) == 0.0


def test_threat_and_cooperation_signals() -> None:
    evidence = [
        ev("unnotified_activity", -0.72, 10, entries=("o1",)),
        ev("inspection_accepted", 0.9, 20, entries=("q", "a"), verifiable=True),
        ev("annual_exchange_on_time", 0.7, 5, entries=(), sources=(), verifiable=True),
        ev("unnotified_activity", -0.72, 10, party="me"),  # about ourselves: ignored
        ev("inspection_refused", 0.0, 30),  # a rule weighted 0 in the config: nothing
    ]
    sigs = evidence_signals(evidence, "me")
    exchange = "annual_exchange_on_time"
    assert sigs == [
        Signal("p", 5, "cooperation", 0.7, 1.0, exchange, exchange),
        Signal("p", 10, "threat", 0.72, 0.25, "o1", "unnotified_activity"),
        Signal("p", 20, "cooperation", 0.9, 1.0, "q", "inspection_accepted"),
    ]


def test_a_proven_equivocator_earns_no_cooperation() -> None:
    """DOMAIN: equivocation means distrust, compliance fully negative: once a fork proof
    stands, the party's cooperation (on whichever branch this node holds) counts for nothing,
    while its violations and the equivocation itself still count."""
    evidence = [
        ev("notification_on_time", 0.7, 5, entries=("n",), sources=(), verifiable=True),
        ev("unnotified_activity", -0.72, 10, entries=("o1",)),
        ev("annual_exchange_on_time", 0.7, 5, entries=(), sources=(), verifiable=True, party="q"),
    ]
    before = evidence_signals(evidence, "me")
    assert [(s.party, s.kind) for s in before] == [
        ("p", "cooperation"), ("p", "threat"), ("q", "cooperation")]
    fork = ev("equivocation", -1.0, 30, entries=("a", "b"), sources=(), verifiable=True)
    after = evidence_signals([*evidence, fork], "me")
    assert [(s.party, s.kind, s.rule) for s in after] == [
        ("p", "threat", "unnotified_activity"), ("p", "threat", "equivocation"),
        ("q", "cooperation", "annual_exchange_on_time")]


def k_weighted(sigs: list[Signal]) -> float:
    return sum(s.weight * s.verification for s in sigs)  # K(v) = v with the default noise


def test_a_fact_observed_then_inspected_counts_once_at_its_verified_weight() -> None:
    observed = ev("undercounted_notification", -0.72, 10, entries=("n1", "o1"))
    inspected = ev("undercounted_notification", -0.72, 20, ("n1", "r1", "q1", "a1"), ("i",), True)
    sigs = evidence_signals([inspected, observed], "me")
    assert [(s.at, s.verification) for s in sigs] == [(10, 0.25), (20, 1.0)]
    assert sigs[0].weight == 0.72
    assert sigs[1].weight == pytest.approx(0.72 * (1 - K_ONE_SOURCE))
    assert k_weighted(sigs) == pytest.approx(0.72)  # the verified amount, not more
    # a less-verified repeat after the verified fact adds nothing
    rumour = ev("undercounted_notification", -0.72, 30, entries=("n1", "o2"))
    assert evidence_signals([observed, inspected, rumour], "me") == sigs
    # other rules, or other notifications, are other facts
    other = ev("observers_not_invited", -0.4, 10, entries=("n1", "o1"))
    assert len(evidence_signals([observed, inspected, other], "me")) == 3


def test_the_demo_undercount_is_counted_once(w: World) -> None:
    s = demo(w, accept=True)
    ev_ = evaluate(w.entries, day(30))
    sigs = [
        x
        for x in signals_from(w.entries, ev_, w.party("north-1"))
        if x.rule == "undercounted_notification"
    ]
    assert [x.ref for x in sigs] == [s["notification"].id_hex] * 2
    assert [x.at for x in sigs] == [s["observation"].ts, s["report"].ts]
    # the inspection's finding (16,000 troops / 320 tanks against 12,500 / 250) weighs 0.72
    # times its severity, 0.78 (issue 12, finding 9)
    assert k_weighted(sigs) == pytest.approx(0.72 * 0.78)


def test_verification_callback() -> None:
    e = ev("unnotified_activity", -0.72, 10)
    sig = evidence_signals([e], "me", verification=lambda _: 1.0)[0]
    assert sig.verification == 1.0 and sig.weight == 0.72
    with pytest.raises(FeedbackError) as ei:
        evidence_signals([e], "me", verification=lambda _: 1.5)
    assert ei.value.code == "bad_signal"


def test_hostility_signals(w: World) -> None:
    me = w.party("north-1")
    w.post("south-1", "profile", {"name": "south-1", "role": "state", "urls": []}, day(0))
    w.post("south-3", "profile", {"name": "south-3", "role": "observer", "urls": []}, day(0))
    mine = w.notify("north-1", day(0), troops=100, tanks=0)
    theirs = w.notify("south-2", day(0), troops=100, tanks=0)
    w.observe("south-1", "north-1", day(1), troops=5, tanks=0, confidence=500)  # a right
    w.observe("south-1", "north-2", day(1), troops=5, tanks=0)  # not about us
    asks = [w.consult("south-1", "north-1", day(2) + i * HOUR_MS) for i in range(4)]
    w.inspect("south-1", "north-1", day(3))  # a state's first of the year: within the rules
    i2 = w.inspect("south-1", "north-1", day(3.5))  # its second this year: beyond the quota
    i3 = w.inspect("south-3", "north-1", day(3.6))  # an observer has no standing
    t1 = w.trust("south-1", "north-1", day(4), -400)
    w.trust("south-1", "north-1", day(5), -400)  # the same level again: nothing new
    t3 = w.trust("south-1", "north-1", day(6), -1000)  # deeper by 600
    w.trust("south-2", "north-1", day(6), 300)  # positive trust: not hostile
    r = w.attest("south-1", mine, day(7), verdict="refute")
    w.attest("south-1", theirs, day(7), verdict="refute")  # not our statement
    w.attest("south-2", mine, day(7), verdict="confirm")
    w.observe("north-1", "north-1", day(8), troops=1, tanks=0)  # our own: not hostility
    sigs = hostility_signals(w.entries, me)
    s1, s3 = w.party("south-1"), w.party("south-3")
    assert sorted((s.party, s.rule, s.ref, s.at) for s in sigs) == sorted([
        (s1, "hostile_consultation_request", asks[3].id_hex, asks[3].ts),  # beyond 3 in 30 days
        (s1, "hostile_inspection_request", i2.id_hex, day(3.5)),
        (s3, "hostile_inspection_request", i3.id_hex, day(3.6)),
        (s1, "hostile_trust", t1.id_hex, day(4)),
        (s1, "hostile_trust", t3.id_hex, day(6)),
        (s1, "hostile_refutation", r.id_hex, day(7)),
    ])
    assert sorted(s.weight for s in sigs) == pytest.approx(sorted([0.2, 0.3, 0.3, 0.2, 0.3, 0.4]))
    assert all(s.kind == "hostility" and s.verification == 1.0 for s in sigs)
    # duplicates and arrival order do not matter
    shuffled = w.entries * 2
    random.Random(5).shuffle(shuffled)
    assert hostility_signals(shuffled, me) == sigs
    # the weights are configuration (observing us counts only if an operator says so)
    cfg = HostilityWeights.from_mapping({"observation": 0.3, "refutation": 1})
    rules = [(s.rule, s.weight) for s in hostility_signals(w.entries, me, weights=cfg)]
    assert ("hostile_refutation", 1.0) in rules and ("hostile_observation", 0.15) in rules


def test_hostility_weights_reject_bad_values() -> None:
    for bad in ({"observations": 0.1}, {"observation": -0.1}, {"observation": "x"}):
        with pytest.raises(ConfigError):
            HostilityWeights.from_mapping(bad)
    with pytest.raises(ConfigError):
        HostilityWeights(refutation=math.inf)


# -- determinism and the incremental view -------------------------------------------------------


def test_same_entries_and_clock_give_the_same_outputs(w: World) -> None:
    demo(w, accept=True)
    hostile_exchange(w, days=4)
    me = w.party("north-1")
    one = suspicion_for(w.entries, me, day(40))
    shuffled = w.entries * 2
    random.Random(11).shuffle(shuffled)
    two = suspicion_for(shuffled, me, day(40))
    assert one == two and len(one) >= 2
    assert [r.to_json() for r in one.values()] == [r.to_json() for r in two.values()]


def test_view_fed_incrementally_equals_the_one_shot_recompute(w: World) -> None:
    demo(w, accept=True)
    hostile_exchange(w, days=4)
    me = w.party("north-1")
    view = SuspicionView(me)
    ordered = sorted(w.entries, key=lambda e: e.ts)
    fed = 0
    # entries arrive in batches as the clock advances, some late (gossip)
    batches: list[list[Entry]] = [[] for _ in range(12)]
    rng = random.Random(2)
    for e in ordered:
        batches[rng.randrange(12)].append(e)
    for i, batch in enumerate(batches):
        now = day(i)
        fed += view.update(batch, now)
        held = [e for b in batches[: i + 1] for e in b]
        assert view.reports(now) == suspicion_for(held, me, now)
    assert view.entries() == len(set(e.id for e in w.entries))
    desired = signals_from(w.entries, evaluate(w.entries, day(11)), me)
    held_signals = sum(len(pt.signals) for pt in view.estimator._parties.values())  # internal
    assert held_signals == len(desired) <= fed
    # replays are idempotent: nothing new is fed, nothing is rebuilt
    rebuilds = view.rebuilds
    assert view.update(w.entries, day(11)) == 0
    assert view.update([], day(11)) == 0
    assert view.rebuilds == rebuilds
    assert view.reports(day(50)) == suspicion_for(w.entries, me, day(50))


def test_view_picks_up_deadlines_as_time_passes(w: World) -> None:
    me = w.party("north-1")
    q = w.consult("north-1", "south-1", day(0))
    view = SuspicionView(me)
    assert view.update(w.entries, day(1)) == 0  # within 48 h: no fact yet
    assert view.update([], day(3)) == 1  # now unanswered (unverified: one source)
    r = view.report(w.party("south-1"), day(3))
    assert r.drivers[0].rule == "consultation_unanswered" and r.threat > 0.0
    # the late reply arrives: the same fact, now verifiable (its own signed timestamp)
    w.reply("south-1", q, day(4))
    rebuilds = view.rebuilds
    assert view.update(w.entries[-1:], day(5)) == 1
    assert view.rebuilds == rebuilds + 1  # the fact's signal changed: recomputed
    assert view.reports(day(5)) == suspicion_for(w.entries, me, day(5))
    sig = [s for s in view.estimator._parties[w.party("south-1")].signals]  # internal: one fact
    assert [(s.rule, s.verification) for s in sig] == [("consultation_unanswered", 1.0)]


def test_view_applies_a_new_verification_and_fork_proofs(w: World) -> None:
    demo(w, accept=False)
    me, s1 = w.party("north-1"), w.party("south-1")
    view = SuspicionView(me)
    view.update(w.entries, day(30))
    before = view.report(s1, day(30))
    view.verification = lambda e: 1.0  # e.g. the beliefs module's verified view
    view.update([], day(30))
    after = view.report(s1, day(30))
    assert after.threat > before.threat and after.level > before.level
    assert view.reports(day(30)) == suspicion_for(
        w.entries, me, day(30), verification=lambda e: 1.0
    )
    # an equivocating author: the fork proof is a verified threat
    liar = w.identity("south-2")
    body = {"subject": me, "level": 100}
    a = sign_entry(liar, seq=1, prev=None, ts=day(9), kind="trust", body=body)
    b = sign_entry(liar, seq=1, prev=None, ts=day(9) + 5, kind="trust", body={**body, "level": 0})
    proof = ForkProof.of(a, b)
    view.update([], day(30), forks=[proof, proof])
    r = view.report(liar.party_id, day(30))
    assert r.drivers[0].rule == "equivocation" and r.grievance > 0.0
    assert view.update([], day(30), forks=[proof]) == 0


# -- gates and caps (issue 12, finding 1) -------------------------------------------------------


def test_a_claim_nobody_credible_supports_gives_no_signal() -> None:
    sightings = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"o{i}",)) for i in range(40)]
    asks = [ev("consultation_unanswered", -0.5, 100 + i, entries=(f"q{i}",), sources=("s2",))
            for i in range(12)]
    assert evidence_signals([*sightings, *asks], "me", verification=lambda _: 0.0) == []


def test_each_sources_unverified_influence_is_bounded() -> None:
    cap = SuspicionParams().source_cap
    # forty sightings of forty activities by one fully believed but unverified source
    sightings = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"o{i}",)) for i in range(40)]
    sigs = evidence_signals(sightings, "me", verification=lambda _: 0.5)
    assert k_weighted(sigs) == pytest.approx(cap)
    assert len(sigs) == 2  # 0.36 + 0.36, then nothing left
    # two sources share a claim's cost; each still has its own budget for its own claims
    pair = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"p{i}",), sources=("a", "b"))
            for i in range(10)]
    solo = [ev("unnotified_activity", -0.72, 50, entries=("c1",), sources=("c",))]
    sigs = evidence_signals([*pair, *solo], "me", verification=lambda _: 0.5)
    # a and b pay 0.18 each per claim: four claims spend both budgets (1.44); c: 0.36
    assert k_weighted(sigs) == pytest.approx(5 * 0.36)
    # verified evidence is not capped
    verified = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"v{i}",), verifiable=True)
                for i in range(5)]
    assert k_weighted(evidence_signals(verified, "me")) == pytest.approx(5 * 0.72)
    # the budget is per party: the same source about another party starts afresh
    other = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"x{i}",), party="q")
             for i in range(40)]
    sigs = evidence_signals([*sightings, *other], "me", verification=lambda _: 0.5)
    assert k_weighted([s for s in sigs if s.party == "q"]) == pytest.approx(cap)


def test_the_budget_keeps_the_view_equal_to_the_one_shot_path() -> None:
    sightings = [ev("unnotified_activity", -0.72, 10 + i, entries=(f"o{i}",)) for i in range(8)]
    memo: GroupMemo = {}
    first = evidence_signals(sightings[:5], "me", verification=lambda _: 0.5, memo=memo)
    again = evidence_signals(sightings, "me", verification=lambda _: 0.5, memo=memo)
    assert again == evidence_signals(sightings, "me", verification=lambda _: 0.5)
    assert first == again[: len(first)]
    # a late claim, earlier than the others, is paid first: the budget follows time
    late = ev("unnotified_activity", -0.72, 1, entries=("early",))
    assert evidence_signals([*sightings, late], "me", verification=lambda _: 0.5, memo=memo) \
        == evidence_signals([late, *sightings], "me", verification=lambda _: 0.5)
