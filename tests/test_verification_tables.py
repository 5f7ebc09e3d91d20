"""The suspicion's verification tables, computed as arrays over the compiled facts, are the
tables read fact by fact from the views, and name exactly the facts that changed
(analysis/verification.py, feedback/tables.py; issue 15 item 3)."""

from __future__ import annotations

import random

from trustnet.analysis.verification import _party_table, verification_by_party
from trustnet.bench.beliefs import generate
from trustnet.feedback.tables import FactTable
from trustnet.statements.figures import DAY_MS
from trustnet.trust.beliefs import BeliefEngine


def test_tables_equal_the_fact_by_fact_reading_and_name_what_changed() -> None:
    entries, pids = generate(700, 8, seed=11)
    rng = random.Random(11)
    ordered = sorted(entries, key=lambda e: (e.ts, e.id))
    for _ in range(30):  # some arrive late
        i = rng.randrange(len(ordered) - 12)
        ordered.insert(i + rng.randint(1, 11), ordered.pop(i))
    engine = BeliefEngine(pids[0])
    cache: dict = {}
    last: dict[str, dict] = {}
    named = compared = 0
    received: dict[bytes, int] = {}
    for k in range(0, len(ordered), 7):
        batch = ordered[k : k + 7]
        for e in batch:
            received[e.id] = e.ts
        engine.add(batch, received)
        now = max(e.ts for e in batch) + rng.randrange(3) * DAY_MS
        beliefs = engine.snapshot(now)
        tables = verification_by_party(beliefs, cache)
        fresh = verification_by_party(beliefs)  # no cache: from scratch
        for pid, belief in beliefs.parties.items():
            want = _party_table(belief)
            assert tables.get(pid, {}) == want == fresh.get(pid, {}), (k, pid)
            compared += len(want)
            table, was = tables.get(pid), last.get(pid)
            if isinstance(table, FactTable) and table.changed_since(was) is not None:
                assert was is not None and table is not was
                diff = {key for key in table.keys() | was.keys() if table.get(key) != was.get(key)}
                assert table.changed_since(was) == diff
                named += 1
        last = dict(tables)
    assert compared > 10_000 and named > 5
