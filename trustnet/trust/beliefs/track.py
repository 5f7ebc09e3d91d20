"""Rule evaluation per partition and each source's track record (confirmed / refuted claims)."""

from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from trustnet.statements.evidence import Evidence
from trustnet.statements.rules import Analysis, PartitionRules, evaluate
from trustnet.trust.beliefs.base import FORK_EVIDENCE, _EngineBase, _Partition
from trustnet.trust.beliefs.tracktypes import _Event, _PartTrack, _Track, _TrackSums
from trustnet.trust.opinion import PRIOR_WEIGHT


class _TrackRecord(_EngineBase):
    """Rule evidence per partition (cached) and the track record read from it."""

    def _partition(self, party: str, now_ms: int) -> tuple[list[Evidence], list[_Event]]:
        part = self._parts[party]
        passed = bisect.bisect_left(part.deadlines, now_ms)  # rules: now_ms > deadline
        if part.cache is not None and part.cache[0] == passed:
            return part.cache[1], part.cache[2]
        if part.rules is None:
            # Kept with the partition: a new entry costs what it changes (issue 15 item 3).
            part.rules = PartitionRules(
                figures=self.figures, weights=self.weights,
                match_days=self.params.match_days, tolerance=self.params.tolerance,
                times=self._judged, roles=self._roles, zones=self._zones,
            )
        analysis = part.rules.analyse(part.entries, now_ms, passed)
        evidence = analysis.evidence
        events = self._inspection_events(party, analysis)
        if events != part.events:
            # The track record reads the events alone (and attestations, which bump the
            # version themselves): most new entries leave them, and the reliabilities, as
            # they were.
            self._track_version += 1
            part.events = events
        part.cache = (passed, evidence, events)
        part.evals += 1
        return evidence, events

    def _inspection_events(self, host: str, analysis: Analysis) -> list[_Event]:
        """Track record of an accepted inspection on `host`: observations and the notification."""
        events = [
            _Event(m.report.author_hex, m.observation.author_hex, m.confirmed, m.confidence,
                   m.report.id_hex)
            for m in analysis.inspected
        ]
        evidence = analysis.evidence
        # The host's notification against the inspection: the rules compared them already.
        for ev in evidence:
            if not ev.verifiable or not ev.sources or len(ev.entries) < 2:
                continue
            if ev.rule == "undercounted_notification":
                events.append(_Event(ev.sources[0], host, False, 1.0, ev.entries[1]))
            elif ev.rule == "inspection_consistent" and self._author_of.get(ev.entries[0]) == host:
                events.append(_Event(ev.sources[0], host, True, 1.0, ev.entries[1]))
        return events


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

    def _track(self, forked: set[str]) -> _Track:
        """The track record's parts that reliabilities do not change (cached).

        Its sums are kept (`_TrackSums`) and made again only where a term changed: the
        pairs an attestation moved (the engine's pair log) and the pairs and sources of
        the partitions whose events changed; a new fork builds them again."""
        stamp = (self._track_version, len(forked))
        if self._track_cache is not None and self._track_cache[0] == stamp:
            return self._track_cache[1]
        sums = self._sums
        log = self._pair_log
        moved: set[tuple[str, str]] = set()
        if sums is None or sums.forks != len(forked):
            sums = self._sums = _TrackSums(len(forked), 0)
            moved.update(self._pairs)
        else:
            moved.update(log[sums.pairs_at :])
        sums.pairs_at = len(log)
        dirty: set[tuple[str, str]] = set()  # pairs to sum again
        sources: set[str] = set()  # confirmed to sum again
        # Attestations' part: halves of a permille (`_count_attestation`).
        for key in moved:
            v, s = key
            if v in forked or s in forked:
                continue
            c2, r2 = self._pairs[key]
            c, r = c2 / 2000.0, r2 / 2000.0
            sums.base[key] = (c, r)
            sums.base_by_source.setdefault(s, {})[v] = c
            if r:
                sums.refs.put(key, (self._num(v), self._num(s)), r)
            else:
                sums.refs.drop(key)
            dirty.add(key)
            sources.add(s)
        for s in {key[1] for key in moved} & sources:
            total = 0.0  # by verifier, as the full pass over the sorted pairs adds them
            for _v, c in sorted(sums.base_by_source[s].items()):
                total += c
            sums.base_conf[s] = total
        # The partitions' part.
        for party in sorted(self._parts):
            agg = self._part_track(self._parts[party], forked)
            old = sums.aggs.get(party)
            if old is agg:
                continue
            sums.aggs[party] = agg
            # Only the terms that changed: a partition evaluated again after a new entry
            # makes its aggregate again, mostly equal to the last (hundreds of pairs; the
            # sums of the others are the same floats).
            old_pairs = old.pairs if old is not None else {}
            old_conf = old.confirmed if old is not None else {}
            for key, cr in old_pairs.items():
                if agg.pairs.get(key) != cr:
                    sums.terms[key].pop(party)
                    dirty.add(key)
            for s, c in old_conf.items():
                if agg.confirmed.get(s) != c:
                    sums.conf_terms[s].pop(party)
                    sources.add(s)
            for key, cr in agg.pairs.items():
                if old_pairs.get(key) != cr:
                    sums.terms.setdefault(key, {})[party] = cr
                    dirty.add(key)
            for s, c in agg.confirmed.items():
                if old_conf.get(s) != c:
                    sums.conf_terms.setdefault(s, {})[party] = c
                    sources.add(s)
        tw = self.params.track_weight
        for key in dirty:
            terms = sums.terms.get(key, {})
            got = sums.base.get(key)
            for party in sorted(terms):
                c, r = terms[party]
                got = (c, r) if got is None else (got[0] + c, got[1] + r)
            if got is None:
                sums.pairs.pop(key, None)
                sums.edges.drop(key)
                continue
            sums.pairs[key] = got
            # Opinion.from_evidence(c, r).b - .d (c, r >= 0), as numpy did it for all pairs.
            c, r = got
            total = c + r + PRIOR_WEIGHT
            w = tw * max(0.0, min(c / total, 1.0) - min(r / total, 1.0))
            if w > 0.0:
                sums.edges.put(key, (self._num(key[0]), self._num(key[1])), w)
            else:
                sums.edges.drop(key)
        for s in sources:
            conf = sums.conf_terms.get(s, {})
            if s not in sums.base_conf and not conf:
                sums.confirmed.pop(s, None)
                continue
            acc = sums.base_conf.get(s, 0.0)
            for party in sorted(conf):
                acc += conf[party]
            sums.confirmed[s] = acc
        ev_sources: list[NDArray[np.intp]] = []
        weights: list[NDArray[np.float64]] = []
        segs: list[NDArray[np.intp]] = []
        idxs: list[NDArray[np.intp]] = []
        events = 0
        for party in sorted(self._parts):
            agg = sums.aggs[party]
            segs.append(agg.ev_seg + events)
            idxs.append(agg.ev_idx)
            ev_sources.append(agg.ev_source)
            weights.append(agg.ev_weight)
            events += len(agg.ev_source)
        empty = np.zeros(0, dtype=np.intp)
        track = _Track(
            # Refutations are summed exactly rounded (`_reliability`): their order is free.
            *sums.refs.arrays(),
            np.concatenate(ev_sources) if ev_sources else empty,
            np.concatenate(weights) if weights else np.zeros(0),
            np.concatenate(segs) if segs else empty,
            np.concatenate(idxs) if idxs else empty,
            dict(sums.confirmed),
            # Each pair is one edge, so the order is free (`_reliability` sorts them).
            *sums.edges.arrays(),
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
            np.array([self._num(x) for x in ev_source], dtype=np.intp),
            np.array(ev_weight, dtype=np.float64),
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

