"""Attack: one GET of a 2,000-sample series, measured against a real `trustnet run` process.

A stranger relays a few thousand signed statements (20 parties, over weeks) to a fresh
node, then asks `GET /series/{party}` with 2,000 samples across that time while a second
client polls `/status`. Prints the series' status and wall time, the latency of `/status`
meanwhile (it must stay under 1 s), and the node's resident memory.

    .venv/bin/python scripts/attacks/series.py [--entries 3000] [--samples 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from trustnet.bench.beliefs import generate
from trustnet.bench.stranger import Stranger, get, real_node, rss_kb
from trustnet.protocol import messages as m


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=1000)
    p.add_argument("--parties", type=int, default=10)
    p.add_argument("--max-wait", type=float, default=1200.0,
                   help="seconds to keep asking for the series (default 1200)")
    p.add_argument("--samples", type=int, default=2000)
    args = p.parse_args()
    entries, pids = generate(args.entries, args.parties, 1)
    with tempfile.TemporaryDirectory() as tmp, real_node(Path(tmp)) as node:
        assert node.proc is not None
        stranger = Stranger.fresh()
        for i in range(0, len(entries), 200):
            status, _ = stranger.post(node.url, m.PUSH,
                                      m.encode(m.Push(tuple(e.raw for e in entries[i:i + 200]))))
            assert status == 200, status
        start, end = min(e.ts for e in entries), max(e.ts for e in entries)
        step = max(1, (end - start) // args.samples)
        path = f"/series/{pids[1]}?from={start}&to={start + step * args.samples}&step={step}"
        result: dict[str, object] = {}

        def series() -> None:
            # Ask as a client would: on 503 `busy`, again after Retry-After.
            t0 = time.monotonic()
            asks = 0
            while True:
                asks += 1
                try:
                    code, _ = get(node.url, path, timeout_s=args.max_wait)
                except OSError as exc:
                    result.update(status=f"no answer: {exc}")
                    break
                if asks == 1:
                    result.update(first_status=code, first_answer_s=round(time.monotonic() - t0, 2))
                if code != 503 or time.monotonic() - t0 > args.max_wait:
                    result.update(status=code, asks=asks)
                    break
                time.sleep(5)
            result.update(series_s=round(time.monotonic() - t0, 2))

        worker = threading.Thread(target=series)
        worker.start()
        lat: list[float] = []
        while worker.is_alive():
            t0 = time.monotonic()
            with contextlib.suppress(OSError):
                get(node.url, "/status", timeout_s=args.max_wait)
            lat.append(time.monotonic() - t0)
            time.sleep(0.1)
        worker.join()
        # A second ask for the same series (cached when the node caches).
        t0 = time.monotonic()
        code, _ = get(node.url, path, timeout_s=600)
        print(json.dumps({
            "entries": len(entries), "samples": args.samples, **result,
            "status_polls": len(lat),
            "status_max_s": round(max(lat), 3) if lat else None,
            "status_median_s": round(statistics.median(lat), 3) if lat else None,
            "again_status": code, "again_s": round(time.monotonic() - t0, 2),
            "rss_mb": round(rss_kb(node.proc.pid) / 1024, 1),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
