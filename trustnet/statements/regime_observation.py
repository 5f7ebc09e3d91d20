"""Observation (VD11 chapters V and VI): invitations, acceptances, observers' reports.

- `observation_invited` (met): the host's own `observation_invitation` for its notified
  activity at or above the observation thresholds, published by the activity's start (an
  alert activity: within 72 hours of its start). One credit per host and year, as for
  notifications: signing invitations costs nothing until observers come.
- `alert_not_observed` (breached): an alert activity (notified at its start, no prior
  notice) at or above the observation thresholds that lasts over 72 hours, with no
  invitation from the host within 72 hours of its start (VD11 para 41, 58). The
  notification's `observers_invited` flag does not count for it: only the invitation does.
  An alert activity of 72 hours or less need not be observed.
- `observers_report_undercount` (breached) / `observers_report_consistent` (met): the
  report of observers who accepted the host's invitation, compared with the notification
  the invitation is for: counts that cross a threshold the notification stayed under are
  an undercount, whatever the report's verdict; otherwise a `consistent` verdict is
  cooperation. Reports by anyone who did not accept the invitation are ignored here (an
  `observation` is how others report what they saw).
"""

from __future__ import annotations

from collections.abc import Iterator

from trustnet.statements.evidence import Evidence
from trustnet.statements.facts import is_observable
from trustnet.statements.figures import HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    Notification,
    ObservationAcceptance,
    ObservationInvitation,
    ObserversReport,
)
from trustnet.statements.regime_common import (
    Judged,
    Weight,
    alert_deadline,
    date,
    first_by,
    of_type,
    year_of,
)

_FIELDS = ("troops", "tanks", "acv", "artillery")


def needs_observers(n: Notification, fig: ViennaFigures) -> bool:
    """At or above the observation thresholds, and not an alert activity of 72 h or less."""
    if not is_observable(n, fig):
        return False
    return n.type != "alert" or n.end - n.start > fig.alert_observe_hours * HOUR_MS


def _due(n: Notification, fig: ViennaFigures) -> int:
    return alert_deadline(n, fig) or n.start


Invitations = dict[tuple[str, str], Judged[ObservationInvitation]]


def _invitations(stmts: list[Judged[object]]) -> Invitations:
    return first_by(of_type(stmts, ObservationInvitation), lambda b: b.notification)


def _invitation(
    n: Judged[Notification], invitations: Invitations, fig: ViennaFigures
) -> Judged[ObservationInvitation] | None:
    """The host's invitation for its notification, published in time."""
    inv = invitations.get((n.author, n.id))
    return inv if inv is not None and inv.ts <= _due(n.body, fig) else None


def invited(stmts: list[Judged[object]], fig: ViennaFigures) -> set[str]:
    """Notifications (ids) whose author invited observers in time by an invitation statement:
    the rule engine's `observers_not_invited` does not judge them by their flag."""
    invitations = _invitations(stmts)
    return {n.id for n in of_type(stmts, Notification) if _invitation(n, invitations, fig)}


def _thresholds(fig: ViennaFigures) -> tuple[tuple[str, int], ...]:
    return (("troops", fig.notify_troops), ("tanks", fig.notify_tanks), ("acv", fig.notify_acv),
            ("artillery", fig.notify_artillery), ("troops", fig.observe_troops),
            ("tanks", fig.observe_tanks))


def _crossed(found: ObserversReport, notified: Notification, fig: ViennaFigures) -> list[str]:
    return [f"{value} {name}" for name, value in _thresholds(fig)
            if getattr(found, name) >= value > getattr(notified, name)]


def _counts(c: ObserversReport | Notification) -> str:
    return " / ".join(f"{getattr(c, f)} {f}" for f in _FIELDS if getattr(c, f) or f == "troops")


def evidence(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    notifications = of_type(stmts, Notification)
    invitations = _invitations(stmts)
    by_id = {n.id: n for n in notifications}
    credited: set[tuple[str, int]] = set()
    for n in notifications:
        nb = n.body
        if not needs_observers(nb, fig):
            continue
        inv = _invitation(n, invitations, fig)
        what = f"{nb.type} {nb.activity!r} ({_counts(nb)}) in {nb.area}"
        if inv is not None:
            if (n.author, year_of(n.ts)) in credited:
                continue
            credited.add((n.author, year_of(n.ts)))
            yield Evidence(n.author, "observation_invited", weight("observation_invited"), inv.ts,
                           (n.id, inv.id), (), f"invited observers to the {what} on "
                           f"{date(inv.ts)} ({inv.body.observers_per_state} per state)", True)
            continue
        due = alert_deadline(nb, fig)
        if due is not None and now_ms > due:
            yield Evidence(
                n.author, "alert_not_observed", weight("alert_not_observed"), due, (n.id,), (),
                f"alert activity {what} lasting {(nb.end - nb.start) / HOUR_MS:g} h, over "
                f"{fig.alert_observe_hours} h: no invitation of observers by {date(due)}", True)

    accepts = first_by(of_type(stmts, ObservationAcceptance), lambda b: b.invitation)
    inv_by_id = {i.id: i for i in of_type(stmts, ObservationInvitation)}
    for r in of_type(stmts, ObserversReport):
        rb = r.body
        inv = inv_by_id.get(rb.invitation)
        if inv is None or inv.author != rb.host:
            continue
        accepted = accepts.get((r.author, inv.id))
        nr = by_id.get(inv.body.notification)
        if accepted is None or accepted.body.host != rb.host or nr is None or nr.author != rb.host:
            continue
        nb = nr.body
        ids = (r.id, inv.id, accepted.id, nr.id)
        crossed = _crossed(rb, nb, fig)
        if crossed:
            yield Evidence(rb.host, "observers_report_undercount",
                           weight("observers_report_undercount"), r.ts, ids, (r.author,),
                           f"invited observers found {_counts(rb)} at {nb.activity!r}; "
                           f"notified {_counts(nb)}: crossing {', '.join(crossed)} the "
                           f"notification stayed under", True)
        elif rb.verdict == "consistent":
            yield Evidence(rb.host, "observers_report_consistent",
                           weight("observers_report_consistent"), r.ts, ids, (r.author,),
                           f"invited observers found {_counts(rb)} at {nb.activity!r}, "
                           f"consistent with the notification", True)
