"""The collector policy around the analysis (trustnet.heap): freeze after a
catch-up, never leak without bound.

Freezing is safe only because the analysis makes no reference cycles and because cycles that
were alive at a freeze and die later (the daemon's aiohttp objects) are reclaimed by the next
full pass a growing heap triggers. Both are checked here, and that per-entry updates after a
catch-up keep the objects the collector walks bounded.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from trustnet import heap
from trustnet.analysis.views import CATCH_UP, Analysis, NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    """Each test starts and leaves the process with nothing frozen and the collector on."""
    gc.unfreeze()
    gc.collect()
    yield
    gc.unfreeze()
    gc.enable()
    gc.collect()


class _Cyclic:
    """Stands for a daemon object that references itself (an aiohttp request, a task)."""

    def __init__(self) -> None:
        self.me = self


def _views(n: int, held: int) -> tuple[NodeViews, Store, list]:  # type: ignore[type-arg]
    entries, pids = generate(n, 12, 3)
    now = max(e.ts for e in entries) + DAY_MS
    store = Store(None)
    store.ingest(entries[: n - held], now)
    store.mark_received_at_ts()
    views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
    return views, store, entries[n - held:]


def test_the_analysis_makes_no_cycles_so_freezing_it_loses_nothing() -> None:
    views, store, later = _views(2 * CATCH_UP, 30)
    gc.disable()
    views.current()  # a catch-up
    assert gc.collect() == 0
    for e in later:  # and per-entry updates
        store.ingest([e], e.ts)
        views.current()
    assert gc.collect() == 0


def test_views_dropped_die_by_reference_counting() -> None:
    """Nothing the analysis makes refers back to what keeps it: views dropped (a heavy view's,
    made for one answer) are freed at once, the collector finding nothing to do."""
    views, store, later = _views(2 * CATCH_UP, 30)
    gc.disable()
    beliefs = views.current()[0]
    for e in later:
        store.ingest([e], e.ts)
        beliefs = views.current()[0]
    assert beliefs.parties  # explanations not read: each still a function kept with its belief
    # Counted on the heap rather than by weak references, which compiled classes do not take
    # (trustnet/_build.py).
    # (Others may be alive, left by other tests: one fewer of each.)
    kinds = (type(views._engine), type(views._suspicion))
    alive = [_alive(k) for k in kinds]
    del views, beliefs
    assert [_alive(k) for k in kinds] == [n - 1 for n in alive]
    assert gc.collect() == 0


def _alive(kind: type) -> int:
    return sum(type(o) is kind for o in gc.get_objects())


def test_a_catch_up_freezes_what_it_keeps_and_updates_stay_off_the_frozen_set() -> None:
    before = heap.stats().settles
    views, store, later = _views(CATCH_UP + 600, 120)
    views.current()
    assert heap.stats().settles == before + 1
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert frozen > 10 * (CATCH_UP + 480)  # the engine's records are out of the walk
    gc.collect()
    walked = len(gc.get_objects())
    for e in later:
        store.ingest([e], e.ts)
        views.current()
    # No update froze anything (frozen records an update replaced were freed: reference
    # counting still works on them), and the objects the collector walks grew by what the
    # new entries brought, not by the heap.
    assert gc.get_freeze_count() <= frozen
    gc.collect()
    assert len(gc.get_objects()) - walked < 200 * len(later)


def test_an_update_runs_paused_whole_and_leaves_the_collector_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The suspicion side of an update too (not only the engine's calls) runs with the
    # collector paused: what it keeps is walked once, after; it is on again when it returns.
    from trustnet.feedback.signals import SuspicionView

    views, store, later = _views(2 * CATCH_UP, 5)
    views.current()
    seen: list[bool] = []
    update = SuspicionView.update

    def spy(self: SuspicionView, *args: object, **kwargs: object) -> None:
        seen.append(gc.isenabled())
        update(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SuspicionView, "update", spy)
    for e in later:
        store.ingest([e], e.ts)
        views.current()
        assert gc.isenabled()
    assert seen == [False] * len(later)


def test_cycles_frozen_alive_are_reclaimed_as_the_heap_grows() -> None:
    heap.refresh()
    step = max(1, int(heap.stats().base * heap.REFRESH_GROWTH / 4))  # a quarter: 4 settles
    refreshes = heap.stats().refreshes
    keep: list[list[int]] = []
    dead: list[weakref.ref[_Cyclic]] = []
    for _ in range(14):
        held = _Cyclic()  # alive while the catch-up freezes...
        dead.append(weakref.ref(held))
        keep.extend([] for _ in range(step))  # the node's state grows
        with heap.gc_settled():
            pass
        del held  # ...and dies after: a frozen cycle
        # Never more than a quarter past the last full pass (the heap in allocated blocks;
        # the frozen objects are fewer).
        limit = heap.stats().base * (1 + heap.REFRESH_GROWTH) + 1000
        assert gc.get_freeze_count() <= sys.getallocatedblocks() <= limit
    assert heap.stats().refreshes - refreshes >= 2
    # Left: the cycles frozen since the last full pass (a quarter of the heap, five steps of a
    # sixteenth) and the one that was still alive during it.
    alive = sum(r() is not None for r in dead)
    assert alive <= 6, f"{alive} of {len(dead)} dead cycles still held"
    keep.clear()


def test_a_pause_inside_a_settle_or_with_the_collector_off_changes_nothing() -> None:
    gc.disable()
    with heap.gc_settled(), heap.gc_paused():
        pass
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.enable()
    with heap.gc_settled():
        with heap.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_pauses_on_two_threads_end_together_and_a_catch_up_inside_one_settles_after() -> None:
    # The live analysis and the heavy views' worker pause the one collector from two
    # threads: one pause ending must not switch it on under the other, and a catch-up that
    # ends while the other thread is paused is frozen when that pause ends (not skipped).
    import threading

    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with heap.gc_paused():
            held.set()
            release.wait(30)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert held.wait(30)
        settles = heap.stats().settles
        with heap.gc_paused():
            pass
        assert not gc.isenabled()  # the other thread's pause is still open
        with heap.gc_settled():
            _keep = [object() for _ in range(10)]
        assert not gc.isenabled() and heap.stats().settles == settles
        assert gc.get_freeze_count() == 0
    finally:
        release.set()
        thread.join(30)
    assert done.is_set() and gc.isenabled()
    assert heap.stats().settles == settles + 1 and gc.get_freeze_count() > 0


def test_a_view_made_for_one_answer_freezes_nothing() -> None:
    """A heavy view of a past moment builds its own `NodeViews` and drops it: freezing its
    catch-up would keep millions of objects out of reach and run a full pass each time."""
    views, _store, _later = _views(CATCH_UP + 200, 0)
    transient = NodeViews(views.store, views.self_id, (), views.settings, views.clock,
                          transient=True)
    settles = heap.stats().settles
    transient.current()
    assert heap.stats().settles == settles and gc.isenabled() and gc.get_freeze_count() == 0
    views.current()
    assert heap.stats().settles == settles + 1


def test_a_heavy_view_is_made_and_dropped_with_the_collector_paused(tmp_path: Path) -> None:
    """The heavy-view worker's views die with the answer: paused until then, the collector
    neither walks nor freezes what they made."""
    views, _store, _later = _views(CATCH_UP + 200, 0)
    with Store.open_dir(tmp_path) as store:
        store.ingest(list(views.store.query(limit=CATCH_UP + 200)), views.clock.now_ms())
    analysis = Analysis(tmp_path, views.self_id, (), views.settings, views.clock, 10.0)
    settles = heap.stats().settles

    def work(fresh: NodeViews) -> tuple[bool, int]:
        beliefs, _ = fresh.current()
        return gc.isenabled(), len(beliefs.parties)

    try:
        assert analysis._compute(work) == (False, len(views.current()[0].parties))
    finally:
        analysis.close()
    assert gc.isenabled() and heap.stats().settles == settles + 1  # the node's own views only


async def test_a_daemon_freezes_what_its_start_made_once_and_leaves_the_baseline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What starting made (modules, settings, the server) is held for the process's life: a
    # node that starts on an empty store runs no catch-up that would freeze it, so the
    # start does, once per process, before the first catch-up starts. It is not the baseline
    # of full passes: the first catch-up still sets that and runs none.
    from tests.daemons import running_daemons
    from trustnet.protocol.config import GossipConfig

    monkeypatch.setattr(heap, "_STARTED", False)  # as in a process that started no daemon
    monkeypatch.setattr(heap, "_STATS", heap.HeapStats())
    assert gc.get_freeze_count() == 0
    async with running_daemons(tmp_path, ["a", "b"], gossip=GossipConfig(tick_interval_s=None)):
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the imported modules at least
        assert heap.stats() == heap.HeapStats()  # no settle, no baseline, no pass
        assert gc.isenabled()
    views, _store, _later = _views(CATCH_UP + 600, 0)
    views.current()  # the process's first catch-up: sets the baseline, runs no full pass
    assert heap.stats().settles == 1 and heap.stats().refreshes == 0 and heap.stats().base


def test_a_batch_is_taken_in_with_the_collector_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch's records (peeked entries, runs, rows) die by reference counting: the
    # collector is off while the store takes it in, and on again when it returns, whether
    # the batch was stored or refused.
    entries, _pids = generate(400, 5, 2)
    store = Store(None)
    seen: list[bool] = []
    prepare, commit = Store.prepare, Store.commit

    def spy_prepare(self: Store, *args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return prepare(self, *args, **kwargs)  # type: ignore[arg-type]

    def spy_commit(self: Store, *args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return commit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "prepare", spy_prepare)
    monkeypatch.setattr(Store, "commit", spy_commit)
    now = max(e.ts for e in entries) + DAY_MS
    result = store.ingest([e.raw for e in entries], now)
    assert len(result.accepted) == len(entries) and gc.isenabled()
    refused = store.ingest([b"\x92not an entry"], now)
    assert refused.rejected and gc.isenabled()
    assert seen == [False] * 4


def test_a_bundle_is_imported_paused_in_spans_of_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The collector is off while the batches are taken in, and runs between spans of
    # PAUSED_BATCHES of them (a cycle made meanwhile waits one span at most).
    from trustnet.log import bundle

    monkeypatch.setattr(bundle, "BATCH", 20)
    monkeypatch.setattr(bundle, "PAUSED_BATCHES", 3)
    entries, _pids = generate(400, 5, 2)
    path = tmp_path / "b.bundle"
    with open(path, "wb") as f:
        bundle.write_bundle(f, [e.raw for e in entries])
    seen: list[bool] = []
    spans: list[int] = []
    prepare, paused = Store.prepare, bundle.gc_paused

    def spy(self: Store, *args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return prepare(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted() -> object:
        spans.append(len(seen))
        return paused()

    monkeypatch.setattr(Store, "prepare", spy)
    monkeypatch.setattr(bundle, "gc_paused", counted)
    store = Store(None)
    report = bundle.import_bundle(store, path, max(e.ts for e in entries) + DAY_MS)
    assert report.accepted == len(entries) and gc.isenabled()
    assert seen and not any(seen)  # 20 batches of 20, each prepared paused
    # a span per 3 advances of the pipeline (20 batches, then two that only commit): the
    # collector ran in between
    assert spans == [*range(0, 19, 3), 20]
