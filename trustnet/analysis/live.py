"""The node's live analysis off the event loop (issue 15 item 5).

Beliefs and suspicion as of now (`/beliefs`, `/suspicion`, `/metrics`' gauges, `/events`'
news) are kept by one worker thread that follows the store over a read-only connection of
its own (SQLite's WAL lets it read beside the node's writer, whose connection never leaves
the event loop), like the heavy views of `views.Analysis`. Each time it has taken in what the
store held it publishes an immutable `Published` view (one assignment: readers see the old
one or the new one, never half of either). The event loop never computes the analysis:

- a read asks for the view of what the store holds now (its last entry, its fork count and
  key epoch, the minute: what the analysis depends on) and waits at most `[http]
  analysis_budget_s` for the worker to take it in, as a small node always does at once;
- past the budget it is served the last complete view, which says how old it is (`now`,
  `behind`), while the worker goes on; when the last refresh took longer than the budget
  (100,000 parties), at once;
- before the first view is complete it is answered 503 `analysis_pending` with Retry-After.

`/status`, `/parties`, `/entries` and gossip never wait on the analysis: a node of 100,000
authors answers them while its first analysis takes minutes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from trustnet.analysis.people import PeopleSnapshot
from trustnet.analysis.views import (
    CATCH_UP,
    COLLECTIONS,
    PAGED,
    ROWS_READ_STORE,
    VIEWS,
    Analysis,
    Collection,
    NodeViews,
    PerParty,
    Settings,
    Suspicions,
    _at,
    _query_key,
    _state,
    entry_json,
    is_heavy,
    series_range,
    summary,
)
from trustnet.api.metrics import DEFAULT_MAX_PARTIES, PartyGauges
from trustnet.clock import ManualClock
from trustnet.errors import NotFound, TrustnetError
from trustnet.feedback.estimator import PartySuspicion
from trustnet.heap import gc_settled
from trustnet.store.sqlite import Store
from trustnet.trust.beliefs import Beliefs

if TYPE_CHECKING:
    from trustnet.api.views import ApiViews
    from trustnet.clock import Clock
    from trustnet.node.settings import NodeSettings

T = TypeVar("T")
PENDING = "analysis_pending"


@dataclass(frozen=True, slots=True)
class StoreState:
    """What the live analysis depends on in the store: the arrival cursor of its newest
    entry, how many authors are proven forked, its key epoch (rotations, revocations)."""

    cursor: int
    forks: int
    keys_epoch: int

    @classmethod
    def of(cls, store: Store) -> StoreState:
        """The state of `store` now (cheap: no scan)."""
        return cls(store.last_cursor(), len(store.forked_authors()), store.keys_epoch)


@dataclass(frozen=True, slots=True)
class Published:
    """One complete live view, as the worker published it; never changed after."""

    beliefs: Beliefs
    reports: Mapping[str, PartySuspicion]  # every party with a signal, as of beliefs.now_ms
    people: PeopleSnapshot
    state: StoreState  # the store it took in
    minute: int  # beliefs.now_ms // 60_000: the analysis reads time at a minute's resolution
    compute_s: float  # how long the worker took to make it
    party_ids: tuple[str, ...] = ()  # beliefs.parties sorted (pages are cut in this order)
    report_ids: tuple[str, ...] = ()  # reports sorted
    gauges: PartyGauges | None = None  # /metrics' per-party gauges, ranked and capped

    def covers(self, state: StoreState, minute: int) -> bool:
        """Whether this view took in everything of `state` at `minute`."""
        return (self.state.cursor >= state.cursor and self.state.forks == state.forks
                and self.state.keys_epoch == state.keys_epoch and self.minute >= minute)


class PublishedSuspicion:
    """The suspicion reports of a published view, read the way `SuspicionView` is."""

    def __init__(self, reports: Mapping[str, PartySuspicion]) -> None:
        self._reports = reports

    def report(self, party: str, now_ms: int) -> PartySuspicion:
        """The party's report in the published view (NotFound for a party with no signal)."""
        try:
            return self._reports[party]
        except KeyError:
            raise NotFound(f"no suspicion state for party {party}") from None

    def reports(self, now_ms: int) -> Mapping[str, PartySuspicion]:
        """Every party's report in the published view (the view's own: read only)."""
        return self._reports


def pending_error() -> TrustnetError:
    """503 `analysis_pending`: no complete view yet (the node's first analysis runs)."""
    return TrustnetError("this node's first analysis of what it holds is still being computed "
                         "(a large store takes minutes); ask again later", code=PENDING)


class LiveAnalysis:
    """The worker thread that keeps the live view, and what the event loop asks of it."""

    def __init__(self, node_dir: Path, live: Store, make_views: Callable[[Store], NodeViews],
                 clock: Clock, budget_s: float, log: logging.Logger,
                 max_parties: int = DEFAULT_MAX_PARTIES) -> None:
        self.dir = node_dir
        self.live = live  # the node's own store: read on the event loop only (its state)
        self.make_views = make_views
        self.clock = clock
        self.budget_s = budget_s
        self.log = log
        self.max_parties = max_parties  # [http] metrics_max_parties: /metrics' per-party cap
        self.published: Published | None = None
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = \
            queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued: Future[Published] | None = None  # a refresh not started yet
        self._thread: threading.Thread | None = None
        # Worker-thread state: its store connection and the views following it.
        self._store: Store | None = None
        self._views: NodeViews | None = None
        self._epoch = -1  # the live key epoch the worker's store was opened at
        self.refreshes = 0
        self._closed = False

    # -- the event loop's side ----------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and its first analysis (a daemon thread: a stopping process never
        waits for an analysis in progress)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trustnet-live-analysis",
                                            daemon=True)
            self._thread.start()
            self.kick()

    def state(self) -> StoreState:
        """What the store holds now (read on the event loop, from the writer's connection)."""
        return StoreState.of(self.live)

    def kick(self) -> Future[Published]:
        """Have the worker take in what the store holds (a refresh already waiting to start
        will: it is shared)."""
        with self._lock:
            if self._queued is not None:
                return self._queued
            future: Future[Published] = Future()
            self._queued = future
        self._jobs.put((lambda: self._refresh(future), future))
        return future

    async def fresh(self) -> Published:
        """The view of what the store holds now; past `budget_s`, the last complete one; before
        any is complete, 503 `analysis_pending`. When the last refresh took longer than
        `budget_s` (a large store), the last complete view at once, the next one computing."""
        state = self.state()
        minute = self.clock.now_ms() // 60_000
        pub = self.published
        if pub is not None and pub.covers(state, minute):
            return pub
        future = self.kick()
        if pub is not None and pub.compute_s > self.budget_s:
            return pub  # waiting the budget would only make every read slower
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          self.budget_s)
        except TimeoutError:
            pub = self.published
            if pub is None:
                raise pending_error() from None
            return pub

    async def settle(self) -> None:
        """Wait (at most `budget_s`) until the published view holds what the store holds; for
        readers of `published` that cannot wait themselves (gauges, news)."""
        try:
            await self.fresh()
        except TrustnetError as exc:
            if exc.code != PENDING:
                raise

    async def call(self, work: Callable[[NodeViews], T]) -> T:
        """`work` over the worker's own views, in the worker (after the work queued before it),
        waited for at most `budget_s` (then 503 `analysis_pending`; the work is dropped)."""
        future: Future[T] = Future()

        def job() -> T:
            return work(self._views_now())

        self._jobs.put((job, future))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.budget_s)
        except TimeoutError:
            future.cancel()
            raise TrustnetError(f"the analysis did not answer within {self.budget_s:g} s "
                                "(it is computing); ask again later", code=PENDING) from None

    def behind(self, pub: Published) -> int:
        """Entries the store holds beyond those `pub` took in (by arrival cursor)."""
        return max(0, self.live.last_cursor() - pub.state.cursor)

    async def aclose(self, wait_s: float = 5.0) -> None:
        """`close`, then wait (at most `wait_s`: a large analysis is not waited for) until
        the worker has ended and closed its store connection."""
        self.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, wait_s)

    def close(self) -> None:
        """Stop the worker after its current job; the jobs waiting are dropped."""
        self._closed = True
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[1].cancel()
        self._jobs.put(None)

    # -- the worker's side -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(job())
                except TrustnetError as exc:  # a refusal (not found...): the request's answer
                    future.set_exception(exc)
                except BaseException as exc:  # the waiting request answers it (500 internal)
                    self.log.exception("the live analysis failed")
                    future.set_exception(exc)
        finally:
            if self._store is not None:
                self._store.close()

    def _views_now(self) -> NodeViews:
        """The worker's views over a store connection that sees the live key states and forks.

        A read-only store reads keys and fork proofs when opened: when the node's key epoch or
        fork count moved, the worker opens its store anew (the views then start over, as they
        do on the node's own store after a rotation)."""
        epoch = self.live.keys_epoch  # an int read across threads: atomic
        forks = len(self.live.forked_authors())
        store = self._store
        if store is None or epoch != self._epoch or len(store.forked_authors()) != forks:
            fresh = Store.open_dir(self.dir, readonly=True)
            fresh.keys_epoch = epoch
            if store is not None:
                store.close()
            self._store, self._epoch = fresh, epoch
            if self._views is None:
                self._views = self.make_views(fresh)
            else:
                self._views.store = fresh
        assert self._views is not None
        return self._views

    def _refresh(self, future: Future[Published]) -> Published:
        with self._lock:
            if self._queued is future:
                self._queued = None  # from now on, a new arrival needs the next refresh
        views = self._views_now()
        behind = views.store.last_cursor() - views.cursor
        if behind <= CATCH_UP:
            return self._publish(views)
        # Catching up with many entries (a start): the cyclic collector stays paused for the
        # whole refresh (views.current alone would pause it for its part only), or its first
        # collections after would walk every object just made, holding the interpreter's lock
        # (measured at 100,000 parties: 13 + 22 + 22 s during which the event loop answered
        # nothing); then what the analysis holds is frozen out of its reach, by the one
        # policy the process has (trustnet.heap: no reference cycles, tested in
        # tests/test_heap.py and tests/test_live_analysis.py).
        with gc_settled():
            pub = self._publish(views)
        self.log.info("analysis: %d objects set aside from the garbage collector after "
                      "catching up with %d entries", gc.get_freeze_count(), behind)
        return pub

    def _publish(self, views: NodeViews) -> Published:
        t0 = time.perf_counter()
        now = self.clock.now_ms()
        beliefs, suspicion = views.current(now)
        people = views.people
        assert people is not None
        reports = suspicion.reports(now)
        # The worker followed the store to its end: all a request that kicked it asked for.
        state = StoreState(views.cursor, len(views.store.forked_authors()), self._epoch)
        store = views.store

        def profile_name(author: bytes) -> str | None:
            profile = store.profile_of(author)
            return None if profile is None or profile.name is None else str(profile.name)

        # /metrics' gauges ranked here, not at each scrape on the event loop; a failure
        # costs the scrapes their per-party gauges (counted, logged), never the view itself
        gauges: PartyGauges | None
        try:
            gauges = PartyGauges.of(beliefs, reports, self.max_parties, profile_name)
        except Exception:
            self.log.exception("analysis: /metrics' per-party gauges could not be made")
            gauges = None
        pub = Published(beliefs, reports, people, state, now // 60_000, time.perf_counter() - t0,
                        tuple(sorted(beliefs.parties)), tuple(sorted(reports)), gauges)
        first = self.published is None
        self.published = pub
        self.refreshes += 1
        if (first or pub.compute_s > 5) and not self._closed:
            self.log.info("analysis: %d parties, %d entries taken in, in %.1f s%s",
                          len(beliefs.parties), views.cursor, pub.compute_s,
                          " (the first: /beliefs and /suspicion are served from now on)"
                          if first else "")
        return pub


# -- the API's live reads ---------------------------------------------------------------------


class ServedViews(NodeViews):
    """The node's views as one published live view shows them: what the API's live reads
    compute their JSON from, on the event loop (`current()` is the published view; nothing
    of the analysis runs here). Made per request: a request reads one view throughout."""

    def __init__(self, base: NodeViews, pub: Published) -> None:
        # Not NodeViews.__init__: no engine of its own; only what the view functions read.
        self.store = base.store
        self.self_id = base.self_id
        self.anchors = base.anchors
        self.settings = base.settings
        self.clock = ManualClock(pub.beliefs.now_ms)  # "now" in the JSON: the view's moment
        self.people = pub.people
        self.published = pub

    def current(self, now_ms: int | None = None) -> tuple[Beliefs, Suspicions]:
        """The published beliefs and suspicion."""
        return self.published.beliefs, PublishedSuspicion(self.published.reports)

    def in_order(self, parties: Mapping[str, Any]) -> Sequence[str]:
        """Sorted by the worker when the view's parties or reports are asked."""
        pub = self.published
        if parties is pub.beliefs.parties:
            return pub.party_ids
        if parties is pub.reports:
            return pub.report_ids
        return sorted(parties)


STALENESS = ("beliefs", "suspicion")  # routes whose answers say how far behind they are


def _served_collection(analysis: Analysis, live: LiveAnalysis, base: NodeViews, route: str,
                       view: Collection) -> Callable[[Mapping[str, str]], Any]:
    """A collection view for the API: the live one from the published view, a heavy one
    (`?at=`, the calendar) in the heavy-views worker."""

    view = PAGED.get(route, view)

    async def now(query: Mapping[str, str]) -> Any:
        pub = await live.fresh()
        data = view(ServedViews(base, pub), query)
        if route in STALENESS:
            data["behind"] = live.behind(pub)
        return data

    def served(query: Mapping[str, str]) -> Any:
        if not is_heavy(route, query):
            return now(query)
        _at(query, now_ms=base.clock.now_ms())  # a bad `at` is refused here, not in the worker
        key = (route, None, _query_key(query), _state(base))

        def work(worker: NodeViews) -> dict[str, Any]:
            data = view(worker, query)
            if route in ROWS_READ_STORE:  # made over the worker's connection, still open
                data["parties"] = list(data["parties"])
            return data

        return analysis.run(key, work)

    return served


def _served_party(analysis: Analysis, live: LiveAnalysis, base: NodeViews, route: str,
                  view: PerParty) -> Callable[[str, Mapping[str, str]], Any]:
    """A per-party view for the API: the live one from the published view, a heavy one in
    the heavy-views worker."""

    async def now(party: str, query: Mapping[str, str]) -> Any:
        pub = await live.fresh()
        data = view(ServedViews(base, pub), party, query)
        if route in STALENESS:
            data["behind"] = live.behind(pub)
        return data

    def served(party: str, query: Mapping[str, str]) -> Any:
        if not is_heavy(route, query):
            return now(party, query)
        state = _state(base)
        if route != "series":
            _at(query, now_ms=base.clock.now_ms())
            return analysis.run((route, party, _query_key(query), state),
                                lambda worker: view(worker, party, query))
        start, end, step = series_range(base, query)
        # Without `to` the series ends now: its answer is kept for a minute of "now".
        minute = None if query.get("to") else base.clock.now_ms() // 60_000
        key = (route, party, _query_key(query), minute, state)

        def work(worker: NodeViews) -> dict[str, Any]:
            samples = worker.series(party, start, end, step, abort=analysis.stopping.is_set)
            return {"party": party, "samples": samples}

        return analysis.run(key, work)

    return served


@dataclass(frozen=True, slots=True)
class Installed:
    """What `install_views` made; the daemon starts `live` and closes both workers."""

    views: NodeViews  # over the node's own store, on the event loop (nothing computed there)
    analysis: Analysis  # heavy views (`?at=`, series, the calendar)
    live: LiveAnalysis  # the live view

    def served(self) -> ServedViews:
        """The published live view as it stands (503 `analysis_pending` before the first)."""
        pub = self.live.published
        if pub is None:
            raise pending_error()
        return ServedViews(self.views, pub)

    def gauges(self) -> PartyGauges:
        """/metrics' per-party gauges of the published live view (503 `analysis_pending`
        before the first)."""
        pub = self.live.published
        if pub is None:
            raise pending_error()
        if pub.gauges is None:  # the worker could not make them (it logged why)
            raise TrustnetError("the per-party gauges of this view could not be made",
                                code="gauges_unavailable")
        return pub.gauges


def install_views(
    api: ApiViews, store: Store, party_id: str, node: NodeSettings, clock: Clock, node_dir: Path,
    log: logging.Logger,
) -> Installed:
    """Register /beliefs, /suspicion, /series, /graph... on a node's API views: live reads from
    the live analysis' published view, heavy forms in the analysis worker; the caller owns
    (starts and closes) the workers returned."""
    settings = Settings.of(node)
    anchors = node.node.anchors
    views = NodeViews(store, party_id, anchors, settings, clock)
    budget = node.http.analysis_budget_s
    analysis = Analysis(node_dir, party_id, anchors, settings, clock, budget)
    live = LiveAnalysis(
        node_dir, store, lambda worker_store: NodeViews(worker_store, party_id, anchors,
                                                        settings, clock),
        clock, budget, log, node.http.metrics_max_parties)
    made = Installed(views, analysis, live)
    for route, (collection, per_party) in VIEWS.items():
        if collection is not None:
            api.collections[route] = _served_collection(analysis, live, views, route, collection)
        api.parties[route] = _served_party(analysis, live, views, route, per_party)
    for route, collection_only in COLLECTIONS.items():
        api.collections[route] = _served_collection(analysis, live, views, route,
                                                    collection_only)
    api.summary = lambda: summary(made.served())
    api.ready = live.settle
    api.is_heavy = is_heavy

    async def entry(entry_id: str) -> Mapping[str, Any]:
        try:
            return await live.call(lambda worker: entry_json(worker, entry_id))
        except TrustnetError as exc:
            if exc.code != PENDING:
                raise
            return {}  # the analysis is busy: the entry is served without its standing

    api.entry = entry
    trust = settings.trust
    api.status = lambda: {"replay": trust.replay,
                          "backdate_tolerance_s": trust.backdate_tolerance_s}
    api.backdated = trust.backdated
    if trust.replay:
        log.warning("replay mode ([trust] replay = true): statements are judged by the ts their "
                    "authors signed, backdated or not; for a lab network replaying a story only")
    return made
