"""Bridges: trust between two states that flows through their people's confirmed contacts.

Issue 17, docs/people.md. From the contacts that count (`statements.people`: confirmed by
the counterpart, across the divide, both ends standing on parties this node relies on),
per pair of states:

- **bounded per party**: in time order, one party's contacts add at most `party_cap` to
  one bridge (a person with five hundred meetings counts as `party_cap` meetings);
- **recency**: each contact's weight halves every `bridge_half_life_days` after it became a
  fact, as of the moment asked;
- the bridge is the binomial opinion `from_evidence(sum, 0)`: its belief
  sum / (sum + 2) is the bridge's strength, in [0, 1).

Sybil bound: a contact's weight is the smaller standing of its two ends (0 for a key
nobody trusts, tied to no state this node trusts), so fabricated persons add nothing
however many contacts they claim or confirm among themselves; and a real person's
total is capped, so a real person befriending a thousand of them adds at most `party_cap`.
Pure: no clock (`now_ms` is a parameter).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trustnet.config.loader import load_table
from trustnet.statements.figures import DAY_MS
from trustnet.statements.people import ContactFact
from trustnet.trust.opinion import Opinion


@dataclass(frozen=True, slots=True)
class PeopleParams:
    """The `[people]` table of node.toml (defaults in configs/node.example.toml)."""

    BOUNDS: ClassVar[dict[str, str]] = {"bridge_half_life_days": "> 0", "*": ">= 0"}

    bridge_half_life_days: float = 180.0  # a contact's weight in a bridge halves this often
    party_cap: float = 3.0  # most weight one party's contacts add to one bridge
    # goodwill (the feedback model's restraint account C) per counted contact of weight 1
    restraint_per_contact: float = 0.02
    # most goodwill the contacts across one bridge add within 30 days
    restraint_cap_per_month: float = 0.5

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PeopleParams:
        """The `[people]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "people")


DEFAULT_PEOPLE = PeopleParams()


@dataclass(frozen=True, slots=True)
class Weighted:
    """A counted contact with the weight it adds to its bridge after the per-party caps."""

    contact: ContactFact
    states: tuple[str, str]  # the bridge: its two states, sorted
    weight: float


@dataclass(frozen=True, slots=True)
class Bridge:
    """Trust between two states through their people, as of `at`."""

    states: tuple[str, str]
    contacts: int  # counted contacts across it
    people: int  # people they involved
    evidence: float  # the decayed, capped weight of its contacts
    strength: float  # belief of from_evidence(evidence, 0): evidence / (evidence + 2)
    last: int  # when its latest contact became a fact

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {"states": list(self.states), "contacts": self.contacts, "people": self.people,
                "evidence": self.evidence, "strength": self.strength, "last": self.last}


def weigh(counted: Iterable[ContactFact], params: PeopleParams = DEFAULT_PEOPLE) -> list[Weighted]:
    """Each counted contact's weight in its bridge, each party's total capped, in time order."""
    spent: dict[tuple[tuple[str, str], str], float] = defaultdict(float)
    out: list[Weighted] = []
    for c in sorted(counted, key=lambda c: (c.at, c.id)):
        sa, sb = c.sides
        if sa is None or sb is None or sa == sb or c.weight <= 0.0:
            continue
        states = (min(sa, sb), max(sa, sb))
        w = min(c.weight,
                params.party_cap - spent[(states, c.author)],
                params.party_cap - spent[(states, c.counterpart)])
        if w <= 0.0:
            continue
        spent[(states, c.author)] += w
        spent[(states, c.counterpart)] += w
        out.append(Weighted(c, states, w))
    return out


def bridges(
    counted: Iterable[ContactFact], now_ms: int, params: PeopleParams = DEFAULT_PEOPLE
) -> list[Bridge]:
    """Every bridge as of `now_ms` (contacts that became facts later are not counted)."""
    by: dict[tuple[str, str], list[Weighted]] = defaultdict(list)
    for w in weigh([c for c in counted if c.at <= now_ms], params):
        by[w.states].append(w)
    half = params.bridge_half_life_days * DAY_MS
    out = []
    for states in sorted(by):
        ws = by[states]
        evidence = sum(w.weight * 0.5 ** ((now_ms - w.contact.at) / half) for w in ws)
        out.append(Bridge(states, len(ws), sum(w.contact.people for w in ws), evidence,
                          Opinion.from_evidence(evidence, 0.0).b, max(w.contact.at for w in ws)))
    return out
