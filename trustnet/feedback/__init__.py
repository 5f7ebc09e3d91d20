"""Suspicion feedback: Richardson dynamics and the per-party estimator (DESIGN section 8)."""

from __future__ import annotations

from trustnet.feedback.estimator import (
    Driver,
    PartySuspicion,
    Signal,
    SuspicionEstimator,
    SuspicionParams,
    recompute,
)
from trustnet.feedback.hostility import (
    DEFAULT_HOSTILITY,
    HOSTILITY_RULES,
    HostilityWeights,
    hostility_signals,
)
from trustnet.feedback.richardson import FeedbackError, Richardson
from trustnet.feedback.signals import (
    SuspicionView,
    default_verification,
    evidence_signals,
    signals_from,
    suspicion_for,
)

__all__ = [
    "DEFAULT_HOSTILITY",
    "HOSTILITY_RULES",
    "Driver",
    "FeedbackError",
    "HostilityWeights",
    "PartySuspicion",
    "Richardson",
    "Signal",
    "SuspicionEstimator",
    "SuspicionParams",
    "SuspicionView",
    "default_verification",
    "evidence_signals",
    "hostility_signals",
    "recompute",
    "signals_from",
    "suspicion_for",
]
