"""The compiled numeric loops of the belief engine (trustnet/_numeric.c), and their fallbacks.

Exactly rounded sums of float64 arrays: `math.fsum` without a Python float per element.

`fsum_array(a)` is `math.fsum(a.tolist())`, the same float for the same numbers: the compiled
`trustnet._numeric.fsum` runs CPython's algorithm over the array's memory (the exactly rounded
sum is unique). Where the extension was not built, or a summand is not finite, or the sum
overflows on the way, `math.fsum` itself answers (and raises as it always does).

`c_credibility` and `c_view`: `_Group.credibility` and `_Compliance._lazy_view`'s arrays in one
pass each, the same floats as their numpy forms; `c_walk`: the suspicion estimator's walk over
grid cells and `c_replay` its replay of a party's signals (feedback/estimator.py), the same
floats as its Python loops; `c_quorum`: `_Group.quorum_met`, and `c_steps`: a party's
verification steps (analysis/verification.py `_values`), the same as their numpy forms (each
None where the extension was not built; the numpy and Python forms then answer).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

_fsum: Callable[[object], float | None] | None
# `_Group.credibility` compiled (trust/beliefs/compiled.py calls it; None: numpy answers)
c_credibility: Callable[..., None] | None
# `_Compliance._lazy_view`'s arrays and sums compiled (None: numpy and math.fsum answer)
c_view: Callable[..., tuple[int, tuple[float, float, float, float] | None]] | None
# `SuspicionEstimator._walk`'s cells compiled (None: Python walks them)
c_walk: Callable[..., tuple[int, float, float, float, float, list[int] | None,
                            list[float] | None] | None] | None
# `SuspicionEstimator._replay`'s steps compiled (None: Python applies them one by one)
c_replay: Callable[..., tuple[tuple[bytes, ...], bytes, bytes, int, float | None] | None] | None
# `_Group.quorum_met` and a party's verification steps compiled (None: numpy answers)
c_quorum: Callable[..., None] | None
c_steps: Callable[..., None] | None
try:
    from trustnet._numeric import (
        credibility as c_credibility,
        fsum as _fsum,
        quorum as c_quorum,
        replay as c_replay,
        steps as c_steps,
        view as c_view,
        walk as c_walk,
    )
except ImportError:  # built without a C compiler: Python alone, same results
    _fsum = c_credibility = c_view = c_walk = c_replay = c_quorum = c_steps = None


def numeric_compiled() -> bool:
    """Whether the compiled sum is in use (scripts/test reports it)."""
    return _fsum is not None


def fsum_array(a: NDArray[np.float64]) -> float:
    """`math.fsum` of the array's elements, of any shape (exactly rounded)."""
    flat = np.require(a, dtype=np.float64, requirements=["C", "A"]).ravel()  # aligned, too
    if _fsum is not None:
        got = _fsum(flat)
        if got is not None:
            return got
    return math.fsum(flat.tolist())
