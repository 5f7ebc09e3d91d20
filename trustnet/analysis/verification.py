"""How verified each fact is, as the suspicion model reads it from the beliefs (docs/suspicion.md).

Suspicion uses the beliefs' verified view as its verification: evidence the verified view
counts, with someone this node relies on behind it, is verified (1.0); other evidence
counts half as far as the web of trust believes it (a fully believed but unconfirmed
claim counts 0.5, one whose sources all have reliability 0 counts 0), in steps of 0.05.
Tables per party, keyed by fact (rule, first entry): the suspicion view redoes only the
facts whose entry changed (feedback/signals.py, `SuspicionView.update`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trustnet.statements.evidence import Evidence
from trustnet.trust.beliefs import Beliefs, PartyBelief

UNVERIFIED_CAP = 0.5  # an unconfirmed claim counts half as much as it is believed, at most
# Verification is a coarse measure, in steps of 0.05, so that small shifts of reliability
# far away in the web of trust do not rewrite a party's past.
VERIFICATION_STEP = 0.05
PartyTable = dict[tuple[str, str], float]


TableCache = dict[str, tuple[object, object, PartyTable]]


def verification_by_party(beliefs: Beliefs, cache: TableCache | None = None) -> dict[str, PartyTable]:
    """party -> (rule, first entry) -> how verified that fact is, from the belief views.

    `cache` (kept by a caller that asks after every snapshot): a party's table is reused
    while the belief engine hands out the very same view objects for it (unchanged), and
    the old table object is kept when the new one holds the same steps (the suspicion view
    then skips the party at once).
    """
    out: dict[str, PartyTable] = {}
    used: TableCache = {}
    for pid, belief in beliefs.parties.items():
        hit = cache.get(pid) if cache is not None else None
        if hit is not None and hit[0] is belief.raw and hit[1] is belief.verified:
            table = hit[2]
        else:
            table = _party_table(belief)
            if hit is not None and hit[2] == table:
                table = hit[2]
        used[pid] = (belief.raw, belief.verified, table)
        if table:
            out[pid] = table
    if cache is not None:
        cache.clear()
        cache.update(used)
    return out


def _party_table(belief: PartyBelief) -> PartyTable:
    """One party's verification table (`verification_by_party`)."""
    # View.facts() reads (rule, first entry, credibility, verified) without making the
    # contributions: a snapshot's views hold tens of thousands of them.
    best: PartyTable = {}
    held = best.get
    for rule, first, cred, _verified in belief.raw.facts():
        key = (rule, rule if first is None else first)
        v = UNVERIFIED_CAP * cred
        was = held(key)
        if was is None or v > was:
            best[key] = v
    table: PartyTable = {}
    if best:
        # Coarse steps (VERIFICATION_STEP), stored as such: a fact whose entry is the same
        # is verified the same, so the suspicion view redoes only changed facts. rint is
        # round() (half to even) on the same quotients: the same steps, all at once.
        steps = np.rint(np.fromiter(best.values(), np.float64, len(best)) / VERIFICATION_STEP)
        table = dict(zip(best, (steps * VERIFICATION_STEP).tolist(), strict=True))
    for rule, first, cred, verified in belief.verified.facts():
        # Verified counts fully, but only when someone this node relies on stands behind
        # it: an answer to a request by a key nobody trusts earns nothing.
        if verified and cred > 0.0:
            table[(rule, rule if first is None else first)] = 1.0
    return table


def lookup_by_party(tables: Mapping[str, Mapping[tuple[str, str], float]]) -> Any:
    """The suspicion view's `verification` over these tables (a fact not in them: 0 when
    someone claims it, 1 when it rests on no one's claim)."""
    empty: Mapping[tuple[str, str], float] = {}

    def verification(ev: Evidence) -> float:
        key = (ev.rule, ev.entries[0] if ev.entries else ev.rule)
        # the tables hold steps already (verification_by_party); 0.0 and 1.0 are steps
        return tables.get(ev.party, empty).get(key, 0.0 if ev.sources else 1.0)

    return verification


def verification_for(beliefs: Beliefs) -> Any:
    """How verified each piece of evidence is in these beliefs (suspicion's verification)."""
    return lookup_by_party(verification_by_party(beliefs))
