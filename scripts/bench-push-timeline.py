#!/usr/bin/env python3
"""Where a push's time goes: `trustnet bench gossip`, timed from inside the node and its
ingest workers.

One run of `trustnet bench gossip` (a real daemon, signed pushes over HTTP) with the node's
steps timed by wrapping them (the request body read, answering the push, admission,
`Store.prepare`, each slice's `Store._commit`, waiting on the workers) and with workers that
write down when each chunk's check started and ended (`python` running this file as
`--worker`: the node's own worker loop, the check wrapped). Per push (the first is left out:
it spawns nothing but warms the caches): its wall time; how long the workers wait before
the first chunk reaches one (reading, authenticating, decoding and admitting the push);
the last slice stored and what follows it (the answer) while they wait; the gap to the
next push (the round trip and the sender's work); each worker's busy time and when it
finished its last chunk. With two pushes in flight (`--window 2`, as `bench gossip` sends
them) the spans overlap and the steps inside one may be the other's: `--window 1` gives the
timeline of one push at a time. Measures; asserts nothing. Usage:

    PYTHONPATH=. .venv/bin/python scripts/bench-push-timeline.py [--entries 20000] [--window 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_LOG_ENV = "TRUSTNET_CHUNK_LOG"  # the worker's file of (start, end, entries) lines


def _worker() -> int:
    """An ingest worker that writes down each chunk's check (wall clock, seconds)."""
    from trustnet.store import workers

    check = workers.check_chunk
    with open(Path(os.environ[_LOG_ENV]) / f"w{os.getpid()}.log", "w", buffering=1) as log:

        def timed(frame: bytes) -> bytes:
            t0 = time.time()
            out = check(frame)
            log.write(f"{t0:.6f} {time.time():.6f} {len(out)}\n")
            return out

        workers.check_chunk = timed
        return workers.main()


def _wrap(owner: Any, name: str, tag: str, events: list[tuple[float, str]]) -> None:
    fn = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        events.append((time.time(), tag + ">"))
        try:
            return fn(*args, **kwargs)
        finally:
            events.append((time.time(), tag + "<"))

    setattr(owner, name, timed)


def _awrap(owner: Any, name: str, tag: str, events: list[tuple[float, str]]) -> None:
    fn = getattr(owner, name)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        events.append((time.time(), tag + ">"))
        try:
            return await fn(*args, **kwargs)
        finally:
            events.append((time.time(), tag + "<"))

    setattr(owner, name, timed)


def run(entries: int, window: int = 2) -> dict[str, Any]:
    from trustnet.bench import gossip
    from trustnet.node import core
    from trustnet.protocol import push
    from trustnet.store import sqlite, workers
    from trustnet.transport import http

    events: list[tuple[float, str]] = []
    _awrap(http, "read_bounded", "read", events)
    _awrap(core.Node, "handle_gossip", "answer", events)
    _wrap(push.PushGossip, "_ingest", "ingest", events)
    _wrap(sqlite.Store, "prepare", "prepare", events)
    _wrap(sqlite.Store, "_commit", "commit", events)
    _wrap(workers.IngestPool, "submit", "submit", events)
    _wrap(workers.IngestPool, "result", "wait", events)
    _awrap(workers.IngestPool, "wait", "wait", events)
    made: Callable[..., None] = workers.IngestPool.__init__

    def timed_pool(self: workers.IngestPool, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.command = [sys.executable, __file__, "--worker"]

    workers.IngestPool.__init__ = timed_pool  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="trustnet-push-timeline-") as logs:
        os.environ[_LOG_ENV] = logs
        result = gossip.run(entries=entries, repeat=1, window=window)
        chunks = [[tuple(float(v) for v in line.split()[:2]) for line in p.open()
                   if line.split()[2] != "0"] for p in sorted(Path(logs).glob("w*.log"))]
    # Each push's span, from its request read to its answer (with two in flight they overlap:
    # then `gap_before_ms` is negative, the time the two shared).
    spans: list[tuple[int, int]] = []
    for k, (_, e) in enumerate(events):
        if e == "answer>":
            spans.append((k, -1))
        elif e == "answer<":
            first_open = next(i for i, (a, b) in enumerate(spans) if b == -1)
            spans[first_open] = (spans[first_open][0], k)  # answered in the order taken in
    pushes: list[dict[str, Any]] = []
    last_end: float | None = None
    for k, end in spans:
        seg = events[k:end + 1]
        start, stop = seg[0][0], seg[-1][0]
        first_submit = next((t for t, e in seg if e == "submit>"), start)
        commit_starts = [t for t, e in seg if e == "commit>"]
        commit_ends = [t for t, e in seg if e == "commit<"]
        commits = list(zip(commit_starts, commit_ends, strict=False))
        busy, finished = [], []
        for worker in chunks:
            mine = [(a, b) for a, b in worker if start <= a <= stop]
            busy.append(sum(b - a for a, b in mine))
            finished.append(max((b for _, b in mine), default=start) - start)
        row = {
            "push_ms": (stop - start) * 1e3,
            "before_first_chunk_ms": (first_submit - start) * 1e3,
            "last_slice_stored_ms": (commits[-1][1] - commits[-1][0]) * 1e3 if commits else 0.0,
            "after_last_slice_ms": (stop - commit_ends[-1]) * 1e3 if commit_ends else 0.0,
            "gap_before_ms": (start - last_end) * 1e3 if last_end is not None else 0.0,
            "workers_busy_ms": [round(b * 1e3, 1) for b in busy],
            "workers_finished_at_ms": [round(f * 1e3, 1) for f in finished],
            "workers_finish_spread_ms": (max(finished) - min(finished)) * 1e3 if finished else 0.0,
            # the node still storing after both workers finished (they wait meanwhile)
            "stored_after_workers_ms": (commit_ends[-1] - start - max(finished)) * 1e3
            if commit_ends and finished else 0.0,
        }
        pushes.append(row)
        last_end = stop
    full = [p for p in pushes[1:-1]] or pushes  # the last push is a remainder
    keys = ("push_ms", "before_first_chunk_ms", "last_slice_stored_ms", "after_last_slice_ms",
            "gap_before_ms", "workers_finish_spread_ms", "stored_after_workers_ms")
    return {
        "entries": entries,
        "pushes": len(pushes),
        "ratio": result["ratio"],
        "median_of_full_pushes": {k: round(statistics.median(p[k] for p in full), 2)
                                  for k in keys},
        "per_push": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in p.items()}
                     for p in pushes],
    }


def main() -> int:
    if sys.argv[1:] == ["--worker"]:
        return _worker()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=20_000)
    p.add_argument("--window", type=int, default=2, help="pushes in flight (bench gossip's)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    out = run(args.entries, args.window)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{out['pushes']} pushes of {args.entries} entries, ratio {out['ratio']} (this run, "
          "timed: slower than the benchmark alone)")
    for k, v in out["median_of_full_pushes"].items():
        print(f"  median {k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
