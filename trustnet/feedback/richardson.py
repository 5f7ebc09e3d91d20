"""Richardson's two-party model of mutual fear (DESIGN section 8).

    dx/dt = k*y - a*x + g
    dy/dt = l*x - b*y + h

x and y are the two sides' hostility (here: suspicion), k and l their
reactivity to the other side, a and b their restraint, g and h their standing
grievances (threat inputs). Written as z' = A z + c with A = [[-a, k], [l, -b]]
and c = (g, h). The system is asymptotically stable exactly when trace(A) < 0
and det(A) > 0 (Routh-Hurwitz for 2x2): a + b > 0 and a*b > k*l. Otherwise the
largest eigenvalue has a non-negative real part: left alone, the spiral grows
exponentially (the positive-feedback loop of DOMAIN.md).

`state` is exact: the flow of the affine system is the exponential of the
augmented 3x3 matrix [[A, c], [0, 0]] (no Euler steps, and it needs no
inverse of A, so it also holds when det(A) = 0). Pure math, no I/O.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from trustnet.errors import TrustnetError


class FeedbackError(TrustnetError):
    """A feedback-model input is invalid (codes: bad_model, no_equilibrium, bad_signal)."""

    code = "bad_model"


def flow(
    k: float,
    l: float,  # noqa: E741
    a: float,
    b: float,
    g: float,
    h: float,
    t: float,
    x0: float,
    y0: float,
) -> tuple[float, float]:
    """Exact state (x, y) at time t of the Richardson system started at (x0, y0)."""
    if t == 0.0:
        return x0, y0
    m = np.array([[-a, k, g], [l, -b, h], [0.0, 0.0, 0.0]], dtype=np.float64)
    e = expm(m * t)
    return (
        float(e[0, 0] * x0 + e[0, 1] * y0 + e[0, 2]),
        float(e[1, 0] * x0 + e[1, 1] * y0 + e[1, 2]),
    )


# Below this |q|*t the closed form loses digits to cancellation; use expm there.
_SMALL_QT = 1e-3


def _phi(m: float, t: float) -> float:
    """(exp(m t) - 1) / m, and t at m = 0."""
    return math.expm1(m * t) / m if m != 0.0 else t


def flow_closed(
    k: float,
    l: float,  # noqa: E741
    a: float,
    b: float,
    g: float,
    h: float,
    t: float,
    x0: float,
    y0: float,
) -> tuple[float, float]:
    """The same exact flow as `flow`, in closed form for 2x2 (no numpy: ~20x cheaper).

    With s = -(a+b)/2 and N = A - sI, N^2 = q^2 I where q^2 = ((a-b)/2)^2 + k*l, so
    exp(At) = e^{st} (cosh(qt) I + sinh(qt)/q N), and the forcing integral is
    I1 I + I2 N with I1 = (phi(s+q) + phi(s-q))/2, I2 = (phi(s+q) - phi(s-q))/(2q),
    phi(m) = (e^{mt} - 1)/m. Needs no inverse of A, so det(A) = 0 is fine; falls
    back to `flow` when |q| t is too small for the difference to keep its digits.
    """
    if t == 0.0:
        return x0, y0
    s = -(a + b) / 2.0
    n0 = (b - a) / 2.0  # N = [[n0, k], [l, -n0]]
    q2 = n0 * n0 + k * l
    q = math.sqrt(abs(q2))
    if q * abs(t) < _SMALL_QT:
        return flow(k, l, a, b, g, h, t, x0, y0)
    if q2 > 0.0:
        c, sq = math.cosh(q * t), math.sinh(q * t) / q
        pp, pm = _phi(s + q, t), _phi(s - q, t)
        i1, i2 = (pp + pm) / 2.0, (pp - pm) / (2.0 * q)
    else:  # complex pair s +- iq: phi(s - iq) is the conjugate of phi(s + iq)
        c, sq = math.cos(q * t), math.sin(q * t) / q
        lam = complex(s, q)
        pc = (cmath.exp(lam * t) - 1.0) / lam
        i1, i2 = pc.real, pc.imag / q
    est = math.exp(s * t)
    e00, e01 = est * (c + sq * n0), est * sq * k
    e10, e11 = est * sq * l, est * (c - sq * n0)
    f00, f01 = i1 + i2 * n0, i2 * k
    f10, f11 = i2 * l, i1 - i2 * n0
    return (
        e00 * x0 + e01 * y0 + f00 * g + f01 * h,
        e10 * x0 + e11 * y0 + f10 * g + f11 * h,
    )


def flow_observed(
    k: float, a: float, b: float, g: float, h: float, t: float, x0: float, y0: float
) -> tuple[float, float]:
    """The exact flow of the triangular system with l = 0 (y observed, not driven by x):

        dx/dt = k*y - a*x + g,   dy/dt = -b*y + h,   a > 0, b >= 0.

    y(t) = y0 e^{-bt} + h F_b, x(t) = x0 e^{-at} + g F_a + k (y0 D + h (F_a - D) / b), with
    F_m = (1 - e^{-mt}) / m and D = e^{-at} t phi((a - b) t), phi(z) = (e^z - 1) / z: stable
    when a = b (where `flow_closed`'s q = 0 would fall back to the matrix exponential).
    """
    if t == 0.0:
        return x0, y0
    ea = math.exp(-a * t)
    fa = -math.expm1(-a * t) / a
    z = (a - b) * t
    d = ea * t * (math.expm1(z) / z if z != 0.0 else 1.0)
    if b * t < 1e-9:  # y grows linearly: the integral of e^{-a(t-s)} s over [0, t]
        y = y0 + h * t
        forced = (t - fa) / a
    else:
        fb = -math.expm1(-b * t) / b
        y = y0 * math.exp(-b * t) + h * fb
        forced = (fa - d) / b
    return x0 * ea + g * fa + k * (y0 * d + h * forced), y


def eigenvalues(k: float, l: float, a: float, b: float) -> tuple[complex, complex]:  # noqa: E741
    """Eigenvalues of [[-a, k], [l, -b]], largest real part first."""
    s = -(a + b) / 2.0
    disc = ((a - b) / 2.0) ** 2 + k * l
    if disc >= 0.0:
        q = math.sqrt(disc)
        return complex(s + q), complex(s - q)
    w = cmath.sqrt(disc)  # purely imaginary: a damped or growing oscillation
    return complex(s, abs(w.imag)), complex(s, -abs(w.imag))


def escalation_index(k: float, l: float, a: float, b: float) -> float:  # noqa: E741
    """Largest real part of the eigenvalues: > 0 means the spiral grows exponentially."""
    s = -(a + b) / 2.0
    disc = ((a - b) / 2.0) ** 2 + k * l
    return s + math.sqrt(disc) if disc > 0.0 else s


@dataclass(frozen=True, slots=True)
class Richardson:
    """The two-party linear system with constant coefficients (rates per time unit)."""

    k: float  # reactivity of x to y
    l: float  # noqa: E741 -- reactivity of y to x (DESIGN section 9 names it `l`)
    a: float  # restraint of x
    b: float  # restraint of y
    g: float = 0.0  # grievance / threat input to x
    h: float = 0.0  # grievance / threat input to y

    def __post_init__(self) -> None:
        for name in ("k", "l", "a", "b", "g", "h"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise FeedbackError(f"Richardson.{name} must be a finite number, got {v!r}")

    def matrix(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The system matrix A = [[-a, k], [l, -b]]."""
        return ((-self.a, self.k), (self.l, -self.b))

    def eigenvalues(self) -> tuple[complex, complex]:
        """Eigenvalues of A, largest real part first."""
        return eigenvalues(self.k, self.l, self.a, self.b)

    @property
    def escalation_index(self) -> float:
        """Largest real part of the eigenvalues (> 0: exponential growth)."""
        return escalation_index(self.k, self.l, self.a, self.b)

    @property
    def stable(self) -> bool:
        """Asymptotically stable: a + b > 0 and a*b > k*l (Routh-Hurwitz)."""
        return self.a + self.b > 0.0 and self.a * self.b > self.k * self.l

    def equilibrium(self) -> tuple[float, float]:
        """The fixed point (x*, y*) solving A z + c = 0; raises if det(A) = 0."""
        det = self.a * self.b - self.k * self.l
        if det == 0.0:
            raise FeedbackError(
                "a*b == k*l: the system has no unique equilibrium", code="no_equilibrium"
            )
        return (
            (self.k * self.h + self.b * self.g) / det,
            (self.l * self.g + self.a * self.h) / det,
        )

    def state(self, t: float, x0: float, y0: float) -> tuple[float, float]:
        """Exact (x, y) at time t from (x0, y0), by the matrix exponential."""
        return flow(self.k, self.l, self.a, self.b, self.g, self.h, t, x0, y0)
