"""The belief engine: `add` statements and fork proofs, `snapshot(now_ms)` to read (DESIGN 7)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from trustnet.log.entry import Entry, ForkProof
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.weights import DEFAULT_WEIGHTS, RuleWeights
from trustnet.trust.beliefs.base import _gc_paused
from trustnet.trust.beliefs.compiled import _fuse_terms
from trustnet.trust.beliefs.credibility import RELIABILITY_DIGITS
from trustnet.trust.beliefs.explain import _Explanations
from trustnet.trust.beliefs.params import DEFAULT_PARAMS, TrustParams
from trustnet.trust.beliefs.records import Beliefs, PartyBelief, Reliability, View
from trustnet.trust.opinion import Opinion


class BeliefEngine(_Explanations):
    """Incremental beliefs: `add` statements and fork proofs, `snapshot(now_ms)` to read."""

    def snapshot(self, now_ms: int) -> Beliefs:
        """Beliefs as of `now_ms` (deterministic: same statements, same result)."""
        with _gc_paused():
            return self._snapshot(now_ms)

    def _blocs(self, forked: set[str]) -> dict[str, int]:
        """Parties bound by mutual trust at `bloc_level` or more, as blocs: party -> the smallest
        party number of its bloc (parties in no bloc are left out). Their claims are not
        independent (issue 12, finding 8). Cached until a trust statement or a fork arrives."""
        stamp = (self._trust_version, len(forked))
        if self._blocs_cache is not None and self._blocs_cache[0] == stamp:
            return self._blocs_cache[1]
        floor = self.params.bloc_level
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.get(x, x) != x:
                parent[x] = parent.get(parent[x], parent[x])
                x = parent[x]
            return x

        trust = self._trust
        for (a, s), (_ts, _id, level) in trust.items():
            if level < floor or a == s or a in forked or s in forked or a > s:
                continue
            back = trust.get((s, a))
            if back is not None and back[2] >= floor:
                ra, rs = find(a), find(s)
                if ra != rs:
                    parent[max(ra, rs)] = min(ra, rs)
        members: dict[str, list[str]] = defaultdict(list)
        for p in {*parent, *parent.values()}:
            members[find(p)].append(p)
        out: dict[str, int] = {}
        for group in members.values():
            number = min(self._num(p) for p in group)
            for p in group:
                out[p] = number
        self._blocs_cache = (stamp, out)
        return out

    def _snapshot(self, now_ms: int) -> Beliefs:
        forked = set(self._forks)
        # Rule evidence and inspection track record, partition by partition (cached; only a
        # partition a new entry landed in, or whose deadline `now_ms` crossed, is evaluated
        # again, and the track record moves only when its events did).
        for party in sorted(self._parts):
            self._partition(party, now_ms)
        parties = sorted(self._parties)
        # Reliabilities: recomputed only when the trust graph, the track record, the forks,
        # the parties or their names changed (`_reliability`); else the same records.
        rel, rp, rp_vec = self._reliability(forked, parties)
        blocs, bloc_vec = self._bloc_vec(forked)

        out: dict[str, PartyBelief] = {}
        empty = View(Opinion.vacuous(self.params.base_rate), ())
        made = self._made
        for p in parties:
            if p in forked:
                out[p] = self._forked_belief(p, rel[p])
                continue
            part = self._parts.get(p)
            if part is None:
                raw_view = ver_view = empty
            else:
                raw_view, ver_view = self._views(p, part, rp, rp_vec, forked, blocs, bloc_vec)
            # The same reliability record and views: the same belief (and explanation).
            held = made.get(p)
            if held is not None and held[0] is rel[p] and held[1] is ver_view and (
                    held[2] is raw_view):
                out[p] = held[3]
                continue
            belief = PartyBelief(
                p,
                self._name(p),
                rel[p],
                ver_view,
                raw_view,
                False,
                self._explain(p, rel[p], ver_view, raw_view),
            )
            if part is not None:
                made[p] = (rel[p], ver_view, raw_view, belief)
            out[p] = belief
        return Beliefs(self.self_id, now_ms, self.anchors, self.params, out)

    def _bloc_vec(self, forked: set[str]) -> tuple[dict[str, int], NDArray[np.intp]]:
        """`_blocs` and, per party number, its bloc (cached with the numbering's length)."""
        blocs = self._blocs(forked)
        key = (id(blocs), len(self._pnames))
        if self._bloc_vec_cache is not None and self._bloc_vec_cache[0] == key and (
                self._bloc_vec_cache[1] is blocs):
            return blocs, self._bloc_vec_cache[2]
        bloc_vec = np.arange(len(self._pnames), dtype=np.intp)
        for p, b in blocs.items():
            bloc_vec[self._pnum[p]] = b
        self._bloc_vec_cache = (key, blocs, bloc_vec)
        return blocs, bloc_vec

    def _reliability(
        self, forked: set[str], parties: list[str]
    ) -> tuple[dict[str, Reliability], dict[str, float], NDArray[np.float64]]:
        """Every party's reliability as a source, the rounded values views weigh evidence
        with, and those as a vector by party number; kept while nothing they read changed."""
        track = self._track(forked)
        stamp = (self._trust_version, len(forked), len(parties), self._names_version)
        held = self._rel_cache
        if held is not None and held[0] == stamp and held[1] is track:
            return held[2], held[3], held[4]
        params = self.params
        index = {p: i for i, p in enumerate(parties)}
        roots = [index[p] for p in (self.self_id, *self.anchors) if p not in forked]

        # Pass 1: explicit trust only; it says whose verifications count.
        trust_edges: dict[tuple[int, int], float] = {}
        levels: dict[tuple[int, int], float] = {}  # positive levels / 1000, for `_strength`
        negative: list[tuple[str, str, float]] = []  # (distruster, subject, |level| / 1000)
        for (a, s), (_ts, _id, level) in self._trust.items():
            if a == s or a in forked or s in forked:
                continue
            if level > 0:
                trust_edges[(index[a], index[s])] = params.trust_weight * level / 1000.0
                levels[(index[a], index[s])] = level / 1000.0
            elif level < 0:
                negative.append((a, s, -level / 1000.0))
        n = len(parties)
        t1, ref1 = self._eigentrust(index, trust_edges, roots)
        s1 = self._strength(t1, levels, n)
        p0 = {
            p: self._rel_opinion(p, float(t1[index[p]]), ref1, 0.0, forked, float(s1[index[p]])).p
            for p in parties
        }
        # Distrust (issue 12, finding 8): a `trust` statement below 0 is disbelief evidence,
        # weighted by how far this node relies on the one who states it (pass 1, trust alone).
        distrust: dict[str, float] = defaultdict(float)
        for a, s, amount in negative:
            if p0[a] > 0.0:
                distrust[s] += p0[a] * amount
        op1 = {
            p: self._rel_opinion(
                p, float(t1[index[p]]), ref1, 0.0, forked, float(s1[index[p]]), distrust[p]
            )
            for p in distrust
        }
        p1 = {p: (op1[p].p if p in op1 else p0[p]) for p in parties}

        # Track record: confirmations by verifier -> local trust; refutations by reliable
        # verifiers -> disbelief, weighted by the verifier's (or the report's) credibility.
        # What p1 does not change is kept until a statement or a fork changes it (`_track`).
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
        levels2 = dict(levels)
        for (v, s), w in track.edges:
            key = (index[v], index[s])
            edges[key] = edges.get(key, 0.0) + w
            if params.track_weight > 0.0:
                levels2[key] = levels2.get(key, 0.0) + w / params.track_weight
        # A party this node disbelieves more than it believes passes no trust on: its
        # outgoing edges stop here (a distrust pass that stops propagation).
        stopped = {index[p] for p, o in op1.items() if o.d > o.b}
        if stopped:
            edges = {k: w for k, w in edges.items() if k[0] not in stopped}
            levels2 = {k: w for k, w in levels2.items() if k[0] not in stopped}

        # Pass 2: explicit trust and track record.
        t2, ref2 = self._eigentrust(index, edges, roots)
        s2 = self._strength(t2, levels2, n)
        root_set = {self.self_id, *self.anchors}
        rel: dict[str, Reliability] = {}
        old = held[2] if held is not None else {}
        for p in parties:
            share = float(t2[index[p]])
            opinion = self._rel_opinion(
                p, share, ref2, refuted.get(p, 0.0), forked, float(s2[index[p]]),
                distrust.get(p, 0.0),
            )
            record = Reliability(
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
            # An unchanged record stays the same object: the beliefs made from it are kept.
            was = old.get(p)
            rel[p] = was if was is not None and was == record else record
        # Evidence is weighed with reliabilities rounded to 1e-4 (RELIABILITY_DIGITS): a
        # trust shift far away that moves a source by less leaves the views cached.
        rp = {p: round(r.p, RELIABILITY_DIGITS) for p, r in rel.items()}
        for p in parties:
            self._num(p)
        rp_vec = np.zeros(len(self._pnames))
        for p, p_r in rp.items():
            rp_vec[self._pnum[p]] = p_r
        self._rel_cache = (stamp, track, rel, rp, rp_vec)
        return rel, rp, rp_vec


def compute_beliefs(
    entries: Iterable[Entry],
    self_id: str,
    now_ms: int,
    *,
    anchors: Iterable[str] = (),
    forks: Iterable[ForkProof] = (),
    params: TrustParams = DEFAULT_PARAMS,
    figures: ViennaFigures = DEFAULT_FIGURES,
    weights: RuleWeights = DEFAULT_WEIGHTS,
) -> Beliefs:
    """Beliefs of `self_id` (rooted at it and `anchors`) over `entries`, as of `now_ms` (pure)."""
    engine = BeliefEngine(self_id, anchors, params, figures=figures, weights=weights)
    engine.add(entries)
    engine.add_forks(forks)
    return engine.snapshot(now_ms)
