"""Attack (issue 11, item 10): push a signed request out of the replay cache, then replay it.

Against a real `trustnet run` process: a request stamped 59 s ahead (fresh for two
minutes) is sent once, then `--flood` other signed requests (fresh keys, 20 each, under
the per-peer rate limit) fill the node's replay cache, then the first request is sent
again. Before the fix the cache forgot the oldest signature beyond its size and the replay
was accepted (200); now a full cache refuses new requests (503 `busy`) and a replay is
always `replayed` (401). A real node answers a few hundred signed requests a second on a
busy host, too few to fill the default 65,536 inside one window, so the node runs with
`[gossip] replay_cache = --cache` (default 4096); `--in-process` runs the node's verifier
itself at its default size instead (no HTTP), which shows the same at full scale.

    .venv/bin/python scripts/attacks/replay-flood.py [--cache 4096] [--json]
    .venv/bin/python scripts/attacks/replay-flood.py --in-process
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from trustnet.bench.stranger import Stranger, print_figure, real_node
from trustnet.clock import SystemClock
from trustnet.protocol import messages as m
from trustnet.transport.auth import REPLAY_CACHE, AuthError, RequestVerifier, sign_request
from trustnet.transport.base import CONTENT_TYPE, error_from_reply

PER_KEY = 20  # under /gossip/head's burst of 30: no key is rate-limited or penalised
CONCURRENCY = 32


def presign(count: int, when_ms: int) -> list[tuple[bytes, dict[str, str]]]:
    """`count` distinct signed head requests from fresh keys, all stamped `when_ms` (signed
    before the clock starts: the node, not the client, should be the bottleneck)."""
    out = []
    for i in range(count):
        if i % PER_KEY == 0:
            key = Stranger.fresh()
        body = m.encode(m.HeadRequest(os.urandom(32)))
        headers = dict(sign_request(key.identity, "POST", m.HEAD, body, when_ms),
                       **{"Content-Type": CONTENT_TYPE})
        out.append((body, headers))
    return out


async def flood(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> Counter[int]:
    """Send the requests, `CONCURRENCY` at a time; their statuses."""
    statuses: Counter[int] = Counter()
    pending = iter(requests)

    async def worker(session: aiohttp.ClientSession) -> None:
        for body, headers in pending:
            async with session.post(url + m.HEAD, data=body, headers=headers) as resp:
                await resp.read()
                statuses[resp.status] += 1

    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return statuses


def run(cache: int, flood_size: int, base: Path) -> dict[str, object]:
    """Mount the attack on a real node; the figure."""
    with real_node(base, gossip={"replay_cache": cache}) as node:
        # Stamped 59 s ahead: fresh (within the 60 s window either way) for two minutes.
        when = SystemClock().now_ms() + 59_000
        requests = presign(flood_size, when)
        victim = Stranger.fresh()
        body = m.encode(m.HeadRequest(victim.identity.public_key))
        signed = dict(sign_request(victim.identity, "POST", m.HEAD, body, when),
                      **{"Content-Type": CONTENT_TYPE})
        first, _ = victim.post(node.url, m.HEAD, body, headers=signed)
        started = time.monotonic()
        statuses = asyncio.run(flood(node.url, requests))
        seconds = time.monotonic() - started
        replay, reply = victim.post(node.url, m.HEAD, body, headers=signed)
        return {"replay_cache": cache, "flood": flood_size, "flood_seconds": round(seconds, 1),
                "flood_per_s": round(flood_size / seconds), "flood_statuses": dict(statuses),
                "original": first, "replay": replay, "replay_accepted": replay == 200,
                "replay_code": error_from_reply(replay, reply).code if replay != 200 else None,
                "replay_still_fresh": SystemClock().now_ms() - when <= 60_000}


def run_in_process(others: int) -> dict[str, object]:
    """The node's own verifier at its default size, fed directly: the figure at full scale."""
    verifier = RequestVerifier()
    now = SystemClock().now_ms()
    victim = Stranger.fresh()
    signed = sign_request(victim.identity, "POST", m.HEAD, b"x", now)
    verifier.verify("POST", m.HEAD, signed, b"x", now)
    outcomes: Counter[str] = Counter()
    key = Stranger.fresh().identity
    for i in range(others):
        body = i.to_bytes(4, "big")
        try:
            verifier.verify("POST", m.HEAD, sign_request(key, "POST", m.HEAD, body, now), body, now)
            outcomes["ok"] += 1
        except AuthError as exc:
            outcomes[exc.code] += 1
    try:
        verifier.verify("POST", m.HEAD, signed, b"x", now)
        replay = "accepted"
    except AuthError as exc:
        replay = exc.code
    return {"replay_cache": verifier.capacity, "others": others, "others_outcomes": dict(outcomes),
            "replay": replay}


def main(argv: list[str] | None = None) -> int:
    """Run the attack and print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=int, default=4096)
    parser.add_argument("--flood", type=int, help="requests in the flood (default: cache + 1000)")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.in_process:
        figure = run_in_process(REPLAY_CACHE + 1000)
    else:
        with tempfile.TemporaryDirectory(prefix="trustnet-attack-") as tmp:
            figure = run(args.cache, args.flood or args.cache + 1000, Path(tmp))
    print_figure(figure, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
