#!/usr/bin/env python3
"""What a slice of ingest costs the store's writer: its inserts and its commit, with the
write-ahead log checkpointed inside the commits (SQLite's default, 1,000 pages) or beside
the writer (`trustnet.store.checkpoint`, what the store does).

The store's own schema and pragmas (`trustnet.store.schema.connect`, synchronous=FULL) on a
file in a temporary directory; `--slices` slices of `--rows` rows like ingest's (random
32-byte ids, 50 authors in seq order, ~330-byte raw entries), each one transaction. The
first five slices are left out (the cache warming). Measures; asserts nothing. Usage:

    PYTHONPATH=. .venv/bin/python scripts/bench-commit.py [--slices 40] [--rows 1024] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from trustnet.store.checkpoint import CHECKPOINT_BYTES, Checkpointer
from trustnet.store.schema import connect

WARM = 5


def run(mode: str, slices: int, rows: int) -> dict[str, Any]:
    """Insert and commit times (ms, medians and means) of `slices` slices in `mode`."""
    with tempfile.TemporaryDirectory(prefix="trustnet-bench-commit-") as tmp:
        path = Path(tmp) / "store.sqlite"
        db = connect(path)
        checkpointer = Checkpointer(path) if mode == "beside" else None
        if mode == "inline":
            db.execute("PRAGMA wal_autocheckpoint=1000")
        authors = [os.urandom(32) for _ in range(50)]
        seqs = [0] * len(authors)
        inserts: list[float] = []
        commits: list[float] = []
        written = 0
        for k in range(slices):
            batch = []
            for i in range(rows):
                a = i % len(authors)
                seqs[a] += 1
                raw = os.urandom(330)
                batch.append((os.urandom(32), authors[a], seqs[a], 1, "observation", raw, 1))
            t0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO entries (id, author, seq, ts, kind, raw, received) "
                           "VALUES (?,?,?,?,?,?,?)", batch)
            t1 = time.perf_counter()
            db.execute("COMMIT")
            t2 = time.perf_counter()
            written += rows * 330
            if checkpointer is not None and written >= CHECKPOINT_BYTES:
                written = 0
                checkpointer.request()
            if k >= WARM:
                inserts.append((t1 - t0) * 1e3)
                commits.append((t2 - t1) * 1e3)
        if checkpointer is not None:
            checkpointer.close()
        db.close()
    return {
        "mode": mode,
        "insert_ms_median": round(statistics.median(inserts), 2),
        "commit_ms_median": round(statistics.median(commits), 2),
        "commit_ms_mean": round(statistics.mean(commits), 2),
        "commit_ms_max": round(max(commits), 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--slices", type=int, default=40)
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = [run(mode, max(args.slices, WARM + 1), args.rows) for mode in ("inline", "beside")]
    for r in results:
        print(json.dumps(r) if args.json else
              f"{r['mode']:<7} insert {r['insert_ms_median']:.2f} ms, commit median "
              f"{r['commit_ms_median']:.2f} mean {r['commit_ms_mean']:.2f} max "
              f"{r['commit_ms_max']:.2f} ms per {args.rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
