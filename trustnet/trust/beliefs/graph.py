"""The local trust graph as the reliability stage holds it (issue 15 item 3): named by the
engine's caches in `base` and made by `reliability`, so both import it and neither imports the
other (issue 13)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trustnet.trust.opinion import Opinion

_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Edges:
    """Local trust edges i -> j (indices into the sorted parties), sorted by (i, j), each once:
    `w` the EigenTrust weight, `level` the strength it carries (see `_strength`)."""

    i: _I64
    j: _I64
    w: _F64
    level: _F64

    @staticmethod
    def merged(n: int, a: _Edges, b: _Edges, stopped: _I64) -> _Edges:
        """`a` and `b` summed edge by edge (each holds an edge once: a sum of at most two
        terms, the same in any order), less the edges out of `stopped` parties."""
        keys = np.concatenate((a.i * n + a.j, b.i * n + b.j))
        uniq, inv = np.unique(keys, return_inverse=True)
        w = np.bincount(inv, weights=np.concatenate((a.w, b.w)), minlength=len(uniq)).astype(
            np.float64)
        lv = np.bincount(
            inv, weights=np.concatenate((a.level, b.level)), minlength=len(uniq)).astype(np.float64)
        i, j = uniq // n, uniq % n
        if len(stopped):
            keep = ~np.isin(i, stopped)
            i, j, w, lv = i[keep], j[keep], w[keep], lv[keep]
        return _Edges(i, j, w, lv)


@dataclass(frozen=True, slots=True)
class _Pass1:
    """Reliability from `trust` statements alone: whose verifications count (pass 1)."""

    edges: _Edges
    distrust: dict[str, float]
    op1: dict[str, Opinion]  # parties someone distrusts
    p1: dict[str, float]
