"""Hazardous incidents of a military nature (VD11 para 17) and the consultation that follows.

An `incident_report` names the party concerned (`subject`); that party answers with a
`consultation_reply` whose `request` is the report. The escalation is derived, step by
step, from the answer that did not come (the meetings are steps of the mechanism, not
statements anyone must sign):

- `incident_answered` (met): answered within `incident_answer_hours` (48).
- `incident_unanswered` (missing; late when the answer came after the deadline): the
  reporting party may call a bilateral meeting, due within `incident_meeting_hours`.
- `incident_escalated` (missing): still unanswered when the bilateral meeting was due:
  the matter goes to a meeting of all participating states, due within
  `incident_meeting_hours` more. An answer before that stops the escalation.
"""

from __future__ import annotations

from collections.abc import Iterator

from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import HOUR_MS, ViennaFigures
from trustnet.statements.kinds import ConsultationReply, IncidentReport
from trustnet.statements.regime_common import Judged, Weight, date, first_by, hours, of_type


def evidence(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    replies = first_by(of_type(stmts, ConsultationReply), lambda b: b.request)
    limit = fig.incident_answer_hours * HOUR_MS
    meeting = fig.incident_meeting_hours * HOUR_MS
    for q in of_type(stmts, IncidentReport):
        party = q.body.subject
        if party == q.author:
            continue
        deadline, bilateral = q.ts + limit, q.ts + limit + meeting
        reply = replies.get((party, q.id))
        about = (f"report of a hazardous incident on {date(q.body.at)} in {q.body.area} "
                 f"({q.body.description[:80]!r})")
        if reply is not None and reply.ts <= deadline:
            yield Evidence(party, "incident_answered", weight("incident_answered"), reply.ts,
                           (q.id, reply.id), (q.author,),
                           f"answered the {about} after {hours(reply.ts - q.ts)}", True)
            continue
        if reply is None and now_ms <= deadline:
            continue  # still within the answer time
        step = (f"a bilateral meeting with the reporting party was due by {date(bilateral)}; "
                f"then, unanswered, a meeting of all participating states by "
                f"{date(bilateral + meeting)}")
        if reply is not None:
            yield Evidence(party, "incident_unanswered", weight("incident_unanswered"), deadline,
                           (q.id, reply.id), (q.author,),
                           f"answered the {about} only after {hours(reply.ts - q.ts)} (limit "
                           f"{hours(limit)}): escalated to a bilateral meeting", True)
        else:
            yield Evidence(party, "incident_unanswered", weight("incident_unanswered"), deadline,
                           (q.id,), (q.author,),
                           f"no answer to the {about} within {hours(limit)}: {step}", False)
        if (reply.ts if reply is not None else now_ms) > bilateral:
            ids = (q.id, reply.id) if reply is not None else (q.id,)
            yield Evidence(party, "incident_escalated", weight("incident_escalated"), bilateral,
                           ids, (q.author,),
                           f"the {about} was still unanswered when the bilateral meeting was "
                           f"due ({date(bilateral)}): escalated to a meeting of all "
                           f"participating states, due by {date(bilateral + meeting)}",
                           reply is not None)
