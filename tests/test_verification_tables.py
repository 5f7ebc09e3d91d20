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


class _B:
    """A compiled fact as `_number` reads it."""

    def __init__(self, rule: str, first: str, verified: bool = False) -> None:
        self.rule, self.entries, self.verified = rule, (first,), verified
        self.fact_key = (rule, first)


def test_a_party_keeps_its_fact_numbers_until_most_are_gone() -> None:
    from trustnet.analysis.verification import _number

    raw = [_B("r", f"e{i}") for i in range(10)]
    first = _number(raw, raw[:3])
    # Recompiled with one fact gone and two new: the others keep their numbers, new ones
    # come after, the gone one keeps its number (absent from the table).
    again = _number([*raw[1:], _B("r", "n1"), _B("r", "n2")], [], first)
    assert again.index is first.index and again.keys[:10] == first.keys
    assert again.keys[10:] == [("r", "n1"), ("r", "n2")]
    assert again.raw_kid.tolist() == [*range(1, 10), 10, 11]
    # Once the numbering holds more than twice the facts named, it starts afresh.
    few = _number([_B("r", "n2")], [], again)
    assert few.index is not again.index and few.keys == [("r", "n2")]
