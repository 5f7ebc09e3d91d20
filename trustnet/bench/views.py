"""The node's whole analysis, as it runs it: beliefs and suspicion over its store.

A store of `n` statements from `parties` parties (the generator of
`trustnet.bench.beliefs`) is read by a fresh `NodeViews` (full recompute: every
entry through the belief engine, the rules, the signals and the suspicion
estimator), then `updates` further entries arrive one at a time, each followed by
what a node does before answering `/beliefs` or `/suspicion` (update per new entry).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from trustnet.analysis.views import NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store


def run(n: int = 100_000, parties: int = 60, updates: int = 100, seed: int = 1) -> dict[str, Any]:
    """Full recompute and per-entry update of beliefs + suspicion, as a node runs them."""
    entries, pids = generate(n, parties, seed)
    now = max(e.ts for e in entries) + DAY_MS
    held = max(0, min(updates, n - 1))
    store = Store(None)
    store.ingest(entries[: n - held], now)
    # A live node received each statement when it was signed (DESIGN 12 judges deadlines by
    # receipt): record that, or the whole store would read as backdated to one moment.
    store.mark_received_at_ts()
    views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
    t0 = time.perf_counter()
    _, suspicion = views.current()
    full_s = time.perf_counter() - t0
    total = 0.0
    for e in entries[n - held :]:
        store.ingest([e], e.ts)
        t0 = time.perf_counter()
        views.current()
        total += time.perf_counter() - t0
    return {
        "statements": n,
        "parties": parties,
        "suspicion_parties": len(suspicion.reports(now)),
        "full_recompute_s": round(full_s, 3),
        "updates": held,
        "update_ms_per_entry": round(total / held * 1e3, 2) if held else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench views [--n N] [--parties P] [--updates U] [--json]`."""
    p = argparse.ArgumentParser(prog="trustnet bench views", description=__doc__)
    p.add_argument("--n", type=int, default=100_000, help="statements (default 100000)")
    p.add_argument("--parties", type=int, default=60)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = run(args.n, args.parties, args.updates, args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<22} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
