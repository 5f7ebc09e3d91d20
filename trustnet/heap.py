"""The process's cyclic garbage collector: the one place that steers it (the analysis, the
store's ingest, the daemon's start).

Python's collector finds reference cycles by walking the objects it tracks. The analysis
holds ~18 tracked objects per statement for the node's life (entries, parsed bodies, indexes,
cached evidence): ~1.8 million at 100,000 statements, ~20 million at 1,000,000. Left alone,
the collector walks all of them whenever the objects that survived since its last full pass
reach a quarter of the heap: right after a node catches up that is within the next few
entries (measured: 1.2 s at 100,000 statements, one update in forty paying it; tens of
seconds at 1,000,000), and a catch-up itself ends with a pass over everything it allocated
(1.2 s of a 8 s full recompute). Two measures, both here:

- `gc_paused()`: no collection during one call of the engine or one per-entry update of
  the analysis (indexing and a snapshot allocate ~10^5 short-lived acyclic records, freed
  by reference counting; each allocation burst would trigger passes). The collector runs
  again right after, over what survived. Pauses are counted across the threads that take
  them (the live analysis, the heavy views' worker): the collector is on again when the
  last one ends, never under another thread's pause.
- `gc_settled()`: a catch-up (a start, a bundle imported: analysis.views) runs paused and
  ends with `gc.freeze()`: every object alive moves to the permanent generation, which the
  collector never walks. What the node keeps for its life is not walked again; what it
  makes afterwards is collected as usual. A catch-up that ends inside another pause is
  frozen when that pause ends.

The same two measures serve the rest of the node. The store takes each batch in (`prepare`,
`commit`) paused: peeking, chaining and storing allocate a handful of tracked, short-lived
records per entry, and at a collection per 700 of them the passes cost a gossip push ~1 µs an
entry (`bench gossip`). And a daemon freezes what its start made: its modules, settings and
server are held for the process's life, and a node that started on a small store runs no
catch-up that would freeze them (without it, each full pass walked them all: ~45 ms, once
per push of thousands of entries): `freeze_started`, once per process, before the first
catch-up starts on its thread.

Why freezing is safe: the analysis makes no reference cycles (tests/test_heap.py: a
catch-up and per-entry updates leave `gc.collect()` nothing to find), so freezing without a
pass first loses nothing of its own. The entries it and the store make are not even tracked
(no cycle can pass through one: tests/test_canonical.py walks what each holds). A frozen
object is still freed by reference counting when the last reference goes; only frozen
*cycles* wait. The daemon's own cyclic objects
(aiohttp requests, connections, tasks) that were alive at a freeze and die later are such
cycles: they are bounded by what was alive at that moment (never what the node makes
afterwards), and each later catch-up that finds the heap (its allocated memory blocks,
`sys.getallocatedblocks`) grown by more than `REFRESH_GROWTH` since the last full pass
unfreezes, collects everything, and freezes again
(`refresh`): the same amortised rule (a quarter of the heap) Python applies to its oldest
generation, so a full pass costs O(1) per object over the process's life.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

# A settle that finds the heap grown by more than this share since the last full pass runs
# one (unfreeze, collect, freeze).
REFRESH_GROWTH = 0.25


@dataclass(slots=True)
class HeapStats:
    """What the policy did in this process (for tests and operators' debugging)."""

    settles: int = 0  # catch-ups that ended with a freeze
    refreshes: int = 0  # full passes run by a settle (unfreeze, collect, freeze)
    collected: int = 0  # unreachable objects those passes found
    base: int = 0  # memory blocks allocated right after the last full pass (0: none yet)


_STATS = HeapStats()
_LOCK = threading.Lock()


def stats() -> HeapStats:
    """A copy of this process's counts."""
    with _LOCK:
        return HeapStats(_STATS.settles, _STATS.refreshes, _STATS.collected, _STATS.base)


@dataclass(slots=True)
class _Pauses:
    """The pauses open in the process (the live analysis, the heavy views' worker and the
    engine's own calls run on different threads, and the collector is one for all)."""

    depth: int = 0  # pauses open
    resume: bool = False  # whether the collector was on when the first of them began
    settle: bool = False  # a catch-up ended inside them: settle when the last one ends


_PAUSES = _Pauses()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for one call of the engine; it runs again right after.

    Pauses are counted across threads: the collector runs again when the last one open
    ends (one thread's pause ending never switches it on under another's), and not at all
    if it was off for the whole process when the first began.
    """
    _pause()
    try:
        yield
    finally:
        _resume(settle=False)


@contextmanager
def gc_settled() -> Iterator[None]:
    """Run a catch-up with the collector paused, then freeze what is alive (`settle`).

    Inside another pause (of this thread or another), the freeze waits until the last
    pause ends: what a catch-up keeps is frozen once nothing else is paused on the way.
    With the collector off for the whole process, nothing is frozen.
    """
    _pause()
    try:
        yield
    finally:
        _resume(settle=True)


def _pause() -> None:
    with _LOCK:
        if _PAUSES.depth == 0:
            _PAUSES.resume = gc.isenabled()
            gc.disable()
        _PAUSES.depth += 1


def _resume(*, settle: bool) -> None:
    with _LOCK:
        _PAUSES.settle |= settle and _PAUSES.resume
        _PAUSES.depth -= 1
        if _PAUSES.depth:
            return
        try:
            if _PAUSES.settle:
                _settle_locked()
        finally:
            _PAUSES.settle = False
            if _PAUSES.resume:
                gc.enable()


_STARTED = False  # whether a daemon of this process froze what its start made


def freeze_started() -> None:
    """Freeze what is alive when the process's first daemon starts (its modules, settings,
    server), once: no pass first (a start makes next to no garbage), and not the baseline
    that later catch-ups measure growth from (the first catch-up sets that, as it always
    did, so it runs no full pass). Later daemons of the process (tests run many) freeze
    nothing: they would freeze the others' garbage with them."""
    global _STARTED
    with _LOCK:
        if _STARTED:
            return
        _STARTED = True
        gc.freeze()


def settle() -> None:
    """Move every object alive to the permanent generation; run a full pass after when the
    heap grew by more than `REFRESH_GROWTH` since the last one (`refresh`)."""
    with _LOCK:
        _settle_locked()


def _settle_locked() -> None:
    gc.freeze()
    _STATS.settles += 1
    # The heap's size in blocks (`gc.get_freeze_count()` walks every frozen object: ~0.1 s
    # at 100,000 statements, 2 % of a full recompute; this counts pymalloc's arenas).
    size = sys.getallocatedblocks()
    if _STATS.base == 0:
        # The first catch-up of the process: no pass (it allocated no cycles); the
        # next growth by a quarter is measured from here.
        _STATS.base = size
    elif size > _STATS.base * (1.0 + REFRESH_GROWTH):
        _refresh_locked()


def refresh() -> int:
    """Unfreeze, collect everything, freeze again; the unreachable objects found."""
    with _LOCK:
        return _refresh_locked()


def _refresh_locked() -> int:
    gc.unfreeze()
    try:
        found = gc.collect()  # runs with the collector paused too
    finally:
        gc.freeze()
    _STATS.refreshes += 1
    _STATS.collected += found
    _STATS.base = sys.getallocatedblocks()
    log.debug("heap: full collection found %d unreachable objects; %d blocks allocated",
              found, _STATS.base)
    return found
