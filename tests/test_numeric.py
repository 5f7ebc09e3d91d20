"""Exactly rounded sums of float64 arrays (`trustnet.numeric.fsum_array`, issue 15 item 3):
the same float as `math.fsum` for the same numbers, compiled or not, and `math.fsum`'s own
answers (inf, nan, errors) for what the compiled sum leaves to it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustnet import numeric
from trustnet.numeric import fsum_array

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=2000, deadline=None)
@given(st.lists(finite, max_size=200))
def test_same_as_math_fsum(xs: list[float]) -> None:
    a = np.array(xs, dtype=np.float64)
    try:
        want = math.fsum(xs)
    except OverflowError:
        with pytest.raises(OverflowError):
            fsum_array(a)
        return
    got = fsum_array(a)
    assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def test_cancellation_and_half_even_rounding() -> None:
    # Cases where a plain or pairwise sum is wrong: the exactly rounded one is asked for.
    cases = [
        [1e-16, 1.0, 1e16],  # rounds up across partials (math.fsum's half-even fix-up)
        [1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50],
        [0.1] * 10,
        [1.0, 1e-300, -1.0],
        [2.0**53, 1.0, 1.0],
        [-0.0, -0.0],
    ]
    rng = np.random.default_rng(7)
    for _ in range(300):  # the magnitudes of real opinions and of far wider ones
        n = int(rng.integers(1, 2000))
        cases.append((rng.standard_normal(n) * 10.0 ** rng.integers(-200, 200, n)).tolist())
        cases.append(rng.random(n).tolist())
    for xs in cases:
        assert fsum_array(np.array(xs)) == math.fsum(xs), xs[:5]
    assert np.sum(np.array([1e16, 1.0, -1e16])) != fsum_array(np.array([1e16, 1.0, -1e16])) == 1.0


def test_special_values_are_math_fsums() -> None:
    assert fsum_array(np.array([1.0, math.inf])) == math.inf
    assert math.isnan(fsum_array(np.array([1.0, math.nan])))
    with pytest.raises(ValueError):
        fsum_array(np.array([math.inf, -math.inf]))
    with pytest.raises(OverflowError):
        fsum_array(np.array([1e308, 1e308]))
    assert fsum_array(np.zeros(0)) == 0.0


def test_strided_and_other_dtypes_are_summed_as_float64() -> None:
    a = np.arange(20, dtype=np.float64) / 3.0
    assert fsum_array(a[::3]) == math.fsum(a[::3].tolist())
    assert fsum_array(np.arange(5, dtype=np.int64)) == 10.0  # type: ignore[arg-type]


def test_compiled_sum_leaves_what_it_cannot_answer_to_math_fsum() -> None:
    compiled = pytest.importorskip(
        "trustnet._numeric", reason="not compiled here: math.fsum answers alone")
    assert numeric.numeric_compiled()
    assert compiled.fsum(np.array([1.0, 2.5])) == 3.5
    assert compiled.fsum(np.array([1.0, math.inf])) is None
    assert compiled.fsum(np.array([1e308, 1e308])) is None  # overflow on the way
    with pytest.raises(TypeError):
        compiled.fsum(np.arange(3, dtype=np.float32))
    with pytest.raises(TypeError):
        compiled.fsum(b"12345678")
