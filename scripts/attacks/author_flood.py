"""Attack: one peer floods a node with one-entry identities, against a real `trustnet run`.

A stranger signs `--authors` fresh identities (one profile entry each) and pushes them as
fast as the node takes pushes, while a client polls `/status` and a dashboard-like client
reads `/beliefs?limit=100` and `/graph`. Prints what the node took (accepted, refused by
code), `/status` latency during the flood, the views' latency afterwards and resident
memory.

    .venv/bin/python scripts/attacks/author_flood.py [--authors 100000] [--gossip K=V ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from trustnet.bench.stranger import Stranger, get, real_node, rss_kb
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry
from trustnet.protocol import messages as m

VIEWS = ("/status", "/beliefs?limit=100", "/parties?limit=100", "/suspicion?limit=100", "/graph")


def identities(n: int) -> list[bytes]:
    """n one-entry identities: a profile each, signed now."""
    now = SystemClock().now_ms()
    out = []
    for i in range(n):
        ident = Identity.from_seed(os.urandom(32))
        out.append(sign_entry(ident, seq=1, prev=None, ts=now, kind="profile",
                              body={"name": f"flood-{i}", "role": "state", "urls": []}).raw)
    return out


def timed(url: str, path: str) -> tuple[int, float]:
    """(status, seconds); status 0 when the node did not answer within 600 s or refused."""
    t0 = time.monotonic()
    try:
        code, _ = get(url, path, timeout_s=600)
    except OSError:
        code = 0
    return code, time.monotonic() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--authors", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=256, help="entries per push")
    p.add_argument("--gossip", nargs="*", default=[], help="[gossip] settings, K=V (integers)")
    p.add_argument("--max-s", type=float, default=900.0,
                   help="stop flooding after this many seconds (default 900)")
    args = p.parse_args()
    print(f"signing {args.authors} identities...", flush=True)
    raws = identities(args.authors)
    gossip = {k: int(v) for k, v in (kv.split("=", 1) for kv in args.gossip)}
    with tempfile.TemporaryDirectory() as tmp, real_node(Path(tmp), gossip=gossip) as node:
        assert node.proc is not None
        stranger = Stranger.fresh()
        done = threading.Event()
        status_lat: list[float] = []
        view_lat: list[float] = []
        peak_rss = [0]

        def poll_status() -> None:
            while not done.is_set():
                status_lat.append(timed(node.url, "/status")[1])
                peak_rss[0] = max(peak_rss[0], rss_kb(node.proc.pid))  # type: ignore[union-attr]
                time.sleep(0.2)

        def dashboard() -> None:
            while not done.is_set():
                for path in ("/beliefs?limit=100", "/graph"):
                    view_lat.append(timed(node.url, path)[1])
                time.sleep(1.0)

        threads = [threading.Thread(target=poll_status), threading.Thread(target=dashboard)]
        for t in threads:
            t.start()
        acks: dict[str, int] = {"accepted": 0, "duplicates": 0, "rejected": 0}
        refused_http: dict[int, int] = {}
        t0 = time.monotonic()
        sent = 0
        for i in range(0, len(raws), args.batch):
            if time.monotonic() - t0 > args.max_s:
                break
            sent = i + args.batch
            while True:
                try:
                    status, body = stranger.post(node.url, m.PUSH,
                                                 m.encode(m.Push(tuple(raws[i:i + args.batch]))),
                                                 timeout_s=120)
                except OSError:  # no answer within 120 s
                    status, body = 0, b""
                if status == 429:  # the per-peer push rate: wait and send it again
                    refused_http[status] = refused_http.get(status, 0) + 1
                    time.sleep(0.05)
                    continue
                break
            if status == 200:
                ack = m.decode_reply(m.PUSH, body)
                assert isinstance(ack, m.PushAck)
                acks["accepted"] += ack.accepted
                acks["duplicates"] += ack.duplicates
                acks["rejected"] += ack.rejected
            else:
                refused_http[status] = refused_http.get(status, 0) + 1
                if status in (401, 403):
                    break  # graylisted or refused for good
        flood_s = time.monotonic() - t0
        done.set()
        for t in threads:
            t.join()
        after: dict[str, Any] = {}
        for path in VIEWS:
            code, s = timed(node.url, path)
            after[path] = {"status": code, "s": round(s, 3)}
        code, raw = get(node.url, "/metrics")
        limited = sum(float(line.rsplit(" ", 1)[1]) for line in raw.decode().splitlines()
                      if line.startswith("trustnet_rejected_inputs_total") and "author_limit" in line)
        print(json.dumps({
            "authors_sent": min(sent, len(raws)), "flood_s": round(flood_s, 1), **acks,
            "author_limit_refusals_in_metrics": limited,
            "http_refusals": refused_http,
            "status_polls": len(status_lat),
            "status_max_s": round(max(status_lat), 3) if status_lat else None,
            "status_over_1s": sum(x > 1.0 for x in status_lat),
            "status_median_s": round(statistics.median(status_lat), 3) if status_lat else None,
            "dashboard_reads_max_s": round(max(view_lat), 3) if view_lat else None,
            "after": after,
            "rss_mb": round(rss_kb(node.proc.pid) / 1024, 1),
            "peak_rss_mb": round(peak_rss[0] / 1024, 1),
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
