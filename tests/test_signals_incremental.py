"""The suspicion view fed one change at a time equals the full recompute, at every step
(issue 15 item 3: a new entry redoes only the facts it touches, feedback/ledger.py)."""

from __future__ import annotations

import random

import pytest

from trustnet.feedback import SuspicionParams, SuspicionView, evidence_signals, recompute
from trustnet.feedback.ledger import fact_key
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS

ME = "me"
PARTIES = ("p0", "p1", "p2", ME)
SOURCES = ("s0", "s1", "s2", "s3")
RULES = ("unnotified_activity", "inspection_accepted", "consultation_unanswered", "equivocation")
STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _evidence(rng: random.Random, serial: int) -> Evidence:
    rule = rng.choice(RULES[:3]) if rng.random() > 0.02 else "equivocation"
    srcs = tuple(rng.sample(SOURCES, rng.choice((0, 1, 1, 2))))
    return Evidence(
        party=rng.choice(PARTIES),
        rule=rule,
        weight=rng.choice((-0.72, -0.4, -0.2, 0.0, 0.3, 0.5)),
        at=rng.randrange(60) * DAY_MS // 4,  # late facts too: time is not arrival order
        entries=(f"e{rng.randrange(25)}", f"x{serial}")[: rng.choice((0, 1, 2, 2))],
        sources=srcs,
        note=rng.choice(("", "b")),
        verifiable=rng.random() < 0.3,
    )


def _reference(sources: dict[str, tuple[int, list[Evidence]]], verify, params, now):
    """The one-shot path: every piece of evidence, sorted as `evaluate` gives it."""
    every = [ev for _stamp, evs in sources.values() for ev in evs]
    every.sort(key=lambda ev: (ev.at, ev.rule, ev.entries, ev.party))
    signals = evidence_signals(every, ME, verification=verify, params=params)
    return signals, recompute(signals, params, ME, now)


@pytest.mark.parametrize("seed", range(6))
def test_the_view_equals_the_full_recompute_after_every_change(seed: int) -> None:
    rng = random.Random(seed)
    params = SuspicionParams(source_cap=rng.choice((0.3, 0.72)))
    view = SuspicionView(ME, params=params)
    # partitions of the evidence with stamps, as BeliefEngine.evidence_by_party gives them
    sources: dict[str, tuple[int, list[Evidence]]] = {name: (0, []) for name in "ABC"}
    tables: dict[str, dict[tuple[str, str], float]] = {}

    def verify(ev: Evidence) -> float:
        # unconfirmed claims believed halfway by default: their sources spend budgets
        return tables.get(ev.party, {}).get(fact_key(ev), 0.5 if ev.sources else 1.0)

    serial = swapped = 0
    now = 0
    for step in range(160):
        what = rng.random()
        name = rng.choice(sorted(sources))
        stamp, evs = sources[name]
        evs = list(evs)
        if what < 0.55 or not evs:  # new evidence
            serial += 1
            # anywhere in the list: the view compares a source's new list with its last
            evs.insert(rng.randrange(len(evs) + 1), _evidence(rng, serial))
        elif what < 0.7:  # evidence taken back (a late notification removes a finding)
            del evs[rng.randrange(len(evs))]
        elif what < 0.8:  # the same fact, another weight (a top-up changed)
            i = rng.randrange(len(evs))
            old = evs[i]
            evs[i] = Evidence(old.party, old.rule, rng.choice((-0.72, 0.3)), old.at, old.entries,
                              old.sources, old.note, old.verifiable)
        else:  # a fact's verification changes (the beliefs moved); its table is a new object
            party = rng.choice(PARTIES)
            held = [fact_key(ev) for _s, es in sources.values() for ev in es if ev.party == party]
            if held:
                table = dict(tables.get(party, {}))
                table[rng.choice(held)] = rng.choice(STEPS)
                tables[party] = table
        if len(evs) > 1 and rng.random() < 0.2:  # the same evidence in another order
            i, j = rng.randrange(len(evs)), rng.randrange(len(evs))
            members: dict[tuple[str, tuple[str, str]], list[int]] = {}
            for k, ev in enumerate(evs):
                members.setdefault((ev.party, fact_key(ev)), []).append(k)
            several = [ks for ks in members.values() if len(ks) > 1]
            if several and rng.random() < 0.5:  # two members of one fact change places
                i, j = rng.choice(several)[:2]
                swapped += 1
            evs[i], evs[j] = evs[j], evs[i]
        if rng.random() < 0.05:  # a source appears or goes (a partition of a new party)
            sources.pop("D", None) if "D" in sources else sources.update(D=(0, []))
        if name in sources:
            sources[name] = (stamp + 1, evs)
        now += rng.randrange(2) * DAY_MS
        view.verification = verify
        view.update([], now, evidence=dict(sources), verification_tables=dict(tables))
        signals, expected = _reference(sources, verify, params, now)
        held = {s for party in view.estimator.parties()
                for s in view.estimator._parties[party].signals}  # internal: what was fed,
        held |= {s for later in view.estimator._later.values() for s in later}  # or held back
        assert held == set(signals), f"step {step}"
        for src, (_stamp, src_evs) in sources.items():  # internal: each source's split is
            whole: dict[str, dict[tuple[str, str], list[int]]] = {}  # the list's split whole
            for ev in src_evs:
                key = (ev.rule, ev.entries[0] if ev.entries else ev.rule)
                whole.setdefault(ev.party, {}).setdefault(key, []).append(id(ev))
            kept = {party: {k: [id(ev) for ev in members] for k, members in facts.items()}
                    for party, facts in view._split.get(src, {}).items()}
            assert kept == whole, f"step {step}: source {src}"
        assert {p: r.to_json() for p, r in view.reports(now).items()} == \
            {p: r.to_json() for p, r in expected.items()}, f"step {step}"
    assert serial > 50 and view.rebuilds > 0 and swapped


def test_the_node_views_equal_a_recompute_from_scratch_after_every_entry() -> None:
    """Through NodeViews (belief engine, verification tables, people), one entry at a time,
    some arriving late: after each, every report equals a view built from scratch."""
    from trustnet.analysis.views import NodeViews, Settings, verification_for
    from trustnet.bench.beliefs import generate
    from trustnet.clock import ManualClock
    from trustnet.config.loader import NodeConfig
    from trustnet.store.sqlite import Store

    entries, pids = generate(220, 6, seed=5)
    rng = random.Random(5)
    ordered = sorted(entries, key=lambda e: (e.ts, e.id))
    # gossip: a few entries arrive some steps late (their chains wait for them)
    for _ in range(15):
        i = rng.randrange(len(ordered) - 8)
        ordered.insert(i + rng.randint(1, 7), ordered.pop(i))
    store = Store(None)
    viewer = pids[0]
    views = NodeViews(store, viewer, (), Settings.from_config(NodeConfig()), ManualClock(0))
    now = 0
    checked = 0
    for e in ordered:
        now = max(now, e.ts) + rng.randint(0, DAY_MS // 2)
        store.ingest([e], now)
        beliefs, fast = views.current(now)
        slow = views._new_suspicion()
        slow.verification = verification_for(beliefs)
        held = list(store.iter_all())
        engine = views._new_engine()
        engine.add(held, store.received_of([x.id for x in held]))
        engine.add_forks(store.forks())
        slow.update(held, now, forks=store.forks(), evidence=engine.evidence(now))
        fast_json = {p: r.to_json() for p, r in fast.reports(now).items()}
        assert fast_json == {p: r.to_json() for p, r in slow.reports(now).items()}
        checked += len(fast_json)
    assert checked > 100


def test_the_hostility_ledger_equals_the_one_shot_walk_after_every_statement() -> None:
    """Requests, distrust, refutations and profiles (standing), some arriving late and some
    of our own entries after the refutations that target them: after every statement the
    ledger's signals are `hostility_signals` over what it holds, and most statements are
    walked on, not from the start."""
    from tests.world import World
    from trustnet.feedback.hostility import HostilityLedger, hostility_signals

    w = World()
    rng = random.Random(3)
    me = w.party("north-1")
    others = ("south-1", "south-2", "south-3")
    ours = [w.post("north-1", "trust", {"subject": w.party("south-1"), "level": 10}, 0)]
    t0 = 1_748_736_000_000  # 2025-06-01
    for i in range(140):
        who, ts = rng.choice(others), t0 + i * DAY_MS // 3 + rng.randrange(1000)
        x = rng.random()
        if x < 0.25:
            body = {"host": me, "area": "Plain", "grounds": "a build-up"}
            w.post(who, "inspection_request", body, ts)
        elif x < 0.45:
            w.consult(who, "north-1", ts)
        elif x < 0.6:
            w.post(who, "trust", {"subject": me, "level": rng.randint(-1000, 300)}, ts)
        elif x < 0.75:
            w.attest(who, rng.choice(ours[-2:]), ts, verdict=rng.choice(("refute", "confirm")))
        elif x < 0.85:
            role = rng.choice(("state", "observer"))
            w.post(who, "profile", {"name": who, "role": role, "urls": []}, ts)
        else:
            ours.append(w.post("north-1", "trust", {"subject": w.party(who), "level": 5}, ts))
    arrivals = list(w.entries)
    for _ in range(25):  # gossip: some arrive late, a few of ours after what refutes them
        i = rng.randrange(len(arrivals) - 10)
        arrivals.insert(i + rng.randint(1, 9), arrivals.pop(i))
    for e in rng.sample(ours[1:], 4):  # ours, held back (e.g. restored from a backup)
        arrivals.remove(e)
        arrivals.append(e)
    ledger = HostilityLedger(me)
    seen = []
    for e in arrivals:
        seen.append(e)
        ledger.add([e])
        got = sorted(ledger.signals(), key=lambda s: (s.party, *s.sort_key()))
        assert got == hostility_signals(seen, me)
    assert len(ledger.signals()) > 10 and 0 < ledger.walks < len(arrivals) // 2


def test_the_stores_rows_decode_as_they_were_checked_on_the_way_in() -> None:
    """The analysis follows the store with `decode_stored` (no intrinsic checks again):
    the same entries, field for field, as `decode_entry` makes."""
    from trustnet.bench.beliefs import generate
    from trustnet.log.entry import decode_entry, decode_stored
    from trustnet.store.sqlite import Store

    entries, _ = generate(120, 4, seed=2)
    store = Store(None)
    store.ingest(entries, max(e.ts for e in entries))
    rows = store.page_received(after=0, limit=1000)
    assert [e for e, _c, _r in rows] == [decode_entry(e.raw, verify=False) for e, _c, _r in rows]
    assert {e.id for e, _c, _r in rows} == {e.id for e in entries}
    assert all(decode_stored(e.raw) == e and decode_stored(e.raw).body == e.body for e in entries)


def test_evidence_dated_centuries_ahead_waits_for_the_clock_and_changes_no_report() -> None:
    # A body time may lie centuries ahead (statement times have no upper bound), and the
    # estimator walks a step per day up to a signal: fed at once, evidence dated 2**62 ms
    # (~5 * 10**10 days) would stall the analysis for hours. Held until the clock passes it,
    # it costs nothing, and the reports at every moment up to the clock are the same.
    params = SuspicionParams()
    near = Evidence(party="p0", rule="unnotified_activity", weight=-0.72, at=3 * DAY_MS,
                    entries=("e1",), sources=(), note="", verifiable=False)
    far = [Evidence(party=p, rule="unnotified_activity", weight=-0.72, at=2**62 + d,
                    entries=(f"f{d}",), sources=(), note="", verifiable=False)
           for d, p in enumerate(("p0", "p1"))]
    soon = Evidence(party="p1", rule="inspection_accepted", weight=0.5, at=40 * DAY_MS,
                    entries=("s1",), sources=(), note="", verifiable=False)
    view = SuspicionView(ME, params=params)
    view.verification = lambda ev: 1.0
    for now, evs in ((10 * DAY_MS, [near, *far]), (20 * DAY_MS, [near, *far, soon]),
                     (50 * DAY_MS, [near, *far, soon])):
        view.update([], now, evidence={"A": (now, evs)})
        signals = evidence_signals(sorted(evs, key=lambda ev: ev.at), ME,
                                   verification=lambda ev: 1.0, params=params)
        assert {s.at for s in signals} > {2**62, 2**62 + 1}
        # what a fresh estimator fed every signal up to the clock reports as of now
        assert {p: r.to_json() for p, r in view.reports(now).items()} == \
            {p: r.to_json() for p, r in recompute(
                [s for s in signals if s.at <= now], params, ME, now).items()}
        assert {s.party for later in view.estimator._later.values() for s in later} == \
            {"p0", "p1"}
    # taken back while held: gone from the hold too
    view.update([], 60 * DAY_MS, evidence={"A": (61 * DAY_MS, [near])})
    assert view.estimator._later == {}
