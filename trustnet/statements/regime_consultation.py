"""The mechanism for consultation on unusual military activities (VD11 chapter III, para 16).

A request for explanation is answered by the party it concerns within 48 hours; a reply after
the deadline counts as no answer (the reply's own signed time proves it was late).
"""

from __future__ import annotations

from collections.abc import Iterator

from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import HOUR_MS
from trustnet.statements.index import Index, hours_text
from trustnet.statements.weights import RuleWeights


def consultations(ix: Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
    """VD11 para 16: a request for explanation is answered within 48 hours."""
    limit = ix.fig.consultation_answer_hours * HOUR_MS
    for q in ix.consultations:
        party = q.body.subject
        deadline = q.ts + limit
        reply = next((r for r in ix.replies.get(q.id, ()) if r.author == party), None)
        about = f"request for explanation ({q.body.concern[:80]!r}, {q.body.area})"
        if reply is not None and reply.ts <= deadline:
            yield Evidence(
                party,
                "consultation_answered",
                w.consultation_answered,
                reply.ts,
                (q.id, reply.id),
                (q.author,),
                f"answered the {about} after {hours_text(reply.ts - q.ts)} (limit {hours_text(limit)})",
                True,
            )
        elif reply is not None:
            # A late reply proves, by its own signed timestamp, that the deadline passed.
            yield Evidence(
                party,
                "consultation_unanswered",
                w.consultation_unanswered,
                deadline,
                (q.id, reply.id),
                (q.author,),
                f"answered the {about} only after {hours_text(reply.ts - q.ts)} "
                f"(limit {hours_text(limit)})",
                True,
            )
        elif now_ms > deadline:
            yield Evidence(
                party,
                "consultation_unanswered",
                w.consultation_unanswered,
                deadline,
                (q.id,),
                (q.author,),
                f"no answer to the {about} within {hours_text(limit)}",
                False,
            )
