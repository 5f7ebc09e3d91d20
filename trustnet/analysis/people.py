"""People-to-people over a node's beliefs: what `GET /bridges` shows and what suspicion reads.

Issue 17, docs/people.md. `PeopleView` keeps a `statements.people.PeopleIndex` fed by the
node's views (`views.NodeViews`) and, for a beliefs snapshot, judges contacts and
clarifications with that snapshot's reliabilities: the bridges between states
(`trust.bridges`), the restraint signals and the withdrawn threats for the feedback model
(`feedback.restraint`). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trustnet.feedback.estimator import Signal
from trustnet.feedback.restraint import restraint_signals
from trustnet.log.entry import Entry
from trustnet.statements.people import READ_KINDS, People, PeopleIndex
from trustnet.trust.beliefs import Beliefs
from trustnet.trust.bridges import DEFAULT_PEOPLE, Bridge, PeopleParams, bridges, weigh


@dataclass(frozen=True, slots=True)
class PeopleSnapshot:
    """Contacts and clarifications judged with one beliefs snapshot."""

    people: People
    bridges: tuple[Bridge, ...]
    restraint: Mapping[str, list[Signal]]  # party -> restraint signals (SuspicionView extra)
    withdrawn: Mapping[str, set[str]]  # party -> entries whose unverified threat is withdrawn

    def to_json(self, names: Mapping[str, str | None]) -> dict[str, Any]:
        """GET /bridges: the bridges, every contact and clarification with its status."""
        return {
            "bridges": [b.to_json() for b in self.bridges],
            "contacts": [
                {"id": c.id, "author": c.author, "counterpart": c.counterpart, "type": c.type,
                 "met_at": c.met_at, "people": c.people, "status": c.status, "weight": c.weight,
                 "at": c.at, "sides": list(c.sides), "confirmation": c.confirmation}
                for c in self.people.contacts
            ],
            "clarifications": [
                {"id": c.id, "author": c.author, "subject": c.subject, "party": c.party,
                 "status": c.status, "at": c.at, "confirmed_by": list(c.confirmed_by),
                 "refuted_by": list(c.refuted_by), "what": c.what}
                for c in self.people.clarifications
            ],
            "sides": [{"party": p, "name": names.get(p), "state": s}
                      for p, s in sorted(self.people.sides.items())],
        }


class PeopleView:
    """The people-to-people statements a node holds, judged on demand."""

    def __init__(self, self_id: str, params: PeopleParams = DEFAULT_PEOPLE) -> None:
        self.self_id = self_id
        self.params = params
        self._judged: dict[bytes, int] = {}
        self.index = PeopleIndex(self._judged)

    def add(self, entries: Iterable[Entry], judged: Callable[[Entry], int] | None = None) -> int:
        """Index new entries; `judged(e)`: when e counts as made (its receipt when backdated)."""
        entries = list(entries)
        if judged is not None:
            for e in entries:
                if e.kind in READ_KINDS:  # the index reads no other entry's time
                    t = judged(e)
                    if t != e.ts:
                        self._judged[e.id] = t
        return self.index.add(entries)

    def snapshot(self, beliefs: Beliefs, now_ms: int) -> PeopleSnapshot:
        """Judge everything with `beliefs`' reliabilities, as of `now_ms`."""
        parties = beliefs.parties

        def reliability(p: str) -> float:
            belief = parties.get(p)
            return 0.0 if belief is None or belief.forked else belief.reliability.p

        people = self.index.assess(reliability, beliefs.params.reliable)
        counted = [c for c in people.counted() if c.at <= now_ms]
        side = people.sides.get(self.self_id)
        return PeopleSnapshot(
            people,
            tuple(bridges(counted, now_ms, self.params)),
            restraint_signals(weigh(counted, self.params), side, self.params),
            {p: ids for p, ids in people.withdrawn().items()},
        )
