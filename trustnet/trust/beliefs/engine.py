"""The belief engine: `add` statements and fork proofs, `snapshot(now_ms)` to read (DESIGN 7)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from trustnet.heap import gc_paused
from trustnet.log.entry import Entry, ForkProof
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.weights import DEFAULT_WEIGHTS, RuleWeights
from trustnet.trust.beliefs.explain import _Explanations
from trustnet.trust.beliefs.params import DEFAULT_PARAMS, TrustParams
from trustnet.trust.beliefs.records import Beliefs, PartyBelief, View
from trustnet.trust.opinion import Opinion


def _find(parent: dict[str, str], x: str) -> str:
    """The root of `x` in the union-find forest `parent` (path halving on the way)."""
    while parent.get(x, x) != x:
        parent[x] = parent.get(parent[x], parent[x])
        x = parent[x]
    return x


class BeliefEngine(_Explanations):
    """Incremental beliefs: `add` statements and fork proofs, `snapshot(now_ms)` to read."""

    def snapshot(self, now_ms: int) -> Beliefs:
        """Beliefs as of `now_ms` (deterministic: same statements, same result)."""
        with gc_paused():
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
        trust = self._trust
        for (a, s), (_ts, _id, level) in trust.items():
            if level < floor or a == s or a in forked or s in forked or a > s:
                continue
            back = trust.get((s, a))
            if back is not None and back[2] >= floor:
                ra, rs = _find(parent, a), _find(parent, s)
                if ra != rs:
                    parent[max(ra, rs)] = min(ra, rs)
        members: dict[str, list[str]] = defaultdict(list)
        for p in {*parent, *parent.values()}:
            members[_find(parent, p)].append(p)
        out: dict[str, int] = {}
        for group in members.values():
            number = min(self._num(p) for p in group)
            for p in group:
                out[p] = number
        # The same blocs as before stay the same object: what was made for them (the bloc
        # vector, each view's grouping of its supporters) is kept (most trust statements
        # change no bloc).
        if self._blocs_cache is not None and self._blocs_cache[1] == out:
            out = self._blocs_cache[1]
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
