"""Hostility: P's own signed statements aimed at this node that abuse the rules
(DESIGN section 8, docs/suspicion.md), as suspicion signals.

`hostility_signals` is the one-shot path; `HostilityLedger` keeps the same walk as
statements arrive: statements later than every one it has walked are walked on from
where it stopped (a new entry costs itself), and only what can change the past (a
statement older than the last walked, a profile that changes a requester's standing, one
of our entries that an earlier refutation targets) walks everything again. Either way
the signals are those `hostility_signals` gives over the same statements.
Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from trustnet.config.loader import load_table
from trustnet.errors import ConfigError, EntryError
from trustnet.feedback.estimator import Signal
from trustnet.log.entry import Entry
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.kinds import (
    Attestation,
    ConsultationRequest,
    InspectionRequest,
    Observation,
    Trust,
)

# Rule names of hostility signals (they name no rule of the rule engine: P's own statements).
HOSTILE_OBSERVATION = "hostile_observation"
HOSTILE_CONSULTATION = "hostile_consultation_request"
HOSTILE_INSPECTION = "hostile_inspection_request"
HOSTILE_TRUST = "hostile_trust"
HOSTILE_REFUTATION = "hostile_refutation"
HOSTILITY_RULES: tuple[str, ...] = (
    HOSTILE_OBSERVATION,
    HOSTILE_CONSULTATION,
    HOSTILE_INSPECTION,
    HOSTILE_TRUST,
    HOSTILE_REFUTATION,
)
# The kinds that can carry hostility towards us.
_HOSTILE_KINDS = frozenset(
    {"observation", "consultation_request", "inspection_request", "trust", "attestation"}
)
# The kinds `aimed_at` may accept (a prefilter for callers that see every entry).
AIMED_KINDS = _HOSTILE_KINDS | {"profile"}
# The role that gives standing to request inspections (DOMAIN.md: only participating states).
STANDING_ROLE = "state"


@dataclass(frozen=True, slots=True)
class HostilityWeights:
    """Weight of P's statements aimed at us, Goldstein-style (/ 10) like the rule weights.

    DESIGN 8: using verification rights within the rules is cooperation, never hostility.
    Only abuse counts: an inspection request beyond the quota (the host's yearly quota,
    or a second from one requester in a year) or by a party without standing (whose
    profile does not declare it a `state`), a flood of consultation requests, a deepening
    distrust, a refutation of our statements. Chosen for this project, below the
    violations of the rule table (0.4..0.72): abuse is hostile, but it is not a breach.
    """

    # an inspection request against us beyond the quota or without standing
    inspection_request: float = 0.3
    # a request for explanation about us beyond `consultation_quota` in the window
    consultation_request: float = 0.2
    # an observation of our forces, times its confidence / 1000: 0, observing is a right
    observation: float = 0.0
    # a trust statement about us, times how far its level goes below 0 (/ 1000);
    # only the deepening counts: republishing the same level adds nothing ("latest wins")
    distrust: float = 0.5
    # an attestation refuting one of our statements: an accusation of a false report
    refutation: float = 0.4
    # consultation requests about us one requester may make within the window (days)
    consultation_quota: float = 3.0
    consultation_window_days: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"hostility.{f.name}: expected a finite number, got {v!r}")
            if v < 0:
                raise ConfigError(f"hostility.{f.name}: must be >= 0, got {v!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> HostilityWeights:
        """The `[suspicion.hostility]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "suspicion.hostility")


DEFAULT_HOSTILITY = HostilityWeights()


def aimed_at(entry: Entry, self_id: str) -> bool:
    """Could this entry be a hostile statement towards `self_id`, or say whether its author
    has standing (a profile)? (A cheap prefilter.)"""
    if entry.author_hex == self_id:
        return False
    if entry.kind == "profile":
        return True
    if entry.kind not in _HOSTILE_KINDS:
        return False
    body = entry.body
    return (body.get("subject") == self_id or body.get("host") == self_id
            or (entry.kind == "attestation" and body.get("verdict") == "refute"))


def hostility_signals(
    entries: Iterable[Entry],
    self_id: str,
    *,
    weights: HostilityWeights = DEFAULT_HOSTILITY,
    ours: Iterable[str] = (),
    figures: ViennaFigures = DEFAULT_FIGURES,
) -> list[Signal]:
    """P's own signed statements aimed at this node that abuse the rules, as hostility
    signals (verification 1.0: they are P's own words).

    Requests within the rules are not hostile (DESIGN 8). Abuse: an inspection request
    by a party whose latest profile is not a `state`'s (no standing), or beyond the quota
    (the host already had `inspections_per_year` requests in that calendar year, or this
    requester already asked once that year); consultation requests about us beyond
    `consultation_quota` per requester within `consultation_window_days`; a deepening
    distrust; a refutation of one of our statements. `ours`: ids of this node's own
    entries not among `entries` (what a refutation may target).
    """
    ledger = HostilityLedger(self_id, weights=weights, figures=figures)
    ledger.add(entries, ours)
    return sorted(ledger.signals(), key=lambda s: (s.party, *s.sort_key()))


Walked = tuple[tuple[int, bytes], Entry, object]  # ((ts, id), entry, its statement)


class HostilityLedger:
    """The hostility signals of the statements held so far, walked in (ts, id) order."""

    def __init__(self, self_id: str, *, weights: HostilityWeights = DEFAULT_HOSTILITY,
                 figures: ViennaFigures = DEFAULT_FIGURES) -> None:
        self.self_id = self_id
        self.weights = weights
        self.figures = figures
        self.walks = 0  # how often everything was walked again
        self._stmts: dict[bytes, Walked] = {}
        self._ours: set[str] = set()  # our own entries, any kind: what a refutation may target
        self._roles: dict[str, tuple[int, int, str]] = {}  # author -> its latest profile's role
        self._by: dict[str, list[Signal]] = {}  # party -> its signals, in walk order
        self._reset()

    def _reset(self) -> None:
        self._last: tuple[int, bytes] | None = None  # the last statement walked
        self._distrust: dict[str, int] = {}  # a trust level replaces the author's previous one
        self._inspections: dict[int, list[str]] = {}  # year -> requesters of inspections of us
        self._asked: dict[str, list[int]] = {}  # requester -> times of its consultation requests
        self._requesters: set[str] = set()  # authors of inspection requests walked
        self._refuted: set[str] = set()  # what refutations walked targeted (not ours then)

    def add(self, entries: Iterable[Entry], ours: Iterable[str] = ()) -> set[str]:
        """Take in statements (and ids of our own entries); the parties whose signals changed."""
        again = False
        for i in ours:
            if i not in self._ours:
                self._ours.add(i)
                again = again or i in self._refuted
        new: list[Walked] = []
        for e in entries:
            author = e.author_hex
            if author == self.self_id:
                if e.id_hex not in self._ours:
                    self._ours.add(e.id_hex)
                    again = again or e.id_hex in self._refuted
                continue
            if e.kind == "profile":
                role = e.body.get("role")
                old = self._roles.get(author)
                if isinstance(role, str) and (old is None or (e.seq, e.ts) > old[:2]):
                    self._roles[author] = (e.seq, e.ts, role)
                    # standing is read from the latest profile: past requests may change
                    again = again or (author in self._requesters
                                      and (old[2] if old else "") != role)
                continue
            if e.id in self._stmts or e.kind not in _HOSTILE_KINDS:
                continue
            try:
                walked: Walked = ((e.ts, e.id), e, statement_of(e))
            except EntryError:
                continue  # DESIGN 4: a body that fails validation is not a statement
            self._stmts[e.id] = walked
            new.append(walked)
        new.sort(key=lambda w: w[0])
        if again or (new and self._last is not None and new[0][0] < self._last):
            self.walks += 1
            before = self._by
            self._by = {}
            self._reset()
            for w in sorted(self._stmts.values(), key=lambda w: w[0]):
                self._walk(w)
            return {p for p in before.keys() | self._by.keys() if before.get(p) != self._by.get(p)}
        changed: set[str] = set()
        for w in new:
            s = self._walk(w)
            if s is not None:
                changed.add(s.party)
        return changed

    def signals(self) -> list[Signal]:
        """Every hostility signal, by party in walk order."""
        return [s for sigs in self._by.values() for s in sigs]

    def of(self, party: str) -> list[Signal]:
        """The party's hostility signals (a copy)."""
        return list(self._by.get(party, ()))

    def _walk(self, w: Walked) -> Signal | None:
        key, e, body = w
        self._last = key
        weights, self_id = self.weights, self.self_id
        author = e.author_hex
        rule, weight = "", 0.0
        if isinstance(body, Observation) and body.subject == self_id:
            rule, weight = HOSTILE_OBSERVATION, weights.observation * body.confidence / 1000
        elif isinstance(body, ConsultationRequest) and body.subject == self_id:
            times = self._asked.setdefault(author, [])
            window = weights.consultation_window_days * DAY_MS
            recent = sum(1 for t in times if e.ts - t < window)
            times.append(e.ts)
            if recent >= weights.consultation_quota:
                rule, weight = HOSTILE_CONSULTATION, weights.consultation_request
        elif isinstance(body, InspectionRequest) and body.host == self_id:
            self._requesters.add(author)
            year = self._inspections.setdefault(_year(e.ts), [])
            standing = self._roles.get(author, (0, 0, ""))[2] == STANDING_ROLE
            beyond = (len(year) >= self.figures.inspections_per_year
                      or year.count(author) >= self.figures.inspections_per_requester_per_year)
            year.append(author)
            if beyond or not standing:
                rule, weight = HOSTILE_INSPECTION, weights.inspection_request
        elif isinstance(body, Trust) and body.subject == self_id:
            depth = max(0, -body.level)
            deeper = depth - self._distrust.get(author, 0)
            self._distrust[author] = depth
            rule, weight = HOSTILE_TRUST, weights.distrust * max(0, deeper) / 1000
        elif isinstance(body, Attestation) and body.verdict == "refute":
            if body.subject in self._ours:
                rule, weight = HOSTILE_REFUTATION, weights.refutation
            else:
                self._refuted.add(body.subject)  # one of ours arriving later changes this
        if weight > 0.0:
            s = Signal(author, e.ts, "hostility", weight, 1.0, e.id_hex, rule)
            self._by.setdefault(author, []).append(s)
            return s
        return None


def _year(ms: int) -> int:
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).year
    except OverflowError:  # beyond year 9999: no calendar date
        return 10_000
