"""Signals and an estimator on a fixed calendar, shared by the suspicion-estimator tests
(tests/test_estimator.py) and the regime tests that check refusals erode goodwill."""

from __future__ import annotations

from trustnet.clock import DAY_MS
from trustnet.feedback.estimator import Signal, SuspicionEstimator, SuspicionParams

T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
ME = "me"
P = "south-1"


def at(day: float) -> int:
    return T0 + int(day * DAY_MS)


def verified_cooperation(day: float = 30.0, party: str = P) -> list[Signal]:
    return [
        Signal(party, at(day), "cooperation", 0.5, 1.0, "n1", "notification_timely"),
        Signal(party, at(day), "cooperation", 0.5, 1.0, "n2", "notification_timely"),
        Signal(party, at(day + 0.01), "cooperation", 0.9, 1.0, "i1", "inspection_accepted"),
    ]


def estimator(signals: list[Signal], params: SuspicionParams | None = None) -> SuspicionEstimator:
    est = SuspicionEstimator(params or SuspicionParams(), ME)
    for s in signals:
        est.observe(s)
    return est


def refusal(day: float, rule: str = "inspection_refused") -> Signal:
    return Signal(P, at(day), "threat", 0.4, 1.0, f"ref{day}", rule)
