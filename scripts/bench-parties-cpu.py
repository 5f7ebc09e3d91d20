#!/usr/bin/env python3
"""The node's whole analysis along the parties axis, in CPU seconds (issue 15 item 5).

`trustnet bench views`' generated store of `--n` statements from `--parties` parties, read by
a fresh `NodeViews` (full recompute), then `--updates` entries one at a time; each timed by
`time.process_time` (CPU of this process: on a shared machine, wall clock measures the
load). Compare two versions by running it with each on PYTHONPATH, interleaved. Measures;
asserts nothing. Usage:

    PYTHONPATH=. .venv/bin/python scripts/bench-parties-cpu.py [--n 100000] [--parties 10000]
"""

from __future__ import annotations

import argparse
import json
import time

from trustnet.analysis.views import NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--parties", type=int, default=10_000)
    p.add_argument("--updates", type=int, default=5)
    args = p.parse_args()
    entries, pids = generate(args.n, args.parties, 1)
    now = max(e.ts for e in entries) + DAY_MS
    store = Store(None)
    store.ingest(entries[: args.n - args.updates], now)
    store.mark_received_at_ts()  # received when signed, as a live node would have
    views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
    t0 = time.process_time()
    views.current()
    full = time.process_time() - t0
    total = 0.0
    for e in entries[args.n - args.updates:]:
        store.ingest([e], e.ts)
        t0 = time.process_time()
        views.current()
        total += time.process_time() - t0
    print(json.dumps({"statements": args.n, "parties": args.parties, "full_cpu_s": round(full, 2),
                      "update_cpu_ms": round(total / max(1, args.updates) * 1e3, 1)}))


if __name__ == "__main__":
    main()
