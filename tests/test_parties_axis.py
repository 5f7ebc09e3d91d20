"""The analysis along the parties axis (issue 15 item 5): what a new party costs.

A party's profile declares its role and time zone, which the rules read for the authors of
a partition's entries. The engine re-evaluated every partition whenever a profile changed
either (each party's first profile did: quadratic in parties); now only the partitions
holding that author's entries are. Exact: a stream whose profiles arrive late and change
roles and zones gives, after every entry, the snapshot and evidence of a fresh engine.
"""

from __future__ import annotations

import random

import pytest

from tests.harness.nodes import SCENARIOS
from tests.harness.scenarios import offline_run
from trustnet.bench.beliefs import _Gen, generate
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements.figures import HOUR_MS
from trustnet.trust.beliefs import BeliefEngine

ROLES = ("state", "observer", "organisation", "state")
ZONES = ("", "Asia/Tokyo", "America/New_York", "Europe/Vienna")


def _late_profiles(entries: list[Entry], signers: dict[str, Identity], seed: int) -> list[Entry]:
    """`entries` with profiles inserted at random points, each by an author that already
    wrote, at its next seq, changing its role and zone."""
    rng = random.Random(seed)
    heads: dict[str, tuple[int, bytes]] = {}
    out: list[Entry] = []
    for e in entries:
        out.append(e)
        if e.seq > heads.get(e.author_hex, (0, b""))[0]:
            heads[e.author_hex] = (e.seq, e.id)
        if rng.random() < 0.06:
            author = rng.choice(sorted(heads))
            seq, prev = heads[author]
            p = sign_entry(signers[author], seq=seq + 1, prev=prev, ts=e.ts + 1,
                           kind="profile", body={"name": f"p{seq}", "role": rng.choice(ROLES),
                                                 "zone": rng.choice(ZONES), "urls": []})
            heads[author] = (p.seq, p.id)
            out.append(p)
    return out


def _check_every_step(entries: list[Entry], me: str) -> int:
    engine = BeliefEngine(me)
    changed = 0
    for i, e in enumerate(entries):
        engine.add([e])
        now = e.ts + HOUR_MS
        fresh = BeliefEngine(me)
        fresh.add(entries[: i + 1])
        assert engine.snapshot(now).to_json() == fresh.snapshot(now).to_json(), f"step {i}"
        if e.kind == "profile":
            changed += 1
            assert engine.evidence(now) == fresh.evidence(now), f"step {i}"
    return changed


def test_late_profiles_changing_roles_and_zones_give_a_fresh_engines_views() -> None:
    entries, pids = generate(260, 6, 4)
    gen = _Gen(6, 4)
    signers = {i.party_id: i for i in gen.ids}
    stream = _late_profiles(entries, signers, 4)
    assert _check_every_step(stream, pids[0]) >= 5


@pytest.mark.parametrize("name", ["desk-year.toml", "verification-cycle.toml"])
def test_late_profiles_over_a_scenarios_regime_kinds(name: str) -> None:
    """Calendars, annual exchanges, inspections: the rules that read roles and zones."""
    scenario, store, ids, _origin, _entries, _faults = offline_run(SCENARIOS / name)
    entries = sorted((e for author in store.heads() for e in store.range(author, 0, 1_000_000)),
                     key=lambda e: (e.ts, e.id))
    signers = {i.party_id: i for i in ids.values()}
    stream = _late_profiles(entries, signers, 9)
    assert _check_every_step(stream, ids[scenario.parties[0]].party_id) >= 3


def test_a_profile_re_evaluates_only_the_partitions_of_its_authors_entries() -> None:
    entries, pids = generate(400, 30, 2)
    signers = {i.party_id: i for i in _Gen(30, 2).ids}
    engine = BeliefEngine(pids[0])
    engine.add(entries)
    engine.snapshot(entries[-1].ts)
    versions = {p: part.version for p, part in engine._parts.items()}
    author = entries[-1].author_hex
    wrote_in = {p for p, part in engine._parts.items()
                if any(e.author_hex == author for e, _ in part.entries)}
    last = max((e for e in entries if e.author_hex == author), key=lambda e: e.seq)
    engine.add([sign_entry(signers[author], seq=last.seq + 1, prev=last.id, ts=entries[-1].ts + 1,
                           kind="profile", body={"name": "x", "role": "observer", "urls": []})])
    bumped = {p for p, part in engine._parts.items() if part.version != versions[p]}
    assert bumped == wrote_in and 0 < len(bumped) < len(versions)
    # A new party's first profile, before it wrote anything, re-evaluates none.
    newcomer = _Gen(31, 77).ids[-1]
    before = {p: part.version for p, part in engine._parts.items()}
    engine.add([sign_entry(newcomer, seq=1, prev=None, ts=entries[-1].ts + 2, kind="profile",
                           body={"name": "new", "role": "observer", "zone": "Asia/Tokyo",
                                 "urls": []})])
    assert {p: part.version for p, part in engine._parts.items()} == before
