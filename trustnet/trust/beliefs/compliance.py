"""Compliance: a party's facts, their credibility, and the raw and verified views (DESIGN 7)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trustnet.numeric import c_view, fsum_array
from trustnet.sequences import common_ends
from trustnet.statements.evidence import Evidence
from trustnet.trust.beliefs.base import _Partition
from trustnet.trust.beliefs.compiled import (
    _ANSWER,
    _FUSE,
    _OWN,
    _Build,
    _compile,
    _fact_key,
    _FactKey,
    _Facts,
    _FactSpec,
    _Group,
    _Held,
    _Lazy,
)
from trustnet.trust.beliefs.credibility import _ANSWER_RULES, fact_opinion
from trustnet.trust.beliefs.records import Contribution, PartyBelief, Reliability, View
from trustnet.trust.beliefs.reliability import _Reliabilities
from trustnet.trust.opinion import Opinion, cumulative_fuse


@dataclass(slots=True)
class _Fact:
    party: str
    rule: str
    items: list[Evidence]



class _Compliance(_Reliabilities):
    """The raw and verified views of each party's compliance."""

    def _views(
        self,
        party: str,
        part: _Partition,
        rp: Mapping[str, float],
        rp_vec: NDArray[np.float64],
        forked: set[str],
        blocs: Mapping[str, int] | None = None,
        bloc_vec: NDArray[np.intp] | None = None,
    ) -> tuple[View, View]:
        """The raw and verified views of one party, cached until what they read changes."""
        assert part.cache is not None  # evaluated by snapshot before this
        passed, evidence, _events = part.cache
        stamp = (part.version, passed)
        # The same partition state read with the very same reliabilities and blocs as last
        # time (`_reliability` hands out the same objects while they are unchanged).
        # Held, not their ids: compared by identity, so a new object is never taken for them.
        quick = ((stamp, len(forked), self._names_version), rp, blocs)
        held = part.views_quick
        if part.views is not None and held is not None and held[0] == quick[0] and (
                held[1] is rp and held[2] is blocs):
            return part.views[1], part.views[2]
        prep_key = (stamp, len(forked), self._names_version)
        if part.relevant is None or part.relevant[0] != stamp:
            facts = self._prepare(party, part, evidence, forked, prep_key)
            part.relevant = (stamp, tuple(sorted(facts.who)))
        who = part.relevant[1]
        key = (
            stamp,
            len(forked),
            self._names_version,
            tuple(map(rp.get, who, repeat(0.0))),
            tuple(map(blocs.get, who, repeat(-1))) if blocs else (),
        )
        if part.views is not None and part.views[0] == key:
            part.views_quick = quick
            return part.views[1], part.views[2]
        if part.prep is None or part.prep[0] != prep_key:
            facts = self._prepare(party, part, evidence, forked, prep_key)
            part.prep = (prep_key, _compile(facts.specs, self._num,
                                            part.prep[1] if part.prep is not None else None))
        comp = part.prep[1]
        reliable = self.params.reliable
        raw_cred = comp.raw.credibility(rp_vec, reliable, bloc_vec)
        raw_view = self._lazy_view(comp.raw, raw_cred, None)
        met = comp.ver.quorum_met(rp_vec, reliable, self.params.quorum, bloc_vec)
        ver_view = self._lazy_view(comp.ver, comp.ver.credibility(rp_vec, reliable, bloc_vec), met)
        part.views = (key, raw_view, ver_view)
        part.views_quick = quick
        return raw_view, ver_view

    def _lazy_view(
        self, group: _Group, cred: NDArray[np.float64], met: NDArray[np.bool_] | None
    ) -> View:
        """A view fused from the group's builds of positive credibility (`_build`, `_view`)."""
        base_rate = self.params.base_rate
        sums: tuple[float, float, float, float] | None = None
        if c_view is not None:
            # The loop below and the sums, compiled: the same floats (trustnet/_numeric.c);
            # fresh output arrays (they may overlap nothing).
            size = len(cred)
            pos = np.empty(size, dtype=np.intp)
            c, b, d, u = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
            n, sums = c_view(cred, met, group.base_b, group.base_d, group.base_u, pos, c, b, d, u)
            pos, c, b, d, u = pos[:n], c[:n], b[:n], d[:n], u[:n]
        else:
            keep = cred > 0.0
            if met is not None:
                keep &= met
            pos = np.flatnonzero(keep)
            c = cred[pos]
            bb, bd, bu = group.base_b[pos], group.base_d[pos], group.base_u[pos]
            # discount(dogmatic(c), base), as opinion.py computes it; the base itself at c >= 1.
            full = c >= 1.0
            # (+ 0.0: a zero is +0.0 whatever sign a numpy version's clip gives -0.0)
            b = np.where(full, bb, np.clip(c * bb, 0.0, 1.0) + 0.0)
            d = np.where(full, bd, np.clip(c * bd, 0.0, 1.0) + 0.0)
            u = np.where(full, bu, np.clip(1.0 - c * bb - c * bd, 0.0, 1.0) + 0.0)
            n = len(pos)
        lazy = _Lazy(group, pos, c, b, d, u)
        if n == 0:
            return View(Opinion.vacuous(base_rate), lazy=lazy)
        if n == 1:
            fused = Opinion(float(b[0]), float(d[0]), float(u[0]), base_rate)
        elif sums is None and not (u > 0.0).all():  # (sums made: every u > 0)
            # Dogmatic inputs: opinion.py's limit form, on the opinions themselves.
            ops = [Opinion(x, y, z, base_rate) for x, y, z in zip(b, d, u, strict=True)]
            f = cumulative_fuse(*ops)
            fused = Opinion(f.b, f.d, f.u, base_rate)
        else:
            # cumulative_fuse's multi-source form: the same products, exactly rounded sums.
            if sums is None:
                u_min = float(u.min())
                w = u_min / u
                sums = (u_min, fsum_array(w), fsum_array(w * b), fsum_array(w * d))
            u_min, sum_w, sum_wb, sum_wd = sums
            den = sum_w - (n - 1) * u_min
            fb = sum_wb / den
            fd = sum_wd / den
            fu = u_min / den
            fused = Opinion(
                min(max(fb, 0.0), 1.0), min(max(fd, 0.0), 1.0), min(max(fu, 0.0), 1.0), base_rate
            )
        return View(fused, lazy=lazy)

    # -- compliance ------------------------------------------------------------------------------

    def _prepare(
        self,
        party: str,
        part: _Partition,
        evidence: list[Evidence],
        forked: set[str],
        key: tuple[Any, ...],
    ) -> _Facts:
        """Group a partition's evidence into facts and fix what reliabilities do not change,
        at the cost of the facts that changed since the last call (`_Facts`); `key`: the
        state prepared (a second call with the same key does nothing)."""
        common = (len(forked), self._names_version)
        log = self._att_log
        held = part.facts
        if held is None or held.common != common:
            held = part.facts = _Facts(common, None, [], len(log))
        elif held.synced == key:
            return held
        held.synced = key
        # The facts whose evidence came or went (by identity: the kept rules hand out the
        # same objects for what did not change; an equal new one is only made again), and
        # those whose entries were attested since.
        # Only the span between what both lists share at their ends is compared: a new entry
        # changes a few facts, the rest of the list is the very same objects in order.
        old = held.evidence
        same_head, same_tail = common_ends(old, evidence)
        old_mid = old[same_head:len(old) - same_tail]
        new_mid = evidence[same_head:len(evidence) - same_tail]
        old_ids = {id(ev) for ev in old_mid}
        new_ids = {id(ev) for ev in new_mid}
        came: dict[_FactKey, list[Evidence]] = {}
        for ev in new_mid:
            if id(ev) not in old_ids:
                came.setdefault(_fact_key(ev), []).append(ev)
        went: dict[_FactKey, set[int]] = {}
        for ev in old_mid:
            if id(ev) not in new_ids:
                fk = _fact_key(ev)
                went.setdefault(fk, set()).add(id(ev))
                came.setdefault(fk, [])
        of_entry = held.of_entry
        attested: set[_FactKey] = set()
        atts = self._atts
        if len(log) - held.atts_at <= len(of_entry):
            for i in log[held.atts_at :]:
                attested.update(of_entry.get(i, ()))
        else:
            # More attestations since than entries held (a partition long untouched): count
            # each fact's instead of reading them all (attestations are only ever added).
            attested.update(fk for fk, st in held.by_key.items()
                            if sum(len(atts[i]) for i in st.ids if i in atts) != st.atts)
        for fk in attested:
            came.setdefault(fk, [])
        held.atts_at = len(log)
        held.evidence = evidence  # held: `old`'s objects stay alive, so ids are not reused
        if not came:
            return held
        pos: dict[int, int] | None = None
        for fk, added in came.items():
            state = held.by_key.get(fk)
            items = added
            if state is not None:
                gone = went.get(fk, ())
                items = [ev for ev in state.items if id(ev) not in gone] + added
            if len(items) > 1:  # in the evidence's order, as a fresh grouping has them
                if pos is None:
                    pos = {id(ev): k for k, ev in enumerate(evidence)}
                where = pos
                items.sort(key=lambda ev: where[id(ev)])
            if state is not None:
                if fk not in attested and items == state.items:
                    state.items = items  # equal evidence, made again by its rule: the same fact
                    continue
                del held.by_key[fk]
                self._drop(held, fk, state)
            if not items:
                continue
            ids = tuple({i for ev in items for i in ev.entries})
            who = {s for ev in items for s in ev.sources}
            who.update(a.author for i in ids for a in atts.get(i, ()))
            spec = self._fact_spec(_Fact(party, fk[0], items), forked)
            first = items[0]
            order = None if spec is None else (
                spec.order, (first.at, first.rule, first.entries, first.party))
            count = sum(len(atts[i]) for i in ids if i in atts)
            state = held.by_key[fk] = _Held(items, ids, tuple(who), spec, order, count)
            for i in ids:
                of_entry.setdefault(i, {})[fk] = None
            for p in state.who:
                held.who[p] = held.who.get(p, 0) + 1
            if spec is not None and order is not None:
                at = bisect.bisect_left(held.order, order)
                held.order.insert(at, order)
                held.specs.insert(at, spec)
        return held

    @staticmethod
    def _drop(held: _Facts, fk: _FactKey, state: _Held) -> None:
        """Take a fact out of `held`'s indexes (its entries, parties and spec)."""
        for i in state.ids:
            facts = held.of_entry.get(i)
            if facts is not None:
                facts.pop(fk, None)
                if not facts:
                    del held.of_entry[i]
        for p in state.who:
            n = held.who[p] - 1
            if n:
                held.who[p] = n
            else:
                del held.who[p]
        if state.order is not None:
            at = bisect.bisect_left(held.order, state.order)
            assert held.order[at] == state.order
            del held.order[at]
            del held.specs[at]

    def _fact_spec(self, fact: _Fact, forked: set[str]) -> _FactSpec | None:
        party = fact.party
        # Evidence resting only on equivocators' statements stops counting.
        items = [ev for ev in fact.items if not ev.sources or set(ev.sources) - forked]
        if not items:
            return None
        basis_items = [ev for ev in items if ev.verifiable]
        rep = basis_items[-1] if basis_items else items[0]
        # The same weight, the same opinion (the engine's params are fixed): made once each.
        base = self._fact_opinions.get(rep.weight)
        if base is None:
            base = self._fact_opinions[rep.weight] = fact_opinion(
                rep.weight, self.params.evidence_scale, self.params.base_rate)
        # DOMAIN: an inspection report is verified when the host co-signs it (its `confirm`
        # attestation of the report) or a quorum of independent reliable attesters confirms it;
        # the requester's report alone is a claim (issue 12, finding 7). The host's own
        # verdicts are shown, and its refutation weighs against the fact like any refuter's.
        reports = [i for ev in basis_items for i in ev.entries if i in self._reports]
        host_said = {
            a.verdict for i in reports for a in self._atts.get(i, ()) if a.author == party
        } if reports and party not in forked else set()
        cosigned = "confirm" in host_said and "refute" not in host_said
        # This node's own inspectors' report: it knows what they found (its own view only).
        own_report = any(self._author_of.get(i) == self.self_id for i in reports)
        b = _Builder(self, fact, forked, rep, base, bool(reports), "refute" in host_said,
                     cosigned)
        raw_b = b.build(items, bool(basis_items))
        order = (raw_b.at, raw_b.rule, raw_b.entries)
        # Every item verifiable (most facts: one item each): the verified build is the raw one.
        basis_b = raw_b if len(basis_items) == len(items) else None
        if basis_items and (not reports or cosigned or own_report):
            return _FactSpec(order, raw_b, basis_b or b.build(basis_items, True), None)
        quorum_min = self.params.quorum
        if basis_items:
            # A report the host did not co-sign: verified only by a quorum of its attesters.
            quorum = tuple(b.attested(basis_items, False))
            if len(quorum) < quorum_min:
                return _FactSpec(order, raw_b, None, None)
            return _FactSpec(order, raw_b, basis_b or b.build(basis_items, True), quorum)
        quorum = tuple(b.attested(items, False))
        if len(quorum) < quorum_min:
            return _FactSpec(order, raw_b, None, None)  # never enough attesters, whatever p
        return _FactSpec(order, raw_b, b.build(items, True), quorum)

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


class _Builder:
    """The builds of one fact (`_Compliance._fact_spec`): an object, not closures, so that
    compiled (trustnet/_build.py) it makes no reference cycle to wait for the collector."""

    def __init__(self, engine: _Compliance, fact: _Fact, forked: set[str], rep: Evidence,
                 base: Opinion, reports: bool, host_refutes: bool, cosigned: bool) -> None:
        self.engine = engine
        self.fact = fact
        self.party = fact.party
        self.forked = forked
        self.rep = rep
        self.base = base
        self.reports = reports  # some of its verifiable items are inspection reports
        self.host_refutes = host_refutes
        self.cosigned = cosigned
        self.memo: dict[tuple[str, bool], list[str]] = {}

    def sources_of(self, evs: list[Evidence]) -> list[str]:
        forked, party = self.forked, self.party
        return sorted({s for ev in evs for s in ev.sources if s not in forked and s != party})

    def attesters(self, i: str, refute: bool) -> list[str]:
        engine = self.engine
        if i not in engine._atts:
            return []
        got = self.memo.get((i, refute))
        if got is None:
            get = engine._refuters if refute else engine._confirmers
            got = self.memo[(i, refute)] = get(i, self.forked, self.party)
        return got

    def attested(self, evs: list[Evidence], refute: bool) -> list[str]:
        return self.attested_ids([i for ev in evs for i in ev.entries], refute)

    def attested_ids(self, ids: Iterable[str], refute: bool) -> list[str]:
        atts = self.engine._atts
        return sorted({a for i in ids if i in atts for a in self.attesters(i, refute)})

    def build(self, evs: list[Evidence], verified: bool) -> _Build:
        engine, fact, party, rep = self.engine, self.fact, self.party, self.rep
        srcs = self.sources_of(evs)
        entries = tuple(dict.fromkeys(i for ev in evs for i in ev.entries))
        conf: list[str]
        refs: list[str]
        if any(i in engine._atts for i in entries):
            conf = self.attested_ids(entries, False)
            refs = self.attested_ids(entries, True)
        else:  # (most facts: nobody attested their entries)
            conf = refs = []
        if self.host_refutes and any(i in engine._reports for i in entries):
            refs = sorted({*refs, party})
        own = not any(ev.sources for ev in evs)
        verifiable = any(ev.verifiable for ev in evs)
        if own:
            mode, basis = _OWN, "self-proving: the party's own signed statements"
        elif fact.rule in _ANSWER_RULES and verifiable:
            mode = _ANSWER
            basis = f"the party's own signed answer to {engine._names_of(srcs)}"
        else:
            mode = _FUSE
            kind = (
                "accepted inspection reported by"
                if verifiable
                else ("unverified, from" if not verified else "attested claim by")
            )
            basis = f"{kind} {engine._names_of(srcs)}"
            if self.reports and verifiable:
                basis += (
                    ", co-signed by the host" if self.cosigned
                    else ", refuted by the host" if self.host_refutes
                    else ", not co-signed by the host"
                )
            if conf:
                basis += f", confirmed by {engine._names_of(conf)}"
            others = [r for r in refs if r != party]  # the host is named above
            if others:
                basis += f", refuted by {engine._names_of(others)}"
        return _Build(
            fact.rule,
            rep.weight,
            min(ev.at for ev in evs),
            entries,
            tuple(srcs),
            tuple(conf),
            tuple(refs),
            rep.note,
            verifiable,
            verified,
            mode,
            basis,
            self.base,
        )
