"""Evidence: what the rule engine derives from statements, and what trust and feedback consume."""

from __future__ import annotations

from typing import Any, Final

from trustnet._source import fields_set_once


class Evidence:
    """One derived fact about a party's behaviour.

    `weight` follows DOMAIN.md (Goldstein scale / 10): negative for a violation,
    positive for cooperation. `entries` are the ids (hex) of the statements it
    rests on and `sources` the parties (hex ids) whose statements support it;
    how much it counts is decided later, from how reliable those sources are.
    """

    # Written out, not a dataclass: compiled (trustnet/_build.py), mypyc leaves a dataclass's
    # __init__ interpreted, and the rules make tens of thousands of these. Equal, hashed,
    # shown and pickled by its fields as the frozen dataclass was; read-only (Final).
    __slots__ = ("at", "entries", "note", "party", "rule", "sources", "verifiable", "weight")

    def __init__(self, party: str, rule: str, weight: float, at: int, entries: tuple[str, ...],
                 sources: tuple[str, ...], note: str = "", verifiable: bool = False) -> None:
        self.party: Final = party  # who the evidence is about
        self.rule: Final = rule  # stable rule name, e.g. "unnotified_activity"
        self.weight: Final = weight
        self.at: Final = at  # ms: when the fact became established
        self.entries: Final = entries
        self.sources: Final = sources
        self.note: Final = note
        # True when the fact rests on an inspection the host accepted or co-signed,
        # or on attestations; the beliefs module decides the quorum.
        self.verifiable: Final = verifiable

    def astuple(self) -> tuple[str, str, float, int, tuple[str, ...], tuple[str, ...], str, bool]:
        """Its fields in order (as `dataclasses.astuple` gave them)."""
        return (self.party, self.rule, self.weight, self.at, self.entries, self.sources,
                self.note, self.verifiable)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence) or type(other) is not type(self):
            return NotImplemented
        return self.astuple() == other.astuple()

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        return (f"Evidence(party={self.party!r}, rule={self.rule!r}, weight={self.weight!r}, "
                f"at={self.at!r}, entries={self.entries!r}, sources={self.sources!r}, "
                f"note={self.note!r}, verifiable={self.verifiable!r})")

    def __reduce__(self) -> tuple[type[Evidence], tuple[Any, ...]]:
        return (Evidence, self.astuple())


fields_set_once(Evidence)  # read-only, as a frozen dataclass
