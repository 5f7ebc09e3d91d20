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

Where the engine's parts live: the weights in `weights`, the index of statements in `index`,
counts against the thresholds in `counts`, and the rules by Vienna Document chapter in the
`regime_*` modules beside this one (`regime_exchange` I, `regime_consultation` III,
`regime_notification` V and VI, `regime_calendar` VII and VIII, `regime_inspection` IX). This
module runs them all over one index (`evaluate`, `analyse`, `match_findings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from trustnet.log.entry import Entry, ForkProof
from trustnet.statements import (
    regime_calendar,
    regime_consultation,
    regime_exchange,
    regime_inspection,
    regime_notification,
)
from trustnet.statements.counts import observation_confirmed
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.index import Index, Stmt, activity_key
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
from trustnet.statements.regime import regime_evidence
from trustnet.statements.regime_common import INPUTS as REGIME_INPUTS
from trustnet.statements.weights import DEFAULT_WEIGHTS, RuleWeights


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


def _regime_calendar(ix: Index, now_ms: int, w: RuleWeights) -> Iterator[Evidence]:
    """Issue 16: calendar, Chapter VIII constraints, exchange late or missing, split activities."""
    own: list[Stmt[Any]] = [*ix.notifications, *ix.exchanges, *ix.calendars]
    own += [r for rs in ix.replies.values() for r in rs] + [r for rs in ix.responses.values() for r in rs]
    return regime_calendar.evidence(ix.notifications, ix.calendars, ix.exchanges, own, now_ms,
                                    ix.fig, w.of, ix.zones, ix.roles)


def _evaluate(ix: Index, now_ms: int, weights: RuleWeights, forks: Iterable[ForkProof]) -> list[Evidence]:
    findings = list(regime_notification.findings_evidence(ix, weights))
    out = [*findings, *_rest(ix, now_ms, weights, forks, _refuted(findings))]
    out.sort(key=_order_key)
    return out


def _order_key(ev: Evidence) -> tuple[int, str, tuple[str, ...], str]:
    return (ev.at, ev.rule, ev.entries, ev.party)


def _refuted(findings: list[Evidence]) -> set[str]:
    """Only a verified finding (an accepted inspection's report) refutes a notification's
    credit: an unverified sighting is its own fact, weighed by its source (issue 12, 6)."""
    return {
        ev.entries[0]
        for ev in findings
        if ev.rule == "undercounted_notification" and ev.verifiable
    }


def _own(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return regime_notification.own_notifications(ix, w)


def _timely(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return regime_notification.timely_notifications(ix, w, refuted)


def _consultations(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]
                   ) -> Iterable[Evidence]:
    return regime_consultation.consultations(ix, now_ms, w)


def _inspections(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]
                 ) -> Iterable[Evidence]:
    return regime_inspection.inspections(ix, now_ms, w)


def _consistent(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return regime_inspection.consistent_reports(ix, w)


def _exchanges(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return regime_exchange.annual_exchanges(ix, w)


def _calendar(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return _regime_calendar(ix, now_ms, w)


def _regime(ix: Index, now_ms: int, w: RuleWeights, refuted: set[str]) -> Iterable[Evidence]:
    return regime_evidence(ix.regime, now_ms, ix.fig, w.of)


Rule = Callable[[Index, int, RuleWeights, set[str]], Iterable[Evidence]]
_REPORTS = (InspectionRequest, InspectionResponse, InspectionReport)
# Every rule but the findings', in evaluation order (fork proofs come after the exchanges),
# with the statements each reads besides the clock (none reads an observation): a kept
# partition evaluates one again only when one of those arrived (`PartitionRules`).
RULES: tuple[tuple[Rule, tuple[type, ...]], ...] = (
    (_own, REGIME_INPUTS),
    (_timely, (Notification,)),  # and the refuted notifications
    (_consultations, (ConsultationRequest, ConsultationReply)),
    (_inspections, (InspectionRequest, InspectionResponse)),
    (_consistent, (*_REPORTS, Notification)),
    (_exchanges, (AnnualExchange,)),
    (_calendar, (Notification, AnnualExchange, Calendar, ConsultationReply, InspectionResponse)),
    (_regime, REGIME_INPUTS),
)
_FORKS_AT = 6
# What `Index.inspected_observations` reads: the findings (observations, reports) and whether
# each report's inspection was accepted in time (requests, answers).
_INSPECTED_READS = (Observation, *_REPORTS)


def _rest(ix: Index, now_ms: int, weights: RuleWeights, forks: Iterable[ForkProof],
          refuted: set[str]) -> list[Evidence]:
    """Every rule but the findings' (none of these reads an observation)."""
    out: list[Evidence] = []
    for k, (rule, _reads) in enumerate(RULES):
        if k == _FORKS_AT:
            out.extend(_forks(forks, weights))
        out.extend(rule(ix, now_ms, weights, refuted))
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
    return _evaluate(Index(entries, figures, parsed), now_ms, weights, forks)


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
    ix = Index((), figures, parsed, times, roles, zones)
    return Analysis(_evaluate(ix, now_ms, weights, ()), _inspected(ix, figures, match_days, tolerance))


def _inspected(ix: Index, figures: ViennaFigures, match_days: int, tolerance: float,
               made: dict[tuple[bytes, bytes], InspectedObservation] | None = None,
               ) -> list[InspectedObservation]:
    """Each accepted inspection's report against the observations of what it inspected.
    `made`: (report id, observation id) -> its record, kept by a caller that asks again
    (the comparison reads the two bodies alone: a pair once compared is the same record)."""
    out: list[InspectedObservation] = []
    for r, o in ix.inspected_observations(match_days):
        pair = (r.entry.id, o.entry.id)
        held = made.get(pair) if made is not None else None
        if held is None:
            held = InspectedObservation(
                r.entry,
                o.entry,
                observation_confirmed(o.body, r.body, figures, tolerance),
                o.body.confidence / 1000.0,
            )
            if made is not None:
                made[pair] = held
        out.append(held)
    return out


class PartitionRules:
    """`analyse` over a list of parsed statements that only grows (one belief-engine
    partition), at the cost of what changed since the last call (issue 15 item 3).

    The index is kept and extended (`Index.extend`); the findings' facts are kept, and only
    the findings that changed or that a new notification covers are placed again
    (`FindingsMemo`); and when only observations arrived and no
    further deadline passed, the rules that read no observation are not evaluated again.
    Each result equals `analyse` over the whole list. `times`, `roles` and `zones` are read
    as they grow; a caller whose roles, zones or judged times change for entries already
    given calls `reset`.
    """

    def __init__(
        self,
        *,
        figures: ViennaFigures = DEFAULT_FIGURES,
        weights: RuleWeights = DEFAULT_WEIGHTS,
        match_days: int = 7,
        tolerance: float = 0.3,
        times: Mapping[bytes, int] | None = None,
        roles: Mapping[str, str] | None = None,
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self.figures, self.weights = figures, weights
        self.match_days, self.tolerance = match_days, tolerance
        self.times, self.roles, self.zones = times, roles, zones
        self._ix: Index | None = None
        self._taken = 0  # statements of the list already in the index
        self._memo = regime_notification.FindingsMemo()
        # Each of `RULES`' evidence as last evaluated (None: to evaluate), and what it read
        # then besides the statements: the deadlines passed and the refuted notifications.
        self._held: list[list[Evidence] | None] = [None] * len(RULES)
        self._read: tuple[int, set[str]] | None = None
        # `_inspected` as last made: it reads observations, reports and the inspections'
        # requests and answers only (not the clock), so it is kept until one of those arrives.
        self._inspected: list[InspectedObservation] | None = None
        self._pairs: dict[tuple[bytes, bytes], InspectedObservation] = {}  # `_inspected`'s

    def reset(self) -> None:
        """Forget everything: the next `analyse` reads the whole list again."""
        self._ix = None
        self._taken = 0
        self._held = [None] * len(RULES)
        self._inspected = None
        self._pairs = {}

    def analyse(self, parsed: list[tuple[Entry, object]], now_ms: int, passed: int) -> Analysis:
        """`analyse(parsed, now_ms, ...)`; `passed`: how many of the deadlines the rules read
        `now_ms` is past (the only use the rules make of the time)."""
        ix = self._ix
        new = parsed[self._taken :]
        self._taken = len(parsed)
        held = self._held
        if ix is None:
            ix = self._ix = Index((), self.figures, parsed, self.times, self.roles, self.zones)
            held[:] = [None] * len(RULES)
            self._inspected = None
        elif new:
            ix.extend(new)
            bodies = [body for _e, body in new]
            if any(isinstance(b, _INSPECTED_READS) for b in bodies):
                self._inspected = None
            for k, (_rule, reads) in enumerate(RULES):
                if held[k] is not None and any(isinstance(b, reads) for b in bodies):
                    held[k] = None
        findings = list(regime_notification.findings_evidence(ix, self.weights, self._memo))
        refuted = _refuted(findings)
        if self._read is None or self._read[0] != passed:
            held[:] = [None] * len(RULES)  # a deadline passed: any rule may read it
        elif self._read[1] != refuted:
            held[1] = None  # _timely
        self._read = (passed, refuted)
        out = list(findings)
        for k, (rule, _reads) in enumerate(RULES):
            got = held[k]
            if got is None:
                got = held[k] = list(rule(ix, now_ms, self.weights, refuted))
            out.extend(got)
        out.sort(key=_order_key)
        inspected = self._inspected
        if inspected is None:
            inspected = self._inspected = _inspected(ix, self.figures, self.match_days,
                                                     self.tolerance, self._pairs)
        return Analysis(out, inspected)


@dataclass(frozen=True, slots=True)
class MatchedFinding:
    """An observation or inspection report, matched to the activity it is about as the rules
    match it (`covering`, `governing`): for views that reconcile calendars and notifications."""

    entry: Entry
    party: str  # whom it is about
    activity: tuple[str, ...]  # the rules' key of the activity (see `activity_key`)
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
    ix = Index((), figures, parsed, times, roles)
    out = []
    for f in ix.findings():
        gov = ix.governing(f, ix.covering(f))
        out.append(MatchedFinding(
            f.stmt.entry, f.party, activity_key(f, gov),
            gov.body.activity if gov is not None else f.activity,
            f.area_text, f.window[0], f.verified, gov.entry if gov is not None else None,
            f.counts.troops, f.counts.tanks))
    out.sort(key=lambda m: (m.at, m.entry.id_hex))
    return out
