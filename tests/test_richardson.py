"""Richardson two-party model: exact state against closed forms (DESIGN section 8)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from trustnet.feedback.richardson import (
    FeedbackError,
    Richardson,
    flow,
    flow_closed,
    flow_observed,
)

# (k, l, a, b, g, h): stable and unstable, real and complex eigenvalues
PARAMS = [
    (0.10, 0.10, 0.30, 0.30, 0.05, 0.02),  # symmetric, stable
    (0.30, 0.30, 0.10, 0.10, 0.05, 0.02),  # symmetric, unstable
    (0.20, 0.05, 0.15, 0.40, 0.00, 0.10),  # asymmetric, stable (ab=0.06 > kl=0.01)
    (0.90, 0.70, 0.20, 0.30, 0.30, 0.00),  # asymmetric, unstable (ab=0.06 < kl=0.63)
    (0.50, -0.40, 0.10, 0.05, 0.20, 0.10),  # k*l < 0: complex pair, stable spiral
    (0.50, -0.40, -0.05, -0.02, 0.20, 0.10),  # complex pair, growing oscillation
]
X0, Y0 = 0.7, 0.2
TIMES = [0.0, 0.01, 0.5, 1.0, 3.7, 10.0, 25.0]


def closed_form(r: Richardson, t: float, x0: float, y0: float) -> tuple[float, float]:
    """z(t) = z* + V exp(Lambda t) V^-1 (z0 - z*), by eigendecomposition (det != 0)."""
    a_m = np.array([[-r.a, r.k], [r.l, -r.b]], dtype=complex)
    lam, v = np.linalg.eig(a_m)
    zs = np.array(r.equilibrium(), dtype=complex)
    d = np.linalg.solve(v, np.array([x0, y0], dtype=complex) - zs)
    z = zs + v @ (np.exp(lam * t) * d)
    assert abs(z.imag).max() < 1e-9
    return float(z[0].real), float(z[1].real)


@pytest.mark.parametrize("p", PARAMS)
def test_state_matches_eigendecomposition_closed_form(p: tuple[float, ...]) -> None:
    r = Richardson(*p)
    for t in TIMES:
        got = r.state(t, X0, Y0)
        want = closed_form(r, t, X0, Y0)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (p, t)


@pytest.mark.parametrize(("k", "a", "g", "h"), [(0.1, 0.3, 0.05, 0.02), (0.3, 0.1, 0.04, 0.0)])
def test_symmetric_case_against_scalar_closed_form(k: float, a: float, g: float, h: float) -> None:
    # With l = k and b = a, u = x + y and v = x - y decouple:
    # u' = (k - a) u + (g + h),  v' = -(k + a) v + (g - h).
    r = Richardson(k, k, a, a, g, h)

    def scalar(lam: float, c: float, z0: float, t: float) -> float:
        zs = -c / lam
        return zs + (z0 - zs) * math.exp(lam * t)

    for t in TIMES:
        u = scalar(k - a, g + h, X0 + Y0, t)
        v = scalar(-(k + a), g - h, X0 - Y0, t)
        x, y = r.state(t, X0, Y0)
        assert x == pytest.approx((u + v) / 2, rel=1e-10, abs=1e-13)
        assert y == pytest.approx((u - v) / 2, rel=1e-10, abs=1e-13)


def test_singular_system_state_is_still_exact() -> None:
    # a*b == k*l: no equilibrium, the sum grows linearly: u' = g + h.
    r = Richardson(0.1, 0.1, 0.1, 0.1, 0.03, 0.01)
    with pytest.raises(FeedbackError) as ei:
        r.equilibrium()
    assert ei.value.code == "no_equilibrium"
    for t in TIMES:
        x, y = r.state(t, X0, Y0)
        u = X0 + Y0 + 0.04 * t
        vs = (0.03 - 0.01) / 0.2
        v = vs + (X0 - Y0 - vs) * math.exp(-0.2 * t)
        assert x == pytest.approx((u + v) / 2, rel=1e-10)
        assert y == pytest.approx((u - v) / 2, rel=1e-10)


@pytest.mark.parametrize("p", PARAMS)
def test_eigenvalues_equilibrium_and_stability(p: tuple[float, ...]) -> None:
    r = Richardson(*p)
    ev = r.eigenvalues()
    ref = sorted(np.linalg.eigvals(np.array(r.matrix())), key=lambda z: (-z.real, -z.imag))
    assert ev[0] == pytest.approx(complex(ref[0]), abs=1e-12)
    assert ev[1] == pytest.approx(complex(ref[1]), abs=1e-12)
    assert r.escalation_index == pytest.approx(max(z.real for z in ref), abs=1e-12)
    assert r.stable == (max(z.real for z in ref) < 0)
    if r.a > 0 and r.b > 0:
        assert r.stable == (r.a * r.b > r.k * r.l)
    xs, ys = r.equilibrium()
    assert -r.a * xs + r.k * ys + r.g == pytest.approx(0.0, abs=1e-12)
    assert r.l * xs - r.b * ys + r.h == pytest.approx(0.0, abs=1e-12)
    if r.stable:
        # a stable system converges to its equilibrium
        assert r.state(400.0, X0, Y0) == pytest.approx((xs, ys), rel=1e-6)


def test_unstable_system_grows_at_the_largest_eigenvalue() -> None:
    r = Richardson(0.3, 0.3, 0.1, 0.1)  # index 0.2
    x1, _ = r.state(50.0, 1.0, 1.0)
    x2, _ = r.state(60.0, 1.0, 1.0)
    assert x2 / x1 == pytest.approx(math.exp(0.2 * 10.0), rel=1e-9)


def test_flow_is_a_semigroup() -> None:
    r = Richardson(*PARAMS[3])
    mid = r.state(2.5, X0, Y0)
    assert r.state(4.0, *mid) == pytest.approx(r.state(6.5, X0, Y0), rel=1e-10)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1", True])
def test_rejects_non_finite_coefficients(bad: object) -> None:
    with pytest.raises(FeedbackError):
        Richardson(0.1, 0.1, bad, 0.1)  # type: ignore[arg-type]


def test_closed_form_propagator_matches_the_matrix_exponential() -> None:
    # flow_closed (used by the estimator) against expm: real and complex pairs,
    # singular systems, stable and unstable, and the near-degenerate fallback.
    rng = random.Random(5)
    cases = [(0.1, 0.1, 0.1, 0.1, 0.02, 0.01), (0.0, 0.3, 0.2, 0.2, 0.1, 0.0)]
    for _ in range(300):
        k, l, a, b = (rng.uniform(-0.5, 1.0) for _ in range(4))  # noqa: E741
        cases.append((k, l, a, b, rng.uniform(0, 0.3), rng.uniform(0, 0.3)))
    for k, l, a, b, g, h in cases:  # noqa: E741
        for t in (1e-9, 1e-4, 0.02, 0.5, 1.0, 7.0):
            x0, y0 = rng.uniform(0, 2), rng.uniform(0, 2)
            got = flow_closed(k, l, a, b, g, h, t, x0, y0)
            want = flow(k, l, a, b, g, h, t, x0, y0)
            assert got == pytest.approx(want, rel=1e-10, abs=1e-12), (k, l, a, b, g, h, t)


def test_the_observed_flow_is_the_exact_triangular_flow() -> None:
    """l = 0 (y observed): the estimator's closed form equals the matrix exponential,
    also at a = b and b = 0 where the general closed form has q = 0."""
    rng = random.Random(1)
    for _ in range(500):
        a = rng.uniform(0.01, 1.0)
        b = rng.choice([a, rng.uniform(0.0, 1.0), 0.0, a + 1e-9])
        k, g, h = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0, 1)
        t = rng.choice([rng.uniform(0, 3), 1e-4, 1.0, 0.0])
        x0, y0 = rng.uniform(0, 2), rng.uniform(0, 2)
        want = flow(k, 0.0, a, b, g, h, t, x0, y0)
        got = flow_observed(k, a, b, g, h, t, x0, y0)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
