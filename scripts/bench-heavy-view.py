#!/usr/bin/env python3
"""CPU of one heavy view (a past moment, `?at=`, or a series) beside the node's own analysis,
and the cyclic collector's share of it.

A heavy view is computed by the node's heavy-view worker (`analysis.views.Analysis`): a
`NodeViews` of its own over the whole store, read from the first entry, dropped after the
answer. A store of `--n` statements (the generator of `trustnet.bench.beliefs`) is written
to a node directory, the node's own views catch up (their records frozen out of the
collector's reach, as in a running node), then `--rounds` heavy views are computed one after
the other, as the worker computes them, each followed by a burst of allocations (the node
going on). Per round: CPU seconds, of which in the collector, and the catch-up freezes and
full collections it caused (both 0 since a view made for one answer is dropped with the
collector paused). Measures; asserts nothing. Usage:

    PYTHONPATH=. .venv/bin/python scripts/bench-heavy-view.py [--n 100000] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from trustnet import heap
from trustnet.analysis.views import Analysis, NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store


def run(n: int, rounds: int, parties: int = 60, seed: int = 1) -> dict[str, Any]:
    entries, pids = generate(n, parties, seed)
    now = max(e.ts for e in entries) + DAY_MS
    settings, clock = Settings.from_config(NodeConfig()), ManualClock(now)
    collector = [0.0, 0.0]

    def timer(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collector[1] = time.process_time()
        else:
            collector[0] += time.process_time() - collector[1]

    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="trustnet-heavy-") as tmp, \
            Store.open_dir(Path(tmp)) as store:
        store.ingest(entries, now)
        store.mark_received_at_ts()
        own = NodeViews(store, pids[0], (), settings, clock)
        own.current()  # the node's own analysis, caught up and frozen
        worker = Analysis(Path(tmp), pids[0], (), settings, clock, 3600.0)
        gc.callbacks.append(timer)
        try:
            for _ in range(rounds):
                collector[0] = 0.0
                before = heap.stats()
                t0 = time.process_time()
                worker._compute(lambda views: len(views.current()[0].parties))
                burst = [[] for _ in range(100_000)]  # the node goes on allocating
                del burst
                cpu = time.process_time() - t0
                after = heap.stats()
                out.append({"cpu_s": round(cpu, 2), "collector_s": round(collector[0], 2),
                            "freezes": after.settles - before.settles,
                            "full_collections": after.refreshes - before.refreshes})
        finally:
            gc.callbacks.remove(timer)
            worker.close()
    return {"statements": n, "rounds": out}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args.n, args.rounds)
    if args.json:
        print(json.dumps(result))
    else:
        for k, r in enumerate(result["rounds"], 1):
            print(f"round {k}: {r['cpu_s']} s CPU, {r['collector_s']} s in the collector, "
                  f"{r['freezes']} freezes, {r['full_collections']} full collections")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
