"""Evaluation visits (VD11 chapter IX, evaluation): the quota, the answers, the reports.

A host must accept one visit per calendar year for every 60 units (or part of 60) it
reported in its annual exchange for that year, and at most 15 (`evaluation_units_per_visit`,
`evaluations_max_per_year`), answering within 48 hours (`evaluation_answer_hours`).

- `evaluation_accepted` (met): the host accepted a request in time.
- `evaluation_refused` (breached): refused, or not answered in time, while the host had
  accepted fewer visits that year than its quota.
- `evaluation_refused_beyond_quota` (not_applicable, weight 0 by default): the same once the
  quota was used up (or no exchange for the year reported any unit): no breach, shown so an
  analyst sees the refusal and why it is allowed.
- `evaluation_discrepancy` (breached) / `evaluation_consistent` (met): the report of the
  requester of an accepted visit, compared with the unit as the host's exchange declared it:
  any count above the declared one by more than `evaluation_tolerance_percent` (or a unit
  the exchange does not list) is a discrepancy, whatever the report's verdict.

Only the host's own answers count; a visit is requested by someone other than the host.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    AnnualExchange,
    EvaluationReport,
    EvaluationRequest,
    EvaluationResponse,
    Unit,
)
from trustnet.statements.regime_common import (
    Judged,
    Weight,
    date,
    first_by,
    hours,
    of_type,
    year_of,
)

_COUNTS = (("personnel", "personnel"), ("tanks", "tanks"), ("acv", "acv"),
           ("artillery", "artillery"))


def quota(units: int, fig: ViennaFigures) -> int:
    """Visits a host must accept in a year for this many reported units."""
    per = max(1, fig.evaluation_units_per_visit)
    return min(fig.evaluations_max_per_year, -(-units // per))


def _exchange(
    exchanges: list[Judged[AnnualExchange]], host: str, year: int, before: int
) -> Judged[AnnualExchange] | None:
    """The host's latest exchange valid for `year` published by `before`."""
    held = [x for x in exchanges
            if x.author == host and year_of(x.body.valid_from) == year and x.ts <= before]
    return held[-1] if held else None


def _found_more(report: EvaluationReport, unit: Unit | None, fig: ViennaFigures) -> list[str]:
    if unit is None:
        return [f"unit {report.unit!r} not in the annual exchange"]
    out = []
    for field, declared_field in _COUNTS:
        found, declared = getattr(report, field), getattr(unit, declared_field)
        if found * 100 > declared * (100 + fig.evaluation_tolerance_percent):
            out.append(f"{found} {field} against {declared} declared")
    return out


def evidence(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    exchanges = of_type(stmts, AnnualExchange)
    responses = first_by(of_type(stmts, EvaluationResponse), lambda b: b.request)
    requests = [q for q in of_type(stmts, EvaluationRequest) if q.author != q.body.host]
    limit = fig.evaluation_answer_hours * HOUR_MS

    # Acceptances in time per host: (when, year of the request, request id).
    accepted: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for q in requests:
        a = responses.get((q.body.host, q.id))
        if a is not None and a.body.accept and a.ts <= q.ts + limit:
            accepted[q.body.host].append((a.ts, year_of(q.ts), q.id))

    by_id: dict[str, Judged[EvaluationRequest]] = {}
    for q in requests:
        by_id[q.id] = q
        host, deadline, a = q.body.host, q.ts + limit, responses.get((q.body.host, q.id))
        about = f"evaluation visit to {q.body.unit!r} ({q.body.area}) requested {date(q.ts)}"
        if a is not None and a.ts <= deadline and a.body.accept:
            yield Evidence(host, "evaluation_accepted", weight("evaluation_accepted"), a.ts,
                           (q.id, a.id), (q.author,),
                           f"accepted the {about}, after {hours(a.ts - q.ts)}", True)
            continue
        if a is not None and a.ts <= deadline:
            decided, how = a.ts, f"refused the {about} ({a.body.reason[:80]!r})"
        elif a is not None or now_ms > deadline:
            decided = deadline
            how = (f"answered the {about} only after {hours(a.ts - q.ts)}" if a is not None
                   else f"did not answer the {about} within {hours(limit)}")
        else:
            continue  # still within the answer time
        year = year_of(q.ts)
        done = sum(1 for t, y, rid in accepted.get(host, ()) if t <= decided and y == year
                   and rid != q.id)
        x = _exchange(exchanges, host, year, decided)
        units = len(x.body.units) if x is not None else 0
        owed = quota(units, fig)
        basis = (f"quota {owed} for {units} unit{'' if units == 1 else 's'} reported for {year}"
                 if x is not None else f"no annual exchange for {year} reports a unit: quota 0")
        ids = (q.id, a.id) if a is not None else (q.id,)
        rule = "evaluation_refused" if done < owed else "evaluation_refused_beyond_quota"
        yield Evidence(host, rule, weight(rule), decided, ids, (q.author,),
                       f"{how}, with {done} visit{'' if done == 1 else 's'} accepted in {year} "
                       f"({basis}{'' if done < owed else ', used up: no breach'})",
                       a is not None)

    for r in of_type(stmts, EvaluationReport):
        rb = r.body
        visit = by_id.get(rb.request)
        if visit is None or visit.body.host != rb.host or r.author != visit.author:
            continue  # only the requester of a visit reports it
        yes = responses.get((visit.body.host, visit.id))
        if yes is None or not yes.body.accept or yes.ts > visit.ts + limit:
            continue  # no visit took place
        x = _exchange(exchanges, rb.host, year_of(visit.ts), r.ts)
        unit = None if x is None else next((u for u in x.body.units if u.unit == rb.unit), None)
        refs: tuple[str, ...] = (r.id, visit.id, yes.id) + ((x.id,) if x is not None else ())
        found = _found_more(rb, unit, fig)
        if found:
            yield Evidence(rb.host, "evaluation_discrepancy", weight("evaluation_discrepancy"),
                           r.ts, refs, (r.author,),
                           f"evaluation visit to {rb.unit!r} found {'; '.join(found)} (beyond "
                           f"{fig.evaluation_tolerance_percent}% of the annual exchange)", True)
        elif rb.verdict == "consistent":
            yield Evidence(rb.host, "evaluation_consistent", weight("evaluation_consistent"),
                           r.ts, refs, (r.author,),
                           f"evaluation visit to {rb.unit!r} found it as the annual exchange "
                           f"declared it", True)
