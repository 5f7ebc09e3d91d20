"""Explanations: one readable paragraph per party, naming the facts that drive its views."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from trustnet.trust.beliefs.compiled import _Lazy
from trustnet.trust.beliefs.compliance import _Compliance
from trustnet.trust.beliefs.records import Contribution, Reliability, View


def _items(cs: Iterable[Contribution]) -> str:
    return "; ".join(f"{c.note} [{c.rule}, {c.basis}]" for c in cs)


class _Explanations(_Compliance):
    """Explanations of the views (cached with them)."""

    def _explain(self, p: str, rel: Reliability, ver: View, raw: View) -> Callable[[], str]:
        """The party's explanation, made when first read (`PartyBelief.explanation`): from
        these views and the party's name now, whenever it is read."""
        # Not `self`: the engine keeps the belief that keeps this function, and an engine
        # dropped (a view made for one answer) must die by reference counting, not wait for
        # the collector (tests/test_heap.py).
        return _Explanation(self._name(p) or p[:12], p, rel, ver, raw, self._drivers)

    @staticmethod
    def _drivers_text(ver: View, raw: View) -> str:
        parts: list[str] = []
        lv, lr = ver._lazy, raw._lazy
        if isinstance(lv, _Lazy) and isinstance(lr, _Lazy):  # what compliance makes
            # The same choice from the views' arrays, making only the contributions named.
            eff = lv.b - lv.d
            w = lv.group.weight[lv.pos]
            down = _top3(lv, w < 0, eff)
            up = _top3(lv, w > 0, -eff)
            where = lr.group.match(lv.group)
            if where is not None:
                # Raw builds whose key no contributing verified build has (-1: the last slot,
                # never set).
                kept = np.zeros(len(lv.group.keys) + 1, dtype=bool)
                kept[lv.pos] = True
                other = ~kept[where[lr.pos]]
            else:
                keys = lv.group.keys
                verified_keys = {keys[i] for i in lv.pos.tolist()}
                rkeys = lr.group.keys
                other = np.array([rkeys[i] not in verified_keys for i in lr.pos.tolist()],
                                 dtype=bool)
            unverified = _top3(lr, other, -np.abs(lr.b - lr.d))
        else:
            down = sorted((c for c in ver.evidence if c.weight < 0), key=lambda c: c.effect)[:3]
            up = sorted((c for c in ver.evidence if c.weight > 0), key=lambda c: -c.effect)[:3]
            verified_keys = {(c.rule, c.entries[:1]) for c in ver.evidence}
            unverified = sorted(
                (c for c in raw.evidence if (c.rule, c.entries[:1]) not in verified_keys),
                key=lambda c: -abs(c.effect),
            )[:3]
        if down:
            parts.append(f"Down: {_items(down)}.")
        if up:
            parts.append(f"Up: {_items(up)}.")
        if unverified:
            parts.append(f"Unverified (raw view only): {_items(unverified)}.")
        if not parts:
            parts.append("No evidence yet: the prior.")
        return " ".join(parts)



def _top3(lazy: _Lazy, mask: NDArray[np.bool_], key: NDArray[np.float64]) -> list[Contribution]:
    """The first three contributions of `lazy` under `mask` by `key` (stable, like sorted)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    order = np.argsort(key[idx], kind="stable")[:3]
    return [lazy.make(int(k)) for k in idx[order]]


class _Explanation:
    """One party's explanation, written when first called (`_Explanations._explain`): an
    object rather than a closure, which compiled (trustnet/_build.py) would make a cycle."""

    def __init__(self, who: str, p: str, rel: Reliability, ver: View, raw: View,
                 drivers: dict[str, tuple[View, str]]) -> None:
        self.who = who
        self.p = p
        self.rel = rel
        self.ver = ver
        self.raw = raw
        self.drivers = drivers

    def __call__(self) -> str:
        ver, raw = self.ver, self.raw
        head = (
            f"{self.who}: verified compliance {ver.score:.2f} (uncertainty {ver.opinion.u:.2f}); "
            f"raw {raw.score:.2f} (uncertainty {raw.opinion.u:.2f}); "
            f"reliability as a source {self.rel.p:.2f}."
        )
        # The drivers depend on the views alone: kept with them while they stay cached.
        # (`_views` makes both views together, so the same verified view means the same raw.)
        cached = self.drivers.get(self.p)
        if cached is None or cached[0] is not ver:
            cached = (ver, _Explanations._drivers_text(ver, raw))
            self.drivers[self.p] = cached
        return f"{head} {cached[1]}"
