#!/usr/bin/env python3
"""This version against the previous wire format, as real `trustnet run` processes (issue 15).

Extracts a previous commit (default 772748c, the last before range reconciliation) with
`git archive` and runs three nodes on loopback: `new-1` and `new-2` (this code) and `old`
(that commit's code, the same interpreter). All three start holding the same `--authors`
authors, then each takes in entries of its own new authors; the script waits until every
node holds every entry and reports how long it took, which gossip paths each node served
(from GET /metrics: `reconcile` between new nodes, `heads` pages for the old one) and how
each node sees the others in GET /peers. Measures; exits 1 if they do not converge.

Usage:

    .venv/bin/python scripts/interop-previous.py [--commit 772748c] [--authors 1000] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from trustnet.api.client import ClientError
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.testbed import cluster as tb

ROOT = Path(__file__).resolve().parent.parent


def extract(commit: str, into: Path) -> None:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Debian 12's Python 3.11.2 predates extraction filters; this archive is ours
            tar.extractall(into)


def entries(prefix: str, n: int) -> list[Entry]:
    """`n` entries of new authors, dated 20 minutes ago: older than `push_max_age_ms`, so
    the nodes do not push them on (only anti-entropy spreads them)."""
    then = SystemClock().now_ms() - 20 * 60_000
    return [sign_entry(Identity.from_seed(f"{prefix}-{i}".encode().ljust(32, b".")[:32]),
                       seq=1, prev=None, ts=then, kind="trust",
                       body={"subject": "ab" * 32, "level": i % 1000}) for i in range(n)]


def held(node: tb.TestbedNode, entry: Entry) -> bool:
    try:
        node.client.get(f"/entries/{entry.id_hex}")
    except ClientError:
        return False
    return True


def served(node: tb.TestbedNode) -> dict[str, int]:
    with urllib.request.urlopen(node.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, int] = {}
    pattern = r'trustnet_gossip_requests_received_total\{outcome="ok",type="([^"]+)"\} (\S+)'
    for kind, value in re.findall(pattern, text):
        out[kind] = int(float(value))
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commit", default="772748c")
    ap.add_argument("--authors", type=int, default=1000,
                    help="common authors (at most [gossip] new_authors_per_peer: one pusher)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trustnet-interop-") as tmp:
        base = Path(tmp)
        extract(args.commit, base / "previous")
        bed = tb.Testbed(base / "bed", ("new-1", "new-2", "old"), peers_per_node=2,
                         gossip={"tick_interval_s": 0.5})
        bed.create()
        new1, new2, old = bed.nodes
        bed.start_node(new1)
        bed.start_node(new2)
        env = dict(os.environ, PYTHONPATH=str(base / "previous"))
        old.log_file = open(old.dir / "node.log", "ab")  # noqa: SIM115 - closed by bed.stop()
        # Run from the extracted tree: `-m` puts the working directory first on the path.
        old.proc = subprocess.Popen([sys.executable, "-m", "trustnet", "run", str(old.dir)],
                                    stdout=old.log_file, stderr=subprocess.STDOUT, env=env,
                                    cwd=base / "previous")
        try:
            for node in bed.nodes:
                bed.wait_up(node)
            pusher = Identity.from_seed(b"interop-pusher".ljust(32, b"."))
            common = entries("held", args.authors)
            for node in bed.nodes:
                for i in range(0, len(common), 50):
                    bed.push(node, pusher, common[i:i + 50])
            own = {node.name: entries(f"own-{node.name}", 5) for node in bed.nodes}
            started = time.monotonic()
            refused = {}
            for node in bed.nodes:
                # A key of its own per node: the pusher of the common set spent its
                # `new_authors_per_peer` window.
                ack = bed.push(node, Identity.from_seed(f"own-pusher-{node.name}".encode()
                                                        .ljust(32, b".")[:32]), own[node.name])
                refused[node.name] = ack.rejected
            want = args.authors + 15
            synced = bed.wait_for(lambda: all(n.client.get("/status")["entries"] == want
                                              for n in bed.nodes), args.timeout, interval_s=0.2)
            took = round(time.monotonic() - started, 2) if synced else None
            peers = {}
            names = {n.url: n.name for n in bed.nodes}
            for node in bed.nodes:
                rows = node.client.get("/peers", token=node.client.token)["peers"]
                peers[node.name] = {names[r["key"]]: {k: r.get(k) for k in ("state", "last_error")}
                                    for r in rows if r["key"] in names}
            holds = {n.name: {o: sum(1 for e in own[o] if held(n, e)) for o in own}
                     for n in bed.nodes}
            figure: dict[str, Any] = {
                "commit": args.commit, "authors": args.authors, "synced": synced,
                "synced_s": took, "own_refused": refused, "own_held": holds,
                "entries": {n.name: n.client.get("/status")["entries"] for n in bed.nodes},
                "served_ok": {n.name: served(n) for n in bed.nodes},
                "peers": peers,
            }
        finally:
            bed.stop()
    if args.json:
        print(json.dumps(figure))
    else:
        for k, v in figure.items():
            print(f"{k}: {v}")
    return 0 if figure["synced"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
