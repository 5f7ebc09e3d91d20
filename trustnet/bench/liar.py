"""A lying peer: a small aiohttp server that speaks gossip and lies about a node's own log.

Own-log recovery (DESIGN 12) must not stall on it: it answers `/gossip/head` with a
head far beyond the truth (seq 10**12 by default, with no proof), and `/gossip/fetch`
either with `more: true` and no entries ("more"), with an empty complete reply
("empty"), or with HTTP 500 ("500"); with `head="500"` it answers no head at all. Every other endpoint gets a harmless, well-formed
reply, so the node keeps it as a peer. Used by `scripts/attacks/lying-head.py` and by
the tests that keep that attack failing; it runs in a thread of its own so callers
driving real `trustnet run` processes can stay synchronous.

    with LyingPeer(fetch="more") as liar:
        ...   # add liar.url to a node's peers
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Literal

from aiohttp import web

from trustnet.protocol import messages as m
from trustnet.transport.base import CONTENT_TYPE, error_body

FetchLie = Literal["more", "empty", "500"]
HeadLie = Literal["claim", "500"]


class LyingPeer:
    """A fake peer on 127.0.0.1 (a free port) that claims `claimed_seq` for every author."""

    def __init__(self, *, claimed_seq: int = 10**12, fetch: FetchLie = "more",
                 head: HeadLie = "claim") -> None:
        self.claimed_seq = claimed_seq
        self.fetch = fetch
        self.head = head
        self.url = ""
        self.requests: dict[str, int] = {}  # path -> how many the node sent
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> LyingPeer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> str:
        """Serve on a free loopback port; returns the URL."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.url

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/gossip/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        self.url = f"http://127.0.0.1:{port}"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.requests[path] = self.requests.get(path, 0) + 1
        try:
            message = m.decode_request(path, await request.read())
        except m.MessageError as exc:
            return web.Response(status=400, body=error_body(exc.code, exc.message),
                                content_type=CONTENT_TYPE)
        reply: m.Message
        if isinstance(message, m.HeadRequest) and self.head == "500":
            return web.Response(status=500, body=error_body("internal", "internal error"),
                                content_type=CONTENT_TYPE)
        if isinstance(message, m.HeadRequest):
            # A claim with no proof: an id that names nothing, no signed head entry.
            reply = m.HeadReply(message.author, self.claimed_seq, b"\x11" * 32)
        elif isinstance(message, m.Fetch):
            if self.fetch == "500":
                return web.Response(status=500, body=error_body("internal", "internal error"),
                                    content_type=CONTENT_TYPE)
            reply = m.Entries((), (), more=self.fetch == "more")
        elif isinstance(message, m.Digest | m.HeadsRequest):
            reply = m.InSync() if isinstance(message, m.Digest) else m.Heads(())
        elif isinstance(message, m.Push):
            reply = m.PushAck(0, len(message.entries))
        else:
            reply = m.PeersReply(())
        return web.Response(body=m.encode(reply), content_type=CONTENT_TYPE)
