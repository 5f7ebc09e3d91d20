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
from trustnet.feedback.richardson import FeedbackError, Richardson

__all__ = [
    "Driver",
    "FeedbackError",
    "PartySuspicion",
    "Richardson",
    "Signal",
    "SuspicionEstimator",
    "SuspicionParams",
    "recompute",
]
