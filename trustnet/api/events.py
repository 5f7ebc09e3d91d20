"""GET /events, the node's news as server-sent events: EventHub reads the store once for
however many subscribers and streams `entry`, `fork`, `belief` and `suspicion` events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from trustnet.api.views import ApiViews
from trustnet.errors import TrustnetError
from trustnet.node.core import Node, NodeEvent

log = logging.getLogger("trustnet.api")

EVENTS_MIN_GAP_S = 0.05  # a burst of pushes is read in one go: at most 20 reads a second
# With no news from the node, the store is still read this often: a safety net for writes
# that bypass the node (in-process tools and tests); the node's own news come at once.
EVENTS_FALLBACK_S = 2.0
EVENTS_KEEPALIVE_S = 15.0
VIEWS_IDLE_S = 60.0  # with nothing new, beliefs and suspicion are re-read this often


def sse(event: str, data: Mapping[str, Any], event_id: int | None = None) -> bytes:
    """One server-sent event, framed."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


class EventHub:
    """The node's news for `/events`: one reader, however many subscribers.

    The node tells the hub when it takes in new entries or forks (`Node.subscribe`); the
    hub then reads them from the store after its cursor (so every `entry` event carries
    its store cursor, and a burst is read in one go, at most every `EVENTS_MIN_GAP_S`).
    Without news the store is read only every `EVENTS_FALLBACK_S` (writes that bypass
    the node), not every 0.25 s as the poller did. Beliefs and suspicion are recomputed at most
    every `views_interval_s` after something arrived, or when a minute passed (suspicion
    moves with time too), and only the parties whose figures changed are told. A
    subscriber that cannot keep up is dropped rather than buffered without bound.
    """

    QUEUE = 2000

    def __init__(self, node: Node, views: ApiViews, views_interval_s: float) -> None:
        self.node = node
        self.views = views
        self.views_interval_s = views_interval_s
        self.cursor = -1
        self.closed = False
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._forks = 0
        self._summary: dict[str, dict[str, Any]] | None = {}
        self._views_at = 0.0
        self._dirty = True
        self._wake = asyncio.Event()  # set by the node's news, or when a stream leaves

    def _on_news(self, event: NodeEvent) -> None:
        self._wake.set()

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A new subscriber's queue (None in it: the stream ends)."""
        if self._task is None or self._task.done():
            self.node.subscribe(self._on_news)
            store = self.node.store
            self.cursor = store.last_cursor()
            self._forks = len(store.forked_authors())
            self._summary = self._baseline()
            self._views_at = time.monotonic()
            self._dirty = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="events")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.QUEUE)
        self._queues.add(queue)
        return queue

    @property
    def subscribers(self) -> int:
        """Streams open now."""
        return len(self._queues)

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        """Forget a subscriber; the reader stops with the last one."""
        self._queues.discard(queue)
        if not self._queues:
            self._wake.set()

    async def close(self) -> None:
        """End every stream (the node is stopping)."""
        self.closed = True
        for queue in list(self._queues):
            self._drop(queue)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stream(self, request: web.Request, after: int) -> web.StreamResponse:
        """Serve one /events subscriber: replay the entries after cursor `after` (-1: none),
        then the live feed, with a keep-alive comment when nothing happens."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        if self.closed or not self.node.running:
            await resp.prepare(request)
            return resp
        if (self._task is None or self._task.done()) and self.views.ready is not None:
            # The figures news are told against, as the store holds now (nothing is stored
            # between this and `subscribe`: the stream starts where they stand).
            await self.views.ready()
        queue = self.subscribe()
        try:
            await resp.prepare(request)
            # Replay what the subscriber missed, up to where the live feed starts.
            upto = self.cursor
            while 0 <= after < upto:
                rows = self.node.store.page(after=after, limit=500)
                rows = [(e, c) for e, c in rows if c <= upto]
                if not rows:
                    break
                for entry, cursor in rows:
                    await resp.write(sse("entry", entry_event(entry), cursor))
                after = rows[-1][1]
            await resp.write(b": stream open\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), EVENTS_KEEPALIVE_S)
                except TimeoutError:  # a comment line keeps proxies from closing it
                    message = b": keep-alive\n\n"
                if message is None:
                    break
                await resp.write(message)
        except ConnectionResetError:  # the subscriber went away
            pass
        finally:
            self.unsubscribe(queue)
        return resp

    def _drop(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)
        while True:  # make room for the end marker
            try:
                queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                queue.get_nowait()

    def _send(self, message: bytes) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("an /events subscriber fell %d events behind; dropped", self.QUEUE)
                self._drop(queue)

    async def _run(self) -> None:
        try:
            while self._queues and not self.closed and self.node.running:
                self._wake.clear()
                try:
                    dirty = self._dirty or self.node.store.last_cursor() > self.cursor
                    if self.views.ready is not None and self._views_due(dirty):
                        await self.views.ready()  # the analysis takes in what arrived first
                    self.poll()
                except Exception:  # a failing view must not end everyone's stream
                    log.exception("/events: computing news failed")
                # Until the node has news, or beliefs and suspicion are due.
                idle = self.views_interval_s if self._dirty else VIEWS_IDLE_S
                due_in = max(0.0, self._views_at + idle - time.monotonic())
                wait = min(max(due_in, EVENTS_MIN_GAP_S), EVENTS_FALLBACK_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                await asyncio.sleep(EVENTS_MIN_GAP_S)
        finally:
            self.node.unsubscribe(self._on_news)

    def poll(self) -> None:
        """Send what happened since the last poll."""
        store = self.node.store
        while True:
            rows = store.page(after=self.cursor, limit=500)
            for entry, cursor in rows:
                self._send(sse("entry", entry_event(entry), cursor))
                self.cursor = cursor
                self._dirty = True
            if len(rows) < 500:
                break
        forked = len(store.forked_authors())
        if forked != self._forks:
            for proof in store.forks()[self._forks:]:
                self._send(sse("fork", {k: v for k, v in proof.to_json().items() if k != "proof"}))
            self._forks = forked
            self._dirty = True
        if self.views.summary is not None and self._views_due(self._dirty):
            try:
                summary = self._summarize()
            except TrustnetError as exc:
                if exc.code != "analysis_pending":
                    raise
                return  # the node's first analysis is still running: news when it is done
            self._views_at, self._dirty = time.monotonic(), False
            if self._summary is None:  # the first figures since the analysis was pending:
                self._summary = summary  # what later news are told against
                return
            for party, figures in summary.items():
                before = self._summary.get(party, {})
                for kind in ("belief", "suspicion"):
                    if kind in figures and figures[kind] != before.get(kind):
                        self._send(sse(kind, figures[kind]))
            self._summary = summary

    def _views_due(self, dirty: bool) -> bool:
        """Whether beliefs and suspicion are to be read again (something arrived: every
        `views_interval_s`; else every VIEWS_IDLE_S)."""
        return time.monotonic() - self._views_at >= (self.views_interval_s if dirty
                                                      else VIEWS_IDLE_S)

    def _baseline(self) -> dict[str, dict[str, Any]] | None:
        """The figures now, or None while the node's first analysis is still running."""
        try:
            return self._summarize()
        except TrustnetError as exc:
            if exc.code != "analysis_pending":
                raise
            return None

    def _summarize(self) -> dict[str, dict[str, Any]]:
        if self.views.summary is None:
            return {}
        return {party: dict(figures) for party, figures in self.views.summary().items()}


def entry_event(entry: Any) -> dict[str, Any]:
    """The `entry` event's data: what a subscriber needs to decide whether to fetch it."""
    return {"id": entry.id_hex, "author": entry.author_hex, "seq": entry.seq,
            "kind": entry.kind, "ts": entry.ts}
