"""Evidence: what the rule engine derives from statements, and what trust and feedback consume."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Evidence:
    """One derived fact about a party's behaviour.

    `weight` follows DOMAIN.md (Goldstein scale / 10): negative for a violation,
    positive for cooperation. `entries` are the ids (hex) of the statements it
    rests on and `sources` the parties (hex ids) whose statements support it;
    how much it counts is decided later, from how reliable those sources are.
    """

    party: str  # who the evidence is about
    rule: str  # stable rule name, e.g. "unnotified_activity"
    weight: float
    at: int  # ms: when the fact became established
    entries: tuple[str, ...]
    sources: tuple[str, ...]
    note: str = ""
    # True when the fact rests on an inspection the host accepted or co-signed,
    # or on attestations; the beliefs module decides the quorum.
    verifiable: bool = False
