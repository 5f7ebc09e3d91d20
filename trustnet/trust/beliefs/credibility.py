"""How far evidence is believed: sources' reliabilities fused into a credibility (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from trustnet.statements.regime_common import ANSWER_RULES as REGIME_ANSWER_RULES
from trustnet.trust.opinion import Opinion, cumulative_fuse

RELIABILITY_DIGITS = 4  # reliabilities weigh evidence at a resolution of 1e-4
# Facts that rest on the party's own signed answer to someone else's request.
_ANSWER_RULES = frozenset(
    {"consultation_answered", "inspection_accepted", "consultation_unanswered", "inspection_refused"}
) | REGIME_ANSWER_RULES  # issue 16 item 5 part B
_CERTAIN = Opinion(1.0, 0.0, 0.0, 0.0)
_ZERO = Opinion(0.0, 0.0, 1.0, 0.0)
_DISTRUST = Opinion(0.0, 1.0, 0.0, 0.0)


def source_opinion(p: float, *, refutes: bool = False) -> Opinion:
    """What a source of reliability p says for (or against) a claim: base rate 0."""
    if p >= 1.0:
        return _DISTRUST if refutes else _CERTAIN
    p = max(p, 0.0)
    return Opinion(0.0, p, 1.0 - p, 0.0) if refutes else Opinion(p, 0.0, 1.0 - p, 0.0)


def credibility(supporters: Iterable[float], refuters: Iterable[float] = ()) -> Opinion:
    """Cumulative fusion of supporters' and refuters' reliabilities (vacuous, base rate 0, if none)."""
    ops = [source_opinion(p) for p in supporters if p > 0.0]
    ops += [source_opinion(p, refutes=True) for p in refuters if p > 0.0]
    return cumulative_fuse(*ops) if ops else _ZERO


def credibility_p(supporters: Iterable[float], refuters: Iterable[float] = ()) -> float:
    """`credibility(...).p` in closed form: fusion of W = 2 opinions adds their evidence."""
    # Jøsang 2016 §12.3: cumulative fusion sums evidence r_i = 2 b_i / u_i; with dogmatic
    # inputs (p = 1) the result is their mean (opinion.py's limit form).
    sup = [p for p in supporters if p > 0.0]
    ref = [p for p in refuters if p > 0.0]
    dog_s = sum(1 for p in sup if p >= 1.0)
    dog_r = sum(1 for p in ref if p >= 1.0)
    if dog_s or dog_r:
        return dog_s / (dog_s + dog_r)
    r = math.fsum(2.0 * p / (1.0 - p) for p in sup)
    s = math.fsum(2.0 * p / (1.0 - p) for p in ref)
    return r / (r + s + 2.0) if r > 0.0 else 0.0


def fact_opinion(weight: float, scale: float, base_rate: float) -> Opinion:
    """The opinion one fact of rule weight w stands for: |w| x scale on the side of its sign."""
    amount = abs(weight) * scale
    if weight >= 0:
        return Opinion.from_evidence(amount, 0.0, base_rate)
    return Opinion.from_evidence(0.0, amount, base_rate)


def share_belief(share: float, reference: float, trust_belief: float) -> Opinion:
    """Reliability opinion from an EigenTrust share, linear in it (base rate 0)."""
    if reference <= 0.0 or share <= 0.0:
        return _ZERO
    b = trust_belief * min(1.0, share / reference)
    return Opinion(b, 0.0, 1.0 - b, 0.0)

