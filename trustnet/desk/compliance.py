"""Compliance by obligation: the rule engine's facts about each party, per obligation and year.

Nothing here judges a statement: every row is read from the facts the rule engine
(`trustnet.statements.rules`) derived and the belief engine weighed (its
contributions: sources, attesters, whether the verified view counts them). An
obligation is a row of `OBLIGATIONS`: the rules whose facts speak to it and the
status each fact means. Adding an obligation once its rule exists is one entry
there (and a line in docs/desk.md); an obligation no rule computes yet is not listed,
so the table never shows a status that nothing established.

Statuses, worst first: `breached` (a violation found), `missing` (a deadline passed with
no answer), `late` (answered or notified after its deadline, proved by the party's own
signed statement), `pending`, `met`, `not_applicable`. A row's status is its worst
fact's. `pending` and `not_applicable` rest on no fact (`fill`): a yearly obligation whose
deadline has not passed and that nothing met yet is pending; a calendar year with no
calendar fact and no notifiable activity known for the party is not applicable.
`not_applicable` is also what a refusal the rules allow means (an evaluation visit or an
Open Skies flight beyond the quota or on short notice: docs/regime.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trustnet.errors import ConfigError, NotFound
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.regime_calendar import calendar_due
from trustnet.statements.regime_exchange import exchange_deadline
from trustnet.trust.beliefs import Beliefs
from trustnet.trust.beliefs.records import Contribution

STATUSES: tuple[str, ...] = ("breached", "missing", "late", "pending", "met", "not_applicable")
_RANK = {s: i for i, s in enumerate(STATUSES)}
MIN_YEAR, MAX_YEAR = 1970, 9999

# (contribution) -> status of that fact for its obligation.
Judge = Callable[[Contribution], str]


def _always(status: str) -> Judge:
    return lambda c: status


def _answer(c: Contribution) -> str:
    # regime_consultation.consultations: an unanswered request rests on the request alone; a late reply
    # is the second entry, proving by its own signature that the deadline passed.
    return "late" if len(c.entries) > 1 else "missing"


def _calendar(c: Contribution) -> str:
    # regime_calendar._calendar: with no calendar sent the fact rests on the notification
    # alone (missing); with one that leaves the activity out, on both (breached).
    return "missing" if len(c.entries) == 1 else "breached"


def _notice(c: Contribution) -> str:
    # regime_notification.own_notifications: the party's own late notification (no other source) is
    # late; a finding by others of an activity never notified is a breach.
    return "late" if not c.sources else "breached"


@dataclass(frozen=True, slots=True)
class Obligation:
    """One obligation: the rules that decide it and what each of their facts means."""

    name: str
    title: str
    reference: str  # where the obligation is written (VD11 paragraph)
    rules: Mapping[str, Judge]
    # The period a fact belongs to, from its time: the exchange sent in year Y is the one
    # valid from Y + 1 (regime_exchange.annual_exchanges credits no other).
    period_shift: int = 0
    # The deadline of the whole period, when the obligation has one date a year (the rules').
    deadline: Callable[[int, ViennaFigures], int | None] | None = None
    # Rules whose facts are dated in their period itself (shift 0) though others' are not.
    dated_in_period: frozenset[str] = frozenset()

    def due(self, year: int, fig: ViennaFigures) -> int | None:
        """The deadline of the year's period, if the obligation has one."""
        return self.deadline(year, fig) if self.deadline is not None else None

    def period(self, rule: str, at: int) -> int:
        """The year a fact of `rule` established at `at` belongs to."""
        return utc_year(at) + (0 if rule in self.dated_in_period else self.period_shift)


OBLIGATIONS: dict[str, Obligation] = {o.name: o for o in (
    Obligation("annual_exchange", "Annual exchange of military information",
               "VD11 para 11: sent by 15 December for the year from 1 January",
               {"annual_exchange_on_time": _always("met"), "annual_exchange_late": _always("late"),
                "annual_exchange_missing": _always("missing")}, period_shift=1,
               deadline=exchange_deadline),
    Obligation("calendar", "Annual calendar of notifiable activities",
               "VD11 para 61: sent by 15 November, announcing the next year's notifiable "
               "activities", {"calendar_on_time": _always("met"), "calendar_late": _always("late"),
                              "activity_not_in_calendar": _calendar}, period_shift=1,
               deadline=lambda year, fig: calendar_due(year, fig),
               dated_in_period=frozenset({"activity_not_in_calendar"})),
    Obligation("prior_notification", "Prior notification of activities",
               "VD11 para 38-40: notifiable activities 42 days ahead, with true figures, "
               "not split to stay under the thresholds",
               {"notification_on_time": _always("met"), "unnotified_activity": _notice,
                "undercounted_notification": _always("breached"),
                "split_activity": _always("breached"),
                "observers_report_consistent": _always("met"),
                "observers_report_undercount": _always("breached")}),
    Obligation("constraints", "Constraining provisions (Chapter VIII)",
               "VD11 para 67: one activity above 40,000 troops or 900 tanks in three years; "
               "six above 13,000 / 300 a year, three of them above 25,000 / 400",
               {"constraint_exceeded": _always("breached")}),
    Obligation("observation_invitation", "Invitation of observers",
               "VD11 para 47: observers invited at the observation thresholds",
               {"observers_not_invited": _always("breached"),
                "observation_invited": _always("met"), "alert_not_observed": _always("breached")}),
    Obligation("consultation_answers", "Answers to requests for explanation",
               "VD11 para 16: answered within 48 hours",
               {"consultation_answered": _always("met"), "consultation_unanswered": _answer}),
    Obligation("inspection_quota", "Inspections within the quota",
               "VD11 chapter IX: accepted up to 3 a year, 1 per requester, answered within 24 h",
               {"inspection_accepted": _always("met"), "inspection_refused": _always("breached")}),
    # -- issue 16 item 5 part B (trustnet/statements/regime_*.py, docs/regime.md) --
    Obligation("evaluation_visits", "Evaluation visits within the quota",
               "VD11 chapter IX: one visit per 60 units reported, at most 15 a year, answered "
               "within 48 h; the unit as the annual exchange declared it",
               {"evaluation_accepted": _always("met"), "evaluation_refused": _always("breached"),
                "evaluation_refused_beyond_quota": _always("not_applicable"),
                "evaluation_consistent": _always("met"),
                "evaluation_discrepancy": _always("breached")}),
    Obligation("incident_consultation", "Answers to hazardous incident reports",
               "VD11 para 17: answered within 48 h, else a bilateral meeting, then a meeting "
               "of all participating states",
               {"incident_answered": _always("met"), "incident_unanswered": _answer,
                "incident_escalated": _answer}),
    Obligation("openskies_flights", "Open Skies flights within the passive quota",
               "Treaty on Open Skies art. III, VI: flights within the passive quota accepted on "
               "72 h notice, flown within 96 h of arrival",
               {"openskies_accepted": _always("met"), "openskies_refused": _always("breached"),
                "openskies_notice_short": _always("not_applicable"),
                "openskies_quota_exceeded": _always("not_applicable"),
                "openskies_period_exceeded": _always("breached")}),
    Obligation("sensor_data", "Open Skies sensor data shared on request",
               "Treaty on Open Skies art. IX: a copy of a flight's data to a party that asks",
               {"sensor_data_shared": _always("met"), "sensor_data_declined": _always("breached"),
                "sensor_data_not_shared": _answer}),
)}
_BY_RULE = {rule: o for o in OBLIGATIONS.values() for rule in o.rules}


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact behind a row."""

    rule: str
    status: str
    at: int  # when the fact was established (a deadline, for a missed one)
    entries: tuple[str, ...]
    sources: tuple[str, ...]  # the other parties whose statements it rests on
    attesters: tuple[str, ...]  # who confirmed it by attestation
    verified: bool  # counted in this node's verified view
    basis: str
    note: str

    def verifiers(self, party: str) -> tuple[str, ...]:
        """Who vouches for the fact: its sources and attesters; the party itself (its own
        signature) when the fact is self-proving."""
        who = set(self.sources) | set(self.attesters)
        return tuple(sorted(who or {party}))

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "at": self.at,
                "entries": list(self.entries), "sources": list(self.sources),
                "attesters": list(self.attesters), "verified": self.verified,
                "basis": self.basis, "note": self.note}


@dataclass(frozen=True, slots=True)
class Row:
    """One party's standing on one obligation in one year."""

    party: str
    name: str | None
    obligation: str
    year: int
    status: str
    due: int | None
    findings: tuple[Finding, ...]

    @property
    def deciding(self) -> tuple[Finding, ...]:
        """The facts that give the row its status."""
        return tuple(f for f in self.findings if f.status == self.status)

    @property
    def verified(self) -> bool:
        """Every fact deciding the status is verified (a row no fact decides is not)."""
        deciding = self.deciding
        return bool(deciding) and all(f.verified for f in deciding)

    @property
    def verified_by(self) -> tuple[str, ...]:
        return tuple(sorted({p for f in self.deciding if f.verified for p in f.verifiers(self.party)}))

    @property
    def entries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for f in self.findings for i in f.entries))

    def to_json(self) -> dict[str, Any]:
        return {"party": self.party, "name": self.name, "obligation": self.obligation,
                "year": self.year, "status": self.status, "due": self.due,
                "entries": list(self.entries), "verified": self.verified,
                "verified_by": list(self.verified_by),
                "findings": [f.to_json() for f in self.findings]}


def utc_year(ms: int) -> int:
    """The UTC calendar year of a time (10000 beyond the calendar)."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).year
    except (OverflowError, ValueError, OSError):
        return 10_000


def fact_key(rule: str, entries: Sequence[str]) -> tuple[str, str]:
    """One fact across the raw and verified views: its rule and first entry (the verified
    view's contribution may rest on fewer entries than the raw one: its verifiable basis)."""
    return (rule, entries[0] if entries else rule)


def verified_keys(evidence: Iterable[Contribution]) -> set[tuple[str, str]]:
    """The facts a verified view counts as verified."""
    return {fact_key(c.rule, c.entries) for c in evidence if c.verified}


def compliance_rows(beliefs: Beliefs, fig: ViennaFigures = DEFAULT_FIGURES) -> list[Row]:
    """Every (party, obligation, year) the rule engine's facts speak to, in that order."""
    groups: dict[tuple[str, str, int], list[Finding]] = {}
    names: dict[str, str | None] = {}
    for pid, belief in beliefs.parties.items():
        names[pid] = belief.name
        verified = verified_keys(belief.verified.evidence)
        for c in belief.raw.evidence:
            ob = _BY_RULE.get(c.rule)
            if ob is None:
                continue
            f = Finding(c.rule, ob.rules[c.rule](c), c.at, c.entries, c.sources, c.attesters,
                        fact_key(c.rule, c.entries) in verified, c.basis, c.note)
            groups.setdefault((pid, ob.name, ob.period(c.rule, c.at)), []).append(f)
    rows = []
    for (pid, name, year), findings in sorted(groups.items()):
        ob = OBLIGATIONS[name]
        findings.sort(key=lambda f: (f.at, f.rule, f.entries))
        status = min((f.status for f in findings), key=_RANK.__getitem__)
        due = ob.due(year, fig)
        if due is None:
            deciding = [f.at for f in findings if f.status in ("late", "missing")]
            due = min(deciding) if deciding else None
        rows.append(Row(pid, names.get(pid), name, year, status, due, tuple(findings)))
    rows += fill(rows, beliefs.now_ms, fig)
    rows.sort(key=lambda r: (r.party, r.obligation, r.year))
    return rows


def fill(rows: Sequence[Row], now_ms: int, fig: ViennaFigures) -> list[Row]:
    """The rows no fact gives, for the parties and years the facts speak to (and the coming
    year): the yearly obligations (annual exchange, calendar) not met yet and not yet due are
    `pending`; a calendar year with no calendar fact and no prior notification fact (no
    notifiable activity known here) is `not_applicable`."""
    have = {(r.party, r.obligation, r.year) for r in rows}
    years: dict[str, set[int]] = {}
    names: dict[str, str | None] = {}
    for r in rows:
        years.setdefault(r.party, set()).add(r.year)
        names[r.party] = r.name
    coming = utc_year(now_ms) + 1
    out = []
    for pid, held in sorted(years.items()):
        for year in sorted(held | {coming}):
            for name in ("annual_exchange", "calendar"):
                if (pid, name, year) in have:
                    continue
                due = OBLIGATIONS[name].due(year, fig)
                if due is not None and due > now_ms:
                    out.append(Row(pid, names[pid], name, year, "pending", due, ()))
                elif (name == "calendar" and due is not None
                      and (pid, "prior_notification", year) not in have):
                    out.append(Row(pid, names[pid], name, year, "not_applicable", due, ()))
    return out


def year_arg(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    assert raw is not None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise ConfigError(f"year must be a calendar year from {MIN_YEAR} to {MAX_YEAR}",
                          code="bad_argument")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Filters:
    """`?party=&year=&status=&obligation=`, checked."""

    party: str | None = None
    year: int | None = None
    status: str | None = None
    obligation: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str], known_parties: Callable[[], set[str]]) -> Filters:
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise ConfigError(f"status must be one of {', '.join(STATUSES)}", code="bad_argument")
        obligation = query.get("obligation") or None
        if obligation is not None and obligation not in OBLIGATIONS:
            raise ConfigError(f"unknown obligation {obligation[:64]!r} (known: "
                              f"{', '.join(OBLIGATIONS)})", code="unknown_obligation")
        party = query.get("party") or None
        if party is not None and party not in known_parties():
            raise NotFound(f"no statements by or about party {party[:64]!r} are held here",
                           code="unknown_party")
        return cls(party, year_arg(query.get("year")), status, obligation)

    def keep(self, row: Row) -> bool:
        return ((self.party is None or row.party == self.party)
                and (self.year is None or row.year == self.year)
                and (self.status is None or row.status == self.status)
                and (self.obligation is None or row.obligation == self.obligation))


def compliance_doc(beliefs: Beliefs, filters: Filters, fig: ViennaFigures) -> dict[str, Any]:
    """The body of GET /compliance (before paging): rows, and the obligations computed."""
    rows = [r for r in compliance_rows(beliefs, fig) if filters.keep(r)]
    return {
        "node": beliefs.self_id,
        "now": beliefs.now_ms,
        "obligations": [{"name": o.name, "title": o.title, "reference": o.reference,
                         "rules": sorted(o.rules)} for o in OBLIGATIONS.values()],
        "statuses": list(STATUSES),
        "rows": [r.to_json() for r in rows],
    }

