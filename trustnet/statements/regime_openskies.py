"""Open Skies observation flights: quotas, the 72- and 96-hour rules, sensor data on request.

Figures (Treaty on Open Skies, recalled; all configurable): each party must accept
`openskies_passive_quota` flights over it a calendar year (Annex A gives every party its own
passive quota; one figure stands for all of them here); the observing party gives notice
of arrival at least 72 hours ahead (art. VI A 5); the observed party acknowledges within
24 hours; the flight is completed within 96 hours of arrival (art. VI A 9); a copy of
the sensor data goes to a party that requests it (art. IX), here within `sensor_data_days`.

About the observed party (its partition holds the notices about it and its answers):

- `openskies_accepted` (met): a notice accepted within 24 hours.
- `openskies_refused` (breached): refused, or not answered in 24 hours, though the notice
  came 72 hours ahead and the party had accepted fewer flights that year than its quota.
- `openskies_notice_short` / `openskies_quota_exceeded` (not_applicable, weight 0): the same
  refusal when the notice came less than 72 hours ahead / beyond the quota: no breach.

About the observing party (its partition holds its flights and the requests for their data):

- `openskies_period_exceeded` (breached): a flight ended more than 96 hours after arrival.
- `sensor_data_shared` (met): a request for a flight's data answered with the data (digests)
  in time; `sensor_data_declined` (breached): answered without data;
  `sensor_data_not_shared` (missing, or late when the data came after the deadline).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    OpenSkiesFlight,
    OpenSkiesNotice,
    OpenSkiesResponse,
    SensorDataReply,
    SensorDataRequest,
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


def _flights_over(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    responses = first_by(of_type(stmts, OpenSkiesResponse), lambda b: b.notice)
    notices = [n for n in of_type(stmts, OpenSkiesNotice) if n.author != n.body.observed]
    limit = fig.openskies_answer_hours * HOUR_MS
    ahead = fig.openskies_notice_hours * HOUR_MS

    accepted: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for n in notices:
        a = responses.get((n.body.observed, n.id))
        if a is not None and a.body.accept and a.ts <= n.ts + limit:
            accepted[n.body.observed].append((a.ts, year_of(n.body.arrival), n.id))

    for n in notices:
        party, deadline, a = n.body.observed, n.ts + limit, responses.get((n.body.observed, n.id))
        notice = n.body.arrival - n.ts
        about = (f"Open Skies flight with arrival at {n.body.entry_point} on "
                 f"{date(n.body.arrival)}, noticed {hours(notice)} ahead")
        if a is not None and a.ts <= deadline and a.body.accept:
            yield Evidence(party, "openskies_accepted", weight("openskies_accepted"), a.ts,
                           (n.id, a.id), (n.author,), f"accepted the {about}", True)
            continue
        if a is not None and a.ts <= deadline:
            decided, how = a.ts, f"refused the {about} ({a.body.reason[:80]!r})"
        elif a is not None or now_ms > deadline:
            decided = deadline
            how = (f"answered the {about} only after {hours(a.ts - n.ts)}" if a is not None
                   else f"did not answer the {about} within {hours(limit)}")
        else:
            continue
        year = year_of(n.body.arrival)
        done = sum(1 for t, y, nid in accepted.get(party, ()) if t <= decided and y == year
                   and nid != n.id)
        quota = fig.openskies_passive_quota
        if notice < ahead:
            rule, why = "openskies_notice_short", (
                f"notice {hours(notice)} ahead, {fig.openskies_notice_hours} h required: no breach")
        elif done >= quota:
            rule, why = "openskies_quota_exceeded", (
                f"{done} flights accepted in {year}, passive quota {quota}: no breach")
        else:
            rule, why = "openskies_refused", f"{done} of a passive quota of {quota} accepted in {year}"
        yield Evidence(party, rule, weight(rule), decided,
                       (n.id, a.id) if a is not None else (n.id,), (n.author,), f"{how}; {why}",
                       a is not None)


def _flights_flown(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    flights = {f.id: f for f in of_type(stmts, OpenSkiesFlight) if f.author != f.body.observed}
    period = fig.openskies_period_hours * HOUR_MS
    for f in flights.values():
        fb = f.body
        if fb.end - fb.arrival > period:
            yield Evidence(f.author, "openskies_period_exceeded", weight("openskies_period_exceeded"),
                           f.ts, (f.id,), (),
                           f"Open Skies flight over {fb.observed[:12]}… ({fb.route[:80]}) ended "
                           f"{hours(fb.end - fb.arrival)} after arrival on {date(fb.arrival)}; "
                           f"{fig.openskies_period_hours} h allowed", True)
    replies = first_by(of_type(stmts, SensorDataReply), lambda b: b.request)
    days = fig.sensor_data_days * DAY_MS
    for q in of_type(stmts, SensorDataRequest):
        observer = q.body.observer
        flight = flights.get(q.body.flight)
        if q.author == observer or flight is None or flight.author != observer:
            continue
        deadline = q.ts + days
        reply = replies.get((observer, q.id))
        about = f"request for the sensor data of the flight over {flight.body.route[:80]!r}"
        if reply is not None and reply.ts <= deadline and not reply.body.data:
            yield Evidence(observer, "sensor_data_declined", weight("sensor_data_declined"),
                           reply.ts, (q.id, reply.id), (q.author,),
                           f"declined the {about} ({reply.body.note[:80]!r})", True)
        elif reply is not None and reply.ts <= deadline:
            yield Evidence(observer, "sensor_data_shared", weight("sensor_data_shared"), reply.ts,
                           (q.id, reply.id), (q.author,),
                           f"shared {len(reply.body.data)} item(s) of data on the {about} after "
                           f"{hours(reply.ts - q.ts)}", True)
        elif reply is not None or now_ms > deadline:
            ids = (q.id, reply.id) if reply is not None else (q.id,)
            yield Evidence(observer, "sensor_data_not_shared", weight("sensor_data_not_shared"),
                           deadline, ids, (q.author,),
                           f"no data on the {about} within {fig.sensor_data_days} days"
                           + (f" (answered after {hours(reply.ts - q.ts)})" if reply else ""),
                           reply is not None)


def evidence(stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight) -> Iterator[Evidence]:
    yield from _flights_over(stmts, now_ms, fig, weight)
    yield from _flights_flown(stmts, now_ms, fig, weight)
