"""The belief engine's index: statements by the party they concern, names, trust, attestations."""

from __future__ import annotations

import bisect
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from trustnet.errors import EntryError
from trustnet.heap import gc_paused
from trustnet.log.entry import Entry, ForkProof
from trustnet.statements import regime_calendar
from trustnet.statements.entries import statement_of
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DEFAULT_FIGURES, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import (
    AnnualExchange,
    Attestation,
    Calendar,
    ConsultationReply,
    ConsultationRequest,
    InspectionReport,
    InspectionRequest,
    InspectionResponse,
    Notification,
    Observation,
    Profile,
    Trust,
)
from trustnet.statements.regime_common import NEW_KINDS, alert_deadline, route
from trustnet.statements.rules import PartitionRules
from trustnet.statements.weights import DEFAULT_WEIGHTS, RuleWeights
from trustnet.trust.beliefs.params import DEFAULT_PARAMS, TrustParams

if TYPE_CHECKING:
    from trustnet.trust.beliefs.compiled import _Compiled, _Facts
    from trustnet.trust.beliefs.graph import _Pass1
    from trustnet.trust.beliefs.records import PartyBelief, Reliability, View
    from trustnet.trust.beliefs.tracktypes import _Event, _PartTrack, _Track, _TrackSums
    from trustnet.trust.opinion import Opinion

_SOCIAL_KINDS = frozenset({"contact", "profile"})  # issue 17: their confirmations are no track record
# Statements in their author's own partition. A tuple: compiled, `isinstance` with a union
# written inline makes the union anew (four `|`) on every entry indexed.
_AUTHORS_OWN: Final = (Notification, AnnualExchange, ConsultationReply, InspectionResponse,
                       Calendar)
# The key of the fork proofs' evidence in `BeliefEngine.evidence_by_party` (not a party id).
FORK_EVIDENCE = "~forks"


def _no_counts() -> list[int]:
    """[confirmed, refuted] of a pair nothing was said about yet (a function, not a lambda in
    `__init__`: compiled, that would keep the engine in a cycle)."""
    return [0, 0]


@dataclass(frozen=True, slots=True)
class _Att:
    author: str
    verdict: str
    permille: int  # confidence, 0..1000
    id: str



@dataclass(slots=True)
class _Partition:
    """Statements the rules read about one party, and their cached evaluation."""

    # Entries with their parsed bodies (parsed once, at `add`; the rules reuse them).
    entries: list[tuple[Entry, object]] = field(default_factory=list)
    deadlines: list[int] = field(default_factory=list)
    version: int = 0  # bumped by a new entry, or an attestation of one of its entries
    evals: int = 0  # evaluations so far (`cache` replaced)
    cache: tuple[int, list[Evidence], list[_Event]] | None = None  # (deadlines passed, ...)
    events: list[_Event] = field(default_factory=list)  # the last evaluation's track events
    rules: PartitionRules | None = None  # the rules over `entries`, kept between evaluations
    relevant: tuple[tuple[int, int], tuple[str, ...]] | None = None  # parties its views read
    views: tuple[tuple[Any, ...], View, View] | None = None  # (key, raw, verified)
    # `_views`' key when the reliabilities read were the same objects: (state, ids of them).
    views_quick: tuple[Any, ...] | None = None
    # The facts' parts that do not depend on reliabilities: (key, specs), see `_prepare`.
    prep: tuple[tuple[Any, ...], _Compiled] | None = None
    track: tuple[tuple[int, int, int], _PartTrack] | None = None  # see `_part_track`
    # The partition's facts as `_prepare` last grouped them (see `_Facts`).
    facts: _Facts | None = None



def _pick_latest(old: tuple[int, str, Any] | None, new: tuple[int, str, Any]) -> bool:
    return old is None or (new[0], new[1]) > (old[0], old[1])


class _EngineBase:
    """Indexed statements (`add`): what every later stage of the engine reads."""

    def __init__(
        self,
        self_id: str,
        anchors: Iterable[str] = (),
        params: TrustParams = DEFAULT_PARAMS,
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
        # Entry id -> its receipt, for backdated entries only (judged by it: DESIGN 12).
        self._judged: dict[bytes, int] = {}
        self._reports: set[str] = set()  # inspection report ids (the host may co-sign them)
        # issue 17: ids of contacts and profiles; confirming one (a meeting took place, this is
        # our national) vouches for nothing as a source: no track record (statements/people.py)
        self._social: set[str] = set()
        self._roles: dict[str, str] = {}  # party -> role in its latest profile
        self._zones: dict[str, str] = {}  # party -> time zone in its latest profile (issue 16)
        self._trust_version = 0  # bumped with `_trust`
        self._blocs_cache: tuple[tuple[int, int], dict[str, int]] | None = None
        self._author_of: dict[str, str] = {}  # entry id -> author
        self._forks: dict[str, ForkProof] = {}
        self._parts: dict[str, _Partition] = defaultdict(_Partition)
        self._trust: dict[tuple[str, str], tuple[int, str, int]] = {}
        # The same trust edges as arrays, a slot per (author, subject) in `_trust`'s order of
        # first arrival: party numbers and level (pass 1 reads them with array operations).
        self._trust_slot: dict[tuple[str, str], int] = {}
        self._trust_a: array[int] = array("q")
        self._trust_s: array[int] = array("q")
        self._trust_level: array[int] = array("q")
        self._names: dict[str, tuple[int, str, str]] = {}
        self._parties: set[str] = {self_id, *self.anchors}
        self._entry_part: dict[str, str] = {}  # entry id -> the partition holding it
        # author -> the partitions holding its entries: what its role and zone are read for
        self._wrote_in: dict[str, set[str]] = defaultdict(set)
        self._names_version = 0
        self._drivers: dict[str, tuple[View, str]] = {}
        # A fact's own opinion by its rule weight (`_fact_spec`; a weight of -0.0 gives the
        # opinion of 0.0, which it is taken for: `fact_opinion` reads |w| and w >= 0)
        self._fact_opinions: dict[float, Opinion] = {}
        # The snapshot's stages, kept while what they read is unchanged (issue 15 item 3):
        # (stamp, track, reliabilities, rounded, as a vector) -- see `_reliability`;
        self._rel_cache: (
            tuple[tuple[int, ...], _Track, dict[str, Reliability], dict[str, float],
                  NDArray[np.float64]] | None
        ) = None
        self._pass1_cache: tuple[tuple[int, int, int], _Pass1] | None = None
        # (key, blocs, bloc per party number); party -> (reliability, views, its belief).
        self._bloc_vec_cache: tuple[tuple[int, int], dict[str, int], NDArray[np.intp]] | None = None
        self._made: dict[str, tuple[Reliability, View, View, PartyBelief]] = {}
        self._pnum: dict[str, int] = {}  # party -> its number in reliability vectors
        self._pnames: list[str] = []
        # (report, verifier, source) -> ((attestations, forks), support): see `_support`.
        self._supports: dict[tuple[str, str, str], tuple[tuple[int, int], tuple[str, ...]]] = {}
        # Bumped by whatever the track record reads: attestations, partitions re-evaluated.
        self._track_version = 0
        # The track record's sums, kept and mended pair by pair (`_track`); None: to build.
        self._sums: _TrackSums | None = None
        self._pair_log: list[tuple[str, str]] = []  # every pair `_pairs` changed, in order
        self._track_cache: tuple[tuple[int, int], _Track] | None = None
        self._atts: dict[str, list[_Att]] = defaultdict(list)  # subject entry id -> attestations
        # The subject of every attestation, in arrival order: whose facts to prepare again
        # (`_prepare` reads what it had not read yet).
        self._att_log: list[str] = []
        self._pending: dict[str, list[_Att]] = defaultdict(list)  # subject not yet held
        # (verifier, source) -> [confirmed, refuted] from attestations (unweighted), in
        # halves of a permille: whole numbers, so the sums do not depend on arrival order
        # (floats added in arrival order did, in the last bit: review); track.py reads /2000.
        self._pairs: dict[tuple[str, str], list[int]] = defaultdict(_no_counts)

    # -- input ---------------------------------------------------------------------------------

    def add(self, entries: Iterable[Entry], received: Mapping[bytes, int] | None = None) -> int:
        """Index entries (duplicates ignored; a second entry at a held seq is a fork). New count.

        `received`: entry id -> when this node first received it (ms). An entry whose `ts`
        lags its receipt by more than `backdate_tolerance_s` is judged by its receipt
        (DESIGN 12); without `received`, entries are judged by their `ts`.
        """
        with gc_paused():
            if received:
                params = self.params
                entries = list(entries)
                for e in entries:
                    got = received.get(e.id)
                    if got is not None and params.judged(e.ts, got) != e.ts and (
                            e.id not in self._judged):
                        self._judged[e.id] = got
                        held = self._at.get((e.author, e.seq))
                        if held is not None and held.id == e.id:
                            self._rejudge(e)
            return self._add_all(entries)

    def _rejudge(self, e: Entry) -> None:
        """A held entry is now judged by its receipt: its partition is evaluated afresh."""
        party = self._entry_part.get(e.id_hex)
        if party is not None:
            part = self._parts[party]
            part.cache = None
            part.version += 1
            if part.rules is not None:
                part.rules.reset()

    def attestations_of(self, entry_id: str) -> list[str]:
        """Ids (hex) of the attestations held whose subject is entry `entry_id`, from the
        index: a lookup, not a scan of every attestation."""
        return [att.id for att in self._atts.get(entry_id, ())]

    def judged_ts(self, e: Entry) -> int:
        """When `e` counts as made in this node's view: its receipt when backdated, else `ts`."""
        return self._judged.get(e.id, e.ts)

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
        if e.kind in _SOCIAL_KINDS:
            self._social.add(eid)
        for att in self._pending.pop(eid, ()):
            self._count_attestation(att, author, eid)
        try:
            body = statement_of(e)
        except EntryError:
            return  # DESIGN 4: a body that fails validation is not a statement
        fig = self.figures
        party: str | None = None
        deadline: int | None = None
        extra: tuple[int, ...] = ()
        if isinstance(body, _AUTHORS_OWN):
            party = author
            if isinstance(body, Notification) and body.type == "alert":  # issue 16 item 5 B
                extra = tuple(d for d in (alert_deadline(body, fig),) if d is not None)
        elif isinstance(body, Observation):
            party = body.subject if body.subject != author else None
        elif isinstance(body, ConsultationRequest):
            party = body.subject if body.subject != author else None
            deadline = self.judged_ts(e) + fig.consultation_answer_hours * HOUR_MS
        elif isinstance(body, InspectionRequest):
            party = body.host if body.host != author else None
            deadline = self.judged_ts(e) + fig.inspection_answer_hours * HOUR_MS
        elif isinstance(body, InspectionReport):
            party = body.host if body.host != author else None
            self._reports.add(eid)
        elif isinstance(body, Trust):
            self._parties.add(body.subject)
            key = (author, body.subject)
            new = (e.ts, eid, body.level)
            if _pick_latest(self._trust.get(key), new):
                self._trust[key] = new
                self._trust_version += 1
                slot = self._trust_slot.get(key)
                if slot is None:
                    self._trust_slot[key] = len(self._trust_level)
                    self._trust_a.append(self._num(author))
                    self._trust_s.append(self._num(body.subject))
                    self._trust_level.append(body.level)
                else:
                    self._trust_level[slot] = body.level
        elif isinstance(body, Attestation):
            self._track_version += 1
            att = _Att(author, body.verdict, body.confidence, eid)
            self._atts[body.subject].append(att)
            self._att_log.append(body.subject)
            owner = self._entry_part.get(body.subject)
            if owner is not None:
                self._parts[owner].version += 1
            subject_author = self._author_of.get(body.subject)
            if subject_author is None:
                self._pending[body.subject].append(att)
            else:
                self._count_attestation(att, subject_author, body.subject)
        elif isinstance(body, Profile):
            new_name = (e.ts, eid, body.name)
            if _pick_latest(self._names.get(author), new_name):
                self._names[author] = new_name
                self._names_version += 1
                zone = body.zone or ""
                if self._roles.get(author) != body.role or self._zones.get(author, "") != zone:
                    # Only participating states request inspections (VD11 chapter IX), and
                    # dates are read in the party's zone: the rules read them for the authors
                    # of a partition's entries, so a change re-evaluates the partitions holding
                    # this author's entries (every partition was quadratic in parties: each
                    # party's first profile walked all of them, issue 15 item 5).
                    self._roles[author] = body.role
                    self._zones[author] = zone
                    for held in sorted(self._wrote_in.get(author, ())):
                        part = self._parts[held]
                        part.cache = None
                        part.version += 1
                        if part.rules is not None:
                            part.rules.reset()
        elif isinstance(body, NEW_KINDS):  # issue 16 item 5 part B (regime_common.route)
            party, extra = route(author, body, self.judged_ts(e), fig)
        if party is not None:
            self._parties.add(party)
            part = self._parts[party]
            part.entries.append((e, body))
            part.version += 1
            part.cache = None
            self._entry_part[eid] = party
            self._wrote_in[author].add(party)
            for d in (deadline, *extra):
                if d is not None:
                    bisect.insort(part.deadlines, d)
            if party == author:  # issue 16: the calendar's and exchange's deadlines
                for d in regime_calendar.deadlines(body, self.judged_ts(e), self._zones.get(author),
                                                   fig):
                    i = bisect.bisect_left(part.deadlines, d)
                    if i == len(part.deadlines) or part.deadlines[i] != d:
                        part.deadlines.insert(i, d)

    def _count_attestation(self, att: _Att, subject_author: str, subject: str = "") -> None:
        if att.author == subject_author or subject in self._social:
            return  # attesting one's own statement, or a meeting, is not a track record
        self._track_version += 1
        pair = self._pairs[(att.author, subject_author)]
        self._pair_log.append((att.author, subject_author))
        if att.verdict == "confirm":
            pair[0] += 2 * att.permille
        elif att.verdict == "refute":
            pair[1] += 2 * att.permille
        elif att.verdict == "partial":
            pair[0] += att.permille
            pair[1] += att.permille


    def _num(self, party: str) -> int:
        """The engine's stable number of a party (its position in reliability vectors)."""
        n = self._pnum.get(party)
        if n is None:
            n = self._pnum[party] = len(self._pnames)
            self._pnames.append(party)
        return n

    def _name(self, p: str) -> str | None:
        named = self._names.get(p)
        return named[2] if named else None

    def _names_of(self, ps: Iterable[str]) -> str:
        names = [self._name(p) or p[:12] for p in ps]
        return ", ".join(names) if names else "nobody"
