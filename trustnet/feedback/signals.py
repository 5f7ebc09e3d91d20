"""From signed statements to suspicion signals (DESIGN sections 8 and 12, docs/suspicion.md).

The rule engine turns statements into `Evidence` about parties; this module
turns evidence and statements into the estimator's three inputs, seen from
this node (`self_id`):

- threat: every negative-weight evidence about a party P other than us,
  weight |w| (what P is seen to do: it feeds P's seen hostility y, the
  reactivity k and, when verified, the standing grievance).
- cooperation: every positive-weight evidence about P, weight w (accepted
  inspections, answered consultations, consistent reports, annual exchanges
  on time): the restraint.
- hostility: P's own signed statements that *abuse* the rules against us
  (`hostility_signals`, feedback/hostility.py): an inspection request with us as host beyond the
  quota or by a party without standing (its profile is not a `state`'s), a
  flood of consultation requests about us, a deepening distrust, a
  refutation of our statements. Observing, asking and inspecting within the
  rules are verification rights, never hostility. Verification 1.0: P's own
  words. Weights are `HostilityWeights` (Goldstein-style, / 10).

Credibility gate. `verification(ev)` maps evidence to v in [0, 1]: how far
this node believes it (the node passes its beliefs' views, `views.py`: a claim
whose sources all have reliability 0 gets 0). The estimator weighs a signal by
the Kalman gain K(v) = v / (v + noise (1 - v)): K(0) = 0, a source nobody
relies on moves nothing. Without beliefs the library default is
`default_verification`: 1.0 for `verifiable` evidence, else n/4 for n
distinct sources (every source taken at face value).

One fact, counted once. The rule engine emits findings about one activity as
one fact per basis: an unverified fact when it was observed and a verifiable
one when it was inspected (DOMAIN.md demo: steps 3 and 5), both keyed by
`entries[0]` (the notification the findings were compared with) and the rule.
Evidence is grouped by (party, rule, ref) with ref = entries[0] (or the rule
name when it rests on no entry), ordered by time; each member adds only what
it brings beyond the group's largest Kalman-weighted amount so far (its
credit C): a later member with amount A > C is emitted with weight (A - C) / K(v)
and verification v; one with A <= C adds nothing and is not emitted.

Bounded influence. What one source's unverified claims (v < 1) add about one
party is paid from its budget `SuspicionParams.source_cap` (K-weighted, in time
order; several sources of one claim pay equal shares): no source, however
credible, can push a party further alone than one verified breach.

`suspicion_for` is the one-shot path (evaluate, signals, recompute);
`SuspicionView` keeps an estimator and feeds it incrementally, with the same
result bitwise. Pure code: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from itertools import pairwise

from trustnet.feedback.estimator import (
    PartySuspicion,
    Signal,
    SuspicionEstimator,
    SuspicionParams,
)
from trustnet.feedback.hostility import (
    AIMED_KINDS,
    DEFAULT_HOSTILITY as DEFAULT_HOSTILITY,
    HostilityLedger,
    HostilityWeights as HostilityWeights,
    aimed_at,
    hostility_signals as hostility_signals,
)
from trustnet.feedback.ledger import (
    EQUIVOCATION,
    FactKey,
    GroupKey,
    PartyLedger,
    fact_signals,
    involved_budgets,
)
from trustnet.feedback.richardson import FeedbackError
from trustnet.feedback.tables import FactTable
from trustnet.log.entry import MAX_FUTURE_MS, Entry, ForkProof
from trustnet.sequences import common_ends
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.rules import evaluate
from trustnet.statements.weights import DEFAULT_WEIGHTS, RuleWeights

# evidence -> v in [0, 1]: how far it is verified (the beliefs module's verified view)
Verification = Callable[[Evidence], float]

def default_verification(ev: Evidence) -> float:
    """1.0 for verifiable evidence, else n/4 for n distinct sources (capped at 1.0)."""
    if ev.verifiable:
        return 1.0
    # 0.5 per pair of independent sources: one observer 0.25, four count as verified.
    return min(1.0, 0.5 * len(set(ev.sources)) / 2.0)


def _check_v(v: float, ev: Evidence) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise FeedbackError(
            f"verification of {ev.rule} about {ev.party[:16]} must be in [0, 1], got {v!r}",
            code="bad_signal",
        )
    return float(v)


# Per fact: its members, the budgets of its sources before it, its signals, and the
# budgets after it (so a fact whose evidence and budgets are unchanged is reused).
GroupMemo = dict[GroupKey, tuple[list[tuple[Evidence, float]], tuple[float, ...],
                                 list[Signal], tuple[float, ...]]]



def evidence_signals(
    evidence: Iterable[Evidence],
    self_id: str,
    *,
    verification: Verification | None = None,
    params: SuspicionParams | None = None,
    memo: GroupMemo | None = None,
) -> list[Signal]:
    """Threat and cooperation signals from evidence about others, each fact counted once,
    each source's unverified influence bounded (`SuspicionParams.source_cap`).

    `memo` (kept by a caller that asks again and again, e.g. `SuspicionView`): the signals
    of each fact are reused while the fact's evidence, verifications and its sources'
    budgets are unchanged; it is replaced in place by what this call used, so it never
    outgrows the evidence.
    """
    params = params or SuspicionParams()
    verify = verification or default_verification
    evidence = list(evidence)
    # DOMAIN.md: an equivocator is distrusted, its compliance fully negative. Once a fork
    # proof stands against a party, its word is void: nothing it did counts as cooperation
    # (each honest node may hold a different branch of its log; neither can be believed).
    forked = {ev.party for ev in evidence if ev.rule == EQUIVOCATION}
    groups: dict[GroupKey, list[tuple[Evidence, float]]] = {}
    for ev in evidence:
        if ev.party == self_id or ev.weight == 0.0 or not math.isfinite(ev.weight):
            continue
        if ev.weight > 0 and ev.party in forked:
            continue
        ref = ev.entries[0] if ev.entries else ev.rule
        groups.setdefault((ev.party, ev.rule, ref), []).append((ev, _check_v(verify(ev), ev)))
    for members in groups.values():
        # time order, then the better-verified first: a deterministic order whatever the input's
        if len(members) > 1:
            members.sort(key=lambda m: (m[0].at, -m[1], m[0].entries, m[0].sources, m[0].note))
    out: list[Signal] = []
    used: GroupMemo = {}
    # Each source's budget of unverified influence, per party, spent in time order.
    budget: dict[tuple[str, str], float] = {}
    cap = params.source_cap
    # Budgets are spent in time order: facts by their first member's time (the order the
    # evidence comes in, when it is sorted by time as `evaluate` gives it).
    order = list(groups)
    firsts = [groups[k][0][0].at for k in order]
    if any(a > b for a, b in pairwise(firsts)):
        order.sort(key=lambda k: (groups[k][0][0].at, k))
    for key in order:
        members = groups[key]
        involved = involved_budgets(key[0], members)
        before = tuple([budget.get(s, cap) for s in involved]) if involved else ()
        cached = memo.get(key) if memo is not None else None
        if cached is not None and cached[1] == before and cached[0] == members:
            signals, after = cached[2], cached[3]
            if involved:
                budget.update(zip(involved, after, strict=True))
            # Keep the cached objects, not their equal new copies: what this call built for
            # an unchanged fact dies young, instead of replacing long-lived memo entries
            # (which would make the collector sweep the node's whole heap every few updates).
            used[key] = cached
        else:
            signals = fact_signals(key, members, params, budget)
            after = tuple([budget.get(s, cap) for s in involved]) if involved else ()
            used[key] = (members, before, signals, after)
        out.extend(signals)
    if memo is not None:
        memo.clear()
        memo.update(used)
    out.sort(key=lambda s: (s.party, *s.sort_key()))
    return out


def signals_from(
    entries: Iterable[Entry],
    evidence: Iterable[Evidence],
    self_id: str,
    *,
    verification: Verification | None = None,
    params: SuspicionParams | None = None,
    hostility: HostilityWeights = DEFAULT_HOSTILITY,
    figures: ViennaFigures = DEFAULT_FIGURES,
) -> list[Signal]:
    """Every signal this node derives from `entries` and their `evidence` (deterministic)."""
    return sorted(
        [
            *evidence_signals(evidence, self_id, verification=verification, params=params),
            *hostility_signals(entries, self_id, weights=hostility, figures=figures),
        ],
        key=lambda s: (s.party, *s.sort_key()),
    )


def suspicion_for(
    entries: Iterable[Entry],
    self_id: str,
    now_ms: int,
    *,
    forks: Iterable[ForkProof] = (),
    figures: ViennaFigures = DEFAULT_FIGURES,
    weights: RuleWeights = DEFAULT_WEIGHTS,
    params: SuspicionParams | None = None,
    verification: Verification | None = None,
    hostility: HostilityWeights = DEFAULT_HOSTILITY,
) -> dict[str, PartySuspicion]:
    """One-shot: evaluate the rules, derive the signals, recompute every party as of `now_ms`."""
    est = SuspicionEstimator(params or SuspicionParams(), self_id)
    est.hold_after(now_ms + MAX_FUTURE_MS)  # as SuspicionView.update
    est.observe_many(
        _signals(
            entries, self_id, now_ms, forks, figures, weights, est.params, verification, hostility
        )
    )
    return est.reports(now_ms)


def _signals(
    entries: Iterable[Entry],
    self_id: str,
    now_ms: int,
    forks: Iterable[ForkProof],
    figures: ViennaFigures,
    weights: RuleWeights,
    params: SuspicionParams,
    verification: Verification | None,
    hostility: HostilityWeights,
) -> list[Signal]:
    held = list(entries)
    evidence = evaluate(held, now_ms, figures=figures, weights=weights, forks=forks)
    return signals_from(held, evidence, self_id, verification=verification, params=params,
                        hostility=hostility, figures=figures)


class SuspicionView:
    """This node's suspicion of every party, fed incrementally from the entries it holds.

    `update(new_entries, now_ms)` takes the rules' evidence over every held entry (run
    here, or handed in by the caller: evidence depends on the clock, a consultation becomes
    unanswered only once 48 h have passed) and feeds the estimator only what changed. Each
    party's facts are kept in a `PartyLedger` (feedback/ledger.py): a fact whose evidence
    or verification changed is recomputed, with the later facts whose sources' budgets
    it changes, and the estimator is told the signals taken back and added. When a
    signal it was fed is no longer derived (a verification changed, a late notification
    removed a finding's fact, a top-up weight changed), the party's state is replayed from
    the earliest change (`SuspicionEstimator.revise`): the view always equals
    `suspicion_for` over the same entries, bitwise, and replays are idempotent. "Seen" is
    full `Signal` equality (the estimator's own duplicate test), not just (ref, rule,
    party, at): a fact whose verification or weight changed is a changed past, not a
    duplicate. Given the evidence per source with stamps (`BeliefEngine.evidence_by_party`)
    and per-party verification tables keyed by fact, an update costs the facts that
    changed; otherwise each update costs one `evaluate` over all held entries.
    """

    def __init__(
        self,
        self_id: str,
        *,
        params: SuspicionParams | None = None,
        figures: ViennaFigures = DEFAULT_FIGURES,
        weights: RuleWeights = DEFAULT_WEIGHTS,
        hostility: HostilityWeights = DEFAULT_HOSTILITY,
        verification: Verification | None = None,
    ) -> None:
        self.self_id = self_id
        self.params = params or SuspicionParams()
        self.figures = figures
        self.weights = weights
        self.hostility = hostility
        # may be replaced (e.g. by the beliefs module's verified view); the next update applies it
        self.verification = verification
        self.rebuilds = 0  # how often a changed past forced a party's state to be replayed
        self._entries: dict[bytes, Entry] = {}
        self._me = _key_of(self_id)  # our key as an entry's author, when self_id is one
        # others' statements that may be hostile to us, walked as they arrive
        self._hostility = HostilityLedger(self_id, weights=hostility, figures=figures)
        self._forks: dict[tuple[bytes, bytes], ForkProof] = {}
        # Per evidence source (a belief-engine partition, or the whole list when the caller
        # passes one): its stamp, its evidence by party and fact, and its rank in the order
        # the sources are concatenated.
        self._stamps: dict[str, int | None] = {}
        self._split: dict[str, dict[str, dict[FactKey, list[Evidence]]]] = {}
        # Per source: its last evidence list (a copy) and each member's (party, fact key),
        # aligned: a new list that keeps most of the old objects is split only where it differs.
        self._evs: dict[str, tuple[list[Evidence], list[tuple[str, FactKey]]]] = {}
        self._rank: dict[str, int] = {}
        self._srcs: dict[str, dict[FactKey, set[str]]] = {}  # party -> fact -> its sources
        self._equivocal: dict[str, set[FactKey]] = {}  # party -> its fork-proof facts
        self._forked: set[str] = set()  # parties whose ledger counts them forked
        self._tables: dict[str, object] | None = None  # party -> verification table last used
        self._ledgers: dict[str, PartyLedger] = {}  # party -> its facts and their signals
        self._host_by: dict[str, list[Signal]] = {}  # party -> its hostility signals
        self._fed_by: dict[str, dict[Signal, int]] = {}  # party -> what the estimator has
        self._extra: dict[str, list[Signal]] = {}  # party -> the `extra` signals of `update`
        self._est = SuspicionEstimator(self.params, self_id)

    def update(
        self,
        new_entries: Iterable[Entry],
        now_ms: int,
        *,
        forks: Iterable[ForkProof] = (),
        evidence: Iterable[Evidence] | Mapping[str, tuple[int, list[Evidence]]] | None = None,
        verification_tables: Mapping[str, object] | None = None,
        extra: Mapping[str, list[Signal]] | None = None,
    ) -> int:
        """Take in new entries and fork proofs as of `now_ms`; returns the signals fed.

        `extra`: party -> further signals derived elsewhere (the restraint of people-to-people
        contacts, feedback/restraint.py), replacing those of the last update.

        `evidence`: what the rules derive from every held entry as of `now_ms`, when the
        caller has it already; otherwise the rules are run over every held entry here.
        Either one list, or per source (`BeliefEngine.evidence_by_party`): source ->
        (stamp, its evidence), iterated in the order the sources concatenate; a source
        whose stamp is unchanged holds the same evidence as at the last update.
        `verification_tables`: party -> a value that changes whenever `verification` of any
        evidence about that party changes; with it, a party whose table is the same is not
        verified again. A table that is a mapping keyed by fact (rule, ref), as the node's
        views pass (`verification` reads the fact's entry), has only the facts whose entry
        changed verified again; with any other value, every fact of the party. Without
        tables, every party's evidence is verified again.
        """
        # Signals later than the entries' own bound ahead of the clock wait until it passes
        # them (`SuspicionEstimator.hold_after`: a body time may lie centuries ahead, and the
        # estimator walks a step per day to a signal); what the clock passed is fed now.
        released = self._est.hold_after(now_ms + MAX_FUTURE_MS)
        aimed: list[Entry] = []
        seen, me, self_id = self._entries, self._me, self.self_id
        for e in new_entries:
            if e.id in seen:
                continue
            seen[e.id] = e
            if e.author == me or (e.kind in AIMED_KINDS and aimed_at(e, self_id)):
                aimed.append(e)  # ours: what a refutation may target
        for f in forks:
            self._forks.setdefault((f.a.id, f.b.id), f)
        if evidence is None:
            proofs = [self._forks[k] for k in sorted(self._forks)]
            # a deterministic order of the held entries, whatever the arrival order
            held = sorted(self._entries.values(), key=lambda e: (e.ts, e.id))
            evidence = evaluate(held, now_ms, figures=self.figures, weights=self.weights,
                                forks=proofs)
        # one list: a single source, always taken as changed
        sources: Mapping[str, tuple[int | None, list[Evidence]]] = (
            evidence if isinstance(evidence, Mapping) else {"": (None, list(evidence))})
        dirty: dict[str, set[FactKey] | None] = {}  # party -> facts to redo (None: all)
        self._take_sources(sources, dirty)
        self._take_tables(verification_tables, dirty)
        delta: dict[str, dict[Signal, int]] = {}
        for party, keys in dirty.items():
            if party != self.self_id:
                self._redo(party, keys, delta)
        host = self._take_hostility(aimed)
        extra_now = self._extra if extra is None and not self._extra else dict(extra or {})
        for party in {p for p in extra_now.keys() | self._extra.keys()
                      if extra_now.get(p) != self._extra.get(p)}:
            host[party] = (self._extra.get(party, []), extra_now.get(party, []))
        self._extra = extra_now
        for party, (was, now) in host.items():
            _count(delta.setdefault(party, {}), was, now)
        # Only the parties whose signals changed are told; parties are independent.
        new: list[Signal] = []
        rebuilt = False
        fed_now = 0  # signals fed through revisions
        for party in sorted(delta):
            if party == self.self_id:
                continue
            gone, added = self._feed(party, delta[party])
            if gone:
                # The past changed for this party: its signals are revised, and its state
                # replayed once from the earliest change (the rest of its past is kept).
                rebuilt = True
                self._est.revise(party, gone, added)
                fed_now += len(added)
            else:
                new.extend(added)
        if rebuilt:
            self.rebuilds += 1
        self._est.observe_many(new)
        return released + fed_now + len(new)

    def _feed(self, party: str, delta: dict[Signal, int]) -> tuple[list[Signal], list[Signal]]:
        """Apply a party's signal count changes: the signals the estimator loses and gains."""
        fed = self._fed_by.setdefault(party, {})
        gone: list[Signal] = []
        added: list[Signal] = []
        for s, d in delta.items():
            if d == 0:
                continue
            was = fed.get(s, 0)
            now = was + d
            if now > 0:
                fed[s] = now
            else:
                del fed[s]
            if was == 0 and now > 0:
                added.append(s)
            elif was > 0 and now == 0:
                gone.append(s)
        if not fed:
            del self._fed_by[party]
        return gone, added

    def _take_sources(
        self, sources: Mapping[str, tuple[int | None, list[Evidence]]],
        dirty: dict[str, set[FactKey] | None],
    ) -> None:
        """Record the sources whose stamp changed; mark the facts whose evidence differs."""
        for name in [n for n in self._stamps if n not in sources]:
            for party, facts in self._split.pop(name).items():
                for key in facts:
                    self._unsource(party, key, name)
                    _mark(dirty, party, key)
            del self._stamps[name]
            self._evs.pop(name, None)
        self._rank = {}
        for rank, (name, (stamp, evs)) in enumerate(sources.items()):
            self._rank[name] = rank
            if stamp is not None and self._stamps.get(name, None) == stamp and name in self._split:
                continue
            if name in self._evs and name in self._split:
                self._resplit(name, evs, dirty)
                self._stamps[name] = stamp
                continue
            split: dict[str, dict[FactKey, list[Evidence]]] = {}
            keys: list[tuple[str, FactKey]] = []  # each member's (party, fact), for `_resplit`
            for ev in evs:
                # split[party][fact_key(ev)].append(ev), without a new dict and list per call
                by = split.get(ev.party)
                if by is None:
                    by = split[ev.party] = {}
                ents = ev.entries
                key = (ev.rule, ents[0] if ents else ev.rule)
                keys.append((ev.party, key))
                members = by.get(key)
                if members is None:
                    by[key] = [ev]
                else:
                    members.append(ev)
            old = self._split.get(name, {})
            for party, facts in old.items():
                now = split.get(party, {})
                for key in facts:
                    if key not in now:
                        self._unsource(party, key, name)
                        _mark(dirty, party, key)
            for party, facts in split.items():
                was = old.get(party, {})
                for key, evs_now in facts.items():
                    self._taken(party, key, name, was.get(key), evs_now, dirty)
            self._split[name] = split
            self._stamps[name] = stamp
            self._evs[name] = (list(evs), keys)

    def _resplit(self, name: str, evs: list[Evidence], dirty: dict[str, set[FactKey] | None]
                 ) -> None:
        """`_take_sources` for a source split before: the new list is compared with the old
        one by identity from both ends (a new entry changes a few facts of a partition; the
        engine hands out its other evidence objects again, in the same order). The facts of
        the members at both ends keep the same members in the same order; in between, only
        the facts whose members came or went are split again (all of them if kept members
        changed order). The split is what splitting `evs` whole gives."""
        old, old_keys = self._evs[name]
        n_old, n_new = len(old), len(evs)
        p, q = common_ends(old, evs)
        # In between: the members that came or went name the facts to split again. Members
        # kept there are the same objects; when they also keep their order, every other fact
        # of the span has the same members in the same order.
        span_old, span_new = old[p:n_old - q], evs[p:n_new - q]
        key_of = {id(ev): k for ev, k in zip(span_old, old_keys[p:n_old - q], strict=True)}
        mid = [key_of.get(id(ev)) or (ev.party, (ev.rule, ev.entries[0] if ev.entries else ev.rule))
               for ev in span_new]
        keys = old_keys[:p] + mid + old_keys[n_old - q:]
        self._evs[name] = (list(evs), keys)
        new_ids = {id(ev) for ev in span_new}
        kept_old = [ev for ev in span_old if id(ev) in new_ids]
        kept_new = [ev for ev in span_new if id(ev) in key_of]
        if len(kept_old) == len(kept_new) and all(
                a is b for a, b in zip(kept_old, kept_new, strict=True)):
            touched = {k for ev, k in zip(span_new, mid, strict=True) if id(ev) not in key_of}
            touched.update(k for ev in span_old if id(ev) not in new_ids
                           for k in (key_of[id(ev)],))
        else:  # reordered: every fact of the span
            touched = set(old_keys[p:n_old - q]) | set(mid)
        if not touched:
            return
        fresh: dict[tuple[str, FactKey], list[Evidence]] = {pk: [] for pk in touched}
        take = fresh.get
        for ev, pk in zip(evs, keys, strict=True):
            got = take(pk)
            if got is not None:
                got.append(ev)
        split = self._split[name]
        for (party, key), members in fresh.items():
            by = split.get(party)
            was = by.get(key) if by is not None else None
            if not members:
                if was is not None:
                    del by[key]  # type: ignore[union-attr]
                    if not by:
                        del split[party]
                    self._unsource(party, key, name)
                    _mark(dirty, party, key)
                continue
            if by is None:
                by = split[party] = {}
            by[key] = members
            self._taken(party, key, name, was, members, dirty)

    def _taken(self, party: str, key: FactKey, name: str, was: list[Evidence] | None,
               now: list[Evidence], dirty: dict[str, set[FactKey] | None]) -> None:
        """Source `name` holds this fact with members `now` (`was`: before; None when new)."""
        if was is None:
            self._srcs.setdefault(party, {}).setdefault(key, set()).add(name)
            if key[0] == EQUIVOCATION:
                self._equivocal.setdefault(party, set()).add(key)
            _mark(dirty, party, key)
        elif was != now:
            _mark(dirty, party, key)

    def _unsource(self, party: str, key: FactKey, name: str) -> None:
        facts = self._srcs[party]
        names = facts[key]
        names.discard(name)
        if names:
            return
        del facts[key]
        if not facts:
            del self._srcs[party]
        if key[0] == EQUIVOCATION:
            self._equivocal[party].discard(key)
            if not self._equivocal[party]:
                del self._equivocal[party]

    def _take_tables(self, tables: Mapping[str, object] | None,
                     dirty: dict[str, set[FactKey] | None]) -> None:
        """Mark the facts whose verification may have changed (`update`'s docstring)."""
        old = self._tables
        self._tables = None if tables is None else dict(tables)
        if tables is None or old is None:
            for party in self._srcs:
                dirty[party] = None
            return
        for party in old.keys() | tables.keys():
            was, now = old.get(party), tables.get(party)
            if was is now or party not in self._srcs or (
                    party in dirty and dirty[party] is None):
                continue
            if isinstance(was, Mapping | None) and isinstance(now, Mapping | None):
                # a fact's entry changed (either way): only those facts are verified again;
                # a table that names what changed since the last one is not compared
                known = now.changed_since(was) if isinstance(now, FactTable) else None
                keys = known if known is not None else {
                    k for k, _ in (was or {}).items() ^ (now or {}).items()}
                facts = self._srcs[party]
                for key in keys:
                    if key in facts:
                        _mark(dirty, party, key)
            else:
                dirty[party] = None

    def _redo(self, party: str, keys: set[FactKey] | None,
              delta: dict[str, dict[Signal, int]]) -> None:
        """Give the party's ledger the new members of these facts (None: every fact)."""
        ledger = self._ledgers.get(party)
        if ledger is None:
            ledger = self._ledgers[party] = PartyLedger(party, self.params)
        # DOMAIN.md: once a fork proof stands against a party, nothing it did counts as
        # cooperation (evidence_signals): a change of that redoes every fact of the party.
        forked = party in self._equivocal
        if forked != (party in self._forked):
            keys = None
            (self._forked.add if forked else self._forked.discard)(party)
        facts = self._srcs.get(party, {})
        if keys is None:
            keys = set(facts) | set(ledger.facts)
        verify = self.verification or default_verification
        changes: list[tuple[FactKey, list[tuple[Evidence, float]]]] = []
        split, isfinite = self._split, math.isfinite
        for key in keys:
            names = facts.get(key)
            members: list[tuple[Evidence, float]] = []
            if names:
                order = sorted(names, key=self._rank.__getitem__) if len(names) > 1 else names
                for name in order:
                    for ev in split[name][party][key]:
                        w = ev.weight  # counts(ev, forked), written out
                        if w == 0.0 or not isfinite(w) or (w > 0 and forked):
                            continue
                        v = verify(ev)
                        if type(v) is not float or not 0.0 <= v <= 1.0:
                            v = _check_v(v, ev)  # not a float in [0, 1]: checked (or refused)
                        members.append((ev, v))
            if members or key in ledger.facts:
                changes.append((key, members))
        gone, added = ledger.apply(changes)
        if not ledger.facts:
            del self._ledgers[party]
        if gone or added:
            _count(delta.setdefault(party, {}), gone, added)

    def _take_hostility(self, aimed: list[Entry]) -> dict[str, tuple[list[Signal], list[Signal]]]:
        """The parties whose hostility signals changed with these statements: (was, now)."""
        changed: dict[str, tuple[list[Signal], list[Signal]]] = {}
        for party in self._hostility.add(aimed):
            now = self._hostility.of(party)
            changed[party] = (self._host_by.pop(party, []), now)
            if now:
                self._host_by[party] = now
        return changed

    @property
    def estimator(self) -> SuspicionEstimator:
        """The estimator the view feeds (read it; do not feed it directly)."""
        return self._est

    def entries(self) -> int:
        """How many distinct entries the view holds."""
        return len(self._entries)

    def report(self, party: str, now_ms: int) -> PartySuspicion:
        """One party's suspicion as of `now_ms` (NotFound for a party with no signal)."""
        return self._est.report(party, now_ms)

    def reports(self, now_ms: int) -> dict[str, PartySuspicion]:
        """Every party with a signal at or before `now_ms`, by party id."""
        return self._est.reports(now_ms)


def _key_of(self_id: str) -> bytes | None:
    """The author bytes whose hex is `self_id` (None: no entry's author has that hex)."""
    try:
        key = bytes.fromhex(self_id)
    except ValueError:
        return None
    return key if key.hex() == self_id else None


def _mark(dirty: dict[str, set[FactKey] | None], party: str, key: FactKey) -> None:
    # a fact to redo, unless every fact of the party is redone already
    if party not in dirty:
        dirty[party] = {key}
    else:
        keys = dirty[party]
        if keys is not None:
            keys.add(key)


def _count(counter: dict[Signal, int], gone: Iterable[Signal], added: Iterable[Signal]) -> None:
    for s in gone:
        counter[s] = counter.get(s, 0) - 1
    for s in added:
        counter[s] = counter.get(s, 0) + 1
