"""Subjective Logic binomial opinions (DESIGN section 7).

An opinion `(b, d, u, a)` about a proposition holds belief, disbelief and
uncertainty mass (summing to 1) and a base rate `a`, the prior probability used
when there is no evidence. The formulas follow A. Jøsang, *Subjective Logic*
(Springer, 2016): evidence mapping (§3.5, non-informative prior weight W = 2),
probability-sensitive trust discounting (§14.3), aleatory cumulative fusion
(§12.3) and averaging fusion (§12.5), in their multi-source forms.

Dogmatic inputs (u = 0) are handled with the book's limit forms: when some
inputs are dogmatic the result is dogmatic and the dogmatic inputs share the
weight equally (the book's relative dogmatism gamma with equal convergence rates);
the non-dogmatic inputs then count for nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trustnet.errors import TrustnetError

__all__ = [
    "PRIOR_WEIGHT",
    "Opinion",
    "OpinionError",
    "averaging_fuse",
    "cumulative_fuse",
    "discount",
]

# Non-informative prior weight for a binomial opinion (Jøsang 2016, §3.5.2).
PRIOR_WEIGHT = 2.0

# Tolerance on b + d + u = 1: opinions come out of float arithmetic.
_SUM_TOL = 1e-9


class OpinionError(TrustnetError):
    """An opinion or its evidence is out of range (code `bad_opinion`)."""

    code = "bad_opinion"


def _check_unit(name: str, value: float) -> None:
    # `not (0 <= x <= 1)` also rejects NaN.
    if not (0.0 <= value <= 1.0):
        raise OpinionError(f"{name} must be in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class Opinion:
    """A binomial opinion: belief, disbelief, uncertainty (b + d + u = 1) and base rate."""

    b: float
    d: float
    u: float
    a: float = 0.5

    def __post_init__(self) -> None:
        for name in ("b", "d", "u", "a"):
            _check_unit(name, getattr(self, name))
        total = self.b + self.d + self.u
        if abs(total - 1.0) > _SUM_TOL:
            raise OpinionError(f"b + d + u must be 1, got {total!r}")

    @property
    def p(self) -> float:
        """Projected probability P = b + a·u (Jøsang 2016, eq. 3.2)."""
        return self.b + self.a * self.u

    @property
    def is_dogmatic(self) -> bool:
        """True when the opinion has no uncertainty (u = 0): infinite evidence."""
        return self.u == 0.0

    @classmethod
    def from_evidence(cls, r: float, s: float, a: float = 0.5) -> Opinion:
        """Opinion from r positive and s negative observations (W = 2; fractional allowed)."""
        if not (math.isfinite(r) and math.isfinite(s)) or r < 0.0 or s < 0.0:
            raise OpinionError(f"evidence must be finite and >= 0, got r={r!r}, s={s!r}")
        total = r + s + PRIOR_WEIGHT
        return cls._normalised(r / total, s / total, PRIOR_WEIGHT / total, a)

    @classmethod
    def vacuous(cls, a: float = 0.5) -> Opinion:
        """The opinion with no evidence at all: u = 1."""
        return cls(0.0, 0.0, 1.0, a)

    @classmethod
    def dogmatic(cls, p: float, a: float = 0.5) -> Opinion:
        """A dogmatic opinion (u = 0) with projected probability p."""
        _check_unit("p", p)
        return cls(p, 1.0 - p, 0.0, a)

    def evidence(self) -> tuple[float, float]:
        """The evidence (r, s) this opinion stands for; dogmatic opinions have none finite."""
        if self.is_dogmatic:
            raise OpinionError("a dogmatic opinion stands for infinite evidence")
        return PRIOR_WEIGHT * self.b / self.u, PRIOR_WEIGHT * self.d / self.u

    @classmethod
    def _normalised(cls, b: float, d: float, u: float, a: float) -> Opinion:
        # Clamp rounding noise (e.g. -1e-17, 1 + 1e-16) before validation so the
        # operators never fail on float error; real errors are far larger.
        b = min(max(b, 0.0), 1.0)
        d = min(max(d, 0.0), 1.0)
        u = min(max(u, 0.0), 1.0)
        a = min(max(a, 0.0), 1.0)
        return cls(b, d, u, a)


def discount(trust: Opinion, opinion: Opinion) -> Opinion:
    """Trust discounting A;B:x, probability-sensitive form (Jøsang 2016, §14.3.2)."""
    # b = P·b, d = P·d, u = 1 - P·(b + d), base rate unchanged (eq. 14.9), P = trust.p.
    p = trust.p
    b = p * opinion.b
    d = p * opinion.d
    return Opinion._normalised(b, d, 1.0 - b - d, opinion.a)


def _dogmatic_mean(opinions: tuple[Opinion, ...]) -> Opinion:
    # Limit form for dogmatic inputs (Jøsang 2016, §12.3.3 / §12.5.3, case u = 0):
    # relative dogmatism gamma_i = 1/|D| on the dogmatic set D, 0 elsewhere.
    dog = [o for o in opinions if o.is_dogmatic]
    k = len(dog)
    b = math.fsum(o.b for o in dog) / k
    a = math.fsum(o.a for o in dog) / k
    return Opinion._normalised(b, 1.0 - b, 0.0, a)


def _trivial(opinions: tuple[Opinion, ...]) -> Opinion | None:
    """The fusion of no opinion, one opinion, or opinions some of which are dogmatic."""
    if not opinions:
        return Opinion.vacuous()
    if len(opinions) == 1:
        return opinions[0]
    if any(o.is_dogmatic for o in opinions):
        return _dogmatic_mean(opinions)
    return None


def _scaled(opinions: tuple[Opinion, ...]) -> tuple[int, float, list[float]]:
    """(N, u_min, w_i = u_min / u_i): the book's products of uncertainties, divided by
    Π u / u_min so that many sources cannot underflow."""
    u_min = min(o.u for o in opinions)
    return len(opinions), u_min, [u_min / o.u for o in opinions]


def _weighted_bd(w: list[float], opinions: tuple[Opinion, ...], den: float) -> tuple[float, float]:
    b = math.fsum(wi * o.b for wi, o in zip(w, opinions, strict=True)) / den
    d = math.fsum(wi * o.d for wi, o in zip(w, opinions, strict=True)) / den
    return b, d


def cumulative_fuse(*opinions: Opinion) -> Opinion:
    """Aleatory cumulative fusion of independent sources (Jøsang 2016, §12.3, multi-source)."""
    trivial = _trivial(opinions)
    if trivial is not None:
        return trivial
    # Book form: b = Σ b_i Π_{j≠i} u_j / (Σ_i Π_{j≠i} u_j - (N-1) Π u_j), likewise u.
    # Dividing numerator and denominator by Π u / u_min gives weights w_i = u_min/u_i
    # in (0, 1], one of them 1: no underflow for many sources, and denominator >= 1.
    n, u_min, w = _scaled(opinions)
    den = math.fsum(w) - (n - 1) * u_min
    b, d = _weighted_bd(w, opinions, den)
    u = u_min / den
    # Base rate weighted by each source's evidence share w_i (1 - u_i) (book eq. for a);
    # when every input is vacuous, the plain mean of the base rates.
    # b + d, not 1 - u: near-vacuous inputs would lose their evidence to cancellation.
    ev = [wi * (o.b + o.d) for wi, o in zip(w, opinions, strict=True)]
    ev_max = max(ev)
    if ev_max > 0.0:
        ev = [e / ev_max for e in ev]  # relative shares: no underflow however small
        a = math.fsum(e * o.a for e, o in zip(ev, opinions, strict=True)) / math.fsum(ev)
    else:
        a = math.fsum(o.a for o in opinions) / n
    return Opinion._normalised(b, d, u, a)


def averaging_fuse(*opinions: Opinion) -> Opinion:
    """Averaging fusion of dependent (same-origin) sources (Jøsang 2016, §12.5, multi-source)."""
    trivial = _trivial(opinions)
    if trivial is not None:
        return trivial
    # Book form: b = Σ b_i Π_{j≠i} u_j / Σ_i Π_{j≠i} u_j, u = N Π u / Σ_i Π_{j≠i} u_j,
    # a = mean of a_i; scaled by u_min / Π u as in cumulative_fuse.
    # Averaging is idempotent but NOT associative, and the vacuous opinion is not
    # neutral here (it averages the evidence down): the book's definition, kept as is.
    n, u_min, w = _scaled(opinions)
    den = math.fsum(w)
    b, d = _weighted_bd(w, opinions, den)
    u = n * u_min / den
    a = math.fsum(o.a for o in opinions) / n
    return Opinion._normalised(b, d, u, a)
