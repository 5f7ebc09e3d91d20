"""Gossip ingest benchmark: pre-signed entries pushed over real HTTP into a receiving daemon,
against raw libsodium verifications per second measured in the same run, on one core
(`ratio`; issue 15 asks >= 1.3) and on every core (`ratio_all_cores`), and against one core
of libsodium called from C with nothing between two verifications (`ratio_c`: the strictest
baseline, without pynacl's wrapper, which the node's ingest workers do not call either).

The receiver is a real `Daemon` (aiohttp app, signed-request check, msgpack decoding,
store ingest) on 127.0.0.1 with a free port. The sender is the node's own client side
(`HttpTransport`): each request is a signed `POST /gossip/push` carrying as many entries
as fit in one message (`messages.MAX_MESSAGE_BYTES`), in chain order, with at most
`--window` pushes in flight (default 2, a peer sending in bulk: the node checks the next
push's entries on its workers while it stores the last one's, and answers pushes in the
order it took them in; `--window 1` sends each after the last one's ack). A push that
reached the node before the one its chains go on from is partly refused for the gap, as
any peer learns from its ack (`wants`), and sent again at the end (`pushes_sent_again`;
none in practice on loopback). What is timed: from the first request to the last
acknowledgement; entries stored per second is `accepted / elapsed`.

Benchmark-only receiver settings (documented, and the only deviation from defaults):
`max_push_entries = 1024`, so one push may carry up to 4 x 1024 entries (the node ingests
at most 4 x max_push_entries per push; the default 64 is sized for eager pushes of new
entries, not for bulk transfer); no tick loop and no peers, so nothing else competes.
Rate limits stay at their defaults: a run is a handful of pushes. The receiver checks the
entries on its ingest workers (`[ingest] workers`, one per core), spawned before the clock
starts (a node spawns them once, at its first large batch).

`--tls`: the receiver serves TLS (a certificate from a throwaway CA made for the run) and
the sender verifies it, as nodes do on the internet; one connection is kept for the run, so
the figure is the cost of encryption on the gossip path rather than of handshakes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trustnet.bench.ingest import (
    c_figures,
    cpu_figures,
    cpu_s,
    make_bundle,
    raw_verify_c_rate,
    raw_verify_cpu_rate,
    raw_verify_rate,
)
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.bundle import iter_bundle
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.transport.http import HttpTransport

BENCH_MAX_PUSH_ENTRIES = 1024
# Room in a message for the Push map itself and msgpack's per-item bin headers.
_FRAME_BYTES = 64
_PER_ITEM_BYTES = 5


def batches(raws: list[bytes], max_bytes: int = m.MAX_MESSAGE_BYTES,
            max_entries: int = 4 * BENCH_MAX_PUSH_ENTRIES) -> list[bytes]:
    """Encoded `Push` bodies, in order, each as full as the limits allow."""
    max_entries = min(max_entries, m.MAX_LIST)
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = _FRAME_BYTES
    for raw in raws:
        cost = len(raw) + _PER_ITEM_BYTES
        if chunk and (size + cost > max_bytes or len(chunk) >= max_entries):
            out.append(m.encode(m.Push(tuple(chunk)), max_bytes))
            chunk, size = [], _FRAME_BYTES
        chunk.append(raw)
        size += cost
    if chunk:
        out.append(m.encode(m.Push(tuple(chunk)), max_bytes))
    return out


class _NoServer:
    """The sender serves nothing: its transport only sends."""

    async def handle_gossip(self, path: str, headers: Any, body: bytes, *,
                            remote: str = "") -> tuple[int, bytes]:
        """Never called."""
        raise AssertionError("the benchmark sender serves no requests")


async def _push_all(node_dir: Path, bodies: list[bytes], ca_file: Path | None = None,
                    window: int = 2) -> tuple[int, int, float, int, float, float, int]:
    """Start the receiver, push every body with at most `window` in flight; (accepted,
    rejected, seconds, entries stored, CPU seconds of this process, CPU seconds of the
    receiver's ingest workers, pushes sent again)."""
    from trustnet.node.daemon import Daemon
    from trustnet.transport.tls import client_context

    config = GossipConfig(tick_interval_s=None, max_push_entries=BENCH_MAX_PUSH_ENTRIES)
    daemon = Daemon(node_dir, gossip=config)
    url = await daemon.start()
    daemon.ingest_pool.spawn()
    sender = HttpTransport(Identity.generate(), SystemClock(),
                           tls=client_context(ca_file) if ca_file else None)
    await sender.start(_NoServer())
    pids = daemon.ingest_pool.pids()
    try:
        w0, c0 = sum(cpu_s(p) for p in pids), cpu_s()
        t0 = time.perf_counter()
        acks = await _send(sender, url, bodies, window)
        # Pushes in flight together may reach the node out of order (two connections): a
        # push whose entries' chains went on in one taken in before it is partly refused
        # for the gap (`wants`), as a peer would learn from its ack. Those are sent again.
        again = [body for body, ack in zip(bodies, acks, strict=True) if ack.wants]
        acks += await _send(sender, url, again, 1)
        elapsed = time.perf_counter() - t0
        own = cpu_s() - c0
        workers = sum(cpu_s(p) for p in pids) - w0 if daemon.ingest_pool.pids() == pids else 0.0
        stored = daemon.store.count()
    finally:
        await sender.stop()
        await daemon.stop()
    accepted = sum(a.accepted for a in acks)
    rejected = sum(a.rejected for a in acks)
    return accepted, rejected, elapsed, stored, own, workers, len(again)


async def _send(sender: HttpTransport, url: str, bodies: list[bytes], window: int
                ) -> list[m.PushAck]:
    """Push `bodies` in order, each sent once the one before it started and at most `window`
    in flight; their acks, in the same order."""
    room = asyncio.Semaphore(max(1, window))

    async def push(body: bytes) -> m.PushAck:
        try:
            reply = m.decode_reply(m.PUSH, await sender.request(url, m.PUSH, body))
        finally:
            room.release()
        assert isinstance(reply, m.PushAck), reply
        return reply

    tasks: list[asyncio.Task[m.PushAck]] = []
    for body in bodies:
        await room.acquire()
        tasks.append(asyncio.create_task(push(body)))
        await asyncio.sleep(0)  # its request under way before the next one's
    return list(await asyncio.gather(*tasks))


def run(entries: int = 20_000, authors: int = 50, repeat: int = 3, *, tls: bool = False,
        workers: int = -1, window: int = 2) -> dict[str, Any]:
    """Measure entries stored per second through HTTP gossip, raw verify rate, their ratio.

    Each of `repeat` runs pushes everything into a fresh receiver; the fastest run is
    reported (as `timeit` does: the least disturbed by other load on the machine), and
    the raw rate is the best of measurements taken around every run.
    """
    from trustnet.cli.main import main as cli_main

    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="trustnet-bench-gossip-") as tmp:
        bundle = Path(tmp) / "bench.bundle"
        make_bundle(bundle, entries, authors)
        raws = list(iter_bundle(bundle))
        bodies = batches(raws)
        raw_rates = [raw_verify_rate(raws)]
        all_rates = [raw_verify_rate(raws, cores)]
        c_rates = [raw_verify_c_rate(raws)]
        times: list[float] = []
        writer_s = workers_s = 0.0
        sent_again = 0
        verify_us = 1e6 / raw_verify_cpu_rate(raws)
        ca = None
        if tls:
            from trustnet.transport.testca import ThrowawayCA

            ca = ThrowawayCA.create(Path(tmp) / "ca")
        for k in range(max(1, repeat)):
            node_dir = Path(tmp) / f"receiver-{k}"
            argv = ["init", str(node_dir), "--name", "receiver", "--listen", "127.0.0.1:0"]
            if ca is not None:
                ca.issue(Path(tmp) / f"tls-{k}.pem", Path(tmp) / f"tls-{k}.key")
                argv += ["--tls-cert", str(Path(tmp) / f"tls-{k}.pem"),
                         "--tls-key", str(Path(tmp) / f"tls-{k}.key")]
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                code = cli_main(argv)
            if code != 0:
                raise RuntimeError(f"could not create {node_dir}")
            with open(node_dir / "node.toml", "a") as toml:
                toml.write(f"\n[ingest]\nworkers = {workers}\n")
            accepted, rejected, elapsed, stored, own, pooled, again = asyncio.run(
                _push_all(node_dir, bodies, ca.ca_file if ca else None, window))
            sent_again += again
            writer_s += own
            workers_s += pooled
            if accepted != entries or stored != entries or rejected:
                raise RuntimeError(f"pushed {entries}, accepted {accepted}, stored {stored}, "
                                   f"rejected {rejected}")
            times.append(elapsed)
            raw_rates.append(raw_verify_rate(raws))
            all_rates.append(raw_verify_rate(raws, cores))
            c_rates.append(raw_verify_c_rate(raws))
    raw_rate, all_rate = max(raw_rates), max(all_rates)
    per_s = entries / min(times)
    return {
        "tls": tls,
        "workers": workers,
        "entries": entries,
        "authors": authors,
        "requests": len(bodies),
        "window": window,
        "pushes_sent_again": sent_again,
        "entries_per_request": round(entries / len(bodies)),
        "request_bytes": max(len(b) for b in bodies),
        "runs_s": [round(t, 3) for t in times],
        "seconds": round(min(times), 3),
        "gossip_per_s": round(per_s),
        "raw_verify_per_s": round(raw_rate),
        "raw_verify_all_cores_per_s": round(all_rate),
        "cores": cores,
        "ratio": round(per_s / raw_rate, 3),
        "ratio_all_cores": round(per_s / all_rate, 3),
        "ratio_median_run": round(entries / statistics.median(times) / raw_rate, 3),
        **c_figures(per_s, c_rates),
        # "writer": the whole benchmark process, the receiving node and the sender alike.
        **cpu_figures(entries * len(times), writer_s, workers_s, verify_us, cores),
    }


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench gossip [--entries N] [--authors A] [--tls] [--json]`."""
    p = argparse.ArgumentParser(prog="trustnet bench gossip", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=20_000)
    p.add_argument("--authors", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3, help="runs; the fastest is reported")
    p.add_argument("--tls", action="store_true", help="over TLS (a throwaway CA for the run)")
    p.add_argument("--workers", type=int, default=-1,
                   help="the receiver's ingest workers (-1: one per core, the default; 0: none)")
    p.add_argument("--window", type=int, default=2,
                   help="pushes in flight at once (default 2: the node checks the next "
                        "push's entries while it stores the last one's; 1: one at a time)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print(f"pushing {args.entries} signed entries from {args.authors} authors over "
          f"{'HTTPS' if args.tls else 'HTTP'}...", file=sys.stderr)
    result = run(args.entries, args.authors, args.repeat, tls=args.tls, workers=args.workers,
                 window=args.window)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<20} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
