"""The collector policy around the analysis (trustnet.trust.beliefs.heap): freeze after a
catch-up, never leak without bound.

Freezing is safe only because the analysis makes no reference cycles and because cycles that
were alive at a freeze and die later (the daemon's aiohttp objects) are reclaimed by the next
full pass a growing heap triggers. Both are checked here, and that per-entry updates after a
catch-up keep the objects the collector walks bounded.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from trustnet.analysis.views import CATCH_UP, NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store
from trustnet.trust.beliefs import heap


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


def test_a_catch_up_and_each_update_freeze_what_they_keep() -> None:
    before = heap.stats()
    views, store, later = _views(CATCH_UP + 600, 120)
    views.current()
    assert heap.stats().settles == before.settles + 1
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert frozen > 10 * (CATCH_UP + 480)  # the engine's records are out of the walk
    gc.collect()
    walked = len(gc.get_objects())
    grown = heap.stats().grown
    for e in later:
        store.ingest([e], e.ts)
        views.current()
        assert gc.get_count()[0] == 0  # what the update kept is frozen: nothing young left
    views.current()  # nothing new: nothing frozen
    assert heap.stats().kept == before.kept + len(later)
    # The frozen set grew by what the new entries brought, not by the heap (frozen records
    # an update replaced were freed: reference counting still works on them); the updates'
    # estimate of that growth is not below it (a full pass comes early, never late); and
    # the collector walks no more than before.
    assert 0 < gc.get_freeze_count() - frozen < 200 * len(later)
    assert heap.stats().grown - grown >= gc.get_freeze_count() - frozen
    gc.collect()
    assert len(gc.get_objects()) - walked < 20 * len(later)


def test_cycles_frozen_by_updates_are_reclaimed_as_the_heap_grows() -> None:
    heap.refresh()
    step = max(1, int(heap.stats().base * heap.REFRESH_GROWTH / 4))  # a quarter: 4 updates
    refreshes = heap.stats().refreshes
    keep: list[list[int]] = []
    dead: list[weakref.ref[_Cyclic]] = []
    for _ in range(14):
        held = _Cyclic()  # alive while an update freezes...
        dead.append(weakref.ref(held))
        with heap.gc_kept():
            keep.extend([] for _ in range(step))  # what the update keeps
        del held  # ...and dies after: a frozen cycle
        assert gc.get_freeze_count() <= heap.stats().base * (1 + heap.REFRESH_GROWTH) + 10
    assert heap.stats().refreshes - refreshes >= 2
    alive = sum(r() is not None for r in dead)
    assert alive <= 6, f"{alive} of {len(dead)} dead cycles still held"
    keep.clear()


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
        # Never more frozen than a quarter past the last full pass.
        assert gc.get_freeze_count() <= heap.stats().base * (1 + heap.REFRESH_GROWTH) + 1
    assert heap.stats().refreshes - refreshes >= 2
    # Left: the cycles frozen since the last full pass (a quarter of the heap, five steps of a
    # sixteenth) and the one that was still alive during it.
    alive = sum(r() is not None for r in dead)
    assert alive <= 6, f"{alive} of {len(dead)} dead cycles still held"
    keep.clear()


def test_an_update_whose_frozen_temporaries_die_runs_no_full_pass() -> None:
    """Temporaries alive at an update's freeze and freed after it were counted as made, not
    as freed: the estimate overshoots, and the frozen set is counted before a full pass."""
    heap.refresh()
    base, refreshes = heap.stats().base, heap.stats().refreshes
    step = max(1, int(base * heap.REFRESH_GROWTH / 3))
    for _ in range(5):
        with heap.gc_kept():
            temporaries = [[] for _ in range(step)]  # frozen alive...
        del temporaries  # ...freed right after: the frozen set does not grow
    assert heap.stats().refreshes == refreshes
    assert heap.stats().grown < base * heap.REFRESH_GROWTH
    assert gc.get_freeze_count() < base * (1 + heap.REFRESH_GROWTH)


def test_what_survived_between_updates_counts_as_growth() -> None:
    """Objects the collector's passes moved on between two updates are frozen by the next
    one: they count toward the full pass as those the update made do."""
    heap.refresh()
    base, grown = heap.stats().base, heap.stats().grown
    between = [[] for _ in range(5_000)]  # made between two updates...
    gc.collect()  # ...and moved to the oldest generation by a pass
    with heap.gc_kept():
        pass
    assert heap.stats().grown - grown >= len(between)
    assert heap.stats().base == base
    del between


def test_a_pause_inside_a_settle_or_with_the_collector_off_changes_nothing() -> None:
    gc.disable()
    with heap.gc_settled(), heap.gc_kept(), heap.gc_paused():
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
