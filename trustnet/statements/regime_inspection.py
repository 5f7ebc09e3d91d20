"""Inspections (VD11 chapter IX) as the rule engine judges them.

The host answers a request within 24 hours and may refuse only beyond its quota (3 a year,
1 per requester: para 76 and 84): `inspections` gives inspection_accepted and
inspection_refused. A report consistent with the notification, checked against the figures
rather than believed, gives inspection_consistent (`consistent_reports`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from trustnet.statements.counts import counts_text, crossed_thresholds
from trustnet.statements.evidence import Evidence
from trustnet.statements.facts import is_notifiable
from trustnet.statements.index import Index, Stmt, date_text, hours_text, unique, year_of
from trustnet.statements.kinds import InspectionReport
from trustnet.statements.weights import RuleWeights


def inspections(ix: Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
    """VD11 chapter IX: accept up to 3 per year, 1 per requester; answer within 24 hours."""
    fig = ix.fig
    # Every acceptance in time, per host: (acceptance ts, request year, requester, request id).
    accepted: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    for q in ix.inspections.values():
        a = ix.accepted_in_time(q)
        if a is not None:
            accepted[q.body.host].append((a.ts, year_of(q.ts), q.author, q.id))

    for q in sorted(ix.inspections.values(), key=Stmt.key):
        host = q.body.host
        deadline = ix.answer_deadline(q)
        answer = ix.host_answer(q)
        about = f"inspection of {q.body.area} requested {date_text(q.ts)}"
        if answer is not None and answer.ts <= deadline and answer.body.accept:
            yield Evidence(
                host,
                "inspection_accepted",
                w.inspection_accepted,
                answer.ts,
                (q.id, answer.id),
                (q.author,),
                f"accepted the {about}, after {hours_text(answer.ts - q.ts)}",
                True,
            )
            continue
        if answer is not None and answer.ts <= deadline:
            decided, how = answer.ts, f"refused the {about} ({answer.body.reason[:80]!r})"
        elif answer is not None or now_ms > deadline:
            decided = deadline
            how = (
                f"answered the {about} only after {hours_text(answer.ts - q.ts)}"
                if answer is not None
                else f"did not answer the {about} within {hours_text(deadline - q.ts)}"
            )
        else:
            continue  # still within the 24 hours
        # VD11 para 76 and 84: a refusal inside the quota is not a violation.
        year = year_of(q.ts)
        before = [
            a for a in accepted.get(host, ()) if a[0] <= decided and a[1] == year and a[3] != q.id
        ]
        same = [a for a in before if a[2] == q.author]
        if len(before) >= fig.inspections_per_year:
            continue
        if len(same) >= fig.inspections_per_requester_per_year:
            continue
        yield Evidence(
            host,
            "inspection_refused",
            w.inspection_refused,
            decided,
            (q.id, answer.id) if answer is not None else (q.id,),
            (q.author,),
            f"{how}, with {len(before)} of {fig.inspections_per_year} inspections accepted "
            f"in {year} and {len(same)} from this requester",
            answer is not None,
        )


def consistent_reports(ix: Index, w: RuleWeights) -> Iterator[Evidence]:
    """A report consistent with the notification (verdict, and checked against the figures)."""
    fig = ix.fig
    for f in ix.findings():
        report = f.stmt.body
        if not isinstance(report, InspectionReport) or report.verdict != "consistent":
            continue
        covering = ix.covering(f)
        gov = ix.governing(f, covering)
        # The inspector's verdict is not believed against the figures: a report that shows an
        # undercount or an unnotified activity is evidence of that instead.
        if gov is not None and crossed_thresholds(report, gov.body, fig):
            continue
        if gov is None and is_notifiable(report, fig):
            continue
        ids = ([gov.id] if gov else []) + [f.stmt.id, *f.support]
        against = (
            f"the notification of {counts_text(gov.body)}" if gov else "no notifiable activity"
        )
        yield Evidence(
            f.party,
            "inspection_consistent",
            w.inspection_consistent,
            f.stmt.ts,
            unique(ids),
            (f.stmt.author,),
            f"inspection found {counts_text(report)} in {f.area_text or 'the inspected area'}, "
            f"consistent with {against}",
            f.verified,
        )
