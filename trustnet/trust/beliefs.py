"""Beliefs from the local node's perspective: source reliability and compliance (DESIGN 7, 9).

Pipeline (pure, deterministic; no I/O, no clock: `now_ms` is a parameter):

1. Statements are indexed once (`BeliefEngine.add`). Those the CSBM rules read
   are partitioned by the party they concern (its notifications, exchanges,
   replies and responses; others' observations of it, requests to it, reports on
   it). Every rule of `trustnet.statements.rules` only ever combines statements
   of one such partition, so evaluating each partition separately gives exactly
   `evaluate()` over everything, and a new entry re-evaluates one partition.
   A partition's evidence is cached until it changes or `now_ms` crosses one of
   its answer deadlines (the only use the rules make of the time).
2. Reliability (personalized EigenTrust, rooted at this node and its anchors):
   - local trust: `trust` statements (level/1000 x `trust_weight`, positive
     only, latest per (author, subject) wins, self edges dropped) plus track
     record edges verifier -> source: A's attestations of B's entries, and an
     accepted inspection's report against B's observation of the same activity
     (confirmed when every count is within `tolerance` or both meet the same
     Vienna thresholds; refuted otherwise) and against the host's notification
     (the rules' verified `undercounted_notification` refutes it,
     `inspection_consistent` confirms it). The edge weight is
     `track_weight x max(0, b - d)` of the pair's `from_evidence(confirmed, refuted)`.
     Confirmations raise reliability only through EigenTrust, so a sybil region
     cannot confirm itself into reliability: its total stays bounded by what
     flows in through its attack edges.
   - the share t_j becomes a belief *linear* in t_j: b_j = trust_belief x
     min(1, ratio_j), ratio_j = t_j / ((1 - a) t_r / d_r), with r the
     most-trusted root and d_r its out-degree: a party r trusts as much as its
     other direct trustees has ratio ~1 however many parties r trusts. Linear, so
     splitting a fixed share among more sybils never raises their total.
   - refutations by reliable verifiers (reliability >= `reliable`, from a first
     EigenTrust pass over `trust` statements alone) weighted by that
     reliability, become disbelief: reliability = cumulative_fuse((b_j, 0, 1 - b_j),
     from_evidence(0, refuted_j)). Base rate 0: a source nobody reaches has
     reliability exactly 0, so unknown keys move nothing.
   - the node itself has reliability 1 (dogmatic) in its own view; an
     equivocating author (fork proof) has exactly 0, its edges, attestations and
     track record are dropped, and evidence resting only on it is skipped.
3. Compliance per party. The rules' evidence is grouped into facts by
   (party, rule, entries[0]): an activity observed, then inspected, is one fact.
   A fact's credibility is a base-rate-0 opinion:
   - no sources (the party's own signatures alone prove it): 1;
   - resting on the party's own signed answer to another's request
     (`consultation_answered`, `inspection_accepted`, and verifiable
     `consultation_unanswered` / `inspection_refused`): min(1, p_best / reliable),
     p_best the best requester's reliability — so the party cannot earn
     cooperation (or be framed) by answering keys nobody relies on;
   - otherwise cumulative fusion of (p_s, 0, 1 - p_s) over its supporters (its
     sources and the attesters who confirm one of its entries) and (0, p_r, 1 - p_r)
     over attesters who refute one.
   The fact's own opinion is from_evidence(|w| x `evidence_scale`) on the side
   of its sign, discounted (Jøsang 2016 §14.3) by the credibility, and the
   party's compliance is the cumulative fusion of its facts (base rate `base_rate`).
   - raw view: every fact, all its supporters;
   - verified view: facts that rest on an inspection the host accepted (the
     rules' `verifiable` flag), on the party's own signature, or that a quorum of
     independent reliable attesters confirm (distinct, not forked, reliability >=
     `reliable`, neither the party nor the author of the entry they attest);
     credibility from the verified basis only, so an unverified observation of
     the same activity cannot move it.
   - an equivocating party's compliance is fully negative (dogmatic d = 1).

Cost (DESIGN 11): a party's facts are prepared once per change of what they read (their
evidence, the attestations of their entries, forks, names) and compiled into numpy arrays;
a snapshot then computes every credibility of a view at once from a vector of the rounded
reliabilities, fuses the view from those arrays, and makes its `Contribution` records only
when `View.evidence` is read (`View.facts()` gives the credibilities without them). The
track record's parts that do not depend on reliabilities are cached the same way.
"""

from __future__ import annotations

import bisect
import gc
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trustnet.errors import ConfigError, EntryError, NotFound
from trustnet.log import Entry, ForkProof
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    AnnualExchange,
    Attestation,
    ConsultationReply,
    ConsultationRequest,
    InspectionReport,
    InspectionRequest,
    InspectionResponse,
    Notification,
    Observation,
    Profile,
    Trust,
    parse_body,
)
from trustnet.statements.rules import DEFAULT_WEIGHTS, RuleWeights, evaluate
from trustnet.trust.eigentrust import eigentrust
from trustnet.trust.opinion import PRIOR_WEIGHT, Opinion, cumulative_fuse, discount

__all__ = [
    "BeliefEngine",
    "Beliefs",
    "Contribution",
    "PartyBelief",
    "Reliability",
    "TrustParams",
    "View",
    "compute_beliefs",
    "credibility",
    "credibility_p",
    "observation_confirmed",
]


# -- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustParams:
    """The `[trust]` table of node.toml: how reliability and compliance are computed."""

    a: float = 0.5  # EigenTrust restart probability (weight of the roots)
    quorum: int = 2  # independent reliable attesters that verify a claim
    reliable: float = 0.25  # reliability (p) from which a party counts as a reliable attester
    trust_weight: float = 1.0  # local trust per `trust` statement at level 1000
    track_weight: float = 0.5  # local trust per fully confirmed track record
    trust_belief: float = 0.8  # reliability belief of a party trusted like a direct trustee
    evidence_scale: float = 1.0  # evidence units per unit of rule weight (W = 2)
    base_rate: float = 0.5  # compliance prior (no evidence)
    tolerance: float = 0.3  # relative count difference at which an observation is confirmed
    match_days: int = 7  # days around an inspection in which an observation is of the same activity

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrustParams:
        """Defaults overridden by `values` (the `[trust]` table); ConfigError on bad input."""
        known = {f.name: f for f in fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"trust.{key}: unknown setting (known: {', '.join(sorted(known))})")
            if key in ("quorum", "match_days"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"trust.{key}: expected a non-negative integer, got {value!r}")
                clean[key] = value
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"trust.{key}: expected a number, got {value!r}")
            clean[key] = float(value)
        params = replace(cls(), **clean)
        params.check()
        return params

    def check(self) -> None:
        """Raise ConfigError when a value is out of range."""
        unit = ("reliable", "trust_belief", "base_rate", "tolerance")
        for name in unit:
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ConfigError(f"trust.{name}: expected a number in [0, 1], got {v!r}")
        if not (0.0 < self.a <= 1.0):
            raise ConfigError(f"trust.a: expected a number in (0, 1], got {self.a!r}")
        for name in ("trust_weight", "track_weight", "evidence_scale"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ConfigError(f"trust.{name}: expected a finite number >= 0, got {v!r}")
        if self.quorum < 1:
            raise ConfigError(f"trust.quorum: expected an integer >= 1, got {self.quorum!r}")


# -- result records ----------------------------------------------------------------------------


def _op_json(o: Opinion) -> dict[str, float]:
    return {"b": o.b, "d": o.d, "u": o.u, "a": o.a, "p": o.p}


@dataclass(frozen=True, slots=True)
class Reliability:
    """How far the local node relies on a party as a source."""

    party: str
    name: str | None
    opinion: Opinion  # base rate 0: p = b
    share: float  # personalized EigenTrust share t_j (sums to 1 over parties)
    ratio: float  # t_j relative to an average direct trustee of the most-trusted root
    confirmed: float  # track record: claims confirmed (weighted), all verifiers
    refuted: float  # claims refuted by reliable verifiers, weighted by their reliability
    root: bool  # the node itself or a configured anchor
    forked: bool

    @property
    def p(self) -> float:
        """The reliability as a probability."""
        return self.opinion.p

    def explain(self) -> str:
        """One readable sentence."""
        who = self.name or self.party[:12]
        if self.forked:
            return f"{who}: reliability 0 (equivocated: signed two entries with one seq)"
        if self.root and self.opinion.is_dogmatic:
            return f"{who}: reliability 1 (this node)"
        parts = [f"EigenTrust share {self.share:.3g} ({self.ratio:.2f} of a direct trustee)"]
        if self.confirmed or self.refuted:
            parts.append(f"{self.confirmed:g} claims confirmed, {self.refuted:.2f} refuted")
        return f"{who}: reliability {self.p:.2f} ({'; '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "party": self.party,
            "name": self.name,
            "opinion": _op_json(self.opinion),
            "p": self.p,
            "share": self.share,
            "ratio": self.ratio,
            "confirmed": self.confirmed,
            "refuted": self.refuted,
            "root": self.root,
            "forked": self.forked,
            "explanation": self.explain(),
        }


@dataclass(frozen=True, slots=True)
class Contribution:
    """One fact about a party and what it did to one view of the party's compliance."""

    rule: str
    weight: float
    at: int
    entries: tuple[str, ...]
    sources: tuple[str, ...]
    attesters: tuple[str, ...]  # confirming attesters (any reliability)
    refuters: tuple[str, ...]
    note: str
    verifiable: bool  # the rules' flag: an accepted inspection or the party's own signature
    verified: bool  # counted in the verified view
    basis: str  # readable: why it counts as much as it does
    credibility: float  # in [0, 1]: how far the evidence is believed
    opinion: Opinion  # the discounted opinion fused into the view

    @property
    def effect(self) -> float:
        """Signed evidence amount: credibility x scale x weight (for ranking)."""
        return self.opinion.b - self.opinion.d

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "rule": self.rule,
            "weight": self.weight,
            "at": self.at,
            "entries": list(self.entries),
            "sources": list(self.sources),
            "attesters": list(self.attesters),
            "refuters": list(self.refuters),
            "note": self.note,
            "verifiable": self.verifiable,
            "verified": self.verified,
            "basis": self.basis,
            "credibility": self.credibility,
            "contribution": _op_json(self.opinion),
        }


class View:
    """A compliance opinion and the facts it is fused from (read-only).

    The engine makes a view's contributions only when `evidence` is first read: a snapshot
    recomputes tens of thousands of credibilities, and most readers want the opinion alone.
    """

    __slots__ = ("_evidence", "_lazy", "opinion")

    def __init__(
        self,
        opinion: Opinion,
        evidence: tuple[Contribution, ...] = (),
        *,
        lazy: _Lazy | None = None,
    ) -> None:
        self.opinion = opinion
        self._evidence: tuple[Contribution, ...] | None = None if lazy is not None else evidence
        self._lazy = lazy

    @property
    def evidence(self) -> tuple[Contribution, ...]:
        """The contributions fused into the opinion, in (at, rule, entries) order."""
        if self._evidence is None:
            assert self._lazy is not None
            self._evidence = self._lazy.all()
        return self._evidence

    def facts(self) -> list[tuple[str, str | None, float, bool]]:
        """(rule, first entry or None, credibility, verified) per contribution, without making
        the contributions."""
        if self._evidence is None and self._lazy is not None:
            return self._lazy.facts()
        return [
            (c.rule, c.entries[0] if c.entries else None, c.credibility, c.verified)
            for c in self.evidence
        ]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, View):
            return NotImplemented
        return self.opinion == other.opinion and self.evidence == other.evidence

    def __hash__(self) -> int:
        return hash(self.opinion)

    def __repr__(self) -> str:
        return f"View(opinion={self.opinion!r}, evidence=<{len(self.evidence)} contributions>)"

    @property
    def score(self) -> float:
        """The compliance score: the projected probability of the opinion."""
        return self.opinion.p

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "opinion": _op_json(self.opinion),
            "score": self.score,
            "evidence": [c.to_json() for c in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class PartyBelief:
    """What the local node believes about one party: as a source and as a complier."""

    party: str
    name: str | None
    reliability: Reliability
    verified: View
    raw: View
    forked: bool
    explanation: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "party": self.party,
            "name": self.name,
            "forked": self.forked,
            "reliability": self.reliability.to_json(),
            "verified": self.verified.to_json(),
            "raw": self.raw.to_json(),
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Beliefs:
    """Every party's belief, from `self_id`'s perspective, as of `now_ms`."""

    self_id: str
    now_ms: int
    anchors: tuple[str, ...]
    params: TrustParams
    parties: Mapping[str, PartyBelief] = field(default_factory=dict)

    def party(self, party_id: str) -> PartyBelief:
        """The belief about `party_id`; NotFound when nothing is known of it."""
        try:
            return self.parties[party_id]
        except KeyError:
            raise NotFound(f"no beliefs about party {party_id[:64]!r}") from None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (parties in id order)."""
        return {
            "node": self.self_id,
            "now": self.now_ms,
            "anchors": list(self.anchors),
            "params": {f.name: getattr(self.params, f.name) for f in fields(self.params)},
            "parties": [self.parties[p].to_json() for p in sorted(self.parties)],
        }


# -- helpers (pure) ------------------------------------------------------------------------------

_FIELDS = ("troops", "tanks", "acv", "artillery")
RELIABILITY_DIGITS = 4  # reliabilities weigh evidence at a resolution of 1e-4
# Facts that rest on the party's own signed answer to someone else's request.
_ANSWER_RULES = frozenset(
    {"consultation_answered", "inspection_accepted", "consultation_unanswered", "inspection_refused"}
)
_CERTAIN = Opinion(1.0, 0.0, 0.0, 0.0)
_ZERO = Opinion(0.0, 0.0, 1.0, 0.0)
_DISTRUST = Opinion(0.0, 1.0, 0.0, 0.0)


def _norm_area(area: str) -> str:
    return " ".join(area.split()).casefold()


def _thresholds_met(c: Observation | InspectionReport, fig: ViennaFigures) -> tuple[bool, ...]:
    return (
        c.troops >= fig.notify_troops,
        c.tanks >= fig.notify_tanks,
        c.acv >= fig.notify_acv,
        c.artillery >= fig.notify_artillery,
        c.troops >= fig.observe_troops,
        c.tanks >= fig.observe_tanks,
    )


def observation_confirmed(
    obs: Observation, report: InspectionReport, fig: ViennaFigures, tolerance: float
) -> bool:
    """An observation agrees with an inspection: counts within tolerance, or same thresholds met."""
    close = all(
        abs(getattr(obs, f) - getattr(report, f))
        <= tolerance * max(getattr(obs, f), getattr(report, f))
        for f in _FIELDS
    )
    return close or _thresholds_met(obs, fig) == _thresholds_met(report, fig)


def source_opinion(p: float, *, refutes: bool = False) -> Opinion:
    """What a source of reliability p says for (or against) a claim: base rate 0."""
    if p >= 1.0:
        return _DISTRUST if refutes else _CERTAIN
    p = max(p, 0.0)
    return Opinion(0.0, p, 1.0 - p, 0.0) if refutes else Opinion(p, 0.0, 1.0 - p, 0.0)


def credibility(supporters: Iterable[float], refuters: Iterable[float] = ()) -> Opinion:
    """Cumulative fusion of supporters' and refuters' reliabilities (vacuous, base rate 0, if none)."""
    ops = [source_opinion(p) for p in supporters if p > 0.0]
    ops += [source_opinion(p, refutes=True) for p in refuters if p > 0.0]
    return cumulative_fuse(*ops) if ops else _ZERO


def credibility_p(supporters: Iterable[float], refuters: Iterable[float] = ()) -> float:
    """`credibility(...).p` in closed form: fusion of W = 2 opinions adds their evidence."""
    # Jøsang 2016 §12.3: cumulative fusion sums evidence r_i = 2 b_i / u_i; with dogmatic
    # inputs (p = 1) the result is their mean (opinion.py's limit form).
    sup = [p for p in supporters if p > 0.0]
    ref = [p for p in refuters if p > 0.0]
    dog_s = sum(1 for p in sup if p >= 1.0)
    dog_r = sum(1 for p in ref if p >= 1.0)
    if dog_s or dog_r:
        return dog_s / (dog_s + dog_r)
    r = math.fsum(2.0 * p / (1.0 - p) for p in sup)
    s = math.fsum(2.0 * p / (1.0 - p) for p in ref)
    return r / (r + s + 2.0) if r > 0.0 else 0.0


def fact_opinion(weight: float, scale: float, base_rate: float) -> Opinion:
    """The opinion one fact of rule weight w stands for: |w| x scale on the side of its sign."""
    amount = abs(weight) * scale
    if weight >= 0:
        return Opinion.from_evidence(amount, 0.0, base_rate)
    return Opinion.from_evidence(0.0, amount, base_rate)


def share_belief(share: float, reference: float, trust_belief: float) -> Opinion:
    """Reliability opinion from an EigenTrust share, linear in it (base rate 0)."""
    if reference <= 0.0 or share <= 0.0:
        return _ZERO
    b = trust_belief * min(1.0, share / reference)
    return Opinion(b, 0.0, 1.0 - b, 0.0)


# -- indexed statements --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Att:
    author: str
    verdict: str
    confidence: float
    id: str


@dataclass(frozen=True, slots=True)
class _Event:
    """Track record from an accepted inspection: `verifier`'s report vs `source`'s claim."""

    verifier: str
    source: str
    confirmed: bool
    weight: float
    report: str  # report entry id (its attesters add to its credibility)


@dataclass(slots=True)
class _Partition:
    """Statements the rules read about one party, and their cached evaluation."""

    # Entries with their parsed bodies (parsed once, at `add`; the rules reuse them).
    entries: list[tuple[Entry, object]] = field(default_factory=list)
    deadlines: list[int] = field(default_factory=list)
    version: int = 0  # bumped by a new entry, or an attestation of one of its entries
    evals: int = 0  # evaluations so far (`cache` replaced)
    cache: tuple[int, list[Evidence], list[_Event]] | None = None  # (deadlines passed, ...)
    relevant: tuple[tuple[int, int], tuple[str, ...]] | None = None  # parties its views read
    views: tuple[tuple[Any, ...], View, View] | None = None  # (key, raw, verified)
    # The facts' parts that do not depend on reliabilities: (key, specs), see `_prepare`.
    prep: tuple[tuple[Any, ...], _Compiled] | None = None
    track: tuple[tuple[int, int, int], _PartTrack] | None = None  # see `_part_track`
    # Each fact's spec with what it was made from: (rule, first entry) -> (stamp, spec).
    specs: dict[tuple[str, str], tuple[tuple[Any, ...], _FactSpec | None]] = field(
        default_factory=dict
    )


@dataclass(slots=True)
class _Fact:
    party: str
    rule: str
    items: list[Evidence]


@dataclass(slots=True)
class _Build:
    """One contribution of a fact to one view, all but what the reliabilities decide."""

    rule: str
    weight: float
    at: int
    entries: tuple[str, ...]
    srcs: tuple[str, ...]
    conf: tuple[str, ...]
    refs: tuple[str, ...]
    note: str
    verifiable: bool
    verified: bool
    mode: int  # _OWN, _ANSWER or _FUSE: how the credibility is found
    basis: str  # the basis text without its "(credibility x)"
    base: Opinion  # the fact's own opinion, before discounting


@dataclass(slots=True)
class _FactSpec:
    """A fact's raw build, verified build, and who can verify it by quorum (None: not needed)."""

    order: tuple[int, str, tuple[str, ...]]
    raw: _Build
    ver: _Build | None
    quorum: tuple[str, ...] | None


_OWN, _ANSWER, _FUSE = 0, 1, 2


@dataclass(slots=True)
class _PartTrack:
    """One partition's inspection events, as `_Track` reads them."""

    pairs: dict[tuple[str, str], tuple[float, float]]  # (verifier, source) -> (conf., ref.)
    confirmed: dict[str, float]
    ev_source: list[str]
    ev_weight: list[float]
    ev_seg: NDArray[np.intp]
    ev_idx: NDArray[np.intp]


@dataclass(slots=True)
class _Track:
    """The track record's parts that reliabilities do not change (see `snapshot`)."""

    pair_refs: list[tuple[str, str, float]]  # (verifier, source, refuted) from attestations
    ev_source: list[str]  # per refuting inspection event, in order: its source,
    ev_weight: list[float]  # its weight,
    ev_seg: NDArray[np.intp]  # and its support (the verifier and the report's confirmers)
    ev_idx: NDArray[np.intp]  # as party numbers, event by event
    confirmed: dict[str, float]
    edges: list[tuple[tuple[str, str], float]]  # track-record local trust, in pair order


class _Group:
    """The builds of one view of one party, as arrays: every credibility at once (numpy).

    Builds are in view order ((at, rule, entries), as `_view` sorted contributions). Party
    references are the engine's stable party numbers, gathered from a reliability vector.
    """

    __slots__ = (
        "ans_idx",
        "ans_seg",
        "base_b",
        "base_d",
        "base_u",
        "builds",
        "keys",
        "mode",
        "need_q",
        "q_idx",
        "q_seg",
        "ref_idx",
        "ref_seg",
        "sup_idx",
        "sup_seg",
        "weight",
    )

    def __init__(
        self,
        builds: list[_Build],
        quorums: list[tuple[str, ...] | None],
        num: Callable[[str], int],
    ) -> None:
        self.builds = builds
        self.keys = [(b.rule, b.entries[:1]) for b in builds]
        self.mode = np.array([b.mode for b in builds], dtype=np.int8)
        self.weight = np.array([b.weight for b in builds], dtype=np.float64)
        self.base_b = np.array([b.base.b for b in builds], dtype=np.float64)
        self.base_d = np.array([b.base.d for b in builds], dtype=np.float64)
        self.base_u = np.array([b.base.u for b in builds], dtype=np.float64)
        sup: list[tuple[int, int]] = []
        ref: list[tuple[int, int]] = []
        ans: list[tuple[int, int]] = []
        quo: list[tuple[int, int]] = []
        for i, b in enumerate(builds):
            if b.mode == _ANSWER:
                ans.extend((i, num(x)) for x in b.srcs)
            elif b.mode == _FUSE:
                # credibility_p(srcs + conf, refs): the same order, so the same sums.
                sup.extend((i, num(x)) for x in (*b.srcs, *b.conf))
                ref.extend((i, num(x)) for x in b.refs)
            q = quorums[i]
            if q is not None:
                quo.extend((i, num(x)) for x in q)
        self.sup_seg, self.sup_idx = _pairs_arrays(sup)
        self.ref_seg, self.ref_idx = _pairs_arrays(ref)
        self.ans_seg, self.ans_idx = _pairs_arrays(ans)
        self.q_seg, self.q_idx = _pairs_arrays(quo)
        self.need_q = np.array([q is not None for q in quorums], dtype=bool)

    def credibility(self, rp: NDArray[np.float64], reliable: float) -> NDArray[np.float64]:
        """Each build's credibility under reliabilities `rp` (`_build`, for all at once)."""
        n = len(self.builds)
        # _FUSE: credibility_p(supporters, refuters).
        r, dog_s = _fuse_terms(self.sup_seg, rp[self.sup_idx], n)
        s, dog_r = _fuse_terms(self.ref_seg, rp[self.ref_idx], n)
        dogs = dog_s + dog_r
        with np.errstate(divide="ignore", invalid="ignore"):
            fuse = np.where(
                dogs > 0,
                dog_s / np.maximum(dogs, 1),
                np.where(r > 0.0, r / (r + s + 2.0), 0.0),
            )
        # _ANSWER: the best requester's reliability, relative to `reliable`.
        best = np.zeros(n)
        if len(self.ans_seg):
            np.maximum.at(best, self.ans_seg, rp[self.ans_idx])
        ans = np.minimum(1.0, best / reliable) if reliable > 0 else np.ones(n)
        ans = np.where(best > 0.0, ans, 0.0)
        out: NDArray[np.float64] = np.where(
            self.mode == _OWN, 1.0, np.where(self.mode == _ANSWER, ans, fuse)
        )
        return out

    def quorum_met(self, rp: NDArray[np.float64], reliable: float, quorum: int) -> NDArray[np.bool_]:
        """Builds that need no quorum, or whose quorum of reliable attesters is met."""
        n = len(self.builds)
        ok = rp[self.q_idx] >= reliable
        count = np.bincount(self.q_seg[ok], minlength=n)
        met: NDArray[np.bool_] = ~self.need_q | (count >= quorum)
        return met


def _pairs_arrays(pairs: list[tuple[int, int]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    if not pairs:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    arr = np.array(pairs, dtype=np.intp)
    return arr[:, 0].copy(), arr[:, 1].copy()


def _fuse_terms(
    seg: NDArray[np.intp], p: NDArray[np.float64], n: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per build: the evidence sum of 2p / (1 - p) over 0 < p < 1, and the count of p >= 1."""
    dog = p >= 1.0
    live = (p > 0.0) & ~dog
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(live, 2.0 * p / (1.0 - p), 0.0)
    total = np.asarray(np.bincount(seg, weights=terms, minlength=n), dtype=np.float64)
    dogs: NDArray[np.int64] = np.bincount(seg[dog], minlength=n)
    return total, dogs


class _Lazy:
    """One view's contributions under given credibilities: made only when read."""

    __slots__ = ("b", "cred", "d", "group", "pos", "u")

    def __init__(
        self,
        group: _Group,
        pos: NDArray[np.intp],
        cred: NDArray[np.float64],
        b: NDArray[np.float64],
        d: NDArray[np.float64],
        u: NDArray[np.float64],
    ) -> None:
        self.group = group
        self.pos = pos  # the builds that contribute, in view order
        self.cred, self.b, self.d, self.u = cred, b, d, u  # of those builds

    def __len__(self) -> int:
        return len(self.pos)

    def make(self, k: int) -> Contribution:
        """The k-th contribution (as `_build` made it)."""
        bd = self.group.builds[int(self.pos[k])]
        cred = float(self.cred[k])
        opinion = bd.base if cred >= 1.0 else discount(Opinion.dogmatic(cred, 0.0), bd.base)
        return Contribution(
            bd.rule,
            bd.weight,
            bd.at,
            bd.entries,
            bd.srcs,
            bd.conf,
            bd.refs,
            bd.note,
            bd.verifiable,
            bd.verified,
            f"{bd.basis} (credibility {cred:.2f})",
            cred,
            opinion,
        )

    def all(self) -> tuple[Contribution, ...]:
        return tuple(self.make(k) for k in range(len(self.pos)))

    def facts(self) -> list[tuple[str, str | None, float, bool]]:
        builds = self.group.builds
        out: list[tuple[str, str | None, float, bool]] = []
        for i, cred in zip(self.pos.tolist(), self.cred.tolist(), strict=True):
            bd = builds[i]
            out.append((bd.rule, bd.entries[0] if bd.entries else None, cred, bd.verified))
        return out


@dataclass(slots=True)
class _Compiled:
    """A partition's fact specs as the raw and the verified view's groups."""

    raw: _Group
    ver: _Group


def _compile(specs: list[_FactSpec], num: Callable[[str], int]) -> _Compiled:
    raw = _Group([sp.raw for sp in specs], [None] * len(specs), num)
    vers = [(sp.ver, sp.quorum) for sp in specs if sp.ver is not None]
    # Stable, as sorting the contributions was: filtering after sorting keeps the same order.
    vers.sort(key=lambda x: (x[0].at, x[0].rule, x[0].entries))
    ver = _Group([b for b, _q in vers], [q for _b, q in vers], num)
    return _Compiled(raw, ver)


def _pick_latest(old: tuple[int, str, Any] | None, new: tuple[int, str, Any]) -> bool:
    return old is None or (new[0], new[1]) > (old[0], old[1])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one call of the engine.

    Indexing and a snapshot allocate ~10^5 short-lived, acyclic records (freed by reference
    counting); each allocation burst triggers collections whose oldest generation walks every
    statement the engine holds: measured at 100,000 statements, half of a snapshot's time.
    Nothing the engine makes needs the cyclic collector, which runs again right after.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- the engine ----------------------------------------------------------------------------------

# The key of the fork proofs' evidence in `BeliefEngine.evidence_by_party` (not a party id).
FORK_EVIDENCE = "~forks"



class BeliefEngine:
    """Incremental beliefs: `add` statements and fork proofs, `snapshot(now_ms)` to read."""

    def __init__(
        self,
        self_id: str,
        anchors: Iterable[str] = (),
        params: TrustParams = TrustParams(),
        *,
        figures: ViennaFigures = DEFAULT_FIGURES,
        weights: RuleWeights = DEFAULT_WEIGHTS,
    ) -> None:
        params.check()
        self.self_id = self_id
        self.anchors = tuple(sorted(set(anchors) - {self_id}))
        self.params = params
        self.figures = figures
        self.weights = weights
        self._at: dict[tuple[bytes, int], Entry] = {}
        self._author_of: dict[str, str] = {}  # entry id -> author
        self._forks: dict[str, ForkProof] = {}
        self._parts: dict[str, _Partition] = defaultdict(_Partition)
        self._trust: dict[tuple[str, str], tuple[int, str, int]] = {}
        self._names: dict[str, tuple[int, str, str]] = {}
        self._parties: set[str] = {self_id, *self.anchors}
        self._entry_part: dict[str, str] = {}  # entry id -> the partition holding it
        self._names_version = 0
        self._drivers: dict[str, tuple[View, str]] = {}
        self._pnum: dict[str, int] = {}  # party -> its number in reliability vectors
        self._pnames: list[str] = []
        # (report, verifier, source) -> ((attestations, forks), support): see `_support`.
        self._supports: dict[tuple[str, str, str], tuple[tuple[int, int], tuple[str, ...]]] = {}
        # Bumped by whatever the track record reads: attestations, partitions re-evaluated.
        self._track_version = 0
        self._pairs_version = 0  # bumped with `_pairs`
        self._pairs_cache: (
            tuple[
                tuple[int, int],
                dict[tuple[str, str], tuple[float, float]],
                dict[str, float],
                list[tuple[str, str, float]],
            ]
            | None
        ) = None
        self._track_cache: tuple[tuple[int, int], _Track] | None = None
        self._atts: dict[str, list[_Att]] = defaultdict(list)  # subject entry id -> attestations
        self._pending: dict[str, list[_Att]] = defaultdict(list)  # subject not yet held
        # (verifier, source) -> [confirmed, refuted] from attestations (unweighted).
        self._pairs: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])

    # -- input ---------------------------------------------------------------------------------

    def add(self, entries: Iterable[Entry]) -> int:
        """Index entries (duplicates ignored; a second entry at a held seq is a fork). New count."""
        with _gc_paused():
            return self._add_all(entries)

    def _add_all(self, entries: Iterable[Entry]) -> int:
        added = 0
        for e in entries:
            pos = (e.author, e.seq)
            held = self._at.get(pos)
            if held is not None:
                if held.id != e.id:
                    self._add_fork(ForkProof.of(held, e))
                continue
            self._at[pos] = e
            added += 1
            self._index(e)
        return added

    def add_forks(self, proofs: Iterable[ForkProof]) -> int:
        """Record equivocations (fork proofs, already verified). Returns how many authors are new."""
        return sum(self._add_fork(p) for p in proofs)

    def _add_fork(self, proof: ForkProof) -> bool:
        author = proof.author.hex()
        self._parties.add(author)
        if author in self._forks:
            return False
        self._forks[author] = proof
        return True

    def _index(self, e: Entry) -> None:
        author = e.author_hex
        eid = e.id_hex
        self._author_of[eid] = author
        self._parties.add(author)
        for att in self._pending.pop(eid, ()):
            self._count_attestation(att, author)
        try:
            body = parse_body(e.kind, e.body)
        except EntryError:
            return  # DESIGN 4: a body that fails validation is not a statement
        fig = self.figures
        party: str | None = None
        deadline: int | None = None
        if isinstance(body, Notification | AnnualExchange | ConsultationReply | InspectionResponse):
            party = author
        elif isinstance(body, Observation):
            party = body.subject if body.subject != author else None
        elif isinstance(body, ConsultationRequest):
            party = body.subject if body.subject != author else None
            deadline = e.ts + fig.consultation_answer_hours * HOUR_MS
        elif isinstance(body, InspectionRequest):
            party = body.host if body.host != author else None
            deadline = e.ts + fig.inspection_answer_hours * HOUR_MS
        elif isinstance(body, InspectionReport):
            party = body.host if body.host != author else None
        elif isinstance(body, Trust):
            self._parties.add(body.subject)
            key = (author, body.subject)
            new = (e.ts, eid, body.level)
            if _pick_latest(self._trust.get(key), new):
                self._trust[key] = new
        elif isinstance(body, Attestation):
            self._track_version += 1
            att = _Att(author, body.verdict, body.confidence / 1000.0, eid)
            self._atts[body.subject].append(att)
            owner = self._entry_part.get(body.subject)
            if owner is not None:
                self._parts[owner].version += 1
            subject_author = self._author_of.get(body.subject)
            if subject_author is None:
                self._pending[body.subject].append(att)
            else:
                self._count_attestation(att, subject_author)
        elif isinstance(body, Profile):
            new_name = (e.ts, eid, body.name)
            if _pick_latest(self._names.get(author), new_name):
                self._names[author] = new_name
                self._names_version += 1
        if party is not None:
            self._parties.add(party)
            part = self._parts[party]
            part.entries.append((e, body))
            part.version += 1
            part.cache = None
            self._entry_part[eid] = party
            if deadline is not None:
                bisect.insort(part.deadlines, deadline)

    def _count_attestation(self, att: _Att, subject_author: str) -> None:
        if att.author == subject_author:
            return  # attesting one's own statement is not a track record
        self._track_version += 1
        self._pairs_version += 1
        pair = self._pairs[(att.author, subject_author)]
        if att.verdict == "confirm":
            pair[0] += att.confidence
        elif att.verdict == "refute":
            pair[1] += att.confidence
        elif att.verdict == "partial":
            pair[0] += att.confidence / 2
            pair[1] += att.confidence / 2

    # -- evaluation ----------------------------------------------------------------------------

    def _partition(self, party: str, now_ms: int) -> tuple[list[Evidence], list[_Event]]:
        part = self._parts[party]
        passed = bisect.bisect_left(part.deadlines, now_ms)  # rules: now_ms > deadline
        if part.cache is not None and part.cache[0] == passed:
            return part.cache[1], part.cache[2]
        evidence = evaluate(
            (), now_ms, figures=self.figures, weights=self.weights, parsed=part.entries
        )
        events = self._inspection_events(party, part.entries, evidence)
        part.cache = (passed, evidence, events)
        part.evals += 1
        self._track_version += 1
        return evidence, events

    def _inspection_events(
        self, host: str, entries: list[tuple[Entry, object]], evidence: list[Evidence]
    ) -> list[_Event]:
        """Track record of an accepted inspection on `host`: observations and the notification."""
        fig = self.figures
        requests: dict[str, tuple[Entry, InspectionRequest]] = {}
        responses: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
        reports: list[tuple[Entry, InspectionReport]] = []
        observations: list[tuple[Entry, Observation]] = []
        for e, body in entries:
            if isinstance(body, InspectionRequest):
                requests[e.id_hex] = (e, body)
            elif isinstance(body, InspectionResponse) and e.author_hex == host:
                responses[body.request].append((e.ts, e.id_hex, body.accept))
            elif isinstance(body, InspectionReport):
                reports.append((e, body))
            elif isinstance(body, Observation):
                observations.append((e, body))
        events: list[_Event] = []
        span = self.params.match_days * DAY_MS
        # Observations by activity name and by normalised area (positions in `observations`,
        # increasing), so a report looks up its candidates instead of scanning them all.
        by_activity: dict[str, list[int]] = defaultdict(list)
        by_area: dict[str, list[int]] = defaultdict(list)
        for i, (_o, ob) in enumerate(observations):
            if ob.activity is not None:
                by_activity[ob.activity].append(i)
            by_area[_norm_area(ob.area)].append(i)
        for r, rb in sorted(reports, key=lambda x: (x[0].ts, x[0].id_hex)):
            req = requests.get(rb.request)
            if req is None or req[0].author_hex != r.author_hex or req[1].host != host:
                continue
            answers = sorted(responses.get(rb.request, ()))
            deadline = req[0].ts + fig.inspection_answer_hours * HOUR_MS
            if not answers or not answers[0][2] or answers[0][0] > deadline:
                continue  # only an inspection the host accepted in time verifies anything
            area = _norm_area(req[1].area)
            lo, hi = min(req[0].ts, r.ts) - span, r.ts
            # Same activity when both name one; else the same area within the time span.
            named = rb.activity is not None
            found = [
                i
                for i in by_area.get(area, ())
                if lo <= observations[i][1].at <= hi
                and not (named and observations[i][1].activity is not None)
            ]
            if named:
                found.extend(by_activity.get(str(rb.activity), ()))
                found.sort()  # the order the scan over all observations met them in
            inspector = r.author_hex
            for i in found:
                o, ob = observations[i]
                if o.author_hex == inspector:
                    continue  # an inspector does not confirm its own observation
                events.append(
                    _Event(
                        r.author_hex,
                        o.author_hex,
                        observation_confirmed(ob, rb, fig, self.params.tolerance),
                        ob.confidence / 1000.0,
                        r.id_hex,
                    )
                )
        # The host's notification against the inspection: the rules compared them already.
        for ev in evidence:
            if not ev.verifiable or not ev.sources or len(ev.entries) < 2:
                continue
            if ev.rule == "undercounted_notification":
                events.append(_Event(ev.sources[0], host, False, 1.0, ev.entries[1]))
            elif ev.rule == "inspection_consistent" and self._author_of.get(ev.entries[0]) == host:
                events.append(_Event(ev.sources[0], host, True, 1.0, ev.entries[1]))
        return events

    def _eigentrust(
        self, index: dict[str, int], edges: dict[tuple[int, int], float], roots: list[int]
    ) -> tuple[NDArray[np.float64], float]:
        """EigenTrust shares and the reference share (an average direct trustee of the top root)."""
        n = len(index)
        if not roots:
            return np.zeros(n), 0.0
        if edges:
            arr = np.array([(i, j, w) for (i, j), w in sorted(edges.items())], dtype=np.float64)
            t = eigentrust(n, arr, roots, self.params.a)
        else:
            # No local trust at all: the restart vector is the fixed point.
            t = np.zeros(n)
            t[roots] = 1.0 / len(set(roots))
        top = max(roots, key=lambda r: (t[r], -r))
        degree = sum(1 for (i, _j) in edges if i == top)
        return t, (1.0 - self.params.a) * float(t[top]) / max(1, degree)

    def evidence(self, now_ms: int) -> list[Evidence]:
        """Everything the rules derive from the held statements as of `now_ms`: the same list
        `rules.evaluate` over them (and the fork proofs) gives, from the per-party caches."""
        out: list[Evidence] = []
        for party in sorted(self._parts):
            out.extend(self._partition(party, now_ms)[0])
        proofs = [self._forks[a] for a in sorted(self._forks)]
        out.extend(evaluate((), now_ms, figures=self.figures, weights=self.weights, forks=proofs))
        out.sort(key=lambda ev: (ev.at, ev.rule, ev.entries, ev.party))
        return out

    def evidence_by_party(self, now_ms: int) -> dict[str, tuple[int, list[Evidence]]]:
        """`evidence(now_ms)` per source, unsorted: partition -> (stamp, its evidence), in
        party order, then FORK_EVIDENCE -> (stamp, the fork proofs' evidence) last.

        A source's stamp changes whenever its list is recomputed (else the list is the same
        object as before): a reader compares stamps instead of the lists. Concatenated in
        this order and sorted like `evidence`, the lists give `evidence(now_ms)` exactly.
        """
        out: dict[str, tuple[int, list[Evidence]]] = {}
        for party in sorted(self._parts):
            evidence = self._partition(party, now_ms)[0]
            out[party] = (self._parts[party].evals, evidence)
        # Fork evidence does not depend on the clock and proofs are only ever added (one
        # per author): their count is the stamp.
        proofs = [self._forks[a] for a in sorted(self._forks)]
        out[FORK_EVIDENCE] = (len(proofs), evaluate(
            (), now_ms, figures=self.figures, weights=self.weights, forks=proofs))
        return out

    def snapshot(self, now_ms: int) -> Beliefs:
        """Beliefs as of `now_ms` (deterministic: same statements, same result)."""
        with _gc_paused():
            return self._snapshot(now_ms)

    def _snapshot(self, now_ms: int) -> Beliefs:
        params = self.params
        forked = set(self._forks)
        parties = sorted(self._parties)
        index = {p: i for i, p in enumerate(parties)}
        roots = [index[p] for p in (self.self_id, *self.anchors) if p not in forked]

        # Rule evidence and inspection track record, partition by partition (cached; the
        # evidence is read back from the partitions by `_views`).
        for party in sorted(self._parts):
            self._partition(party, now_ms)

        # Pass 1: explicit trust only; it says whose verifications count.
        trust_edges: dict[tuple[int, int], float] = {}
        for (a, s), (_ts, _id, level) in self._trust.items():
            if level > 0 and a != s and a not in forked and s not in forked:
                trust_edges[(index[a], index[s])] = params.trust_weight * level / 1000.0
        t1, ref1 = self._eigentrust(index, trust_edges, roots)
        p1 = {p: self._rel_p(p, float(t1[index[p]]), ref1, 0.0, forked) for p in parties}

        # Track record: confirmations by verifier -> local trust; refutations by reliable
        # verifiers -> disbelief, weighted by the verifier's (or the report's) credibility.
        # What p1 does not change is kept until a statement or a fork changes it (`_track`).
        track = self._track(forked)
        refuted: dict[str, float] = defaultdict(float)
        for v, s, r in track.pair_refs:
            if p1[v] >= params.reliable:
                refuted[s] += r * p1[v]
        if track.ev_source:
            for p in parties:
                self._num(p)
            p1_vec = np.zeros(len(self._pnames))  # numbers for `parties` and any support
            for p, p_1 in p1.items():
                p1_vec[self._pnum[p]] = p_1
            # credibility_p(p1 of the support) for every refuting event at once.
            n_ev = len(track.ev_source)
            r_sum, dogs = _fuse_terms(track.ev_seg, p1_vec[track.ev_idx], n_ev)
            with np.errstate(divide="ignore", invalid="ignore"):
                cred_vec = np.where(
                    dogs > 0, 1.0, np.where(r_sum > 0.0, r_sum / (r_sum + 0.0 + 2.0), 0.0)
                )
            creds = cred_vec.tolist()
            for k in np.flatnonzero(cred_vec >= params.reliable).tolist():
                refuted[track.ev_source[k]] += track.ev_weight[k] * creds[k]
        confirmed = track.confirmed
        edges = dict(trust_edges)
        for (v, s), w in track.edges:
            key = (index[v], index[s])
            edges[key] = edges.get(key, 0.0) + w

        # Pass 2: explicit trust and track record.
        t2, ref2 = self._eigentrust(index, edges, roots)
        root_set = {self.self_id, *self.anchors}
        rel: dict[str, Reliability] = {}
        for p in parties:
            share = float(t2[index[p]])
            opinion = self._rel_opinion(p, share, ref2, refuted.get(p, 0.0), forked)
            rel[p] = Reliability(
                p,
                self._name(p),
                opinion,
                share,
                share / ref2 if ref2 > 0 else 0.0,
                confirmed.get(p, 0.0),
                refuted.get(p, 0.0),
                p in root_set,
                p in forked,
            )
        # Evidence is weighed with reliabilities rounded to 1e-4 (RELIABILITY_DIGITS): a
        # trust shift far away that moves a source by less leaves the views cached.
        rp = {p: round(r.p, RELIABILITY_DIGITS) for p, r in rel.items()}
        for p in parties:
            self._num(p)
        rp_vec = np.zeros(len(self._pnames))
        for p, p_r in rp.items():
            rp_vec[self._pnum[p]] = p_r

        out: dict[str, PartyBelief] = {}
        empty = View(Opinion.vacuous(params.base_rate), ())
        for p in parties:
            if p in forked:
                out[p] = self._forked_belief(p, rel[p])
                continue
            part = self._parts.get(p)
            if part is None:
                raw_view = ver_view = empty
            else:
                raw_view, ver_view = self._views(p, part, rp, rp_vec, forked)
            out[p] = PartyBelief(
                p,
                self._name(p),
                rel[p],
                ver_view,
                raw_view,
                False,
                self._explain(p, rel[p], ver_view, raw_view),
            )
        return Beliefs(self.self_id, now_ms, self.anchors, params, out)

    def _views(
        self,
        party: str,
        part: _Partition,
        rp: Mapping[str, float],
        rp_vec: NDArray[np.float64],
        forked: set[str],
    ) -> tuple[View, View]:
        """The raw and verified views of one party, cached until what they read changes."""
        assert part.cache is not None  # evaluated by snapshot before this
        passed, evidence, _events = part.cache
        stamp = (part.version, passed)
        if part.relevant is None or part.relevant[0] != stamp:
            who = {s for ev in evidence for s in ev.sources}
            who |= {a.author for ev in evidence for i in ev.entries for a in self._atts.get(i, ())}
            part.relevant = (stamp, tuple(sorted(who)))
        key = (
            stamp,
            len(forked),
            self._names_version,
            tuple(rp.get(x, 0.0) for x in part.relevant[1]),
        )
        if part.views is not None and part.views[0] == key:
            return part.views[1], part.views[2]
        prep_key = (stamp, len(forked), self._names_version)
        if part.prep is None or part.prep[0] != prep_key:
            specs = self._prepare(party, part, evidence, forked)
            part.prep = (prep_key, _compile(specs, self._num))
        comp = part.prep[1]
        reliable = self.params.reliable
        raw_view = self._lazy_view(comp.raw, comp.raw.credibility(rp_vec, reliable), None)
        met = comp.ver.quorum_met(rp_vec, reliable, self.params.quorum)
        ver_view = self._lazy_view(comp.ver, comp.ver.credibility(rp_vec, reliable), met)
        part.views = (key, raw_view, ver_view)
        return raw_view, ver_view

    def _lazy_view(
        self, group: _Group, cred: NDArray[np.float64], met: NDArray[np.bool_] | None
    ) -> View:
        """A view fused from the group's builds of positive credibility (`_build`, `_view`)."""
        keep = cred > 0.0
        if met is not None:
            keep &= met
        pos = np.flatnonzero(keep)
        c = cred[pos]
        bb, bd, bu = group.base_b[pos], group.base_d[pos], group.base_u[pos]
        # discount(dogmatic(c), base), as opinion.py computes it; the base itself at c >= 1.
        full = c >= 1.0
        b = np.where(full, bb, np.clip(c * bb, 0.0, 1.0))
        d = np.where(full, bd, np.clip(c * bd, 0.0, 1.0))
        u = np.where(full, bu, np.clip(1.0 - c * bb - c * bd, 0.0, 1.0))
        lazy = _Lazy(group, pos, c, b, d, u)
        base_rate = self.params.base_rate
        n = len(pos)
        if n == 0:
            return View(Opinion.vacuous(base_rate), lazy=lazy)
        if n == 1:
            fused = Opinion(float(b[0]), float(d[0]), float(u[0]), base_rate)
        elif not (u > 0.0).all():
            # Dogmatic inputs: opinion.py's limit form, on the opinions themselves.
            ops = [Opinion(x, y, z, base_rate) for x, y, z in zip(b, d, u, strict=True)]
            f = cumulative_fuse(*ops)
            fused = Opinion(f.b, f.d, f.u, base_rate)
        else:
            # cumulative_fuse's multi-source form: the same products, exactly rounded sums.
            u_min = float(u.min())
            w = u_min / u
            den = math.fsum(w.tolist()) - (n - 1) * u_min
            fb = math.fsum((w * b).tolist()) / den
            fd = math.fsum((w * d).tolist()) / den
            fu = u_min / den
            fused = Opinion(
                min(max(fb, 0.0), 1.0), min(max(fd, 0.0), 1.0), min(max(fu, 0.0), 1.0), base_rate
            )
        return View(fused, lazy=lazy)

    def _num(self, party: str) -> int:
        """The engine's stable number of a party (its position in reliability vectors)."""
        n = self._pnum.get(party)
        if n is None:
            n = self._pnum[party] = len(self._pnames)
            self._pnames.append(party)
        return n

    # -- reliability -----------------------------------------------------------------------------

    def _rel_opinion(
        self, p: str, share: float, reference: float, refuted: float, forked: set[str]
    ) -> Opinion:
        if p in forked:
            return _DISTRUST  # DESIGN 7: an equivocating author is distrusted
        if p == self.self_id:
            return _CERTAIN  # the node's own statements, in its own view
        base = share_belief(share, reference, self.params.trust_belief)
        if refuted > 0.0:
            return cumulative_fuse(base, Opinion.from_evidence(0.0, refuted, 0.0))
        return base

    def _rel_p(
        self, p: str, share: float, reference: float, refuted: float, forked: set[str]
    ) -> float:
        return self._rel_opinion(p, share, reference, refuted, forked).p

    def _track(self, forked: set[str]) -> _Track:
        """The track record's parts that reliabilities do not change (cached)."""
        stamp = (self._track_version, len(forked))
        if self._track_cache is not None and self._track_cache[0] == stamp:
            return self._track_cache[1]
        params = self.params
        base_stamp = (self._pairs_version, len(forked))
        if self._pairs_cache is None or self._pairs_cache[0] != base_stamp:
            # Attestations' part, kept while no attestation or fork arrives.
            base: dict[tuple[str, str], tuple[float, float]] = {}
            base_conf: dict[str, float] = defaultdict(float)
            refs: list[tuple[str, str, float]] = []
            for (v, s), (c, r) in sorted(self._pairs.items()):
                if v in forked or s in forked:
                    continue
                base[(v, s)] = (c, r)
                base_conf[s] += c
                if r:
                    refs.append((v, s, r))
            self._pairs_cache = (base_stamp, base, dict(base_conf), refs)
        _stamp, base, base_conf, pair_refs = self._pairs_cache
        pairs = dict(base)
        confirmed: dict[str, float] = defaultdict(float, base_conf)
        ev_source: list[str] = []
        ev_weight: list[float] = []
        segs: list[NDArray[np.intp]] = []
        idxs: list[NDArray[np.intp]] = []
        for party in sorted(self._parts):
            agg = self._part_track(self._parts[party], forked)
            for key, (c, r) in agg.pairs.items():
                held = pairs.get(key)
                pairs[key] = (c, r) if held is None else (held[0] + c, held[1] + r)
            for s, c in agg.confirmed.items():
                confirmed[s] += c
            segs.append(agg.ev_seg + len(ev_source))
            idxs.append(agg.ev_idx)
            ev_source.extend(agg.ev_source)
            ev_weight.extend(agg.ev_weight)
        edges: list[tuple[tuple[str, str], float]] = []
        if pairs:
            # Opinion.from_evidence(c, r).b - .d for every pair at once (c, r >= 0). Each key
            # is one edge, so the order is free (`_eigentrust` sorts them).
            keys = list(pairs)
            cr = np.array(list(pairs.values()), dtype=np.float64)
            conf, refd = cr[:, 0], cr[:, 1]
            total = conf + refd + PRIOR_WEIGHT
            ws = params.track_weight * np.maximum(
                0.0, np.minimum(conf / total, 1.0) - np.minimum(refd / total, 1.0)
            )
            wl = ws.tolist()
            edges = [(keys[k], wl[k]) for k in np.flatnonzero(ws > 0.0).tolist()]
        empty = np.zeros(0, dtype=np.intp)
        track = _Track(
            pair_refs,
            ev_source,
            ev_weight,
            np.concatenate(segs) if segs else empty,
            np.concatenate(idxs) if idxs else empty,
            confirmed,
            edges,
        )
        self._track_cache = (stamp, track)
        return track

    def _part_track(self, part: _Partition, forked: set[str]) -> _PartTrack:
        """One partition's inspection events, summed per (verifier, source) (cached)."""
        assert part.cache is not None
        stamp = (part.evals, part.version, len(forked))
        if part.track is not None and part.track[0] == stamp:
            return part.track[1]
        pairs: dict[tuple[str, str], list[float]] = {}
        confirmed: dict[str, float] = defaultdict(float)
        ev_source: list[str] = []
        ev_weight: list[float] = []
        seg: list[int] = []
        idx: list[int] = []
        for e in part.cache[2]:
            if e.verifier in forked or e.source in forked or e.verifier == e.source:
                continue
            pair = pairs.setdefault((e.verifier, e.source), [0.0, 0.0])
            if e.confirmed:
                pair[0] += e.weight
                confirmed[e.source] += e.weight
            else:
                pair[1] += e.weight
                k = len(ev_source)
                ev_source.append(e.source)
                ev_weight.append(e.weight)
                for x in self._support(e, forked):
                    seg.append(k)
                    idx.append(self._num(x))
        agg = _PartTrack(
            {key: (c, r) for key, (c, r) in pairs.items()},
            dict(confirmed),
            ev_source,
            ev_weight,
            np.array(seg, dtype=np.intp),
            np.array(idx, dtype=np.intp),
        )
        part.track = (stamp, agg)
        return agg

    def _support(self, e: _Event, forked: set[str]) -> tuple[str, ...]:
        """The verifier of a refuting event and the confirmers of its report (cached)."""
        key = (e.report, e.verifier, e.source)
        stamp = (len(self._atts.get(e.report, ())), len(forked))
        held = self._supports.get(key)
        if held is None or held[0] != stamp:
            held = (stamp, (e.verifier, *self._confirmers(e.report, forked, e.source)))
            self._supports[key] = held
        return held[1]

    def _confirmers(self, entry_id: str, forked: set[str], party: str) -> list[str]:
        """Distinct non-forked authors confirming `entry_id`, other than its author and `party`."""
        author = self._author_of.get(entry_id)
        out = {
            a.author
            for a in self._atts.get(entry_id, ())
            if a.verdict == "confirm" and a.author not in forked and a.author not in (author, party)
        }
        return sorted(out)

    def _refuters(self, entry_id: str, forked: set[str], party: str) -> list[str]:
        author = self._author_of.get(entry_id)
        out = {
            a.author
            for a in self._atts.get(entry_id, ())
            if a.verdict == "refute" and a.author not in forked and a.author not in (author, party)
        }
        return sorted(out)

    # -- compliance ------------------------------------------------------------------------------

    def _prepare(
        self, party: str, part: _Partition, evidence: list[Evidence], forked: set[str]
    ) -> list[_FactSpec]:
        """Group a partition's evidence into facts and fix what reliabilities do not change."""
        facts: dict[tuple[str, str], _Fact] = {}
        for ev in evidence:
            fkey = (ev.rule, ev.entries[0] if ev.entries else "")
            facts.setdefault(fkey, _Fact(party, ev.rule, [])).items.append(ev)
        specs: list[_FactSpec] = []
        # A fact's spec depends on its evidence, the attestations of its entries, the forks
        # and the names: kept per fact, so a new entry re-prepares only the facts it changed.
        old = part.specs
        new: dict[tuple[str, str], tuple[tuple[Any, ...], _FactSpec | None]] = {}
        common = (len(forked), self._names_version)
        atts = self._atts
        for fkey, fact in facts.items():
            items = tuple(fact.items)
            ids = {i for ev in items for i in ev.entries}
            stamp = (items, common, sum(len(atts[i]) for i in ids if i in atts))
            held = old.get(fkey)
            if held is not None and held[0] == stamp:
                spec = held[1]
            else:
                spec = self._fact_spec(fact, forked)
            new[fkey] = (stamp, spec)
            if spec is not None:
                specs.append(spec)
        part.specs = new
        # The order views list contributions in (`_view`); stable, as sorting contributions was.
        specs.sort(key=lambda sp: sp.order)
        return specs

    def _fact_spec(self, fact: _Fact, forked: set[str]) -> _FactSpec | None:
        params = self.params
        party = fact.party
        # Evidence resting only on equivocators' statements stops counting.
        items = [ev for ev in fact.items if not ev.sources or set(ev.sources) - forked]
        if not items:
            return None
        basis_items = [ev for ev in items if ev.verifiable]
        rep = basis_items[-1] if basis_items else items[0]
        base = fact_opinion(rep.weight, params.evidence_scale, params.base_rate)

        def sources_of(evs: list[Evidence]) -> list[str]:
            return sorted({s for ev in evs for s in ev.sources if s not in forked and s != party})

        memo: dict[tuple[str, bool], list[str]] = {}

        def attesters(i: str, refute: bool) -> list[str]:
            if i not in self._atts:
                return []
            got = memo.get((i, refute))
            if got is None:
                get = self._refuters if refute else self._confirmers
                got = memo[(i, refute)] = get(i, forked, party)
            return got

        def attested(evs: list[Evidence], refute: bool) -> list[str]:
            ids = {i for ev in evs for i in ev.entries}
            return sorted({a for i in sorted(ids) for a in attesters(i, refute)})

        def build(evs: list[Evidence], verified: bool) -> _Build:
            srcs = sources_of(evs)
            conf = attested(evs, False)
            refs = attested(evs, True)
            own = not any(ev.sources for ev in evs)
            verifiable = any(ev.verifiable for ev in evs)
            if own:
                mode, basis = _OWN, "self-proving: the party's own signed statements"
            elif fact.rule in _ANSWER_RULES and verifiable:
                mode = _ANSWER
                basis = f"the party's own signed answer to {self._names_of(srcs)}"
            else:
                mode = _FUSE
                kind = (
                    "accepted inspection reported by"
                    if verifiable
                    else ("unverified, from" if not verified else "attested claim by")
                )
                basis = f"{kind} {self._names_of(srcs)}"
                if conf:
                    basis += f", confirmed by {self._names_of(conf)}"
                if refs:
                    basis += f", refuted by {self._names_of(refs)}"
            return _Build(
                fact.rule,
                rep.weight,
                min(ev.at for ev in evs),
                tuple(dict.fromkeys(i for ev in evs for i in ev.entries)),
                tuple(srcs),
                tuple(conf),
                tuple(refs),
                rep.note,
                verifiable,
                verified,
                mode,
                basis,
                base,
            )

        raw_b = build(items, bool(basis_items))
        order = (raw_b.at, raw_b.rule, raw_b.entries)
        if basis_items:
            return _FactSpec(order, raw_b, build(basis_items, True), None)
        quorum = tuple(attested(items, False))
        if len(quorum) < params.quorum:
            return _FactSpec(order, raw_b, None, None)  # never enough attesters, whatever p
        return _FactSpec(order, raw_b, build(items, True), quorum)

    def _forked_belief(self, p: str, rel: Reliability) -> PartyBelief:
        proof = self._forks[p]
        note = f"signed two different entries as seq {proof.seq}"
        c = Contribution(
            "equivocation",
            self.weights.equivocation,
            max(proof.a.ts, proof.b.ts),
            (proof.a.id_hex, proof.b.id_hex),
            (),
            (),
            (),
            note,
            True,
            True,
            "self-proving: a fork proof (credibility 1.00)",
            1.0,
            Opinion(0.0, 1.0, 0.0, self.params.base_rate),
        )
        view = View(Opinion(0.0, 1.0, 0.0, self.params.base_rate), (c,))
        who = self._name(p) or p[:12]
        text = (
            f"{who}: verified compliance 0.00 — equivocated ({note}) [equivocation, fork proof]; "
            f"reliability as a source 0, its statements do not count."
        )
        return PartyBelief(p, self._name(p), rel, view, view, True, text)

    # -- explanations ----------------------------------------------------------------------------

    def _name(self, p: str) -> str | None:
        named = self._names.get(p)
        return named[2] if named else None

    def _names_of(self, ps: Iterable[str]) -> str:
        names = [self._name(p) or p[:12] for p in ps]
        return ", ".join(names) if names else "nobody"

    def _explain(self, p: str, rel: Reliability, ver: View, raw: View) -> str:
        who = self._name(p) or p[:12]
        head = (
            f"{who}: verified compliance {ver.score:.2f} (uncertainty {ver.opinion.u:.2f}); "
            f"raw {raw.score:.2f} (uncertainty {raw.opinion.u:.2f}); "
            f"reliability as a source {rel.p:.2f}."
        )
        # The drivers depend on the views alone: kept with them while they stay cached.
        # (`_views` makes both views together, so the same verified view means the same raw.)
        cached = self._drivers.get(p)
        if cached is None or cached[0] is not ver:
            cached = (ver, self._drivers_text(ver, raw))
            self._drivers[p] = cached
        return f"{head} {cached[1]}"

    @staticmethod
    def _drivers_text(ver: View, raw: View) -> str:
        parts: list[str] = []

        def items(cs: Iterable[Contribution]) -> str:
            return "; ".join(f"{c.note} [{c.rule}, {c.basis}]" for c in cs)

        lv, lr = ver._lazy, raw._lazy
        if lv is not None and lr is not None:
            # The same choice from the views' arrays, making only the contributions named.
            eff = lv.b - lv.d
            w = lv.group.weight[lv.pos]
            down = _top3(lv, w < 0, eff)
            up = _top3(lv, w > 0, -eff)
            keys = lv.group.keys
            verified_keys = {keys[i] for i in lv.pos.tolist()}
            rkeys = lr.group.keys
            other = np.array([rkeys[i] not in verified_keys for i in lr.pos.tolist()], dtype=bool)
            unverified = _top3(lr, other, -np.abs(lr.b - lr.d))
        else:
            down = sorted((c for c in ver.evidence if c.weight < 0), key=lambda c: c.effect)[:3]
            up = sorted((c for c in ver.evidence if c.weight > 0), key=lambda c: -c.effect)[:3]
            verified_keys = {(c.rule, c.entries[:1]) for c in ver.evidence}
            unverified = sorted(
                (c for c in raw.evidence if (c.rule, c.entries[:1]) not in verified_keys),
                key=lambda c: -abs(c.effect),
            )[:3]
        if down:
            parts.append(f"Down: {items(down)}.")
        if up:
            parts.append(f"Up: {items(up)}.")
        if unverified:
            parts.append(f"Unverified (raw view only): {items(unverified)}.")
        if not parts:
            parts.append("No evidence yet: the prior.")
        return " ".join(parts)


def _top3(lazy: _Lazy, mask: NDArray[np.bool_], key: NDArray[np.float64]) -> list[Contribution]:
    """The first three contributions of `lazy` under `mask` by `key` (stable, like sorted)."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    order = np.argsort(key[idx], kind="stable")[:3]
    return [lazy.make(int(k)) for k in idx[order]]


def compute_beliefs(
    entries: Iterable[Entry],
    self_id: str,
    now_ms: int,
    *,
    anchors: Iterable[str] = (),
    forks: Iterable[ForkProof] = (),
    params: TrustParams = TrustParams(),
    figures: ViennaFigures = DEFAULT_FIGURES,
    weights: RuleWeights = DEFAULT_WEIGHTS,
) -> Beliefs:
    """Beliefs of `self_id` (rooted at it and `anchors`) over `entries`, as of `now_ms` (pure)."""
    engine = BeliefEngine(self_id, anchors, params, figures=figures, weights=weights)
    engine.add(entries)
    engine.add_forks(forks)
    return engine.snapshot(now_ms)
