"""One party's facts and their signals, kept incrementally (issue 15 item 3).

`evidence_signals` (signals.py) groups a party's evidence into facts, keyed (rule, ref),
and walks them in time order: each fact adds what it brings beyond its own credit, and
its unverified members pay from their sources' budgets, spent in that order. A fact's
signals therefore depend only on its members, their verifications and the budgets its
sources have left *before* it.

`PartyLedger` keeps that walk's result per fact: its members, the budgets before and
after it, its signals. Told which facts changed (members or verification), it recomputes
those, then only the later facts that share a source whose budget came out different:
the cost of a new entry is the facts it touches, not the party's history. The result is
what `evidence_signals` gives over the party's whole evidence, fact for fact (held by
tests/test_signals_incremental.py at every step of seeded random streams).

Pure code: no clock, no I/O.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from trustnet.feedback.estimator import Signal, SignalKind, SuspicionParams, kalman_gain
from trustnet.feedback.records import signal_of
from trustnet.statements.evidence import Evidence

FactKey = tuple[str, str]  # (rule, ref): ref is the first entry the fact rests on, or the rule
# A fact's place in the budgets' time order: the (at, rule, entries) of its earliest member,
# the order `evaluate` sorts evidence in (unique per fact: another ref is another entries[0]).
Order = tuple[int, str, tuple[str, ...]]
Member = tuple[Evidence, float]  # evidence and its verification v
EQUIVOCATION = "equivocation"  # the rule of a fork proof (statements.rules)

GroupKey = tuple[str, str, str]  # (party, rule, ref)


def fact_key(ev: Evidence) -> FactKey:
    """The fact a piece of evidence belongs to: (rule, its first entry or the rule)."""
    return ev.rule, ev.entries[0] if ev.entries else ev.rule


def counts(ev: Evidence, forked: bool) -> bool:
    """Whether `evidence_signals` takes this member in (nonzero finite weight; no
    cooperation of a proven equivocator)."""
    w = ev.weight
    return w != 0.0 and math.isfinite(w) and not (w > 0 and forked)


def member_order(m: Member) -> tuple[int, float, tuple[str, ...], tuple[str, ...], str]:
    """The order of a fact's members: time, then the better-verified first (signals.py)."""
    return m[0].at, -m[1], m[0].entries, m[0].sources, m[0].note


def involved_budgets(party: str, members: list[Member]) -> list[tuple[str, str]]:
    """The (party, source) budgets a fact's unverified members may spend, sorted."""
    if len(members) == 1:
        ev, v = members[0]
        if v >= 1.0 or not ev.sources:
            return []
        if len(ev.sources) == 1:
            return [(party, ev.sources[0])]
    return sorted({(party, s) for ev, v in members if v < 1.0 for s in ev.sources})


def fact_signals(key: GroupKey, members: list[Member],
                 params: SuspicionParams, budget: dict[tuple[str, str], float]) -> list[Signal]:
    """A fact's signals: what each member adds beyond the fact's credit, its unverified
    part paid from its sources' `budget` (spent in place)."""
    party, rule, ref = key
    out: list[Signal] = []
    credit = 0.0  # the group's largest K-weighted amount so far
    for ev, v in members:
        w = abs(ev.weight)
        k = kalman_gain(v, params.unverified_noise)
        amount = k * w
        srcs = sorted(set(ev.sources))
        if v < 1.0 and srcs and amount > credit:
            # Unverified: what it adds beyond the fact's credit is paid by its sources'
            # budgets, in equal shares (a source's claims about a party add up to the cap).
            share = (amount - credit) / len(srcs)
            paid = 0.0
            for src in srcs:
                left = budget.get((party, src), params.source_cap)
                take = min(share, left)
                budget[(party, src)] = left - take
                paid += take
            amount = credit + paid
        if amount - credit <= 1e-12 * amount:
            continue  # brings nothing the fact has not already brought (up to rounding)
        kind: SignalKind = "threat" if ev.weight < 0 else "cooperation"
        out.append(signal_of(party, ev.at, kind, (amount - credit) / k, v, ref, rule))
        credit = amount
    return out



def _one_signal(party: str, key: FactKey, member: Member, involved: tuple[str, ...], cap: float,
                noise: float, budget: dict[tuple[str, str], float]) -> list[Signal]:
    """`fact_signals` of a fact with one member (most facts of a full recompute), written
    out with the same operations in the same order: `involved` is its sorted distinct
    sources when it is unverified (v < 1), else empty, as `_build` computes it."""
    ev, v = member
    credit = 0.0
    k = 0.0 if v <= 0.0 else v / (v + noise * (1.0 - v))  # kalman_gain(v, noise)
    amount = k * abs(ev.weight)
    if involved and amount > credit:
        share = (amount - credit) / len(involved)
        paid = 0.0
        for src in involved:
            bk = (party, src)
            left = budget.get(bk, cap)
            take = left if left < share else share  # min(share, left)
            budget[bk] = left - take
            paid += take
        amount = credit + paid
    if amount - credit <= 1e-12 * amount:
        return []
    kind: SignalKind = "threat" if ev.weight < 0 else "cooperation"
    return [signal_of(party, ev.at, kind, (amount - credit) / k, v, key[1], key[0])]


def _fact_order(f: tuple[Order, FactKey, _Fact]) -> tuple[Order, FactKey]:
    return f[0], f[1]


@dataclass(slots=True)
class _Fact:
    order: Order
    members: list[Member]
    involved: tuple[str, ...]  # the sources whose budget about the party it may spend
    before: tuple[float, ...]  # their budgets before it (aligned with `involved`)
    after: tuple[float, ...]  # and after it
    signals: list[Signal]
    stale: bool  # its members changed: recompute even when the budgets before are the same


class PartyLedger:
    """One party's facts in budget order, each with its signals (module docstring)."""

    __slots__ = ("_by_src", "_params", "facts", "party")

    def __init__(self, party: str, params: SuspicionParams) -> None:
        self.party = party
        self._params = params
        self.facts: dict[FactKey, _Fact] = {}
        # source -> the facts spending its budget, in order: (order, key)
        self._by_src: dict[str, list[tuple[Order, FactKey]]] = {}

    def apply(self, changed: Iterable[tuple[FactKey, list[Member]]]
              ) -> tuple[list[Signal], list[Signal]]:
        """Give facts their new members (an empty list: the fact is gone); returns the
        signals taken back and the signals added, over every fact whose signals changed."""
        if not self.facts:
            return [], self._build(changed)
        heap: list[tuple[Order, FactKey]] = []
        gone: list[Signal] = []
        added: list[Signal] = []
        for key, members in changed:
            old = self.facts.get(key)
            if not members:
                if old is not None:
                    self._unlink(key, old, heap)
                    gone.extend(old.signals)
                    del self.facts[key]
                continue
            if len(members) > 1:
                members.sort(key=member_order)
            first = min((m[0].at, m[0].entries) for m in members)
            order: Order = (first[0], key[0], first[1])
            involved = tuple(s for _, s in involved_budgets(self.party, members))
            if old is None:
                fact = self.facts[key] = _Fact(order, members, involved, (), (), [], True)
                self._link(key, fact)
            else:
                if old.order != order or old.involved != involved:
                    self._unlink(key, old, heap)
                    old.order, old.involved, old.before, old.after = order, involved, (), ()
                    self._link(key, old)
                old.members = members
                old.stale = True
                fact = old
            heapq.heappush(heap, (order, key))
        # In budget order: a fact is redone when it changed or the budgets before it did;
        # the facts after it that share a source whose budget changed are looked at next.
        cap = self._params.source_cap
        while heap:
            order, key = heapq.heappop(heap)
            f = self.facts.get(key)
            if f is None or f.order != order:
                continue  # gone, or moved (queued again at its new place)
            before = tuple([self._budget_before(s, order, cap) for s in f.involved])
            if not f.stale and before == f.before:
                continue
            budget = {(self.party, s): b for s, b in zip(f.involved, before, strict=True)}
            signals = fact_signals((self.party, *key), f.members, self._params, budget)
            after = tuple([budget[(self.party, s)] for s in f.involved])
            if signals != f.signals:
                gone.extend(f.signals)
                added.extend(signals)
                f.signals = signals
            if after != f.after:
                for s in f.involved:
                    nxt = self._next(s, order)
                    if nxt is not None:
                        heapq.heappush(heap, nxt)
            f.before, f.after, f.stale = before, after, False
        return gone, added

    def _build(self, changed: Iterable[tuple[FactKey, list[Member]]]) -> list[Signal]:
        """`apply` on an empty ledger (a full recompute): one walk in budget order."""
        facts: list[tuple[Order, FactKey, _Fact]] = []
        order: Order
        for key, members in changed:
            if not members:
                continue
            if len(members) == 1:
                # most facts: one member (what `apply` computes, without the generic walks)
                ev, v = members[0]
                order = (ev.at, key[0], ev.entries)
                srcs = ev.sources
                involved: tuple[str, ...] = (
                    () if v >= 1.0 or not srcs else
                    (srcs[0],) if len(srcs) == 1 else tuple(sorted(set(srcs))))
            else:
                members.sort(key=member_order)
                first = min((m[0].at, m[0].entries) for m in members)
                order = (first[0], key[0], first[1])
                involved = tuple(s for _, s in involved_budgets(self.party, members))
            facts.append((order, key, _Fact(order, members, involved, (), (), [], False)))
        facts.sort(key=_fact_order)
        params = self._params
        cap, noise = params.source_cap, params.unverified_noise
        budget: dict[tuple[str, str], float] = {}
        out: list[Signal] = []
        party = self.party
        for order, key, f in facts:
            self.facts[key] = f
            if f.involved:
                f.before = tuple([budget.get((party, s), cap) for s in f.involved])
            if len(f.members) == 1:
                f.signals = _one_signal(party, key, f.members[0], f.involved, cap, noise, budget)
            else:
                f.signals = fact_signals((party, *key), f.members, params, budget)
            if f.involved:
                f.after = tuple([budget.get((party, s), cap) for s in f.involved])
                for s in f.involved:
                    self._by_src.setdefault(s, []).append((order, key))
            out.extend(f.signals)
        return out

    def signals(self) -> list[Signal]:
        """Every signal of the party's facts (unsorted)."""
        return [s for fact in self.facts.values() for s in fact.signals]

    def _budget_before(self, src: str, order: Order, cap: float) -> float:
        # the budget after the last earlier fact spending this source's (or its full cap)
        lst = self._by_src[src]
        i = bisect.bisect_left(lst, (order,))
        if i == 0:
            return cap
        prev = self.facts[lst[i - 1][1]]
        return prev.after[prev.involved.index(src)]

    def _next(self, src: str, order: Order) -> tuple[Order, FactKey] | None:
        lst = self._by_src.get(src)
        if not lst:
            return None
        i = bisect.bisect_left(lst, (order,))
        if i < len(lst) and lst[i][0] == order:
            i += 1
        return lst[i] if i < len(lst) else None

    def _link(self, key: FactKey, fact: _Fact) -> None:
        for s in fact.involved:
            bisect.insort(self._by_src.setdefault(s, []), (fact.order, key))

    def _unlink(self, key: FactKey, fact: _Fact, heap: list[tuple[Order, FactKey]]) -> None:
        # Off its sources' lists; what followed it there now starts from other budgets.
        for s in fact.involved:
            lst = self._by_src[s]
            i = bisect.bisect_left(lst, (fact.order, key))
            del lst[i]
            if i < len(lst):
                heapq.heappush(heap, lst[i])
            if not lst:
                del self._by_src[s]
