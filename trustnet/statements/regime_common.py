"""What the rules of issue 16 item 5 part B share: judged statements, routing, dates.

The regime rules (`regime_observation`, `regime_evaluation`, `regime_incidents`,
`regime_openskies`) read statements the rule engine hands them as `Judged` records and
yield `Evidence` about one party each. The belief engine evaluates the rules per party
(a partition holds the statements about that party), so every rule here only judges a
party from statements `route` sends to that party's partition; `route` also names the
deadlines after which a partition's facts change (an answer that did not come).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from trustnet.statements.figures import DAY_MS, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    AnnualExchange,
    ConsultationReply,
    EvaluationReport,
    EvaluationRequest,
    EvaluationResponse,
    IncidentReport,
    Notification,
    ObservationAcceptance,
    ObservationInvitation,
    ObserversReport,
    OpenSkiesFlight,
    OpenSkiesNotice,
    OpenSkiesResponse,
    SensorDataReply,
    SensorDataRequest,
)
from trustnet.statements.stmt import Judged as Judged

S = TypeVar("S")

# The weight of a rule (RuleWeights.of): the regime rules take their weights from the
# rule engine's configuration without importing it.
Weight = Callable[[str], float]

# Bodies the regime rules read (the rule engine hands every one of these to them).
INPUTS = (
    Notification,
    AnnualExchange,
    ConsultationReply,
    ObservationInvitation,
    ObservationAcceptance,
    ObserversReport,
    EvaluationRequest,
    EvaluationResponse,
    EvaluationReport,
    IncidentReport,
    OpenSkiesNotice,
    OpenSkiesResponse,
    OpenSkiesFlight,
    SensorDataRequest,
    SensorDataReply,
)
# The kinds this part adds (the routing below is theirs).
NEW_KINDS = INPUTS[3:]

# Facts that rest on the party's own signed answer to someone else's request (or on its
# absence): the belief engine weighs them like the consultation and inspection answers.
ANSWER_RULES = frozenset({
    "evaluation_accepted", "evaluation_refused", "evaluation_refused_beyond_quota",
    "incident_answered", "incident_unanswered", "incident_escalated",
    "openskies_accepted", "openskies_refused", "openskies_notice_short",
    "openskies_quota_exceeded", "sensor_data_shared", "sensor_data_declined",
    "sensor_data_not_shared",
})

# Refusals to take part in verification: they withdraw goodwill in the suspicion model
# like an inspection refused or a consultation unanswered (feedback/estimator.py).
EROSIVE_RULES = frozenset({
    "evaluation_refused", "incident_unanswered", "openskies_refused", "sensor_data_declined",
})


def of_type(stmts: list[Judged[object]], cls: type[S]) -> list[Judged[S]]:
    """The statements whose body is a `cls`, in publication order."""
    out = [s for s in stmts if isinstance(s.body, cls)]
    out.sort(key=Judged.key)
    return out  # type: ignore[return-value]  # narrowed by the isinstance above


def first_by(stmts: list[Judged[S]], ref: Callable[[S], str]) -> dict[tuple[str, str], Judged[S]]:
    """(author, reference) -> that author's first statement with that reference (`ref(body)`),
    in publication order: one lookup per answer, however many statements a partition holds
    (a flood of answers or acceptances costs its length, not its square)."""
    out: dict[tuple[str, str], Judged[S]] = {}
    for s in stmts:
        out.setdefault((s.author, ref(s.body)), s)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def year_of(ms: int) -> int:
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).year
    except OverflowError:
        return 10_000


def date(ms: int) -> str:
    try:
        return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M UTC")
    except OverflowError:
        return f"{ms} ms"


def hours(ms: int) -> str:
    return f"{ms / HOUR_MS:g} h"


def route(author: str, body: object, ts: int, fig: ViennaFigures) -> tuple[str | None, tuple[int, ...]]:
    """The party whose partition holds a statement of a new kind, and its deadlines.

    A statement about its own author (an observers' report on oneself, a self-addressed
    request) is ignored, as the rule engine ignores such observations."""
    party: str | None
    deadlines: tuple[int, ...] = ()
    if isinstance(body, ObservationInvitation | EvaluationResponse | OpenSkiesResponse
                  | OpenSkiesFlight | SensorDataReply):
        party = author
    elif isinstance(body, ObservationAcceptance | ObserversReport):
        party = body.host
    elif isinstance(body, EvaluationRequest):
        party = body.host
        deadlines = (ts + fig.evaluation_answer_hours * HOUR_MS,)
    elif isinstance(body, EvaluationReport):
        party = body.host
    elif isinstance(body, IncidentReport):
        party = body.subject
        answer = ts + fig.incident_answer_hours * HOUR_MS
        meeting = fig.incident_meeting_hours * HOUR_MS
        deadlines = (answer, answer + meeting)
    elif isinstance(body, OpenSkiesNotice):
        party = body.observed
        deadlines = (ts + fig.openskies_answer_hours * HOUR_MS,)
    elif isinstance(body, SensorDataRequest):
        party = body.observer
        deadlines = (ts + fig.sensor_data_days * DAY_MS,)
    else:
        return None, ()
    if party == author and not isinstance(
        body, ObservationInvitation | EvaluationResponse | OpenSkiesResponse | OpenSkiesFlight
        | SensorDataReply
    ):
        return None, ()
    return party, deadlines


def admitted(author: str, body: object, roles: Mapping[str, str]) -> bool:
    """Only participating states request evaluation visits and fly Open Skies flights (as
    only they request inspections: a party of no declared role counts as one)."""
    if isinstance(body, EvaluationRequest | OpenSkiesNotice):
        return roles.get(author, "state") == "state"
    return True


def alert_deadline(body: Notification, fig: ViennaFigures) -> int | None:
    """When an alert activity's observers are due (VD11 para 41, 58): its start plus 72 h."""
    if body.type != "alert":
        return None
    return body.start + fig.alert_observe_hours * HOUR_MS
