"""Subjective Logic opinions: evidence mapping, discounting, cumulative and averaging fusion."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings, strategies as st

from trustnet.errors import TrustnetError
from trustnet.trust.opinion import (
    Opinion,
    OpinionError,
    averaging_fuse,
    cumulative_fuse,
    discount,
)

TOL = 1e-9
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
evidence_count = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


@st.composite
def opinions(draw: st.DrawFn, *, min_u: float = 0.0) -> Opinion:
    """Any opinion with u >= min_u: two cut points split [0, 1] into b, d, u."""
    x, y = sorted((draw(unit), draw(unit)))
    b, d, u = x, y - x, 1.0 - y
    if u < min_u:  # rescale b and d so that u = min_u
        scale = (1.0 - min_u) / (b + d)
        b, d, u = b * scale, d * scale, min_u
    return Opinion(b, d, max(0.0, 1.0 - b - d), draw(unit))


non_dogmatic = opinions(min_u=1e-3)
dogmatic = st.builds(Opinion.dogmatic, unit, unit)


def close(x: Opinion, y: Opinion, tol: float = TOL) -> bool:
    return all(
        math.isclose(getattr(x, f), getattr(y, f), rel_tol=0.0, abs_tol=tol)
        for f in ("b", "d", "u", "a")
    )


def assert_close(x: Opinion, y: Opinion, tol: float = TOL) -> None:
    assert close(x, y, tol), f"{x} != {y}"


# --- the record ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (0.5, 0.5, 0.5, 0.5),  # sums to 1.5
        (-0.1, 0.6, 0.5, 0.5),
        (0.5, 0.5, 0.0, 1.5),
        (math.nan, 0.5, 0.5, 0.5),
        (0.3, 0.3, 0.3, 0.5),
    ],
)
def test_invalid_opinions_are_refused_with_a_stable_code(
    args: tuple[float, float, float, float],
) -> None:
    with pytest.raises(OpinionError) as info:
        Opinion(*args)
    assert isinstance(info.value, TrustnetError)
    assert info.value.code == "bad_opinion"


def test_sum_tolerance_is_1e_9() -> None:
    Opinion(0.3, 0.3, 0.4 + 5e-10)
    with pytest.raises(OpinionError):
        Opinion(0.3, 0.3, 0.4 + 5e-9)


def test_projected_probability() -> None:
    assert Opinion(0.6, 0.2, 0.2, 0.25).p == pytest.approx(0.65)
    assert Opinion.vacuous(0.3).p == 0.3
    assert Opinion.dogmatic(0.8).p == pytest.approx(0.8)


def test_from_evidence_uses_w_2() -> None:
    o = Opinion.from_evidence(8, 2, a=0.4)
    assert (o.b, o.d, o.u, o.a) == pytest.approx((8 / 12, 2 / 12, 2 / 12, 0.4))
    assert Opinion.from_evidence(0, 0) == Opinion.vacuous()
    # Fractional (decayed) evidence is allowed.
    half = Opinion.from_evidence(0.5, 1.5)
    assert (half.b, half.d, half.u) == pytest.approx((0.125, 0.375, 0.5))


@pytest.mark.parametrize("r, s", [(-1.0, 0.0), (0.0, -0.5), (math.inf, 0.0), (math.nan, 1.0)])
def test_from_evidence_refuses_negative_or_infinite_evidence(r: float, s: float) -> None:
    with pytest.raises(OpinionError):
        Opinion.from_evidence(r, s)


@given(evidence_count, evidence_count, unit)
def test_evidence_round_trip(r: float, s: float, a: float) -> None:
    back_r, back_s = Opinion.from_evidence(r, s, a).evidence()
    assert back_r == pytest.approx(r, rel=1e-9, abs=1e-9)
    assert back_s == pytest.approx(s, rel=1e-9, abs=1e-9)


def test_dogmatic_opinion_has_no_finite_evidence() -> None:
    with pytest.raises(OpinionError):
        Opinion.dogmatic(0.7).evidence()


# --- b + d + u = 1 under every operator ----------------------------------------------


@given(st.lists(opinions() | dogmatic, min_size=0, max_size=6))
def test_fusions_stay_opinions(ops: list[Opinion]) -> None:
    for fused in (cumulative_fuse(*ops), averaging_fuse(*ops)):
        assert abs(fused.b + fused.d + fused.u - 1.0) <= TOL
        assert all(0.0 <= v <= 1.0 for v in (fused.b, fused.d, fused.u, fused.a))


@given(opinions() | dogmatic, opinions() | dogmatic)
def test_discount_stays_an_opinion_and_adds_uncertainty(trust: Opinion, x: Opinion) -> None:
    d = discount(trust, x)
    assert abs(d.b + d.d + d.u - 1.0) <= TOL
    assert d.u >= x.u - TOL
    assert d.a == x.a
    # Probability-sensitive discounting (Jøsang 2016 §14.3): scaled by P(trust).
    assert d.b == pytest.approx(trust.p * x.b, abs=TOL)
    assert d.d == pytest.approx(trust.p * x.d, abs=TOL)


# --- discounting ----------------------------------------------------------------


@given(opinions() | dogmatic, unit)
def test_discount_by_full_trust_is_identity(x: Opinion, a: float) -> None:
    assert_close(discount(Opinion(1.0, 0.0, 0.0, a), x), x)


@given(opinions() | dogmatic)
def test_discount_by_zero_probability_is_vacuous(x: Opinion) -> None:
    for zero in (Opinion(0.0, 1.0, 0.0, 0.5), Opinion(0.0, 0.3, 0.7, 0.0)):
        assert zero.p == 0.0
        assert_close(discount(zero, x), Opinion.vacuous(x.a))


def test_discount_example() -> None:
    # P(trust) = 0.5 + 0.5 * 0.2 = 0.6: b = 0.6*0.7, d = 0.6*0.1, u = 1 - 0.6*0.8.
    d = discount(Opinion(0.5, 0.3, 0.2, 0.5), Opinion(0.7, 0.1, 0.2, 0.3))
    assert (d.b, d.d, d.u, d.a) == pytest.approx((0.42, 0.06, 0.52, 0.3))


# --- cumulative fusion -----------------------------------------------------------


def test_cumulative_two_source_book_formula() -> None:
    # Jøsang 2016 §12.3, two sources: den = uA + uB - uA uB = 0.52.
    fused = cumulative_fuse(Opinion(0.6, 0.2, 0.2, 0.2), Opinion(0.3, 0.3, 0.4, 0.8))
    assert fused.b == pytest.approx(0.30 / 0.52)
    assert fused.d == pytest.approx(0.14 / 0.52)
    assert fused.u == pytest.approx(0.08 / 0.52)
    # a = (aA uB + aB uA - (aA + aB) uA uB) / (uA + uB - 2 uA uB) = 0.16 / 0.44.
    assert fused.a == pytest.approx(0.16 / 0.44)


@given(evidence_count, evidence_count, evidence_count, evidence_count, unit)
def test_cumulative_fusion_adds_evidence(
    r1: float, s1: float, r2: float, s2: float, a: float
) -> None:
    fused = cumulative_fuse(Opinion.from_evidence(r1, s1, a), Opinion.from_evidence(r2, s2, a))
    assert_close(fused, Opinion.from_evidence(r1 + r2, s1 + s2, a))


@given(non_dogmatic, non_dogmatic)
def test_cumulative_fusion_is_commutative(x: Opinion, y: Opinion) -> None:
    assert_close(cumulative_fuse(x, y), cumulative_fuse(y, x))


@given(non_dogmatic, non_dogmatic, non_dogmatic)
def test_cumulative_fusion_is_associative(x: Opinion, y: Opinion, z: Opinion) -> None:
    # The base rate of all-vacuous inputs is their plain mean, which is not
    # associative; with any evidence the vacuous ones carry no base-rate weight.
    assume(any(o.u < 1.0 for o in (x, y, z)))
    left = cumulative_fuse(cumulative_fuse(x, y), z)
    right = cumulative_fuse(x, cumulative_fuse(y, z))
    assert_close(left, right)
    assert_close(left, cumulative_fuse(x, y, z))


@given(opinions() | dogmatic, unit)
def test_vacuous_is_neutral_for_cumulative_fusion(x: Opinion, a: float) -> None:
    assume(x.u < 1.0 or x.a == a)
    assert_close(cumulative_fuse(x, Opinion.vacuous(a)), x)
    assert_close(cumulative_fuse(Opinion.vacuous(a), x), x)


def test_cumulative_fusion_of_many_sources_does_not_underflow() -> None:
    # The book's product form would underflow (u^2000); the scaled form does not.
    one = Opinion.from_evidence(1.0, 0.0)
    assert_close(cumulative_fuse(*([one] * 2000)), Opinion.from_evidence(2000.0, 0.0))


def test_cumulative_fusion_dogmatic_limits() -> None:
    d1 = Opinion.dogmatic(0.9, a=0.2)
    d2 = Opinion.dogmatic(0.3, a=0.6)
    x = Opinion(0.1, 0.6, 0.3, 0.5)
    # A dogmatic source outweighs any non-dogmatic one.
    assert_close(cumulative_fuse(x, d1), d1)
    assert_close(cumulative_fuse(d1, x), d1)
    # Dogmatic sources share the weight equally (gamma = 1/2), base rate too.
    both = Opinion(0.6, 0.4, 0.0, 0.4)
    assert_close(cumulative_fuse(d1, d2), both)
    assert_close(cumulative_fuse(d2, x, d1), both)
    assert_close(cumulative_fuse(d1, d1), d1)
    # Associative while at most one input is dogmatic.
    y = Opinion(0.5, 0.1, 0.4, 0.9)
    assert_close(
        cumulative_fuse(cumulative_fuse(x, d1), y), cumulative_fuse(x, cumulative_fuse(d1, y))
    )
    # With several differing dogmatic inputs the equal-share limit is not
    # associative: the multi-source call is the defined one.
    d3 = Opinion.dogmatic(0.0, a=0.5)
    assert_close(cumulative_fuse(d1, d2, d3), Opinion(0.4, 0.6, 0.0, 13 / 30))
    assert not close(cumulative_fuse(cumulative_fuse(d1, d2), d3), cumulative_fuse(d1, d2, d3))


def test_zero_and_one_inputs() -> None:
    assert cumulative_fuse() == Opinion.vacuous()
    assert averaging_fuse() == Opinion.vacuous()
    x = Opinion(0.2, 0.3, 0.5, 0.7)
    assert cumulative_fuse(x) == x
    assert averaging_fuse(x) == x


# --- averaging fusion ------------------------------------------------------------


def test_averaging_two_source_book_formula() -> None:
    # Jøsang 2016 §12.5: b = (bA uB + bB uA)/(uA + uB), u = 2 uA uB/(uA + uB), a = mean.
    fused = averaging_fuse(Opinion(0.6, 0.2, 0.2, 0.2), Opinion(0.3, 0.3, 0.4, 0.8))
    assert (fused.b, fused.d, fused.u, fused.a) == pytest.approx((0.5, 0.14 / 0.6, 0.16 / 0.6, 0.5))


@given(evidence_count, evidence_count, evidence_count, evidence_count, unit)
def test_averaging_fusion_averages_evidence(
    r1: float, s1: float, r2: float, s2: float, a: float
) -> None:
    fused = averaging_fuse(Opinion.from_evidence(r1, s1, a), Opinion.from_evidence(r2, s2, a))
    assert_close(fused, Opinion.from_evidence((r1 + r2) / 2, (s1 + s2) / 2, a))


@given(opinions() | dogmatic)
def test_averaging_fusion_is_idempotent(x: Opinion) -> None:
    assert_close(averaging_fuse(x, x), x)
    assert_close(averaging_fuse(x, x, x), x)


@given(st.lists(opinions() | dogmatic, min_size=2, max_size=5), st.data())
def test_fusions_are_commutative_in_any_order(ops: list[Opinion], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(ops))
    assert_close(averaging_fuse(*ops), averaging_fuse(*shuffled))
    assert_close(cumulative_fuse(*ops), cumulative_fuse(*shuffled))


@settings(max_examples=50)
@given(non_dogmatic, unit)
def test_vacuous_input_dilutes_averaging_fusion(x: Opinion, a: float) -> None:
    # Averaging fusion (book §12.5) averages the evidence, so a vacuous source
    # halves it: vacuous is neutral for cumulative fusion only. Callers drop
    # sources without evidence before averaging.
    assume(x.u < 1.0)
    fused = averaging_fuse(x, Opinion.vacuous(x.a))
    assert fused.u > x.u
    r, s = x.evidence()
    assert_close(fused, Opinion.from_evidence(r / 2, s / 2, x.a))
    # Two vacuous sources stay vacuous.
    assert_close(averaging_fuse(Opinion.vacuous(a), Opinion.vacuous(a)), Opinion.vacuous(a))


def test_averaging_fusion_dogmatic_limits() -> None:
    d1 = Opinion.dogmatic(0.9, a=0.2)
    d2 = Opinion.dogmatic(0.3, a=0.6)
    x = Opinion(0.1, 0.6, 0.3, 0.5)
    assert_close(averaging_fuse(x, d1), d1)
    assert_close(averaging_fuse(d1, d2), Opinion(0.6, 0.4, 0.0, 0.4))
    assert_close(averaging_fuse(d2, x, d1), Opinion(0.6, 0.4, 0.0, 0.4))
