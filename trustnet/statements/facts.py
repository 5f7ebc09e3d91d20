"""Derived facts the rules need, computed from statement bodies rather than trusted.

A sender's own flags are never believed: whether an activity was notifiable, or
notified in time, follows from the counts, the dates and the Vienna figures.
"""

from __future__ import annotations

from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.kinds import InspectionReport, Notification, Observation

Counts = Notification | Observation | InspectionReport


def _amphibious(s: Counts) -> int:
    return s.amphibious if isinstance(s, Notification) else 0


def is_notifiable(s: Counts, fig: ViennaFigures = DEFAULT_FIGURES) -> bool:
    """VD11 para 40: any notification threshold met.

    Air sorties are not one: VD11 para 40.1.2 says air force participation of 200 sorties or
    more must be *included* in the notification of a notifiable activity; it does not make an
    activity notifiable (issue 12, finding 9)."""
    return (
        s.troops >= fig.notify_troops
        or s.tanks >= fig.notify_tanks
        or s.acv >= fig.notify_acv
        or s.artillery >= fig.notify_artillery
        or _amphibious(s) >= fig.notify_amphibious
    )


def is_observable(s: Counts, fig: ViennaFigures = DEFAULT_FIGURES) -> bool:
    """VD11 para 47: an observation threshold met (observers must be invited)."""
    return (
        s.troops >= fig.observe_troops
        or s.tanks >= fig.observe_tanks
        or _amphibious(s) >= fig.observe_amphibious
    )


def days_of_notice(notification: Notification, published_ms: int) -> float:
    """Days between publishing the notification and the activity's start (negative: late)."""
    return (notification.start - published_ms) / DAY_MS


def notice_ok(notification: Notification, published_ms: int, fig: ViennaFigures = DEFAULT_FIGURES) -> bool:
    """VD11 para 38-40: 42 days ahead; an alert activity is notified when it starts."""
    if notification.type == "alert":
        return published_ms <= notification.start + DAY_MS  # "at the moment they start"
    return days_of_notice(notification, published_ms) >= fig.notify_days
