"""Source reliability: personalized EigenTrust over trust statements and track record (DESIGN 7).

Issue 15 item 3: the local trust graph is held as arrays (edges sorted by truster, then
trustee), pass 1 (trust statements alone) is kept until a trust statement, a fork or a new
party arrives, and the whole stage is kept while the track record is the same too.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from trustnet.numeric import fsum_array
from trustnet.trust.beliefs.compiled import _fuse_terms
from trustnet.trust.beliefs.credibility import _CERTAIN, _DISTRUST, RELIABILITY_DIGITS, share_belief
from trustnet.trust.beliefs.graph import _F64, _Edges, _Pass1
from trustnet.trust.beliefs.records import Reliability
from trustnet.trust.beliefs.track import _TrackRecord
from trustnet.trust.eigentrust import eigentrust
from trustnet.trust.opinion import Opinion, cumulative_fuse

_NO_INT = np.zeros(0, dtype=np.int64)


class _Reliabilities(_TrackRecord):
    """Reliability of every party as a source, in this node's view."""

    def _reliability(
        self, forked: set[str], parties: list[str]
    ) -> tuple[dict[str, Reliability], dict[str, float], _F64]:
        """Every party's reliability as a source, the rounded values views weigh evidence
        with, and those as a vector by party number; kept while nothing they read changed
        (the same objects, so readers compare identities)."""
        track = self._track(forked)
        stamp = (self._trust_version, len(forked), len(parties), self._names_version)
        held = self._rel_cache
        if held is not None and held[0] == stamp and held[1] is track:
            return held[2], held[3], held[4]
        params = self.params
        n = len(parties)
        index = {p: i for i, p in enumerate(parties)}
        roots = [index[p] for p in (self.self_id, *self.anchors) if p not in forked]
        one = self._pass1(forked, parties, index, roots)
        p1 = one.p1

        # Track record: confirmations by verifier -> local trust; refutations by reliable
        # verifiers -> disbelief, weighted by the verifier's (or the report's) credibility.
        # What p1 does not change is kept until a statement or a fork changes it (`_track`).
        # Each source's refuted evidence as its terms, summed exactly rounded (`math.fsum`):
        # the same sum in any order, so in any engine however the statements arrived.
        reliable = params.reliable
        for p in parties:
            self._num(p)
        p1_vec = np.zeros(len(self._pnames))  # numbers for `parties` and any support
        for p, p_1 in p1.items():
            p1_vec[self._pnum[p]] = p_1
        # Attestations: a pair's refuted amount, weighted by its verifier's p1 when reliable.
        keep = p1_vec[track.ref_v] >= reliable
        ref_src = [track.ref_s[keep]]
        ref_terms = [track.ref_r[keep] * p1_vec[track.ref_v[keep]]]
        if len(track.ev_source):
            # credibility_p(p1 of the support) for every refuting event at once.
            n_ev = len(track.ev_source)
            r_sum, dogs = _fuse_terms(track.ev_seg, p1_vec[track.ev_idx], n_ev)
            with np.errstate(divide="ignore", invalid="ignore"):
                cred_vec = np.where(
                    dogs > 0, 1.0, np.where(r_sum > 0.0, r_sum / (r_sum + 0.0 + 2.0), 0.0)
                )
            keep = cred_vec >= reliable
            ref_src.append(track.ev_source[keep])
            ref_terms.append(track.ev_weight[keep] * cred_vec[keep])
        refuted = self._sums_by_party(np.concatenate(ref_src), np.concatenate(ref_terms))
        confirmed = track.confirmed
        tw = params.track_weight
        track_edges = self._edges_at(index, track.edge_v, track.edge_s, track.edge_w,
                                     track.edge_w / tw if tw > 0.0 else np.zeros(len(track.edge_w)))
        # A party this node disbelieves more than it believes passes no trust on: its
        # outgoing edges stop here (a distrust pass that stops propagation).
        stopped = np.array(
            sorted(index[p] for p, o in one.op1.items() if o.d > o.b), dtype=np.int64
        )
        edges = _Edges.merged(n, one.edges, track_edges, stopped)

        # Pass 2: explicit trust and track record.
        t2, ref2 = self._eigentrust(n, edges, roots)
        s2 = self._strength(t2, edges, n)
        root_set = {self.self_id, *self.anchors}
        rel: dict[str, Reliability] = {}
        old = held[2] if held is not None else {}
        distrust = one.distrust
        shares = t2.tolist()
        strengths = s2.tolist()
        for p in parties:
            k = index[p]
            share = shares[k]
            opinion = self._rel_opinion(
                p, share, ref2, refuted.get(p, 0.0), forked, strengths[k], distrust.get(p, 0.0)
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
        if held is not None and held[3] == rp and len(held[4]) == len(self._pnames):
            # Rounded as before: the same objects, so every view is known unchanged at once.
            rp, rp_vec = held[3], held[4]
        else:
            rp_vec = np.zeros(len(self._pnames))
            for p, p_r in rp.items():
                rp_vec[self._pnum[p]] = p_r
        self._rel_cache = (stamp, track, rel, rp, rp_vec)
        return rel, rp, rp_vec

    def _edges_at(self, index: dict[str, int], v: NDArray[np.int64], s: NDArray[np.int64],
                  w: NDArray[np.float64], level: NDArray[np.float64]) -> _Edges:
        """Edges v -> s (party numbers, each pair once) by position in the sorted parties
        (`index`), sorted by (i, j): the order both EigenTrust passes read in any engine."""
        n = len(index)
        pos = np.full(len(self._pnames), -1, dtype=np.int64)
        for p, k in index.items():
            pos[self._pnum[p]] = k
        i, j = pos[v], pos[s]
        assert not len(i) or min(i.min(), j.min()) >= 0  # both ends are parties
        order = np.argsort(i * n + j, kind="stable")
        return _Edges(i[order], j[order], w[order], level[order])

    def _sums_by_party(self, src: NDArray[np.intp], terms: NDArray[np.float64]
                       ) -> dict[str, float]:
        """Per party number in `src`, its terms summed exactly rounded (`math.fsum`): the
        same sum in any order, so in any engine however the statements arrived (refuted
        evidence, distrust)."""
        if not len(src):
            return {}
        order = np.argsort(src, kind="stable")
        src, terms = src[order], terms[order]
        cuts = np.flatnonzero(src[1:] != src[:-1]) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(src)]
        names = self._pnames
        return {names[int(src[a])]: fsum_array(terms[a:b])
                for a, b in zip(starts, ends, strict=True)}

    def _pass1(
        self, forked: set[str], parties: list[str], index: dict[str, int], roots: list[int]
    ) -> _Pass1:
        """Pass 1, explicit trust only (cached until a trust statement, fork or party)."""
        stamp = (self._trust_version, len(forked), len(parties))
        if self._pass1_cache is not None and self._pass1_cache[0] == stamp:
            return self._pass1_cache[1]
        params = self.params
        n = len(parties)
        # The trust statements' edges (`_trust`, as arrays by party number), less self edges
        # and those of forked parties; positive ones by position in `parties`, sorted by (i, j).
        a_num = np.frombuffer(self._trust_a, dtype=np.int64) if self._trust_a else _NO_INT
        s_num = np.frombuffer(self._trust_s, dtype=np.int64) if self._trust_s else _NO_INT
        level = (np.frombuffer(self._trust_level, dtype=np.int64) if self._trust_level
                 else _NO_INT).astype(np.float64)
        live = a_num != s_num
        if forked:
            out = np.zeros(len(self._pnames), dtype=bool)  # by number: the forked parties
            out[[self._pnum[p] for p in forked if p in self._pnum]] = True
            live &= ~out[a_num] & ~out[s_num]
        for p in parties:
            self._num(p)
        up = live & (level > 0)
        lv = level[up]
        edges = self._edges_at(index, a_num[up], s_num[up], params.trust_weight * lv / 1000.0,
                               lv / 1000.0)
        down = live & (level < 0)
        neg_a, neg_s, neg_amount = a_num[down], s_num[down], -level[down] / 1000.0
        t1, ref1 = self._eigentrust(n, edges, roots)
        s1 = self._strength(t1, edges, n)
        shares, strengths = t1.tolist(), s1.tolist()
        p0 = {
            p: self._rel_opinion(p, shares[index[p]], ref1, 0.0, forked, strengths[index[p]]).p
            for p in parties
        }
        # Distrust (issue 12, finding 8): a `trust` statement below 0 is disbelief evidence,
        # weighted by how far this node relies on the one who states it (pass 1, trust alone).
        p0_vec = np.zeros(len(self._pnames))
        for p, p_0 in p0.items():
            p0_vec[self._pnum[p]] = p_0
        by = p0_vec[neg_a]
        keep = by > 0.0  # each subject's terms summed exactly rounded: in any order
        distrust: dict[str, float] = defaultdict(
            float, self._sums_by_party(neg_s[keep], by[keep] * neg_amount[keep]))
        op1 = {
            p: self._rel_opinion(
                p, shares[index[p]], ref1, 0.0, forked, strengths[index[p]], distrust[p]
            )
            for p in distrust
        }
        p1 = {p: (op1[p].p if p in op1 else p0[p]) for p in parties}
        one = _Pass1(edges, dict(distrust), op1, p1)
        self._pass1_cache = (stamp, one)
        return one

    def _eigentrust(self, n: int, edges: _Edges, roots: list[int]) -> tuple[_F64, float]:
        """EigenTrust shares and the reference share (an average direct trustee of the top root)."""
        if not roots:
            return np.zeros(n), 0.0
        if len(edges.w):
            arr = np.column_stack((edges.i, edges.j, edges.w)).astype(np.float64)
            t = eigentrust(n, arr, roots, self.params.a)
        else:
            # No local trust at all: the restart vector is the fixed point.
            t = np.zeros(n)
            t[roots] = 1.0 / len(set(roots))
        top = max(roots, key=lambda r: (t[r], -r))
        degree = int(np.count_nonzero(edges.i == top))
        return t, (1.0 - self.params.a) * float(t[top]) / max(1, degree)

    @staticmethod
    def _strength(t: _F64, edges: _Edges, n: int) -> _F64:
        """Per party: how far those who rely on it do, weighted by their own share (in [0, 1]).

        EigenTrust normalises each truster's row, so a party trusted at +150 by a node that
        trusts nobody else gets the whole share, as one trusted at +800 would (issue 12,
        finding 8). The magnitude comes back here: the mean level (/1000, with the track
        record's b - d added, at most 1) of the edges into the party, each weighted by its
        truster's share t_i. A party nobody reaches (no weighted edge in) keeps 1: its share
        is 0 anyway, and a root needs nobody's trust.
        """
        out = np.ones(n)
        if not len(edges.level):
            return out
        ti = t[edges.i]
        num = np.bincount(edges.j, weights=ti * np.minimum(1.0, edges.level), minlength=n)
        den = np.bincount(edges.j, weights=ti, minlength=n)
        live = den > 0.0
        out[live] = num[live] / den[live]
        return out

    def _rel_opinion(
        self,
        p: str,
        share: float,
        reference: float,
        refuted: float,
        forked: set[str],
        strength: float = 1.0,
        distrust: float = 0.0,
    ) -> Opinion:
        """Reliability: belief from the share (times the strength of the trust that carries it),
        disbelief from refuted claims and from explicit distrust (Subjective Logic)."""
        if p in forked:
            return _DISTRUST  # DESIGN 7: an equivocating author is distrusted
        if p == self.self_id:
            return _CERTAIN  # the node's own statements, in its own view
        base = share_belief(share, reference, self.params.trust_belief * strength)
        against = refuted + self.params.distrust_weight * distrust
        if against > 0.0:
            return cumulative_fuse(base, Opinion.from_evidence(0.0, against, 0.0))
        return base
