"""The CSBM rule engine: signed statements in, evidence about parties out (DOMAIN.md, DESIGN 4).

`evaluate` is a pure function of the entries it is given, the time `now_ms`
(used only to decide that a deadline has passed), the Vienna figures and the
rule weights. It derives every fact itself from bodies and entry timestamps
(`Entry.ts`, signed by the author): whether an activity was notifiable,
notified 42 days ahead, answered within 48 hours... never from a sender's flags.

Conventions, chosen so that the trust layer can weigh each fact:

- Only a party's own signed statements can cooperate for it: notifications,
  consultation replies and inspection responses count only when authored by
  the party they concern. Observations, requests and reports are by others
  about that party; a statement about its own author is ignored.
- `sources` are the *other* parties whose statements the fact rests on (the
  observers, the inspector, the requester). A fact that rests only on the
  party's own signatures (a late notification, an on-time annual exchange, a
  fork proof) has no sources: it is self-proving, and `verifiable=True`.
- Facts that rest on the party's own signed answer (a reply, an acceptance, a
  refusal) are `verifiable=True`; facts that rest on the absence of an answer
  are not (gossip may simply not have delivered it).
- What others *found* (observations, inspection reports) about one activity is
  one fact per basis: the findings of inspections the host accepted (a report
  by the requester of an accepted request: `verifiable=True`), and everything
  else (observations, unaccepted reports: `verifiable=False`). So an activity
  first observed and later inspected yields an unverified fact when it was
  observed and a verifiable one when it was inspected; a consumer that wants
  one fact per activity can key on `entries[0]`, the notification the findings
  were compared with (or the first finding when there was none).
- A finding is compared with the party's notification that covers it: the same
  `activity` name when the finding gives one, else the same area (compared
  case- and space-insensitively) with the notified [start, end] overlapping the
  time of the finding (an observation's `at`; for an inspection, from the
  request to the report). When several cover it, the latest one published at
  or before the finding governs (amendments supersede), else the earliest one.
- Answers after their deadline count as no answer: a consultation reply after
  48 h is `consultation_unanswered`, an inspection response after 24 h is
  treated as a refusal (and does not count towards the host's quota).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from trustnet.config.loader import load_table
from trustnet.errors import EntryError
from trustnet.log.entry import Entry, ForkProof
from trustnet.statements import regime_calendar
from trustnet.statements.entries import statement_of
from trustnet.statements.evidence import Evidence
from trustnet.statements.facts import days_of_notice, is_notifiable, is_observable, notice_ok
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, HOUR_MS, ViennaFigures
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

# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleWeights:
    """Weight of each rule's evidence: DOMAIN.md's Goldstein scale / 10 (CAMEO code in brackets)."""

    unnotified_activity: float = -0.72  # [154] mobilize without notification
    undercounted_notification: float = -0.72
    observers_not_invited: float = -0.40
    consultation_unanswered: float = -0.50  # [101] demand information, unanswered
    inspection_refused: float = -0.40  # [1245]
    inspection_accepted: float = +0.90  # [0862] receive inspectors
    inspection_consistent: float = +0.70  # [064] share information
    consultation_answered: float = +0.10  # [040] consult
    annual_exchange_on_time: float = +0.70  # [064]
    # Not in DOMAIN.md's table; DESIGN 8 names timely notifications as cooperation. A
    # notification is shared information like the annual exchange: [064] too.
    notification_on_time: float = +0.70  # [064]
    equivocation: float = -1.0  # distrust: compliance fully negative
    # Issue 16 item 5 (regime_calendar.py). Not in DOMAIN.md's table: chosen beside its
    # neighbours. A calendar on time is shared information, less than the exchange; an
    # activity it does not announce is a breach like observers not invited; a constraint
    # exceeded weighs like an unnotified activity; splitting one to stay under a threshold
    # is deliberate evasion; a missing exchange weighs like an unanswered request, a late
    # one by how late (up to the same, see docs/beliefs.md).
    calendar_on_time: float = +0.30  # [064]
    calendar_late: float = -0.20
    activity_not_in_calendar: float = -0.40
    constraint_exceeded: float = -0.72
    split_activity: float = -0.50
    annual_exchange_late: float = -0.50  # at full lateness (figures.exchange_late_full_days)
    annual_exchange_missing: float = -0.50

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RuleWeights:
        """The `[weights]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "weights")

    def of(self, rule: str) -> float:
        """The weight of `rule` (one of RULES)."""
        value: float = getattr(self, rule)
        return value


DEFAULT_WEIGHTS = RuleWeights()
RULES: tuple[str, ...] = tuple(f.name for f in fields(RuleWeights))

# -- small helpers ---------------------------------------------------------------------------

S = TypeVar("S")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Stmt(Generic[S]):
    """An entry with its typed body."""

    entry: Entry
    body: S
    ts: int  # when it was made, as this node judges it: its receipt when backdated (DESIGN 12)

    @property
    def id(self) -> str:
        return self.entry.id_hex

    @property
    def author(self) -> str:
        return self.entry.author_hex

    @property
    def backdated(self) -> bool:
        """Signed with a `ts` this node does not believe (judged by its receipt instead)."""
        return self.ts != self.entry.ts

    def when(self) -> str:
        """The judged time as a date, naming the signed one when it differs."""
        if self.backdated:
            return f"{_date(self.ts)} (signed {_date(self.entry.ts)}: backdated, judged by receipt)"
        return _date(self.ts)

    def key(self) -> tuple[int, str]:
        """Publication order: judged time, then id (a total, deterministic order)."""
        return (self.ts, self.entry.id_hex)


def _utc(ms: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:  # beyond year 9999: no calendar date
        return None


def _year(ms: int) -> int:
    when = _utc(ms)
    return when.year if when is not None else 10_000


def _date(ms: int) -> str:
    when = _utc(ms)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else f"{ms} ms"


def _ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


_AREAS: dict[str, str] = {}


def _norm_area(area: str) -> str:
    # Memoised: areas repeat across thousands of statements (a bounded, pure cache).
    norm = _AREAS.get(area)
    if norm is None:
        norm = " ".join(area.split()).casefold()
        if len(_AREAS) < 100_000:
            _AREAS[area] = norm
    return norm


def _hours(ms: int) -> str:
    return f"{ms / HOUR_MS:g} h"


Counts = Notification | Observation | InspectionReport


def _fmt_counts(c: Counts) -> str:
    parts = [f"{c.troops} troops"]
    parts += [f"{getattr(c, f)} {label}" for f, label in _FIELDS[1:] if getattr(c, f)]
    if isinstance(c, Notification):
        if c.amphibious:
            parts.append(f"{c.amphibious} amphibious/airborne troops")
        if c.sorties:
            parts.append(f"{c.sorties} air sorties")
    return " / ".join(parts)


_FIELDS = (("troops", "troops"), ("tanks", "tanks"), ("acv", "ACV"), ("artillery", "artillery"))


@dataclass(frozen=True, slots=True)
class _Threshold:
    regime: str  # "notification" or "observation"
    field: str
    value: int

    def text(self) -> str:
        return f"{self.value} {dict(_FIELDS)[self.field]}"


@functools.lru_cache(maxsize=16)
def _thresholds(fig: ViennaFigures) -> tuple[_Threshold, ...]:
    # The figures an observation or report can show (they carry no amphibious or sortie counts).
    return (
        _Threshold("notification", "troops", fig.notify_troops),
        _Threshold("notification", "tanks", fig.notify_tanks),
        _Threshold("notification", "acv", fig.notify_acv),
        _Threshold("notification", "artillery", fig.notify_artillery),
        _Threshold("observation", "troops", fig.observe_troops),
        _Threshold("observation", "tanks", fig.observe_tanks),
    )


def _crossed(found: Counts, notified: Counts, fig: ViennaFigures) -> list[_Threshold]:
    """Thresholds that `found` meets and `notified` stays under (DOMAIN: undercounted)."""
    return [
        t
        for t in _thresholds(fig)
        if getattr(found, t.field) >= t.value > getattr(notified, t.field)
    ]


def _met(found: Counts, fig: ViennaFigures, regime: str) -> list[_Threshold]:
    return [
        t for t in _thresholds(fig) if t.regime == regime and getattr(found, t.field) >= t.value
    ]


def undercount_severity(found: Counts, notified: Counts, crossed: list[_Threshold]) -> float:
    """How grave an undercount is, in (0, 1]: the rule's weight is multiplied by it.

    Two factors (issue 12, finding 9): how far the finding exceeds the declaration, as the
    largest relative excess r over the counts whose thresholds it crosses (0.5 + r, at most
    1: 13,100 troops found against 12,500 declared gives 0.55, twice the declaration 1), and
    how many thresholds it crosses (0.6 + 0.2 per threshold, at most 1: one gives 0.8, two 1).
    """
    excess = 0.0
    for t in crossed:
        declared = max(1, getattr(notified, t.field))
        excess = max(excess, (getattr(found, t.field) - declared) / declared)
    return min(1.0, 0.5 + excess) * min(1.0, 0.6 + 0.2 * len(crossed))


def _describe(thresholds: Iterable[_Threshold]) -> str:
    by_regime: dict[str, list[str]] = {}
    for t in thresholds:
        by_regime.setdefault(t.regime, []).append(t.text())
    parts = [
        f"the {regime} threshold{'s' if len(texts) > 1 else ''} ({', '.join(texts)})"
        for regime, texts in by_regime.items()
    ]
    return " and ".join(parts)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _thresholds_met(c: Counts, fig: ViennaFigures) -> tuple[bool, ...]:
    return tuple(getattr(c, t.field) >= t.value for t in _thresholds(fig))


def observation_confirmed(
    obs: Observation, report: InspectionReport, fig: ViennaFigures, tolerance: float
) -> bool:
    """An observation agrees with an inspection: counts within tolerance, or same thresholds met."""
    close = all(
        abs(getattr(obs, f) - getattr(report, f))
        <= tolerance * max(getattr(obs, f), getattr(report, f))
        for f, _label in _FIELDS
    )
    return close or _thresholds_met(obs, fig) == _thresholds_met(report, fig)


# -- the index of statements -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Finding:
    """What another party found about `party`: an observation or an inspection report."""

    stmt: _Stmt[Observation] | _Stmt[InspectionReport]
    party: str
    activity: str | None
    area: str | None  # normalized; None: a report whose request is unknown
    area_text: str
    window: tuple[int, int]  # when the activity was seen
    verified: bool  # a report by the requester of an inspection the host accepted in time
    support: tuple[str, ...]  # further entry ids it rests on (request, acceptance)

    @property
    def counts(self) -> Observation | InspectionReport:
        return self.stmt.body

    @property
    def verb(self) -> str:
        return "inspection found" if isinstance(self.stmt.body, InspectionReport) else "observed"

    def rank(self) -> tuple[int, int, int, int, str]:
        c = self.counts
        return (c.troops, c.tanks, c.acv, c.artillery, self.stmt.id)


class _Index:
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
        self.zones: Mapping[str, str] = zones or {}  # party -> its declared zone (IANA name)
        self.times: Mapping[bytes, int] = times or {}
        # Party -> its declared role: only participating states request inspections (VD11
        # chapter IX); a request by an observer, a group or an organisation is no inspection.
        self.roles: Mapping[str, str] = roles or {}
        self.notifications: list[_Stmt[Notification]] = []
        self.observations: list[_Stmt[Observation]] = []
        self.reports: list[_Stmt[InspectionReport]] = []
        self.exchanges: list[_Stmt[AnnualExchange]] = []
        self.calendars: list[_Stmt[Calendar]] = []
        self.consultations: list[_Stmt[ConsultationRequest]] = []
        self.replies: dict[str, list[_Stmt[ConsultationReply]]] = defaultdict(list)
        self.inspections: dict[str, _Stmt[InspectionRequest]] = {}
        self.responses: dict[str, list[_Stmt[InspectionResponse]]] = defaultdict(list)
        seen: set[bytes] = set()
        if parsed is not None:
            for e, body in parsed:
                if e.id not in seen:
                    seen.add(e.id)
                    self._add(e, body)
        for e in entries:
            if e.id in seen:
                continue
            seen.add(e.id)
            try:
                body = statement_of(e)
            except EntryError:
                continue  # DESIGN 4: a body that fails validation is not a statement
            self._add(e, body)
        self.notifications.sort(key=_Stmt.key)
        self.observations.sort(key=_Stmt.key)
        self.reports.sort(key=_Stmt.key)
        self.exchanges.sort(key=_Stmt.key)
        self.calendars.sort(key=_Stmt.key)
        self.consultations.sort(key=_Stmt.key)
        for replies in self.replies.values():
            replies.sort(key=_Stmt.key)
        for responses in self.responses.values():
            responses.sort(key=_Stmt.key)
        # Each party's notifications by activity name and by normalised area, in publication
        # order, so that `covering` looks up candidates instead of scanning them all.
        self.by_activity: dict[tuple[str, str], list[_Stmt[Notification]]] = defaultdict(list)
        self.by_area: dict[tuple[str, str], list[_Stmt[Notification]]] = defaultdict(list)
        for n in self.notifications:
            self.by_activity[(n.author, n.body.activity)].append(n)
            self.by_area[(n.author, _norm_area(n.body.area))].append(n)
        self._findings: list[_Finding] | None = None

    def _add(self, e: Entry, body: object) -> None:
        author = e.author_hex
        ts = self.times.get(e.id, e.ts)
        if isinstance(body, Notification):
            self.notifications.append(_Stmt(e, body, ts))
        elif isinstance(body, Observation):
            if body.subject != author:
                self.observations.append(_Stmt(e, body, ts))
        elif isinstance(body, InspectionReport):
            if body.host != author:
                self.reports.append(_Stmt(e, body, ts))
        elif isinstance(body, AnnualExchange):
            self.exchanges.append(_Stmt(e, body, ts))
        elif isinstance(body, Calendar):
            self.calendars.append(_Stmt(e, body, ts))
        elif isinstance(body, ConsultationRequest):
            if body.subject != author:
                self.consultations.append(_Stmt(e, body, ts))
        elif isinstance(body, ConsultationReply):
            self.replies[body.request].append(_Stmt(e, body, ts))
        elif isinstance(body, InspectionRequest):
            if body.host != author and self.roles.get(author, "state") == "state":
                self.inspections[e.id_hex] = _Stmt(e, body, ts)
        elif isinstance(body, InspectionResponse):
            self.responses[body.request].append(_Stmt(e, body, ts))

    # -- inspections ---------------------------------------------------------------------

    def answer_deadline(self, request: _Stmt[InspectionRequest]) -> int:
        """VD11 para 76: the host answers within 24 hours."""
        return request.ts + self.fig.inspection_answer_hours * HOUR_MS

    def host_answer(self, request: _Stmt[InspectionRequest]) -> _Stmt[InspectionResponse] | None:
        """The host's first response (responses by anyone else are ignored)."""
        for r in self.responses.get(request.id, ()):
            if r.author == request.body.host:
                return r
        return None

    def accepted_in_time(
        self, request: _Stmt[InspectionRequest]
    ) -> _Stmt[InspectionResponse] | None:
        """The host's acceptance when it came within the deadline."""
        answer = self.host_answer(request)
        if answer is not None and answer.body.accept and answer.ts <= self.answer_deadline(request):
            return answer
        return None

    # -- findings -------------------------------------------------------------------------

    def findings(self) -> list[_Finding]:
        """Every observation and inspection report about a party other than its author."""
        if self._findings is None:
            self._findings = self._make_findings()
        return self._findings

    def _make_findings(self) -> list[_Finding]:
        out: list[_Finding] = []
        for o in self.observations:
            ob = o.body
            out.append(
                _Finding(
                    o,
                    ob.subject,
                    ob.activity,
                    _norm_area(ob.area),
                    ob.area,
                    (ob.at, ob.at),
                    False,
                    (),
                )
            )
        for r in self.reports:
            rb = r.body
            request = self.inspections.get(rb.request)
            if request is None:
                # Cannot be placed in an area nor checked against an acceptance.
                out.append(_Finding(r, rb.host, rb.activity, None, "", (r.ts, r.ts), False, ()))
                continue
            if request.body.host != rb.host:
                continue  # a report about someone other than the inspected host: incoherent
            accepted = self.accepted_in_time(request)
            verified = accepted is not None and r.author == request.author
            support = (request.id, accepted.id) if verified and accepted else (request.id,)
            window = (min(request.ts, r.ts), r.ts)
            out.append(
                _Finding(
                    r,
                    rb.host,
                    rb.activity,
                    _norm_area(request.body.area),
                    request.body.area,
                    window,
                    verified,
                    support,
                )
            )
        return out

    def covering(self, f: _Finding) -> list[_Stmt[Notification]]:
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
    ) -> Iterator[tuple[_Stmt[InspectionReport], _Stmt[Observation]]]:
        """Others' observations of what an accepted inspection reported: the same activity when
        both name one, else the same area within `match_days` before the inspection."""
        span = match_days * DAY_MS
        by_activity: dict[tuple[str, str], list[int]] = defaultdict(list)
        by_area: dict[tuple[str, str], list[int]] = defaultdict(list)
        obs = self.observations
        for i, o in enumerate(obs):
            if o.body.activity is not None:
                by_activity[(o.body.subject, o.body.activity)].append(i)
            by_area[(o.body.subject, _norm_area(o.body.area))].append(i)
        reports = [f for f in self.findings() if f.verified]
        for f in sorted(reports, key=lambda f: f.stmt.key()):
            assert f.area is not None  # a verified report's request is known
            lo, hi = f.window[0] - span, f.window[1]
            named = f.activity is not None
            found = [
                i
                for i in by_area.get((f.party, f.area), ())
                if lo <= obs[i].body.at <= hi and not (named and obs[i].body.activity is not None)
            ]
            if named:
                found.extend(by_activity.get((f.party, str(f.activity)), ()))
                found.sort()
            report = f.stmt
            assert isinstance(report.body, InspectionReport)
            for i in found:
                if obs[i].author != report.author:  # an inspector does not confirm itself
                    yield report, obs[i]

    @staticmethod
    def governing(f: _Finding, covering: list[_Stmt[Notification]]) -> _Stmt[Notification] | None:
        """The notification a finding is compared with: the latest published before it."""
        before = [n for n in covering if n.ts <= f.stmt.ts]
        if before:
            return before[-1]
        return covering[0] if covering else None


# -- the rules -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Fact:
    """Findings about one activity (and one basis) that establish one rule's evidence."""

    party: str
    anchor: _Stmt[Notification] | None
    findings: list[_Finding]


def _activity_key(f: _Finding, gov: _Stmt[Notification] | None) -> tuple[str, ...]:
    """The activity a finding is about: its governing notification, else its activity name,
    else (unnamed, unnotified) its area and UTC day, else the finding itself."""
    if gov is not None:
        return ("notification", gov.id)
    if f.activity is not None:
        return ("activity", f.party, f.activity)
    if f.area is not None:
        return ("area", f.party, f.area, _date(f.window[0])[:10])
    return ("entry", f.stmt.id)


def _findings_evidence(ix: _Index, w: RuleWeights) -> Iterator[Evidence]:
    """unnotified_activity, undercounted_notification, observers_not_invited from findings."""
    fig = ix.fig
    # (rule, activity key, verified) -> fact
    facts: dict[tuple[str, tuple[str, ...], bool], _Fact] = {}

    def add(
        rule: str, key: tuple[str, ...], f: _Finding, anchor: _Stmt[Notification] | None
    ) -> None:
        fact = facts.setdefault((rule, key, f.verified), _Fact(f.party, anchor, []))
        fact.findings.append(f)

    for f in ix.findings():
        covering = ix.covering(f)
        gov = ix.governing(f, covering)
        key = _activity_key(f, gov)
        found = f.counts
        # VD11 para 38-40: notifiable and not notified 42 days ahead. A covering notification
        # that is itself notifiable and late already proves the fact on its own (see _late).
        if is_notifiable(found, fig) and not any(
            notice_ok(n.body, n.ts, fig) or is_notifiable(n.body, fig) for n in covering
        ):
            add("unnotified_activity", key, f, None)
        if gov is not None and _crossed(found, gov.body, fig):
            add("undercounted_notification", key, f, gov)
        # VD11 para 47: observers at the observation threshold. When the notification's own
        # counts reach it, _own_notifications proves the fact without anyone's finding.
        if is_observable(found, fig) and (
            gov is None or not (gov.body.observers_invited or is_observable(gov.body, fig))
        ):
            add("observers_not_invited", key, f, gov)

    for (rule, _key, verified), fact in facts.items():
        findings = sorted(fact.findings, key=lambda f: f.stmt.key())
        top = max(findings, key=_Finding.rank)
        anchor = fact.anchor
        at = findings[0].stmt.ts if anchor is None else max(anchor.ts, findings[0].stmt.ts)
        ids = ([anchor.id] if anchor else []) + [
            i for f in findings for i in (f.stmt.id, *f.support)
        ]
        seen = f"{top.verb} {_fmt_counts(top.counts)} in {top.area_text or 'the inspected area'}"
        if rule == "unnotified_activity":
            note = (
                f"{seen}: at or above {_describe(_met(top.counts, fig, 'notification'))}, "
                f"with no notification {fig.notify_days} days ahead"
            )
        elif rule == "undercounted_notification":
            assert anchor is not None
            crossed = _crossed(top.counts, anchor.body, fig)
            severity = undercount_severity(top.counts, anchor.body, crossed)
            weight = w.of(rule) * severity
            note = (
                f"{seen}; notified {_fmt_counts(anchor.body)}: crossing {_describe(crossed)} "
                f"the notification stayed under (severity {severity:.2f})"
            )
        else:
            met = _describe(_met(top.counts, fig, "observation"))
            tail = (
                f"notified as {_fmt_counts(anchor.body)} without inviting observers"
                if anchor
                else "not notified, so no observers were invited"
            )
            note = f"{seen}: at or above {met}; {tail}"
        yield Evidence(
            party=fact.party,
            rule=rule,
            weight=weight if rule == "undercounted_notification" else w.of(rule),
            at=at,
            entries=_unique(ids),
            sources=tuple(sorted({f.stmt.author for f in findings})),
            note=note,
            verifiable=verified,
        )


def _own_notifications(ix: _Index, w: RuleWeights) -> Iterator[Evidence]:
    """Facts a notification proves about its author: late, or observable without observers."""
    fig = ix.fig
    for n in ix.notifications:
        nb = n.body
        what = f"notified {nb.type} {nb.activity!r} ({_fmt_counts(nb)}) in {nb.area}"
        # VD11 para 38-40: 42 days ahead; an alert when it starts (facts.notice_ok).
        if is_notifiable(nb, fig) and not notice_ok(nb, n.ts, fig):
            if nb.type == "alert":
                late = f"starting {_date(nb.start)} only at {n.when()}, after it started"
            else:
                late = (
                    f"{days_of_notice(nb, n.ts):.1f} days before its start on {_date(nb.start)}; "
                    f"{fig.notify_days} days required"
                )
                if n.backdated:
                    late += f" (published {n.when()})"
            yield Evidence(
                n.author,
                "unnotified_activity",
                w.unnotified_activity,
                n.ts,
                (n.id,),
                (),
                f"{what} {late}",
                True,
            )
        # VD11 para 47: observers must be invited at the observation thresholds.
        if is_observable(nb, fig) and not nb.observers_invited:
            met = [t.text() for t in _met(nb, fig, "observation")]
            if nb.amphibious >= fig.observe_amphibious:
                met.append(f"{fig.observe_amphibious} amphibious/airborne troops")
            yield Evidence(
                n.author,
                "observers_not_invited",
                w.observers_not_invited,
                n.ts,
                (n.id,),
                (),
                f"{what}: at or above the observation threshold ({', '.join(met)}), "
                f"without inviting observers",
                True,
            )


def _timely_notifications(ix: _Index, w: RuleWeights, refuted: set[str]) -> Iterator[Evidence]:
    """DESIGN 8: notifiable activities notified in time (VD11 para 38-40) are cooperation.

    A notification is a self-declaration: signing many costs nothing, and nobody can check one
    before the activity. So the obligation earns one credit per author and calendar year
    (of publication, as judged: DESIGN 12), however many notifications it held (finding 5 of
    issue 12); a notification that a *verified* finding shows understated (an accepted
    inspection's report: `refuted`) earns nothing; an unverified sighting changes nothing
    here (it is its own fact, weighed by its source).
    """
    fig = ix.fig
    years: dict[tuple[str, int], list[_Stmt[Notification]]] = defaultdict(list)
    for n in ix.notifications:
        nb = n.body
        if n.id in refuted or not is_notifiable(nb, fig) or not notice_ok(nb, n.ts, fig):
            continue
        years[(n.author, _year(n.ts))].append(n)
    for (author, year), ns in years.items():
        n = ns[0]
        nb = n.body
        ahead = ("at its start" if nb.type == "alert"
                 else f"{days_of_notice(nb, n.ts):.0f} days before its start on {_date(nb.start)}")
        note = f"notified {nb.type} {nb.activity!r} ({_fmt_counts(nb)}) in {nb.area} {ahead}"
        if n.backdated:
            note += f", published {n.when()}"
        if len(ns) > 1:
            note += (f"; {len(ns)} activities notified in time in {year}: one credit per "
                     f"year, however many")
        yield Evidence(
            author,
            "notification_on_time",
            w.notification_on_time,
            n.ts,
            tuple(x.id for x in ns),
            (),
            note,
            True,
        )


def _consultations(ix: _Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
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
                f"answered the {about} after {_hours(reply.ts - q.ts)} (limit {_hours(limit)})",
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
                f"answered the {about} only after {_hours(reply.ts - q.ts)} "
                f"(limit {_hours(limit)})",
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
                f"no answer to the {about} within {_hours(limit)}",
                False,
            )


def _inspections(ix: _Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
    """VD11 chapter IX: accept up to 3 per year, 1 per requester; answer within 24 hours."""
    fig = ix.fig
    # Every acceptance in time, per host: (acceptance ts, request year, requester, request id).
    accepted: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    for q in ix.inspections.values():
        a = ix.accepted_in_time(q)
        if a is not None:
            accepted[q.body.host].append((a.ts, _year(q.ts), q.author, q.id))

    for q in sorted(ix.inspections.values(), key=_Stmt.key):
        host = q.body.host
        deadline = ix.answer_deadline(q)
        answer = ix.host_answer(q)
        about = f"inspection of {q.body.area} requested {_date(q.ts)}"
        if answer is not None and answer.ts <= deadline and answer.body.accept:
            yield Evidence(
                host,
                "inspection_accepted",
                w.inspection_accepted,
                answer.ts,
                (q.id, answer.id),
                (q.author,),
                f"accepted the {about}, after {_hours(answer.ts - q.ts)}",
                True,
            )
            continue
        if answer is not None and answer.ts <= deadline:
            decided, how = answer.ts, f"refused the {about} ({answer.body.reason[:80]!r})"
        elif answer is not None or now_ms > deadline:
            decided = deadline
            how = (
                f"answered the {about} only after {_hours(answer.ts - q.ts)}"
                if answer is not None
                else f"did not answer the {about} within {_hours(deadline - q.ts)}"
            )
        else:
            continue  # still within the 24 hours
        # VD11 para 76 and 84: a refusal inside the quota is not a violation.
        year = _year(q.ts)
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


def _consistent_reports(ix: _Index, w: RuleWeights) -> Iterator[Evidence]:
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
        if gov is not None and _crossed(report, gov.body, fig):
            continue
        if gov is None and is_notifiable(report, fig):
            continue
        ids = ([gov.id] if gov else []) + [f.stmt.id, *f.support]
        against = (
            f"the notification of {_fmt_counts(gov.body)}" if gov else "no notifiable activity"
        )
        yield Evidence(
            f.party,
            "inspection_consistent",
            w.inspection_consistent,
            f.stmt.ts,
            _unique(ids),
            (f.stmt.author,),
            f"inspection found {_fmt_counts(report)} in {f.area_text or 'the inspected area'}, "
            f"consistent with {against}",
            f.verified,
        )


def exchange_deadline(
    valid_from_year: int, fig: ViennaFigures = DEFAULT_FIGURES, zone: str | None = None
) -> int | None:
    """End (ms, exclusive) of the day the exchange valid from that year is due (VD11 para 11),
    in the party's declared `zone` (UTC by default)."""
    return regime_calendar.exchange_due(valid_from_year, fig, regime_calendar.zone(zone))


def _annual_exchanges(ix: _Index, w: RuleWeights) -> Iterator[Evidence]:
    """VD11 para 11: the exchange valid from 1 January is sent by 15 December (once per year).

    One credit per author and year, and only for the coming year (`valid_from` in the year
    after the one it is sent in, as judged): twenty exchanges sent on one day for twenty
    future years are one obligation met, not twenty (issue 12, finding 5). Years and the
    deadline are the author's local ones (its declared zone).
    """
    done: set[tuple[str, int]] = set()
    for x in ix.exchanges:
        tz = regime_calendar.zone(ix.zones.get(x.author))
        year = regime_calendar.local_year(x.body.valid_from, tz)
        due = regime_calendar.exchange_due(year, ix.fig, tz)
        if (due is None or x.ts >= due or year != regime_calendar.local_year(x.ts, tz) + 1
                or (x.author, year) in done):
            continue
        done.add((x.author, year))
        units = len(x.body.units)
        yield Evidence(
            x.author,
            "annual_exchange_on_time",
            w.annual_exchange_on_time,
            x.ts,
            (x.id,),
            (),
            f"annual exchange valid from {year}-01-01 "
            f"({units} unit{'' if units == 1 else 's'}) sent {x.when()}, "
            f"before the deadline {regime_calendar.local_date(due - 1, tz)}",
            True,
        )


def _forks(forks: Iterable[ForkProof], w: RuleWeights) -> Iterator[Evidence]:
    """DESIGN 7: an equivocating author is distrusted; the proof verifies itself."""
    seen: set[tuple[str, str]] = set()
    for p in forks:
        ids = (p.a.id_hex, p.b.id_hex)
        if ids in seen:
            continue
        seen.add(ids)
        yield Evidence(
            p.author.hex(),
            "equivocation",
            w.equivocation,
            max(p.a.ts, p.b.ts),
            ids,
            (),
            f"signed two different entries as seq {p.seq}",
            True,
        )


def _regime_calendar(ix: _Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
    """Issue 16: calendar, Chapter VIII constraints, exchange late or missing, split activities."""
    own: list[_Stmt[Any]] = [*ix.notifications, *ix.exchanges, *ix.calendars]
    own += [r for rs in ix.replies.values() for r in rs] + [r for rs in ix.responses.values() for r in rs]
    return regime_calendar.evidence(ix.notifications, ix.calendars, ix.exchanges, own, now_ms,
                                    ix.fig, w.of, ix.zones, ix.roles)


def _evaluate(ix: _Index, now_ms: int, weights: RuleWeights, forks: Iterable[ForkProof]) -> list[Evidence]:
    findings = list(_findings_evidence(ix, weights))
    # Only a verified finding (an accepted inspection's report) refutes a notification's
    # credit: an unverified sighting is its own fact, weighed by its source (issue 12, 6).
    refuted = {
        ev.entries[0]
        for ev in findings
        if ev.rule == "undercounted_notification" and ev.verifiable
    }
    out = [
        *findings,
        *_own_notifications(ix, weights),
        *_timely_notifications(ix, weights, refuted),
        *_consultations(ix, now_ms, weights),
        *_inspections(ix, now_ms, weights),
        *_consistent_reports(ix, weights),
        *_annual_exchanges(ix, weights),
        *_forks(forks, weights),
        *_regime_calendar(ix, now_ms, weights),
    ]
    out.sort(key=lambda ev: (ev.at, ev.rule, ev.entries, ev.party))
    return out


def evaluate(
    entries: Iterable[Entry],
    now_ms: int,
    *,
    figures: ViennaFigures = DEFAULT_FIGURES,
    weights: RuleWeights = DEFAULT_WEIGHTS,
    forks: Iterable[ForkProof] = (),
    parsed: Iterable[tuple[Entry, object]] | None = None,
) -> list[Evidence]:
    """Derive the evidence of every CSBM rule from `entries`, as of `now_ms` (deterministic).

    `parsed`: further entries with their bodies already parsed and validated (`statement_of`),
    as a caller that holds them passes them to save parsing them again.
    """
    return _evaluate(_Index(entries, figures, parsed), now_ms, weights, forks)


@dataclass(frozen=True, slots=True)
class InspectedObservation:
    """An observation an accepted inspection's report speaks to: the observer's track record."""

    report: Entry
    observation: Entry
    confirmed: bool  # `observation_confirmed` with the tolerance given
    confidence: float  # the observation's own confidence, in [0, 1]


@dataclass(frozen=True, slots=True)
class Analysis:
    """`evaluate`'s evidence and the inspections' matches, from one index of the statements."""

    evidence: list[Evidence]
    inspected: list[InspectedObservation]


def analyse(
    parsed: Iterable[tuple[Entry, object]],
    now_ms: int,
    *,
    figures: ViennaFigures = DEFAULT_FIGURES,
    weights: RuleWeights = DEFAULT_WEIGHTS,
    match_days: int = 7,
    tolerance: float = 0.3,
    times: Mapping[bytes, int] | None = None,
    roles: Mapping[str, str] | None = None,
    zones: Mapping[str, str] | None = None,
) -> Analysis:
    """`evaluate` over parsed entries, with the observations each accepted inspection checked.

    `times`: entry id -> when the entry counts as made, for entries not judged by their own
    `ts` (backdated ones: DESIGN 12); every deadline is judged on these times. `roles`: party
    -> declared role; inspection requests count only from states (or parties of no known role).
    `zones`: party -> declared time zone (IANA name), for the dates the rules read.
    """
    ix = _Index((), figures, parsed, times, roles, zones)
    evidence = _evaluate(ix, now_ms, weights, ())
    inspected = [
        InspectedObservation(
            r.entry,
            o.entry,
            observation_confirmed(o.body, r.body, figures, tolerance),
            o.body.confidence / 1000.0,
        )
        for r, o in ix.inspected_observations(match_days)
    ]
    return Analysis(evidence, inspected)


@dataclass(frozen=True, slots=True)
class MatchedFinding:
    """An observation or inspection report, matched to the activity it is about as the rules
    match it (`covering`, `governing`): for views that reconcile calendars and notifications."""

    entry: Entry
    party: str  # whom it is about
    activity: tuple[str, ...]  # the rules' key of the activity (see `_activity_key`)
    name: str | None  # the activity's name: the governing notification's, else the finding's
    area: str
    at: int  # when the activity was seen (start of the finding's window)
    verified: bool  # an accepted inspection's report by its requester
    governing: Entry | None  # the notification it is compared with
    troops: int
    tanks: int


def match_findings(
    parsed: Iterable[tuple[Entry, object]],
    *,
    figures: ViennaFigures = DEFAULT_FIGURES,
    times: Mapping[bytes, int] | None = None,
    roles: Mapping[str, str] | None = None,
) -> list[MatchedFinding]:
    """Every finding about a party, with the notification and activity the rules match it to."""
    ix = _Index((), figures, parsed, times, roles)
    out = []
    for f in ix.findings():
        gov = ix.governing(f, ix.covering(f))
        out.append(MatchedFinding(
            f.stmt.entry, f.party, _activity_key(f, gov),
            gov.body.activity if gov is not None else f.activity,
            f.area_text, f.window[0], f.verified, gov.entry if gov is not None else None,
            f.counts.troops, f.counts.tanks))
    out.sort(key=lambda m: (m.at, m.entry.id_hex))
    return out
