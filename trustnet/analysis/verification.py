"""How verified each fact is, as the suspicion model reads it from the beliefs (docs/suspicion.md).

Suspicion uses the beliefs' verified view as its verification: evidence the verified view
counts, with someone this node relies on behind it, is verified (1.0); other evidence
counts half as far as the web of trust believes it (a fully believed but unconfirmed
claim counts 0.5, one whose sources all have reliability 0 counts 0), in steps of 0.05.
Tables per party, keyed by fact (rule, first entry): the suspicion view redoes only the
facts whose entry changed (feedback/signals.py, `SuspicionView.update`).

A party's table is computed from its views' arrays (`View.columns`: the compiled facts,
which contribute, their credibilities), over the facts numbered once per compiled group;
kept between snapshots (`TableCache`), a table whose facts are numbered the same is
compared with the last one as arrays, and names the facts that changed (`FactTable`):
a new entry costs the parties whose views moved, a few array operations each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trustnet.feedback.tables import FactTable
from trustnet.numeric import c_steps
from trustnet.statements.evidence import Evidence
from trustnet.trust.beliefs import Beliefs, PartyBelief
from trustnet.trust.beliefs.records import FactBuild, View

UNVERIFIED_CAP = 0.5  # an unconfirmed claim counts half as much as it is believed, at most
# Verification is a coarse measure, in steps of 0.05, so that small shifts of reliability
# far away in the web of trust do not rewrite a party's past.
VERIFICATION_STEP = 0.05
PartyTable = dict[tuple[str, str], float]
FactKey = tuple[str, str]


@dataclass(slots=True)
class _Space:
    """The facts of one party's raw and verified compiled groups, numbered."""

    raw: Sequence[FactBuild]  # the groups' lists (a new list: the facts were compiled again)
    ver: Sequence[FactBuild]
    keys: list[FactKey]  # number -> fact
    # fact -> number, shared with the spaces numbered after this one (they only add facts:
    # a fact keeps its number while the party's numbering is kept, see `_number`)
    index: dict[FactKey, int]
    raw_kid: NDArray[np.intp]  # raw build -> its fact's number
    ver_kid: NDArray[np.intp]  # verified build -> its fact's number
    ver_flag: NDArray[np.bool_]  # verified build -> verified


@dataclass(slots=True)
class _Held:
    """A party's last table and what it was made from."""

    raw: View
    verified: View
    table: FactTable
    space: _Space | None  # None: made from the views' contributions (`_party_table`)
    vals: NDArray[np.float64] | None  # v per fact of `space` (nan: not in the table)


TableCache = dict[str, _Held]


def verification_by_party(beliefs: Beliefs, cache: TableCache | None = None) -> dict[str, PartyTable]:
    """party -> (rule, first entry) -> how verified that fact is, from the belief views.

    `cache` (kept by a caller that asks after every snapshot): a party's table is reused
    while the belief engine hands out the very same view objects for it (unchanged), the
    old table object is kept when the new one holds the same steps (the suspicion view
    then skips the party at once), and a new table names the facts that changed
    (`FactTable.changed`).
    """
    out: dict[str, PartyTable] = {}
    used: TableCache = {}
    for pid, belief in beliefs.parties.items():
        hit = cache.get(pid) if cache is not None else None
        if hit is None or hit.raw is not belief.raw or hit.verified is not belief.verified:
            hit = _table(belief, hit)
        used[pid] = hit
        if hit.table:
            out[pid] = hit.table
    if cache is not None:
        cache.clear()
        cache.update(used)
    return out


def _table(belief: PartyBelief, hit: _Held | None) -> _Held:
    """The party's table now, from its views' arrays (or contributions), against `hit`."""
    rc, vc = belief.raw.columns(), belief.verified.columns()
    if rc is None or vc is None:
        table = FactTable(_party_table(belief).items())
        return _Held(belief.raw, belief.verified, _against(table, hit), None, None)
    prev = hit.space if hit is not None else None
    if prev is not None and prev.raw is rc[0] and prev.ver is vc[0]:
        space = prev
    else:
        space = _number(rc[0], vc[0], prev)
    vals = _values(space, rc[1], rc[2], vc[1], vc[2])
    # The last values, when numbered as these are: by this space, or by the one it extends
    # (the same facts at the same numbers, new ones after: absent from the last table).
    old = None
    if hit is not None and prev is not None and hit.vals is not None and (
            space is prev or space.index is prev.index):
        old = hit.vals
        if len(old) < len(vals):
            old = np.concatenate((old, np.full(len(vals) - len(old), np.nan)))
    if hit is None or old is None:
        table = _against(_make(space, vals), hit)
    elif np.array_equal(vals, old, equal_nan=True):
        table = hit.table
    else:
        # the same facts numbered the same: what changed, as arrays
        diff = np.flatnonzero((vals != old) & ~(np.isnan(vals) & np.isnan(old))).tolist()
        keys = space.keys
        changed = frozenset([keys[i] for i in diff])
        table = FactTable(hit.table, prior=hit.table.serial, changed=changed)
        for i, v in zip(diff, vals[diff].tolist(), strict=True):
            if v != v:  # nan: no longer in the table
                del table[keys[i]]
            else:
                table[keys[i]] = v
    return _Held(belief.raw, belief.verified, table, space, vals)


def _number(raw: Sequence[FactBuild], ver: Sequence[FactBuild], prev: _Space | None = None
            ) -> _Space:
    """Number the facts of a party's compiled groups (once per compilation). The numbering of
    `prev` (the party's last space) is kept and extended while it holds at most twice the
    facts the groups name (facts that went keep their numbers, absent from the table);
    else the facts are numbered afresh."""
    index: dict[FactKey, int] = {}
    if prev is not None and len(prev.index) <= 2 * max(len(raw), 1) + len(ver):
        index = prev.index
    at = index.setdefault
    raw_kid = [at(b.fact_key, len(index)) for b in raw]
    ver_kid = [at(b.fact_key, len(index)) for b in ver]
    return _Space(raw, ver, list(index), index, np.array(raw_kid, dtype=np.intp),
                  np.array(ver_kid, dtype=np.intp),
                  np.array([b.verified for b in ver], dtype=np.bool_))


def _values(space: _Space, raw_pos: NDArray[np.intp], raw_cred: NDArray[np.float64],
            ver_pos: NDArray[np.intp], ver_cred: NDArray[np.float64]) -> NDArray[np.float64]:
    """v per numbered fact (nan: not in the table), exactly as `_party_table` computes it.
    Compiled (`trustnet._numeric.steps`) where built: the same values as `_values_numpy`."""
    if c_steps is None:
        return _values_numpy(space, raw_pos, raw_cred, ver_pos, ver_cred)
    vals = np.empty(len(space.keys))
    c_steps(vals, space.raw_kid, raw_pos, np.ascontiguousarray(raw_cred, dtype=np.float64),
            space.ver_kid, space.ver_flag, ver_pos,
            np.ascontiguousarray(ver_cred, dtype=np.float64), UNVERIFIED_CAP, VERIFICATION_STEP)
    return vals


def _values_numpy(space: _Space, raw_pos: NDArray[np.intp], raw_cred: NDArray[np.float64],
                  ver_pos: NDArray[np.intp], ver_cred: NDArray[np.float64]
                  ) -> NDArray[np.float64]:
    """`_values` in numpy (the reference the compiled loop is held to)."""
    best = np.full(len(space.keys), -np.inf)
    np.maximum.at(best, space.raw_kid[raw_pos], UNVERIFIED_CAP * raw_cred)
    absent = best == -np.inf
    # rint is round() (half to even) on the same quotients: `_party_table`'s steps
    vals = np.rint(best / VERIFICATION_STEP) * VERIFICATION_STEP
    vals[absent] = np.nan
    # Verified counts fully, but only when someone this node relies on stands behind it.
    sure = ver_pos[space.ver_flag[ver_pos] & (ver_cred > 0.0)]
    vals[space.ver_kid[sure]] = 1.0
    return vals


def _make(space: _Space, vals: NDArray[np.float64], *, prior: int = 0,
          changed: frozenset[FactKey] | None = None) -> FactTable:
    held = np.flatnonzero(~np.isnan(vals))
    keys = space.keys
    if len(held) == len(keys):
        return FactTable(zip(keys, vals.tolist(), strict=True), prior=prior, changed=changed)
    return FactTable(zip([keys[i] for i in held.tolist()], vals[held].tolist(), strict=True),
                     prior=prior, changed=changed)


def _against(table: FactTable, hit: _Held | None) -> FactTable:
    """`table`, or the last one when it holds the same; else naming what differs from it."""
    if hit is None:
        return table
    old = hit.table
    if table == old:
        return old
    changed = frozenset(k for k in table.keys() | old.keys() if table.get(k) != old.get(k))
    return FactTable(table.items(), prior=old.serial, changed=changed)


def _party_table(belief: PartyBelief) -> PartyTable:
    """One party's verification table from its views' facts (views made from
    contributions; the reference `_values` is held to by tests/test_verification_tables.py)."""
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
