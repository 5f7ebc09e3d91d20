#!/usr/bin/env python3
"""`trustnet bench views`, with the belief engine's share timed apart from the rest.

The node's whole analysis (`NodeViews.current`: follow the store, belief engine, people,
verification tables, suspicion signals and estimator) over the same generated store as
`trustnet bench views`: a full recompute, then `--updates` entries one at a time. The time
spent inside the belief engine (`BeliefEngine.add`, `add_forks`, `snapshot`,
`evidence_by_party`, and the lazy views it hands out when first read, `View.facts`) is
counted apart: `*_engine` is trust/beliefs' part, `*_rest` everything else (the store
reads, the suspicion side, the people view); `update_gc_ms`, the cyclic collector's share
of an update, falls in whichever part allocated when it ran. Measures; asserts nothing.
`--cpu` times with this process's CPU time (time.process_time) instead of the wall clock:
steadier than wall time on a shared, loaded machine. Usage:

    .venv/bin/python scripts/bench-views-split.py [--n 100000] [--updates 100] [--cpu] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from typing import Any

from trustnet.analysis.views import NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store
from trustnet.trust.beliefs import BeliefEngine, records

ENGINE = [0.0]
CLOCK = [time.perf_counter]  # or time.process_time (--cpu)
GC = [0.0, 0.0]  # time in the cyclic collector; when the running collection started


def _gc_timer(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        GC[1] = CLOCK[0]()
    else:
        GC[0] += CLOCK[0]() - GC[1]


def _timed(f: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = CLOCK[0]()
        try:
            return f(*args, **kwargs)
        finally:
            ENGINE[0] += CLOCK[0]() - t0

    return timed


def run(n: int, updates: int, parties: int = 60, seed: int = 1) -> dict[str, Any]:
    """Full recompute and per-entry update, each split into engine and rest."""
    for name in ("add", "add_forks", "snapshot", "evidence_by_party"):
        setattr(BeliefEngine, name, _timed(getattr(BeliefEngine, name)))
    records.View.facts = _timed(records.View.facts)  # type: ignore[method-assign]
    entries, pids = generate(n, parties, seed)
    now = max(e.ts for e in entries) + DAY_MS
    store = Store(None)
    store.ingest(entries[: n - updates], now)
    store.mark_received_at_ts()
    views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
    t0 = CLOCK[0]()
    views.current()
    full = CLOCK[0]() - t0
    full_engine, ENGINE[0] = ENGINE[0], 0.0
    gc.callbacks.append(_gc_timer)
    total = 0.0
    for e in entries[n - updates :]:
        store.ingest([e], e.ts)
        t0 = CLOCK[0]()
        views.current()
        total += CLOCK[0]() - t0
    per = 1e3 / max(updates, 1)
    return {
        "statements": n,
        "full_recompute_s": round(full, 2),
        "full_engine_s": round(full_engine, 2),
        "full_rest_s": round(full - full_engine, 2),
        "updates": updates,
        "update_ms_per_entry": round(total * per, 1),
        "update_engine_ms": round(ENGINE[0] * per, 1),
        "update_rest_ms": round((total - ENGINE[0]) * per, 1),
        # of the update, in the cyclic collector (counted in whichever part triggered it)
        "update_gc_ms": round(GC[0] * per, 1),
        "clock": "cpu" if CLOCK[0] is time.process_time else "wall",
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.cpu:
        CLOCK[0] = time.process_time
    result = run(args.n, max(1, min(args.updates, args.n - 1)))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<22} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
