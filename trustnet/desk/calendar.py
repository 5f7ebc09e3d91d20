"""The calendar reconciled: activities announced, notified, observed and inspected, matched.

For one year, each party's activities as its latest calendar for that year announces them,
as its notifications (by the start of the activity) declare them, and as others found them
(observations and inspection reports, matched to notifications by the rule engine's own
matching: `rules.match_findings`). Calendars are matched to notifications by activity name,
as the rules match a named finding. Each activity row says which of the three it appears in
and puts the troops declared (calendar, notification) beside the troops found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trustnet.desk.compliance import utc_year
from trustnet.errors import EntryError
from trustnet.log.entry import Entry
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.kinds import Calendar, Notification, Profile
from trustnet.statements.rules import MatchedFinding, match_findings

KINDS = ("calendar", "notification", "observation", "inspection_request", "inspection_response",
         "inspection_report", "profile")
MATCHES = ("announced_and_notified", "announced_not_notified", "notified_not_announced",
           "found_only")


@dataclass(slots=True)
class _Activity:
    party: str
    name: str | None
    announced: tuple[Entry, Any] | None = None  # (calendar entry, PlannedActivity)
    notified: list[tuple[Entry, Notification]] | None = None
    found: list[MatchedFinding] | None = None

    @property
    def match(self) -> str:
        if self.announced and self.notified:
            return "announced_and_notified"
        if self.announced:
            return "announced_not_notified"
        if self.notified:
            return "notified_not_announced"
        return "found_only"

    def to_json(self, names: Mapping[str, str]) -> dict[str, Any]:
        ann = self.announced
        notified = self.notified or []
        latest = notified[-1][1] if notified else None
        found = self.found or []
        return {
            "party": self.party, "name": names.get(self.party), "activity": self.name,
            "match": self.match,
            "announced": None if ann is None else {
                "entry": ann[0].id_hex, "start": ann[1].start, "end": ann[1].end,
                "troops": ann[1].troops},
            "notified": None if latest is None else {
                "entries": [e.id_hex for e, _ in notified], "type": latest.type,
                "start": latest.start, "end": latest.end, "area": latest.area,
                "troops": latest.troops, "tanks": latest.tanks},
            "found": [{"entry": m.entry.id_hex, "by": m.entry.author_hex,
                       "kind": m.entry.kind, "at": m.at, "area": m.area, "troops": m.troops,
                       "tanks": m.tanks, "verified": m.verified} for m in found],
            "troops": {"announced": ann[1].troops if ann else None,
                       "notified": latest.troops if latest else None,
                       "found": max((m.troops for m in found), default=None)},
        }


def reconcile(entries: Iterable[Entry], year: int, *, times: Mapping[bytes, int] | None = None,
              figures: ViennaFigures = DEFAULT_FIGURES) -> dict[str, Any]:
    """`{"year", "activities": [...], "parties": [{party, counts}]}` for `year`."""
    parsed: list[tuple[Entry, object]] = []
    for e in entries:
        try:
            parsed.append((e, statement_of(e)))
        except EntryError:
            continue  # DESIGN 4: a body that fails validation is not a statement
    judged = times or {}

    def order(e: Entry) -> tuple[int, str]:
        return (judged.get(e.id, e.ts), e.id_hex)

    names: dict[str, str] = {}
    roles: dict[str, str] = {}
    calendars: dict[str, tuple[Entry, Calendar]] = {}
    for e, body in sorted(parsed, key=lambda p: order(p[0])):
        if isinstance(body, Profile):
            names[e.author_hex], roles[e.author_hex] = body.name, body.role
        elif isinstance(body, Calendar) and body.year == year:
            calendars[e.author_hex] = (e, body)  # the latest for the year replaces the earlier
    acts: dict[tuple[str, ...], _Activity] = {}
    by_name: dict[tuple[str, str], tuple[str, ...]] = {}
    key: tuple[str, ...] | None
    for party, (e, cal) in calendars.items():
        for planned in cal.activities:
            key = ("named", party, planned.activity)
            acts[key] = _Activity(party, planned.activity, announced=(e, planned))
            by_name[(party, planned.activity)] = key
    for e, body in sorted(parsed, key=lambda p: order(p[0])):
        if isinstance(body, Notification) and utc_year(body.start) == year:
            named = by_name.setdefault((e.author_hex, body.activity),
                                       ("named", e.author_hex, body.activity))
            act = acts.setdefault(named, _Activity(e.author_hex, body.activity))
            act.notified = [*(act.notified or []), (e, body)]
    for m in match_findings(parsed, figures=figures, times=times, roles=roles):
        if utc_year(m.at) != year:
            continue
        key = by_name.get((m.party, m.name)) if m.name is not None else None
        if key is None:
            key = m.activity
            if m.name is not None:
                by_name[(m.party, m.name)] = key
        act = acts.setdefault(key, _Activity(m.party, m.name))
        act.found = [*(act.found or []), m]
    rows = sorted(acts.values(), key=lambda a: (a.party, a.name or "", a.match))
    counts: dict[str, dict[str, int]] = {}
    for act in rows:
        c = counts.setdefault(act.party, {"announced": 0, "notified": 0, "found": 0,
                                          **dict.fromkeys(MATCHES, 0)})
        c["announced"] += int(act.announced is not None)
        c["notified"] += int(bool(act.notified))
        c["found"] += int(bool(act.found))
        c[act.match] += 1
    return {
        "year": year,
        "activities": [a.to_json(names) for a in rows],
        "parties": [{"party": p, "name": names.get(p), **c} for p, c in sorted(counts.items())],
    }
