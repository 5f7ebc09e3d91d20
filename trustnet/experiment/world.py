"""One generated world, played through the node's own analysis in process (docs/experiment.md).

A world: `blocs` blocs of `states_per_bloc` states; each state with an embassy and
`people_per_state` persons whose profiles it confirms; one observer per bloc. Every state
relies on its bloc's states and observer (trust 800) and on the other blocs' states (150).
The relationship watched is the first state of bloc 0 (the viewer) towards the first of
bloc 1 (the watched state), as the viewer's node sees it.

Over `days` (virtual time from a fixed origin: nothing reads the clock), `incidents`
ambiguous incidents of the watched state, each reported by bloc 0's observer: real ones
(`real_share`) truly (a concentration above the notification threshold, never notified),
imagined ones falsely (a harmless movement reported as one). Each report is checked by an
accepted inspection with probability `verification_share` (the viewer's report confirms a
real breach or finds the harmless truth, and the viewer confirms or refutes the
observation); the watched state's embassy explains the incident with probability
`clarification_share` (truly for an imagined one, falsely for a real one): a true account is
confirmed by bloc 0's observer when a liaison can check it, with probability
1 - exp(-contacts_per_month / 8) (people who know each other make the check possible); a
false one is refuted when the incident is inspected. Persons of the two states meet,
confirmed, `contacts_per_month` times a month on average (Poisson).

Every statement is a real signed entry; the viewer's analysis is `BeliefEngine`,
`SuspicionView` and `PeopleView`, fed incrementally as `views.NodeViews` feeds them, and
read every `sample_days`. Random draws come from separate seeded streams (incidents,
verification, contacts...), so two points of a sweep play the same incidents.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any

from trustnet.analysis.people import PeopleView
from trustnet.analysis.views import verification_for
from trustnet.errors import NotFound
from trustnet.experiment.spec import Spec, World
from trustnet.feedback.estimator import SuspicionParams
from trustnet.feedback.restraint import without_withdrawn
from trustnet.feedback.signals import SuspicionView
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements.figures import DAY_MS
from trustnet.trust.beliefs import BeliefEngine

ORIGIN_MS = 1_893_456_000_000  # 2030-01-01T00:00Z: a fixed origin, whatever today's date
AREA = "border district"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one world's relationship did."""

    escalated: bool  # suspicion peaked at or above `escalation_level`
    peak: float  # the highest suspicion level sampled
    settle_days: float  # from the peak until under `settle_level` (to the end when never)
    entries: int  # statements the world held


class _Log:
    """Every party's chain of signed entries, in publication order."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.ids: dict[str, Identity] = {}
        self.heads: dict[str, tuple[int, bytes | None, int]] = {}
        self.entries: list[Entry] = []

    def party(self, name: str) -> str:
        if name not in self.ids:
            seed = hashlib.sha256(f"{self.tag}/{name}".encode()).digest()
            self.ids[name] = Identity.from_seed(seed)
        return self.ids[name].party_id

    def post(self, name: str, kind: str, body: dict[str, Any], day: float) -> Entry:
        self.party(name)
        seq, prev, last = self.heads.get(name, (0, None, 0))
        ts = max(ORIGIN_MS + int(day * DAY_MS), last + 1)
        e = sign_entry(self.ids[name], seq=seq + 1, prev=prev, ts=ts, kind=kind, body=body)
        self.heads[name] = (seq + 1, e.id, ts)
        self.entries.append(e)
        return e

    def attest(self, name: str, subject: Entry, verdict: str, method: str, day: float) -> Entry:
        return self.post(name, "attestation", {
            "subject": subject.id_hex, "verdict": verdict, "method": method, "confidence": 900,
            "evidence": [], "note": ""}, day)


@dataclass(frozen=True, slots=True)
class _Event:
    day: float
    what: str  # "contact" (a meets b) or "incident" (number a)
    a: str
    b: str
    flags: tuple[bool, bool, bool, bool] = (False, False, False, False)  # real, verified,
    # clarified, a liaison can check the clarification


def _rng(seed: int, run: int, stream: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}:{run}:{stream}".encode()).digest())


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation: Knuth's product underflows
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(world: World, days: float, seed: int, run: int) -> tuple[list[Entry], str, str]:
    """The world's statements (by publication time), the viewer's id and the watched state's."""
    log = _Log(f"{seed}/{run}")
    states = [[f"b{b}-s{i}" for i in range(world.states_per_bloc)] for b in range(world.blocs)]
    people: dict[str, list[str]] = {}
    for b, bloc in enumerate(states):
        log.post(f"b{b}-obs", "profile", {"name": f"b{b}-obs", "role": "observer", "urls": []}, 0)
        for s in bloc:
            log.post(s, "profile", {"name": s, "role": "state", "urls": []}, 0)
            people[s] = [f"{s}-p{j}" for j in range(world.people_per_state)]
            for p in [f"{s}-emb", *people[s]]:
                role = "embassy" if p.endswith("-emb") else "person"
                prof = log.post(p, "profile", {"name": p, "role": role, "urls": [],
                                               "state": log.party(s)}, 0.1)
                log.attest(s, prof, "confirm", "liaison", 0.2)
    for b, bloc in enumerate(states):
        for s in [*bloc, f"b{b}-obs"]:
            for b2, other in enumerate(states):
                for t in [*other, f"b{b2}-obs"] if b2 == b else other:
                    if t != s and (s.endswith("-obs") is False or b2 == b):
                        level = 800 if b2 == b else 150
                        log.post(s, "trust", {"subject": log.party(t), "level": level}, 0.3)
    viewer, watched = states[0][0], states[1][0]
    obs = "b0-obs"
    events: list[_Event] = []
    # Contacts across the divide, month by month.
    rc = _rng(seed, run, "contacts")
    months = math.ceil(days / 30)
    for m in range(months):
        for _ in range(_poisson(rc, world.contacts_per_month)):
            day = 1 + m * 30 + rc.random() * 29
            if not people[viewer] or not people[watched] or day >= days - 1:
                continue
            events.append(_Event(day, "contact", rc.choice(people[viewer]),
                                 rc.choice(people[watched])))
    # Incidents, real and imagined, and what follows them.
    ri, rv, rk = _rng(seed, run, "incidents"), _rng(seed, run, "verify"), _rng(seed, run, "clarify")
    for n in range(world.incidents):
        day = 5 + ri.random() * max(1.0, days - 25)
        real = ri.random() < world.real_share
        verified = rv.random() < world.verification_share
        clarified = rk.random() < world.clarification_share
        checked = rk.random() < 1 - math.exp(-world.contacts_per_month / 8)
        events.append(_Event(day, "incident", str(n), "", (real, verified, clarified, checked)))
    events.sort(key=lambda ev: (ev.day, ev.what, ev.a))
    for ev in events:
        day = ev.day
        if ev.what == "contact":
            meet = log.post(ev.a, "contact", {"counterpart": log.party(ev.b), "type": "exchange",
                                           "at": ORIGIN_MS + int(day * DAY_MS),
                                           "place": "town", "people": 10}, day)
            log.attest(ev.b, meet, "confirm", "liaison", day + 0.5)
            continue
        real, verified, clarified, checked = ev.flags
        troops = 14_000 + 400 * (int(ev.a) % 5)
        seen = log.post(obs, "observation", {
            "subject": log.party(watched), "area": AREA, "at": ORIGIN_MS + int(day * DAY_MS),
            "troops": troops, "tanks": 0, "acv": 100, "artillery": 0, "method": "aerial",
            "confidence": 700, "evidence": []}, day)
        clar = None
        if clarified:
            clar = log.post(f"{watched}-emb", "clarification", {
                "subject": seen.id_hex, "what": "routine transfer, no concentration",
                "evidence": []}, day + 0.5)
            if not real and checked:
                log.attest(obs, clar, "confirm", "liaison", day + 1.5)
        if verified:
            req = log.post(viewer, "inspection_request", {
                "host": log.party(watched), "area": AREA, "grounds": "reported concentration"},
                day + 1)
            log.post(watched, "inspection_response", {"request": req.id_hex, "accept": True,
                                                      "reason": ""}, day + 1.3)
            found = troops if real else 5_000
            log.post(viewer, "inspection_report", {
                "request": req.id_hex, "host": log.party(watched), "troops": found, "tanks": 0,
                "acv": 100, "artillery": 0, "verdict": "inconsistent" if real else "consistent",
                "evidence": []}, day + 2)
            log.attest(viewer, seen, "confirm" if real else "refute", "inspection", day + 2.1)
            if clar is not None and real:
                log.attest(viewer, clar, "refute", "inspection", day + 2.2)
    entries = sorted(log.entries, key=lambda e: (e.ts, e.id))
    return entries, log.party(viewer), log.party(watched)


def play(spec: Spec, world: World, run: int) -> Outcome:
    """Generate world `run` of a point and read the viewer's suspicion of the watched state."""
    entries, viewer, watched = generate(world, spec.days, spec.seed, run)
    engine = BeliefEngine(viewer, ())
    suspicion = SuspicionView(viewer, params=SuspicionParams(reactivity=world.reactivity))
    people = PeopleView(viewer)
    levels: list[tuple[float, float]] = []
    held = 0
    day = spec.sample_days
    while day <= spec.days + 1e-9:
        now = ORIGIN_MS + int(day * DAY_MS)
        upto = held
        while upto < len(entries) and entries[upto].ts <= now:
            upto += 1
        new = entries[held:upto]
        held = upto
        # The worlds hold no deadline that passes between two samples without a statement
        # (inspections are answered at once, no consultation is made): the analysis changes
        # only with new statements, and the suspicion between them is read off its flow.
        if new:
            engine.add(new)
            people.add(new)
            beliefs = engine.snapshot(now)
            snap = people.snapshot(beliefs, now)
            suspicion.verification = verification_for(beliefs)
            suspicion.update(new, now, evidence=without_withdrawn(engine.evidence_by_party(now),
                                                                   snap.withdrawn),
                             extra=snap.restraint)
        try:
            level = suspicion.report(watched, now).level
        except NotFound:
            level = 0.0  # nothing about the watched state yet
        levels.append((day, level))
        day += spec.sample_days
    return outcome(levels, spec, len(entries))


def outcome(levels: list[tuple[float, float]], spec: Spec, entries: int) -> Outcome:
    """Peak, escalation and settling time of a sampled suspicion series."""
    if not levels:
        return Outcome(False, 0.0, 0.0, entries)
    i_peak = max(range(len(levels)), key=lambda i: (levels[i][1], -i))
    t_peak, peak = levels[i_peak]
    settle = spec.days - t_peak
    if peak < spec.settle_level:
        settle = 0.0
    else:
        for t, level in levels[i_peak:]:
            if level < spec.settle_level:
                settle = t - t_peak
                break
    return Outcome(peak >= spec.escalation_level, peak, settle, entries)
