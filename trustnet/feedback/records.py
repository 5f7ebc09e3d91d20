"""The suspicion estimator's records (trustnet/feedback/estimator.py): the signals it takes,
its parameters, what it reports.

A module of its own, interpreted while the estimator is compiled (trustnet/_build.py): these
records check what a caller gives them and name what is wrong with a stable code, and are
copied and pickled; compiled, a wrong type would fail first with a bare TypeError."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

from trustnet.clock import DAY_MS
from trustnet.config.loader import load_table
from trustnet.errors import ConfigError
from trustnet.feedback.richardson import FeedbackError

SignalKind = Literal["threat", "hostility", "cooperation"]
Regime = Literal["escalating", "stable", "de-escalating"]
_KINDS: tuple[str, ...] = ("threat", "hostility", "cooperation")


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence for the estimator, decoupled from the rule engine."""

    party: str  # the party P the signal is about (hex id)
    at: int  # ms since the epoch: when the fact became established
    kind: SignalKind
    weight: float  # magnitude >= 0 (DOMAIN.md weights, sign dropped: kind says the sign)
    verification: float  # 0 = one unverified source .. 1 = verified by quorum/inspection
    ref: str  # entry id (or rule name) shown in the drivers list
    rule: str  # the rule that produced it, e.g. "inspection_accepted"

    def __post_init__(self) -> None:
        bad = None
        if not isinstance(self.party, str) or not self.party:
            bad = "party must be a non-empty string"
        elif isinstance(self.at, bool) or not isinstance(self.at, int):
            bad = "at must be integer ms"
        elif self.kind not in _KINDS:
            bad = f"kind must be one of {_KINDS}"
        elif not _real(self.weight) or self.weight < 0.0:
            bad = "weight must be a finite number >= 0"
        elif not _real(self.verification) or not 0.0 <= self.verification <= 1.0:
            bad = "verification must be in [0, 1]"
        elif not isinstance(self.ref, str) or not isinstance(self.rule, str):
            bad = "ref and rule must be strings"
        if bad is not None:
            raise FeedbackError(f"bad signal: {bad}: {self!r}", code="bad_signal")

    def sort_key(self) -> tuple[int, str, str, str, float, float]:
        """Total order used to apply signals: time first, then a deterministic tie-break."""
        return (self.at, self.kind, self.ref, self.rule, self.weight, self.verification)


def _real(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)


# A signal's fields set directly (`signal_of`), as `entry_of` makes entries: a frozen
# dataclass's __init__ sets each through object.__setattr__, then checks them all.
_SIGNAL_SET = tuple(Signal.__dict__[f].__set__
                    for f in ("party", "at", "kind", "weight", "verification", "ref", "rule"))
_new = object.__new__


def signal_of(party: str, at: int, kind: SignalKind, weight: float, verification: float,
              ref: str, rule: str) -> Signal:
    """`Signal(...)` for what the analysis derives from its own rules' evidence (the ledgers
    make tens of thousands in a full recompute): the same record, made without the type
    checks its fields pass by construction. Values out of range still get the full
    constructor, and its `bad_signal`."""
    if not (0.0 <= weight < _INF and 0.0 <= verification <= 1.0 and party and kind in _KINDS):
        return Signal(party, at, kind, weight, verification, ref, rule)
    sig: Signal = _new(Signal)
    s_party, s_at, s_kind, s_weight, s_verification, s_ref, s_rule = _SIGNAL_SET
    s_party(sig, party)
    s_at(sig, at)
    s_kind(sig, kind)
    s_weight(sig, weight)
    s_verification(sig, verification)
    s_ref(sig, ref)
    s_rule(sig, rule)
    return sig


_INF = math.inf


@dataclass(frozen=True, slots=True)
class SuspicionParams:
    """Model parameters; rates are per `time_unit_ms` (default: per day). docs/suspicion.md.

    Defaults: at rest the index is k0 - a0 = -0.02/day (the relationship relaxes);
    one credible unverified report of an unnotified activity (0.72 at v = 0.4) lifts
    k by 0.3 * 0.29 = 0.09, above a0: escalating until it fades (half-life 60 days)
    or verified cooperation outweighs it (an accepted inspection: a + 0.27).
    A week of daily credible reports (T = 2) is feared for most of a year.
    """

    # k0: how strongly P's seen hostility y raises our suspicion, with no threat in force.
    reactivity: float = 0.06
    # k = k0 + reactivity_gain * T, T = Kalman-weighted threat account (fading).
    reactivity_gain: float = 0.30
    # half-life of T, in time units: fear fades when nothing feeds it.
    reactivity_half_life: float = 60.0
    # l: P's reactivity in the escalation index; None = symmetric (l = k).
    other_reactivity: float | None = None
    # a0 (> 0): restraint (decay rate of suspicion) with no verified cooperation.
    restraint: float = 0.08
    # b: P's restraint (decay rate of y, and its restraint in the index); None = b = a.
    other_restraint: float | None = None
    # a = a0 + restraint_gain * C, C = Kalman-weighted cooperation, fading.
    restraint_gain: float = 0.30
    # half-life of C, in time units: goodwill must be renewed.
    restraint_half_life: float = 90.0
    # how much of a refusal's increment K(v) * weight is drawn from the goodwill
    # account C (1: a refused inspection cancels as much cooperation as it weighs).
    restraint_erosion: float = 1.0
    # g (or h) increment per unit of Kalman-weighted threat (hostility) weight,
    # in hostility units per time unit.
    input_gain: float = 0.10
    # half-life of g and h, in time units: grievances fade.
    input_half_life: float = 14.0
    # share (0..1) of each *verified* (v = 1) threat increment that becomes a standing
    # grievance g_p on x instead of a fading input to y (evidence that is only believed,
    # v < 1, leaves none: a rumour is not an established breach). An established breach keeps
    # the equilibrium above zero (DOMAIN.md demo: "settles above its baseline").
    grievance_fraction: float = 0.2
    # half-life of g_p, in time units: a year, so a breach weighs for months, not forever.
    grievance_half_life: float = 365.0
    # the most unverified influence (sum of K-weighted amounts) one source's claims
    # about one party can have: one source alone weighs at most one verified breach.
    source_cap: float = 0.72
    # measurement variance scale of evidence at verification v: noise * (1 - v) / v
    # (prior variance 1), so K(v) = v / (v + noise * (1 - v)); 1: K(v) = v.
    unverified_noise: float = 1.0
    # (t, level) points kept per party for plots.
    history_len: int = 512
    # the time unit of every rate, and the grid the slow variables step on.
    time_unit_ms: int = DAY_MS
    # regime thresholds on the escalation index (per time unit).
    escalating_above: float = 0.005
    deescalating_below: float = -0.005
    # how many drivers a report lists.
    top_drivers: int = 5

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("history_len", "time_unit_ms", "top_drivers"):
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ConfigError(f"suspicion.{f.name} must be an integer >= 1, got {v!r}")
                continue
            if v is None and f.name in ("other_reactivity", "other_restraint"):
                continue
            if not _real(v):
                raise ConfigError(f"suspicion.{f.name} must be a finite number, got {v!r}")
            if f.name in ("escalating_above", "deescalating_below"):
                continue
            if v < 0.0:
                raise ConfigError(f"suspicion.{f.name} must be >= 0, got {v!r}")
            if f.name.endswith("half_life") and v == 0.0:
                raise ConfigError(f"suspicion.{f.name} must be > 0")
        if self.restraint == 0.0:
            raise ConfigError("suspicion.restraint must be > 0: suspicion must relax when nothing happens")
        if self.grievance_fraction > 1.0:
            raise ConfigError("suspicion.grievance_fraction must be <= 1")
        if self.deescalating_below > self.escalating_above:
            raise ConfigError("suspicion.deescalating_below must be <= escalating_above")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> SuspicionParams:
        """The `[suspicion]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "suspicion")


@dataclass(frozen=True, slots=True)
class Driver:
    """One signal's share of the current drift dx/dt (suspicion units per time unit).

    dx/dt = k*y + g_p - a*x. Threat and hostility: k*y split by the signal's part of
    the input to y (g + h), plus (threat) its part of g_p. Cooperation: minus its
    part of a - a0, times x (the damping it provides now); a refusal adds what it drew
    from that damping. Positive pushes suspicion up, negative holds it down; the
    shares and -a0*x add up to the drift.
    """

    ref: str
    rule: str
    kind: str
    contribution: float

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "ref": self.ref,
            "rule": self.rule,
            "kind": self.kind,
            "contribution": self.contribution,
        }


@dataclass(frozen=True, slots=True)
class PartySuspicion:
    """What the node reports about one party at time `at` (GET /suspicion/{party})."""

    party: str
    at: int  # ms
    level: float  # 1 - exp(-x), in [0, 1)
    trend: float  # d(level)/dt per time unit
    escalation_index: float  # largest eigenvalue real part of the mutual system, per time unit
    regime: Regime
    restraint: float  # a, per time unit
    threat: float  # g + g_p: the threat inputs (to y and to x), per time unit
    hostility: float  # y: P's hostility as this node sees it act
    x: float  # raw suspicion state (unbounded, >= 0)
    drivers: tuple[Driver, ...]
    # (t ms, level), oldest first: a SuspicionHistory from the estimator (a read-only view
    # of its arrays, trustnet.feedback.history), equal to the tuple of its points and hashed
    # as it, but a Sequence, not a tuple: `tuple(r.history)` for a tuple, `to_json()` for JSON
    history: Sequence[tuple[int, float]]
    grievance: float = 0.0  # g_p: the standing part of `threat`, per time unit
    reactivity: float = 0.0  # k in force: k0 + reactivity_gain * T, per time unit

    def to_json(self, *, history: bool = True) -> dict[str, object]:
        """JSON-ready dict (`history=False`: without the history, as GET /suspicion's rows)."""
        out: dict[str, object] = {
            "party": self.party,
            "at": self.at,
            "level": self.level,
            "trend": self.trend,
            "escalation_index": self.escalation_index,
            "regime": self.regime,
            "restraint": self.restraint,
            "threat": self.threat,
            "hostility": self.hostility,
            "x": self.x,
            "drivers": [d.to_json() for d in self.drivers],
            "history": [[t, lv] for t, lv in self.history] if history else None,
            "grievance": self.grievance,
            "reactivity": self.reactivity,
        }
        if not history:
            del out["history"]
        return out
