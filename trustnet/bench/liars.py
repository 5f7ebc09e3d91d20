"""Fake peers that lie on the wire: small aiohttp servers answering `/gossip/*` as an
adversary would (shared by the attack scripts under `scripts/attacks/` and their tests).

An endless peer answers every digest and every heads page with `more: true`, so a
node that believes it pages forever. `advance=False` repeats the same page (no
progress at all); `advance=True` names a new, higher author on every page (progress
on paper, no end). Its other answers are harmless: empty fetch replies, a head of 0
for any author, no peers. It checks no signature: it wants to be dialled.

    async with endless_peer() as liar:
        ... liar.url, liar.pages (heads pages served so far)

A lying-head peer (`LyingPeer`) lies about a node's own log instead: own-log recovery
(DESIGN 12) must not stall on it. It answers `/gossip/head` with a head far beyond the
truth (seq 10**12 by default, with no proof), and `/gossip/fetch` either with `more: true`
and no entries ("more"), with an empty complete reply ("empty"), or with HTTP 500
("500"); with `head="500"` it answers no head at all. It runs in a thread of its own, so
callers driving real `trustnet run` processes stay synchronous
(`scripts/attacks/lying-head.py`, tests/test_recovery_attacks.py):

    with LyingPeer(fetch="more") as liar:
        ...   # add liar.url to a node's peers

`mount_endless_sessions` and `mount_private_probe` mount issue 11's attacks 5 and 8 on a
real `trustnet run` process, for `scripts/attacks/` and tests/test_attack_peers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.transport.base import CONTENT_TYPE, error_body


def _harmless(message: m.Message) -> m.Message:
    """A well-formed answer that tells nothing (so the node keeps the liar as a peer)."""
    if isinstance(message, m.Digest):
        return m.InSync()
    if isinstance(message, m.HeadsRequest):
        return m.Heads(())
    if isinstance(message, m.Push):
        return m.PushAck(0, len(message.entries))
    return m.PeersReply(())


@dataclass(slots=True)
class EndlessPeer:
    """A running endless peer: where it listens and what it was asked."""

    url: str = ""
    pages: int = 0  # digest and heads pages served
    requests: int = 0


def _author(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _endless_split(prefixes: tuple[str, ...]) -> m.Reconcile:
    """Range reconciliation's endless answer (issue 15): every prefix asked "differs" and
    is split again, one digit deeper each time, its 1,000 claimed heads all under the
    first child (the counts add up: only the depth bound stops it)."""
    fps = b"\x11" * 16 + bytes(240)
    return m.Reconcile(splits=tuple((p, fps, (1000,) + (0,) * 15) for p in prefixes
                                    if len(p) < m.MAX_PREFIX))


def endless_app(peer: EndlessPeer, *, advance: bool, reconcile: bool = False) -> web.Application:
    """The aiohttp application of an endless peer (`reconcile`: it answers digests that
    offer range reconciliation with endless splits instead of heads pages)."""
    counter = {"next": 1 << 248}

    def page(after: bytes | None) -> m.Heads:
        peer.pages += 1
        if advance:
            counter["next"] += 1
            author = _author(max(counter["next"], int.from_bytes(after or b"\0", "big") + 1))
        else:
            author = _author(1 << 248)
        return m.Heads(((author, 1_000_000, b"\x11" * 32),), more=True, after=after)

    async def gossip(request: web.Request) -> web.Response:
        peer.requests += 1
        path = request.path
        try:
            message = m.decode_request(path, await request.read())
        except m.MessageError:
            return web.Response(status=400)
        reply: m.Message
        if isinstance(message, m.Digest) and message.recon and reconcile:
            peer.pages += 1
            reply = _endless_split(("",))
        elif isinstance(message, m.Reconcile):
            peer.pages += 1
            reply = _endless_split(tuple(p for p, _, _ in message.nodes))
        elif isinstance(message, m.Digest):
            reply = page(None)
        elif isinstance(message, m.HeadsRequest):
            reply = page(message.after)
        elif isinstance(message, m.Fetch):
            reply = m.Entries((), (), more=True)
        elif isinstance(message, m.Push):
            reply = m.PushAck()
        elif isinstance(message, m.HeadRequest):
            reply = m.HeadReply(message.author, 0, None)
        else:
            reply = _harmless(message)
        return web.Response(body=m.encode(reply), content_type=CONTENT_TYPE)

    app = web.Application()
    app.add_routes([web.post("/gossip/{name}", gossip)])
    return app


@contextlib.asynccontextmanager
async def endless_peer(*, advance: bool = False, reconcile: bool = False
                       ) -> AsyncIterator[EndlessPeer]:
    """An endless peer on a free loopback port, stopped on exit."""
    peer = EndlessPeer()
    runner = web.AppRunner(endless_app(peer, advance=advance, reconcile=reconcile),
                           access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    peer.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield peer
    finally:
        await runner.cleanup()


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
        else:
            reply = _harmless(message)
        return web.Response(body=m.encode(reply), content_type=CONTENT_TYPE)


def signed_chain(identity: Identity, n: int, now_ms: int) -> list[Entry]:
    """`n` valid `trust` entries by `identity`, seq 1..n, dated in the last `n` ms."""
    out: list[Entry] = []
    prev = None
    for i in range(n):
        body = {"subject": "ab" * 32, "level": i % 1000}
        entry = sign_entry(identity, seq=i + 1, prev=prev, ts=now_ms - n + i, kind="trust",
                           body=body)
        out.append(entry)
        prev = entry.id
    return out


async def mount_endless_sessions(base: Path, *, liars: int = 4, entries: int = 1000,
                                 timeout_s: float = 60.0, reconcile: bool = False
                                 ) -> dict[str, Any]:
    """Issue 11 item 5 against a real `trustnet run` process under `base`.

    `liars` endless peers (half repeating, half advancing; with `reconcile`, all answering
    the node's range reconciliation with endless splits, issue 15) are handed to the node by a
    stranger's one `/gossip/peers` request; once the node pages with all of them, the
    operator adds an honest peer holding `entries` entries (an in-process daemon that
    answers but never dials, so only the node's own sessions can sync it). Returns how
    long the node took to hold them all (`synced_s`, None: not within `timeout_s`), the
    pages each liar served, and the node's view of the liars.
    """
    from trustnet.config.nodedir import init_node_dir
    from trustnet.node.daemon import Daemon
    from trustnet.protocol.config import GossipConfig

    async with contextlib.AsyncExitStack() as stack:
        fakes = [await stack.enter_async_context(endless_peer(advance=i % 2 == 1,
                                                              reconcile=reconcile))
                 for i in range(liars)]
        honest_dir = init_node_dir(base / "honest", name="honest", listen="127.0.0.1:0").dir
        honest = Daemon(honest_dir, gossip=GossipConfig(tick_interval_s=None))
        now = SystemClock().now_ms()
        result = honest.store.ingest(signed_chain(Identity.from_seed(os.urandom(32)), entries, now),
                                     now)
        if len(result.accepted) != entries:
            raise RuntimeError(f"honest peer refused its entries: {result.rejected[:1]}")
        await honest.start()
        stack.push_async_callback(honest.stop)
        node = stack.enter_context(real_node(base / "bed"))
        share = m.PeersRequest(fakes[0].url, tuple(f.url for f in fakes[1:]))
        status, _ = await asyncio.to_thread(Stranger.fresh().post, node.url, m.PEERS,
                                            m.encode(share))
        if status != 200:
            raise RuntimeError(f"the node refused the peer exchange: HTTP {status}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20.0
        while min(f.pages for f in fakes) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        pages_before = [f.pages for f in fakes]
        assert honest.url is not None
        await asyncio.to_thread(node.client.add_peer, honest.url)
        started = loop.time()
        synced_s: float | None = None
        while loop.time() - started < timeout_s:
            status_json = await asyncio.to_thread(node.client.get, "/status")
            if status_json["entries"] >= entries:
                synced_s = round(loop.time() - started, 2)
                break
            await asyncio.sleep(0.2)
        # Syncing may beat the liars' penalties (a session is charged when it ends): give the
        # node a bounded while to judge them before reading their states.
        liar_urls = {f.url for f in fakes}
        judged_by = loop.time() + 20.0
        while True:
            peers = await asyncio.to_thread(node.client.get, "/peers")
            if loop.time() > judged_by or any(
                    p["state"] == "graylisted" for p in peers["peers"] if p["key"] in liar_urls):
                break
            await asyncio.sleep(0.2)
        return {
            "liars": liars, "entries": entries, "synced_s": synced_s, "timeout_s": timeout_s,
            "liar_pages_when_honest_added": pages_before,
            "liar_pages": [f.pages for f in fakes],
            "liar_states": sorted(p["state"] for p in peers["peers"] if p["key"] in liar_urls),
            "node_entries": (await asyncio.to_thread(node.client.get, "/status"))["entries"],
        }


def _row(peers: dict[str, Any], url: str) -> dict[str, Any] | None:
    for p in peers.get("peers", []):
        if p["key"] == url:
            return {k: p.get(k) for k in ("state", "reason", "last_error", "failures")}
    return None


async def mount_private_probe(base: Path, *, wait_s: float = 15.0) -> dict[str, Any]:
    """Issue 11 item 8 against a real `trustnet run` process (default settings) under `base`.

    A stranger pushes a signed `profile` naming a loopback canary (an HTTP server that
    answers 501) and hands over, by peer exchange, a closed loopback port and the canary
    under this machine's host name (resolving to a local address). Returns the canary's
    connections, what `GET /peers` shows anyone and the operator for each URL, and the
    connections once the operator adds the canary itself (`admin_connections`).
    """
    hits = {"n": 0}

    async def answer(request: web.Request) -> web.Response:
        hits["n"] += 1
        return web.Response(status=501, text="not a trustnet node")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    canary = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # The canary again under this machine's host name, which resolves to a local address.
    disguised = f"http://{socket.gethostname()}:{sock.getsockname()[1]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nobody listens once closed
    # The node's default (the testbed itself allows loopback peers: it runs on one host).
    gossip = {"allow_private_peers": False}
    try:
        with real_node(base, gossip=gossip) as node:
            stranger = Stranger.fresh()
            profile = sign_entry(stranger.identity, seq=1, prev=None, ts=SystemClock().now_ms(),
                                 kind="profile",
                                 body={"name": "canary", "role": "observer", "urls": [canary]})
            pushed, _ = await asyncio.to_thread(
                stranger.post, node.url, m.PUSH, m.encode(m.Push((profile.raw,))))
            shared, _ = await asyncio.to_thread(
                stranger.post, node.url, m.PEERS, m.encode(m.PeersRequest(None, (closed, disguised))))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while loop.time() < deadline and hits["n"] == 0:
                await asyncio.sleep(0.2)
            await asyncio.sleep(3.0)  # let the closed port's failure show too
            status, raw = await asyncio.to_thread(get, node.url, "/peers")
            public = json.loads(raw) if status == 200 else {}
            admin = await asyncio.to_thread(node.client.get, "/peers")
            dialled = hits["n"]
            await asyncio.to_thread(node.client.add_peer, canary)  # the operator's choice
            deadline = loop.time() + wait_s
            while loop.time() < deadline and hits["n"] == dialled:
                await asyncio.sleep(0.2)
            return {
                "admin_connections": hits["n"] - dialled,
                "push_status": pushed, "exchange_status": shared,
                "canary_connections": dialled,
                "public_view": {"canary": _row(public, canary), "closed": _row(public, closed),
                                "disguised": _row(public, disguised)},
                "operator_view": {"canary": _row(admin, canary), "closed": _row(admin, closed),
                                  "disguised": _row(admin, disguised),
                                  "refused": admin.get("refused")},
            }
    finally:
        await runner.cleanup()
