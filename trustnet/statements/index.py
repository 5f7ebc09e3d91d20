"""The statements the rule engine reads, indexed by kind, with the lookups its rules share.

`Index` keeps each entry with its typed body and the time this node judges it was made
(`Stmt`), drops what the rules never count (a statement about its own author, a body that
fails validation, an inspection requested by a party that is not a state), and answers the
rules' questions: the host's answer to an inspection request and its deadline, what others
found about a party (`Finding`), which notifications cover a finding and which governs it,
and which observations an accepted inspection checked. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

from trustnet._source import fields_set_once
from trustnet.errors import EntryError
from trustnet.log.entry import Entry
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DAY_MS, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    AnnualExchange,
    Calendar,
    ConsultationReply,
    ConsultationRequest,
    InspectionReport,
    InspectionRequest,
    InspectionResponse,
    Notification,
    Observation,
)
from trustnet.statements.regime_common import INPUTS as REGIME_INPUTS, Judged, admitted
from trustnet.statements.stmt import Stmt as Stmt, _utc, date_text as date_text

S = TypeVar("S")


# -- times and areas as the rules read them --------------------------------------------------


def year_of(ms: int) -> int:
    """The UTC calendar year of `ms` (10,000 beyond year 9999)."""
    when = _utc(ms)
    return when.year if when is not None else 10_000


_AREAS: dict[str, str] = {}


def norm_area(area: str) -> str:
    """An area as the rules compare it: case- and space-insensitively."""
    # Memoised: areas repeat across thousands of statements (a bounded, pure cache).
    norm = _AREAS.get(area)
    if norm is None:
        norm = " ".join(area.split()).casefold()
        if len(_AREAS) < 100_000:
            _AREAS[area] = norm
    return norm


def hours_text(ms: int) -> str:
    """A duration as the notes write it: "48 h"."""
    return f"{ms / HOUR_MS:g} h"


def unique(items: Iterable[str]) -> tuple[str, ...]:
    """The entry ids once each, in their first order."""
    return tuple(dict.fromkeys(items))


# -- statements and findings -----------------------------------------------------------------


class Finding:
    """What another party found about `party`: an observation or an inspection report.

    Written out, not a dataclass (as `Evidence`): equal and shown by its fields, read-only."""

    __slots__ = ("activity", "area", "area_text", "party", "stmt", "support", "verified",
                 "window")

    def __init__(self, stmt: Stmt[Observation] | Stmt[InspectionReport], party: str,
                 activity: str | None, area: str | None, area_text: str,
                 window: tuple[int, int], verified: bool, support: tuple[str, ...]) -> None:
        self.stmt: Final = stmt
        self.party: Final = party
        self.activity: Final = activity
        self.area: Final = area  # normalized; None: a report whose request is unknown
        self.area_text: Final = area_text
        self.window: Final = window  # when the activity was seen
        # A report by the requester of an inspection the host accepted in time.
        self.verified: Final = verified
        self.support: Final = support  # further entry ids it rests on (request, acceptance)

    def astuple(self) -> tuple[Any, ...]:
        return (self.stmt, self.party, self.activity, self.area, self.area_text, self.window,
                self.verified, self.support)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding) or type(other) is not type(self):
            return NotImplemented
        return self.astuple() == other.astuple()

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __reduce__(self) -> tuple[type[Finding], tuple[Any, ...]]:
        return (Finding, self.astuple())

    def __repr__(self) -> str:
        return "Finding(" + ", ".join(
            f"{name}={value!r}" for name, value in zip(
                ("stmt", "party", "activity", "area", "area_text", "window", "verified",
                 "support"), self.astuple(), strict=True)) + ")"

    @property
    def counts(self) -> Observation | InspectionReport:
        return self.stmt.body

    @property
    def verb(self) -> str:
        return "inspection found" if isinstance(self.stmt.body, InspectionReport) else "observed"

    def rank(self) -> tuple[int, int, int, int, str]:
        c = self.counts
        return (c.troops, c.tanks, c.acv, c.artillery, self.stmt.id)


fields_set_once(Finding)  # read-only, as a frozen dataclass


class Index:
    """The entries by kind, typed, with the lookups the rules need."""

    def __init__(
        self,
        entries: Iterable[Entry],
        fig: ViennaFigures,
        parsed: Iterable[tuple[Entry, object]] | None = None,
        times: Mapping[bytes, int] | None = None,
        roles: Mapping[str, str] | None = None,
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self.fig = fig
        # The mappings are read, never copied: an index kept while they grow (`extend`) sees
        # what they hold when each entry arrives, as one built then would.
        self.zones: Mapping[str, str] = zones if zones is not None else {}  # party -> its zone
        self.times: Mapping[bytes, int] = times if times is not None else {}
        # Party -> its declared role: only participating states request inspections (VD11
        # chapter IX); a request by an observer, a group or an organisation is no inspection.
        self.roles: Mapping[str, str] = roles if roles is not None else {}
        self.notifications: list[Stmt[Notification]] = []
        self.observations: list[Stmt[Observation]] = []
        self.reports: list[Stmt[InspectionReport]] = []
        self.exchanges: list[Stmt[AnnualExchange]] = []
        self.calendars: list[Stmt[Calendar]] = []
        self.consultations: list[Stmt[ConsultationRequest]] = []
        self.replies: dict[str, list[Stmt[ConsultationReply]]] = defaultdict(list)
        self.inspections: dict[str, Stmt[InspectionRequest]] = {}
        self.responses: dict[str, list[Stmt[InspectionResponse]]] = defaultdict(list)
        self.regime: list[Judged[object]] = []  # what regime_*.py read (issue 16 item 5 B)
        self._seen: set[bytes] = set()
        # Each party's notifications by activity name and by normalised area, each list in
        # publication order, kept as they arrive, so that `covering` looks up candidates
        # instead of scanning them all.
        self.by_activity: dict[tuple[str, str], list[Stmt[Notification]]] = defaultdict(list)
        self.by_area: dict[tuple[str, str], list[Stmt[Notification]]] = defaultdict(list)
        self._notes_grown: set[tuple[str, tuple[str, str]]] = set()  # lists to sort again
        self._findings: list[Finding] | None = None
        # Others' observations of each party by activity name and by normalised area, each
        # list in publication order, kept as observations arrive (`inspected_observations`
        # looks candidates up instead of indexing every observation on each call).
        self.obs_by_activity: dict[tuple[str, str], list[Stmt[Observation]]] = defaultdict(list)
        self.obs_by_area: dict[tuple[str, str], list[Stmt[Observation]]] = defaultdict(list)
        self._obs_grown: set[tuple[str, tuple[str, str]]] = set()  # lists to sort again
        # Each finding by its statement's id, kept as entries arrive (issue 15 item 3): a new
        # observation or report adds one; a request or response changes the reports on it.
        self._found: dict[bytes, Finding] = {}
        self._reports_on: dict[str, list[Stmt[InspectionReport]]] = defaultdict(list)
        self._fresh: list[Stmt[Observation] | Stmt[InspectionReport]] = []  # to (re)make
        # Append-only logs for readers that follow the index (`regime_notification`'s memo):
        # every change of a finding as (its statement's id, the finding or None: gone), and
        # every notification as it arrived.
        self.finding_log: list[tuple[bytes, Finding | None]] = []
        self.notification_log: list[Stmt[Notification]] = []
        if parsed is not None:
            self._take(parsed)
        for e in entries:
            if e.id in self._seen:
                continue
            try:
                body = statement_of(e)
            except EntryError:
                self._seen.add(e.id)
                continue  # DESIGN 4: a body that fails validation is not a statement
            self._take(((e, body),))
        self._order(None)

    def extend(self, parsed: Iterable[tuple[Entry, object]]) -> None:
        """Add further parsed entries: the index is then exactly the one built over all of
        them at once (every list is kept in its total order, `regime` in arrival order), at
        the cost of what was added (issue 15 item 3: a partition's index is kept)."""
        self._order(self._take(parsed))

    def _take(self, parsed: Iterable[tuple[Entry, object]]) -> set[int]:
        """Add new entries; the ids of the lists they were appended to."""
        grown: set[int] = set()
        seen = self._seen
        for e, body in parsed:
            if e.id not in seen:
                seen.add(e.id)
                got = self._add(e, body)
                if got is not None:
                    grown.add(id(got))
        return grown

    def _order(self, grown: set[int] | None) -> None:
        """Sort the lists in `grown` (None: all) by publication order, as `__init__` does."""
        lists: list[list[Any]] = [self.notifications, self.observations, self.reports,
                                  self.exchanges, self.calendars, self.consultations,
                                  *self.replies.values(), *self.responses.values()]
        for stmts in lists:
            if grown is None or id(stmts) in grown:
                stmts.sort(key=Stmt.key)
        for which, key in self._obs_grown:
            (self.obs_by_activity if which == "activity" else self.obs_by_area)[key].sort(
                key=Stmt.key)
        self._obs_grown.clear()
        for which, key in self._notes_grown:
            (self.by_activity if which == "activity" else self.by_area)[key].sort(key=Stmt.key)
        self._notes_grown.clear()
        self._refresh_findings()

    def _add(self, e: Entry, body: object) -> list[Any] | None:
        """Index one entry; the sorted list it was appended to, if any."""
        author = e.author_hex
        ts = self.times.get(e.id, e.ts)
        stmt: Stmt[Any] = Stmt(e, body, ts)
        if isinstance(body, REGIME_INPUTS) and admitted(author, body, self.roles):
            self.regime.append(stmt)
        if isinstance(body, Notification):
            note = stmt
            self.notifications.append(note)
            self.notification_log.append(note)
            for which, key, lists in (("activity", (author, body.activity), self.by_activity),
                                      ("area", (author, norm_area(body.area)), self.by_area)):
                lists[key].append(note)
                self._notes_grown.add((which, key))
            return self.notifications
        if isinstance(body, Observation):
            if body.subject != author:
                seen = stmt
                self.observations.append(seen)
                self._fresh.append(seen)
                if body.activity is not None:
                    key = (body.subject, body.activity)
                    self.obs_by_activity[key].append(seen)
                    self._obs_grown.add(("activity", key))
                key = (body.subject, norm_area(body.area))
                self.obs_by_area[key].append(seen)
                self._obs_grown.add(("area", key))
                return self.observations
        elif isinstance(body, InspectionReport):
            if body.host != author:
                report = stmt
                self.reports.append(report)
                self._reports_on[body.request].append(report)
                self._fresh.append(report)
                return self.reports
        elif isinstance(body, AnnualExchange):
            self.exchanges.append(stmt)
            return self.exchanges
        elif isinstance(body, Calendar):
            self.calendars.append(stmt)
            return self.calendars
        elif isinstance(body, ConsultationRequest):
            if body.subject != author:
                self.consultations.append(stmt)
                return self.consultations
        elif isinstance(body, ConsultationReply):
            replies = self.replies[body.request]
            replies.append(stmt)
            return replies
        elif isinstance(body, InspectionRequest):
            if body.host != author and self.roles.get(author, "state") == "state":
                self.inspections[e.id_hex] = stmt
                self._fresh.extend(self._reports_on.get(e.id_hex, ()))
        elif isinstance(body, InspectionResponse):
            self._fresh.extend(self._reports_on.get(body.request, ()))
            responses = self.responses[body.request]
            responses.append(stmt)
            return responses
        return None

    # -- inspections ---------------------------------------------------------------------

    def answer_deadline(self, request: Stmt[InspectionRequest]) -> int:
        """VD11 para 76: the host answers within 24 hours."""
        return request.ts + self.fig.inspection_answer_hours * HOUR_MS

    def host_answer(self, request: Stmt[InspectionRequest]) -> Stmt[InspectionResponse] | None:
        """The host's first response (responses by anyone else are ignored)."""
        for r in self.responses.get(request.id, ()):
            if r.author == request.body.host:
                return r
        return None

    def accepted_in_time(
        self, request: Stmt[InspectionRequest]
    ) -> Stmt[InspectionResponse] | None:
        """The host's acceptance when it came within the deadline."""
        answer = self.host_answer(request)
        if answer is not None and answer.body.accept and answer.ts <= self.answer_deadline(request):
            return answer
        return None

    # -- findings -------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        """Every observation and inspection report about a party other than its author."""
        if self._findings is None:
            found = self._found
            out = [found[o.entry.id] for o in self.observations]
            out += [f for r in self.reports if (f := found.get(r.entry.id)) is not None]
            self._findings = out
        return self._findings

    def finding(self, key: bytes) -> Finding | None:
        """The finding of the observation or report of entry id `key` (None: none)."""
        return self._found.get(key)

    def _refresh_findings(self) -> None:
        """Make the findings of the statements that arrived or whose request or response
        did (`_fresh`), once the lists are in order; log those that changed."""
        fresh, self._fresh = self._fresh, []
        found, log = self._found, self.finding_log
        done: set[bytes] = set()
        for s in fresh:
            key = s.entry.id
            if key in done:
                continue
            done.add(key)
            f = self._finding(s)
            old = found.get(key)
            if f == old:
                continue
            if f is None:
                del found[key]
            else:
                found[key] = f
            log.append((key, f))
            self._findings = None

    def _finding(self, s: Stmt[Observation] | Stmt[InspectionReport]) -> Finding | None:
        """The finding of one observation or report (None: an incoherent report)."""
        body = s.body
        if isinstance(body, Observation):
            return Finding(s, body.subject, body.activity, norm_area(body.area), body.area,
                           (body.at, body.at), False, ())
        request = self.inspections.get(body.request)
        if request is None:
            # Cannot be placed in an area nor checked against an acceptance.
            return Finding(s, body.host, body.activity, None, "", (s.ts, s.ts), False, ())
        if request.body.host != body.host:
            return None  # a report about someone other than the inspected host: incoherent
        accepted = self.accepted_in_time(request)
        verified = accepted is not None and s.author == request.author
        support = (request.id, accepted.id) if verified and accepted else (request.id,)
        return Finding(s, body.host, body.activity, norm_area(request.body.area),
                       request.body.area, (min(request.ts, s.ts), s.ts), verified, support)

    def covering(self, f: Finding) -> list[Stmt[Notification]]:
        """The party's notifications that cover a finding (same activity, or area and time)."""
        if f.activity is not None:
            return list(self.by_activity.get((f.party, f.activity), ()))
        if f.area is None:
            return []
        lo, hi = f.window
        return [
            n for n in self.by_area.get((f.party, f.area), ()) if n.body.start <= hi and lo <= n.body.end
        ]

    def inspected_observations(
        self, match_days: int
    ) -> Iterator[tuple[Stmt[InspectionReport], Stmt[Observation]]]:
        """Others' observations of what an accepted inspection reported: the same activity when
        both name one, else the same area within `match_days` before the inspection."""
        span = match_days * DAY_MS
        by_activity, by_area, found_of = self.obs_by_activity, self.obs_by_area, self._found
        # Only a report is verified (an observation's finding never is).
        reports = [f for r in self.reports
                   if (f := found_of.get(r.entry.id)) is not None and f.verified]
        for f in sorted(reports, key=lambda f: f.stmt.key()):
            assert f.area is not None  # a verified report's request is known
            lo, hi = f.window[0] - span, f.window[1]
            named = f.activity is not None
            found = [
                o
                for o in by_area.get((f.party, f.area), ())
                if lo <= o.body.at <= hi and not (named and o.body.activity is not None)
            ]
            if named:
                found.extend(by_activity.get((f.party, str(f.activity)), ()))
                found.sort(key=Stmt.key)  # in publication order, as the observations are
            report = f.stmt
            assert isinstance(report.body, InspectionReport)
            for o in found:
                if o.author != report.author:  # an inspector does not confirm itself
                    yield report, o

    @staticmethod
    def governing(f: Finding, covering: list[Stmt[Notification]]) -> Stmt[Notification] | None:
        """The notification a finding is compared with: the latest published before it."""
        before = [n for n in covering if n.ts <= f.stmt.ts]
        if before:
            return before[-1]
        return covering[0] if covering else None


def activity_key(f: Finding, gov: Stmt[Notification] | None) -> tuple[str, ...]:
    """The activity a finding is about: its governing notification, else its activity name,
    else (unnamed, unnotified) its area and UTC day, else the finding itself."""
    if gov is not None:
        return ("notification", gov.id)
    if f.activity is not None:
        return ("activity", f.party, f.activity)
    if f.area is not None:
        return ("area", f.party, f.area, date_text(f.window[0])[:10])
    return ("entry", f.stmt.id)
