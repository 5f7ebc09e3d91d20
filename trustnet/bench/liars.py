"""Fake peers that lie on the wire: small aiohttp servers answering `/gossip/*` as an
adversary would (shared by the attack scripts under `scripts/attacks/` and their tests).

An endless peer answers every digest and every heads page with `more: true`, so a
node that believes it pages forever. `advance=False` repeats the same page (no
progress at all); `advance=True` names a new, higher author on every page (progress
on paper, no end). Its other answers are harmless: empty fetch replies, a head of 0
for any author, no peers. It checks no signature: it wants to be dialled.

    async with endless_peer() as liar:
        ... liar.url, liar.pages (heads pages served so far)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from trustnet.bench.stranger import Stranger, real_node
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.transport.base import CONTENT_TYPE


@dataclass(slots=True)
class EndlessPeer:
    """A running endless peer: where it listens and what it was asked."""

    url: str = ""
    pages: int = 0  # digest and heads pages served
    requests: int = 0


def _author(n: int) -> bytes:
    return n.to_bytes(32, "big")


def endless_app(peer: EndlessPeer, *, advance: bool) -> web.Application:
    """The aiohttp application of an endless peer."""
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
        if isinstance(message, m.Digest):
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
            reply = m.PeersReply(())
        return web.Response(body=m.encode(reply), content_type=CONTENT_TYPE)

    app = web.Application()
    app.add_routes([web.post("/gossip/{name}", gossip)])
    return app


@contextlib.asynccontextmanager
async def endless_peer(*, advance: bool = False) -> AsyncIterator[EndlessPeer]:
    """An endless peer on a free loopback port, stopped on exit."""
    peer = EndlessPeer()
    runner = web.AppRunner(endless_app(peer, advance=advance), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    peer.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield peer
    finally:
        await runner.cleanup()


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
                                 timeout_s: float = 60.0) -> dict[str, Any]:
    """Issue 11 item 5 against a real `trustnet run` process under `base`.

    `liars` endless peers (half repeating, half advancing) are handed to the node by a
    stranger's one `/gossip/peers` request; once the node pages with all of them, the
    operator adds an honest peer holding `entries` entries (an in-process daemon that
    answers but never dials, so only the node's own sessions can sync it). Returns how
    long the node took to hold them all (`synced_s`, None: not within `timeout_s`), the
    pages each liar served, and the node's view of the liars.
    """
    from trustnet.cli import main as cli_main
    from trustnet.daemon import Daemon
    from trustnet.protocol.gossip import GossipConfig

    async with contextlib.AsyncExitStack() as stack:
        fakes = [await stack.enter_async_context(endless_peer(advance=i % 2 == 1))
                 for i in range(liars)]
        honest_dir = base / "honest"
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
                contextlib.redirect_stderr(devnull):
            if cli_main(["init", str(honest_dir), "--name", "honest",
                         "--listen", "127.0.0.1:0"]) != 0:
                raise RuntimeError(f"could not create {honest_dir}")
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
        peers = await asyncio.to_thread(node.client.get, "/peers")
        liar_urls = {f.url for f in fakes}
        return {
            "liars": liars, "entries": entries, "synced_s": synced_s, "timeout_s": timeout_s,
            "liar_pages_when_honest_added": pages_before,
            "liar_pages": [f.pages for f in fakes],
            "liar_states": sorted(p["state"] for p in peers["peers"] if p["key"] in liar_urls),
            "node_entries": (await asyncio.to_thread(node.client.get, "/status"))["entries"],
        }
