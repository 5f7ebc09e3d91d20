"""The incremental belief engine equals a full recompute at every step of a random stream.

Issue 15 item 3: a new entry costs only what it touches (the partition it lands in, the
reliabilities only when the trust graph or the track record changed, EigenTrust warm-started).
Those shortcuts must never change a result: a seeded stream of the benchmark's statement mix
(trust, notifications, observations, attestations, consultations, inspections), with forks
and backdated receipts mixed in and the clock moving across answer deadlines, is fed one entry
at a time; after each one the engine's snapshot and its evidence are compared with those of a
fresh engine over the same prefix; the same over scenarios that use the regime's other kinds.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import numpy as np
import pytest

from tests.harness.beliefs import T0, World as BeliefWorld
from tests.harness.compiled import ran_interpreted
from tests.harness.nodes import SCENARIOS
from tests.harness.scenarios import offline_run
from tests.harness.streams import shuffled_stream
from trustnet.bench.beliefs import _Gen, generate
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.statements import regime_notification
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.statements.kinds import Observation
from trustnet.statements.rules import PartitionRules, analyse
from trustnet.trust.beliefs import BeliefEngine, Beliefs
from trustnet.trust.beliefs.compiled import _fuse_terms

PARTIES, SEED = 7, 15


def _fresh(entries: list[Entry], me: str, anchors: tuple[str, ...], forks: list[ForkProof],
           received: dict[bytes, int]) -> BeliefEngine:
    engine = BeliefEngine(me, anchors)
    engine.add(entries, received)
    engine.add_forks(forks)
    return engine


def _twin(e: Entry) -> Entry:
    """Another entry at `e`'s seq, signed by its author (the benchmark's seeded key): a fork."""
    ident = next(i for i in _Gen(PARTIES, SEED).ids if i.party_id == e.author_hex)
    return sign_entry(ident, seq=e.seq, prev=e.prev, ts=e.ts, kind="profile",
                      body={"name": "twin", "role": "state", "urls": []})


def test_incremental_snapshot_equals_full_recompute_at_every_step() -> None:
    entries, pids = generate(360, PARTIES, SEED)
    rng = random.Random(SEED)
    me, anchors = pids[0], (pids[1],)
    engine = BeliefEngine(me, anchors)
    received: dict[bytes, int] = {}
    forks: list[ForkProof] = []
    now = entries[0].ts
    for i, e in enumerate(entries):
        if rng.random() < 0.03:  # received days after it was signed: judged by its receipt
            received[e.id] = e.ts + rng.randint(2, 9) * DAY_MS
            engine.add([e], {e.id: received[e.id]})
        else:
            engine.add([e])
        if i in (200, 300):  # its author equivocates: a second entry at the same seq
            forks.append(ForkProof.of(e, _twin(e)))
            engine.add_forks(forks[-1:])
        # The clock moves on, sometimes by days: deadlines pass between two snapshots.
        now = max(now, e.ts) + rng.choice((0, HOUR_MS, 30 * HOUR_MS, 3 * DAY_MS))
        snap: Beliefs = engine.snapshot(now)
        fresh = _fresh(entries[: i + 1], me, anchors, forks, received)
        assert snap.to_json() == fresh.snapshot(now).to_json(), f"step {i} ({e.kind})"
        if i % 30 == 0:
            assert engine.evidence(now) == fresh.evidence(now), f"step {i}"


def test_kept_facts_equal_a_fresh_engine_whatever_the_arrival_order() -> None:
    """Each partition's facts are kept and only those whose evidence came or went, or whose
    entries were attested, are prepared again (`_Compliance._prepare`). A shuffled stream
    brings evidence that sorts before a fact's kept evidence (an unverified and a verified
    finding compared with one notification are one fact), attestations before and after
    their subjects, and equal evidence made again by rules evaluated again: after every
    entry the snapshot equals a fresh engine's."""
    parsed = shuffled_stream(330, 5, 3)  # a seed whose stream reorders a fact's evidence
    entries = [e for e, _b in parsed]
    authors = sorted({e.author_hex for e in entries})
    me, anchors = authors[0], (authors[1],)
    now = max(e.ts for e in entries) + HOUR_MS
    engine = BeliefEngine(me, anchors)
    for i, e in enumerate(entries):
        engine.add([e])
        fresh = _fresh(entries[: i + 1], me, anchors, [], {})
        assert engine.snapshot(now).to_json() == fresh.snapshot(now).to_json(), f"step {i}"


def _track_of(engine: BeliefEngine, now: int) -> tuple[object, ...]:
    """The engine's track record with parties by id (engines number them as they meet them)."""
    engine.snapshot(now)
    t = engine._track(set(engine._forks))
    names = engine._pnames

    def pairs(v: Any, s: Any, x: Any) -> list[tuple[str, str, float]]:
        return sorted(zip([names[i] for i in v.tolist()], [names[i] for i in s.tolist()],
                          x.tolist(), strict=True))

    return (pairs(t.ref_v, t.ref_s, t.ref_r), [names[i] for i in t.ev_source.tolist()],
            t.ev_weight.tolist(), t.ev_seg.tolist(), [names[i] for i in t.ev_idx.tolist()],
            dict(t.confirmed), pairs(t.edge_v, t.edge_s, t.edge_w))


def test_kept_track_sums_equal_a_fresh_engines() -> None:
    """The track record's sums are kept and summed again only where a term changed
    (`_TrackSums`), in the order a full pass adds them. One inspector confirms one observer
    in four hosts' partitions (confidences 0.1, 0.2, 0.3, 0.4: their float sum depends on
    the order), the hosts fed in the reverse of party order, then the inspector declares
    itself an observer (its requests stop counting: every partition's events for the pair
    go): after every entry, and exactly, the track record equals a fresh engine's."""
    w = BeliefWorld()
    hosts = sorted(("h1", "h2", "h3", "h4"), key=w.party)
    for name in ("v", "s", *hosts):
        w.profile(name)
    t = T0
    for k, host in reversed(list(enumerate(hosts))):
        t += DAY_MS
        w.observe("s", host, t, troops=14_000, confidence=(100, 200, 300, 400)[k])
        request = w.inspect("v", host, t + HOUR_MS)
        w.respond(host, request, t + 2 * HOUR_MS, True)
        w.report("v", request, host, t + 3 * HOUR_MS, troops=14_000, tanks=0,
                 verdict="inconsistent")
    w.post("v", "profile", {"name": "v", "role": "observer", "urls": []}, t + DAY_MS)
    now = t + 30 * DAY_MS
    engine = BeliefEngine(w.party("s"))
    pair, terms = (w.party("v"), w.party("s")), []
    for i, e in enumerate(w.entries):
        engine.add([e])
        fresh = BeliefEngine(w.party("s"))
        fresh.add(w.entries[: i + 1])
        assert _track_of(engine, now) == _track_of(fresh, now), f"step {i} ({e.kind})"
        assert engine._sums is not None
        terms.append(len(engine._sums.terms.get(pair, {})))
    assert max(terms) == 4 and terms[-1] == 0  # summed from four partitions, then none


@pytest.mark.parametrize(
    "name", ["desk-year.toml", "openskies-evaluation.toml", "verification-cycle.toml"]
)
def test_incremental_snapshot_equals_full_recompute_over_a_scenario(name: str) -> None:
    """The regime's other kinds (calendars, invitations, evaluations, Open Skies...) too."""
    scenario, store, ids, _origin, _entries, _faults = offline_run(SCENARIOS / name)
    entries = sorted(
        (e for author in store.heads() for e in store.range(author, 0, 1_000_000)),
        key=lambda e: (e.ts, e.id),
    )
    me = ids[scenario.parties[0]].party_id
    engine = BeliefEngine(me)
    for i, e in enumerate(entries):
        engine.add([e])
        now = e.ts + HOUR_MS
        fresh = _fresh(entries[: i + 1], me, (), [], {})
        assert engine.snapshot(now).to_json() == fresh.snapshot(now).to_json(), f"{name} {i}"
    assert engine.evidence(now) == fresh.evidence(now)


def test_kept_partition_rules_equal_a_fresh_analysis_at_every_step() -> None:
    """`PartitionRules` keeps rule outputs and the inspected observations between entries;
    each `analyse` must equal `rules.analyse` over the whole list, both parts, including while
    the clock stands still (what is kept is then reused) and when it moves. Observations that
    arrive after an inspection's report but saw the activity before it (signed late) must
    join its matches."""
    entries, _pids = generate(420, 5, SEED + 1)  # accepted inspections come late in it
    idents = _Gen(5, SEED + 1).ids
    rng = random.Random(SEED)
    kept = PartitionRules()
    parsed: list[tuple[Entry, object]] = []
    now = entries[0].ts
    late = 0
    for i, e in enumerate(entries):
        parsed.append((e, statement_of(e)))
        if rng.random() < 0.3:
            now = max(now, e.ts) + rng.choice((HOUR_MS, 30 * HOUR_MS))
        got = kept.analyse(parsed, now, now)  # `passed` moves whenever the clock does
        if i < 300 and i % 4:
            continue  # a stale cache stays stale: every fourth step early on is enough
        want = analyse(parsed, now)
        assert got.evidence == want.evidence, f"step {i} ({e.kind})"
        assert got.inspected == want.inspected, f"step {i} ({e.kind})"
        if want.inspected and late < 3:
            # A third party's observation of what the last inspection saw, signed now.
            m = want.inspected[-1]
            seen = statement_of(m.observation)
            assert isinstance(seen, Observation)
            busy = {m.report.author_hex, m.observation.author_hex, seen.subject}
            who = next(x for x in idents if x.party_id not in busy)
            o = sign_entry(who, seq=100_000 + i, prev=b"\x01" * 32, ts=e.ts, kind="observation",
                           body=dict(m.observation.body))
            parsed.append((o, statement_of(o)))
            late += 1
            got = kept.analyse(parsed, now, now)
            want = analyse(parsed, now)
            assert any(x.observation is o for x in want.inspected)  # it does match
            assert got.inspected == want.inspected, f"late observation at step {i}"
    assert late == 3


def test_kept_findings_after_late_notifications_equal_a_fresh_analysis(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """Notifications that arrive after the findings they cover (published late, or received
    late) change where those findings go; `FindingsMemo` re-places only the findings a new
    notification covers and keeps every other finding's place and fact: each `analyse` must
    still equal `rules.analyse` over the whole list."""
    if ran_interpreted(request):  # it counts placements by replacing a function
        return
    entries, _pids = generate(420, 5, SEED + 2)
    notes = [e for e in entries if e.kind == "notification"]
    rest = [e for e in entries if e.kind != "notification"]
    assert len(notes) >= 10
    placed: list[int] = []
    real_place = regime_notification._place

    def counting_place(*args: object) -> object:
        placed[-1] += 1
        return real_place(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(regime_notification, "_place", counting_place)
    kept = PartitionRules()
    parsed = [(e, statement_of(e)) for e in rest]
    now = max(e.ts for e in entries) + HOUR_MS
    placed.append(0)
    kept.analyse(parsed, now, 0)
    reused = False
    for e in notes:
        parsed.append((e, statement_of(e)))
        placed.append(0)
        got = kept.analyse(parsed, now, 0)
        findings = placed[-1]  # the kept analysis's placements (the fresh one places all)
        want = analyse(parsed, now)
        assert got.evidence == want.evidence, f"after notification {e.id_hex[:8]}"
        reused |= findings < sum(1 for _e, b in parsed if isinstance(b, Observation))
    assert reused  # the kept places were used, not every finding placed again


# -- the order statements arrive in ------------------------------------------------------------


def _interleaved(entries: list[Entry], seed: int) -> list[Entry]:
    """The same statements in another order a node could receive them in: each author's
    chain in order, the chains interleaved at random."""
    rng = random.Random(seed)
    chains: dict[str, list[Entry]] = {}
    for e in entries:
        chains.setdefault(e.author_hex, []).append(e)
    queues = [list(reversed(c)) for c in chains.values()]
    out: list[Entry] = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop())
        if not q:
            queues.remove(q)
    return out


def test_beliefs_do_not_depend_on_the_order_statements_arrive_in() -> None:
    """Two nodes holding the same statements hold the same beliefs, to the last bit, however
    the chains reached them, and an engine fed in batches equals one fed at once. Parties
    are numbered as they first reach an engine; sums of refuted evidence and of distrust ran
    in that order (one unit in the last place apart: review), now they are exactly rounded."""
    entries, pids = generate(6_000, 30, 2)
    now = max(e.ts for e in entries) + DAY_MS
    me, anchors = pids[0], (pids[1], pids[2])

    def beliefs(order: list[Entry], batches: int = 1) -> object:
        engine = BeliefEngine(me, anchors)
        size = -(-len(order) // batches)
        for k in range(0, len(order), size):
            engine.add(order[k : k + size])
            if batches > 1:
                engine.snapshot(now)
        return engine.snapshot(now).to_json()

    expected = beliefs(entries)
    for seed in range(3):
        assert beliefs(_interleaved(entries, seed)) == expected, seed
    assert beliefs(_interleaved(entries, 7), batches=9) == expected


def test_group_means_sum_alike_however_parties_are_numbered() -> None:
    """`_fuse_terms` adds each build's bloc means; the bloc numbers are the engine's party
    numbers, which follow arrival order: the means are added smallest first, not by number."""
    rng = random.Random(5)
    for _ in range(200):
        ps = [round(rng.uniform(0.05, 0.95), 4) for _ in range(4)]
        sums = set()
        for numbers in itertools.permutations(range(4)):  # supporter k has number numbers[k]
            rp = np.zeros(4)
            rp[list(numbers)] = ps
            idx = np.array(numbers, dtype=np.intp)
            total, _dogs = _fuse_terms(np.zeros(4, dtype=np.intp), rp[idx], 1, idx,
                                       np.arange(4, dtype=np.intp))
            sums.add(float(total[0]))
        assert len(sums) == 1, ps


_GROUP_ARRAYS = ("mode", "weight", "base_b", "base_d", "base_u", "need_q", "sup_seg",
                 "sup_idx", "ref_seg", "ref_idx", "ans_seg", "ans_idx", "q_seg", "q_idx")


def test_a_partition_compiled_from_its_last_groups_equals_a_fresh_compile(
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    # Issue 15 item 3: a partition's groups are compiled again from their last ones (the kept
    # facts' rows taken from there, only new builds read): after every entry, each group's
    # arrays equal those a compile from nothing makes, dtype and all.
    if ran_interpreted(request):  # it counts the splices by replacing a function
        return
    from trustnet.trust.beliefs import compiled

    spliced = [0]
    real = compiled._kept_rows

    def counting(*args: Any) -> Any:
        got = real(*args)
        spliced[0] += got is not None
        return got

    monkeypatch.setattr(compiled, "_kept_rows", counting)
    entries, pids = generate(360, PARTIES, SEED)
    engine = BeliefEngine(pids[0], (pids[1],))
    now = entries[0].ts
    for i, e in enumerate(entries):
        engine.add([e])
        if i == 250:
            engine.add_forks([ForkProof.of(e, _twin(e))])
        now = max(now, e.ts) + HOUR_MS
        engine.snapshot(now)
        for party, part in engine._parts.items():
            if part.prep is None or part.facts is None:
                continue
            kept = part.prep[1]
            fresh = compiled._compile(part.facts.specs, engine._num)
            for which in ("raw", "ver"):
                a, b = getattr(kept, which), getattr(fresh, which)
                assert a.builds == b.builds and a.keys == b.keys, (i, party, which)
                for name in _GROUP_ARRAYS:
                    x, y = getattr(a, name), getattr(b, name)
                    assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (i, party, which, name)
    assert spliced[0] > 300  # most compiles took rows from the last ones
