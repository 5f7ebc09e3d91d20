"""Personalized EigenTrust: source reliability over the local trust graph (DESIGN section 7).

`t = (1 - a)·Cᵀt + a·p`, where C is the row-normalised local trust matrix and p
the pre-trusted distribution (the local node and its anchors). Rows without any
positive trust (dangling parties) hand their mass to p, so the result is exactly
personalized PageRank with damping 1 - a and p as both restart and dangling
distribution (networkx `pagerank(G, alpha=1-a, personalization=p, dangling=p)`).

Choices, written down here because DESIGN is silent on them:
- s_ij <= 0 is dropped (EigenTrust normalises max(s_ij, 0), Kamvar et al. 2003 §4.1);
  duplicate edges are summed (several `trust` statements add up).
- Self edges are kept, as personalized PageRank keeps self loops, so the result
  stays equal to networkx. Callers that consider self-vouching meaningless (the
  beliefs layer, building from `trust` statements) drop them before calling.
- Sybil resistance comes from the restart: a region with no edge back only ever
  receives what flows through its attack edges, so its total trust is at most
  (1 - a)/a times the attack nodes' trust, whatever its size.
- `pretrusted` is a set of indices (each counts once) or a mapping index -> weight
  (>= 0); empty or all-zero means uniform, i.e. plain (unpersonalized) EigenTrust.
- `edges` is an iterable of (i, j, s_ij) or an (m, 3) float array; a column-major
  (Fortran-order) array is read without a copy, the fastest input.
- Convergence: L1 step < tol (default 1e-12); the iteration contracts by (1 - a),
  so the result is within tol·(1 - a)/a (L1) of the exact fixed point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from trustnet.errors import TrustnetError

__all__ = ["TrustGraphError", "eigentrust"]

Edge = tuple[int, int, float]


class TrustGraphError(TrustnetError):
    """The trust graph or its parameters are invalid (`bad_trust_graph`), or no convergence."""

    code = "bad_trust_graph"


def _edge_array(edges: Iterable[Edge] | NDArray[np.float64]) -> NDArray[np.float64]:
    if isinstance(edges, np.ndarray):
        arr = np.asarray(edges, dtype=np.float64)
    else:
        arr = np.array(list(edges), dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 3), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise TrustGraphError(f"edges must be (i, j, s_ij) triples, got shape {arr.shape}")
    return arr


def _indices(values: NDArray[np.float64], n: int, what: str) -> NDArray[np.int32]:
    """Validated int32 copy of `values` (C-contiguous, rows kept), all integers in [0, n)."""
    # Range first, on the floats: casting NaN or out-of-range floats is undefined.
    if values.size and not (float(values.min()) >= 0.0 and float(values.max()) < n):
        raise TrustGraphError(f"{what} must be integers in [0, {n})")
    idx = np.ascontiguousarray(values, dtype=np.int32)  # n < 2**31 is checked by the caller
    if not np.array_equal(idx, values):
        raise TrustGraphError(f"{what} must be integers in [0, {n})")
    return idx


def _restart_vector(n: int, pretrusted: Iterable[int] | Mapping[int, float]) -> NDArray[np.float64]:
    p = np.zeros(n, dtype=np.float64)
    if isinstance(pretrusted, Mapping):
        keys = np.array(list(pretrusted.keys()), dtype=np.float64)
        weights = np.array(list(pretrusted.values()), dtype=np.float64)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0.0):
            raise TrustGraphError("pre-trusted weights must be finite and >= 0")
        np.add.at(p, _indices(keys, n, "pre-trusted indices"), weights)
    else:
        keys = np.array(list(pretrusted), dtype=np.float64)
        # A set of pre-trusted parties: each counts once, however often listed.
        p[_indices(keys, n, "pre-trusted indices")] = 1.0
    total = p.sum()
    if total <= 0.0:
        # No anchors (or only zero weights): fall back to uniform, plain EigenTrust.
        return np.full(n, 1.0 / n)
    p /= total
    return p


def eigentrust(
    n: int,
    edges: Iterable[Edge] | NDArray[np.float64],
    pretrusted: Iterable[int] | Mapping[int, float],
    a: float = 0.5,
    *,
    tol: float = 1e-12,
    max_iter: int = 1000,
) -> NDArray[np.float64]:
    """Personalized EigenTrust vector t = (1 - a)·Cᵀt + a·p over parties 0..n-1 (sums to 1)."""
    if not (1 <= n < 2**31):
        raise TrustGraphError(f"n must be in [1, 2**31), got {n}")
    # a = 0 would drop the restart: no contraction, no sybil bound.
    if not (0.0 < a <= 1.0):
        raise TrustGraphError(f"a must be in (0, 1], got {a!r}")
    if not (tol > 0.0) or max_iter < 1:
        raise TrustGraphError("tol must be > 0 and max_iter >= 1")

    # Work column by column: free for a column-major (Fortran-order) array, one
    # copy for a row-major one or a list of triples.
    cols = np.ascontiguousarray(_edge_array(edges).T)
    w = cols[2]
    if not np.isfinite(w).all():
        raise TrustGraphError("edge weights must be finite")
    ends = _indices(cols[:2], n, "edge endpoints")  # rows: src, dst
    src, dst = ends[0], ends[1]
    keep = w > 0.0  # EigenTrust: only positive local trust counts (Kamvar et al. §4.1)
    if not keep.all():
        src, dst, w = src[keep], dst[keep], w[keep]

    # Row normalisation is applied to the vector, not the matrix: Cᵀt = Sᵀ(t / out),
    # with S the raw summed weights; 1/out is 0 on dangling rows, whose mass goes to p.
    out = np.bincount(src, weights=w, minlength=n)
    dangling = out == 0.0
    damp = 1.0 - a
    scale = np.zeros(n, dtype=np.float64)
    np.divide(damp, out, out=scale, where=~dangling)
    dangling_mask = dangling.astype(np.float64)
    # Sᵀ built once, in COO form (j, i, s_ij). The product sums duplicate edges by
    # itself, and converting to CSR (sort + sum duplicates) would cost more than the
    # whole iteration on 100,000 edges; the COO product streams the same arrays as a
    # CSR one and is as fast while the vectors fit in cache.
    st = sp.coo_array((w, (dst, src)), shape=(n, n))
    p = _restart_vector(n, pretrusted)
    if n == 1:
        # One party holds all the trust; scipy's 1x1 product would be a scalar, not a vector.
        return np.ones(1, dtype=np.float64)

    # The restart usually sits on a few anchors: add it on their indices only.
    p_idx = np.flatnonzero(p)
    p_val = p[p_idx]
    t = p.copy()
    x = np.empty(n, dtype=np.float64)
    diff = np.empty(n, dtype=np.float64)
    for _ in range(max_iter):
        # Dangling mass goes to p, like the restart: one masked dot per step.
        lost = float(dangling_mask @ t)
        np.multiply(t, scale, out=x)
        nxt = st @ x
        nxt[p_idx] += (damp * lost + a) * p_val
        np.subtract(nxt, t, out=diff)
        err = float(np.abs(diff, out=diff).sum())
        t = nxt
        # L1 step < tol bounds the L1 distance to the fixed point by tol·(1 - a)/a.
        if err < tol:
            return np.asarray(t / t.sum(), dtype=np.float64)
    raise TrustGraphError(
        f"power iteration did not converge to {tol} in {max_iter} steps",
        code="no_convergence",
    )
