"""Attack: 600 connections that never finish their headers, against a real `trustnet run`
process limited to 512 open files (RLIMIT_NOFILE).

Each socket sends the start of a request and nothing more. Prints how long the node took
to shed them (server closed the socket), whether and how fast `/status` answered meanwhile
and afterwards, and the node's resident memory.

    .venv/bin/python scripts/attacks/idle_connections.py [--connections 600] [--files 512]
        [--header-timeout S]   (sets [http] header_timeout_s; default: the node's default)
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from trustnet.bench.stranger import get, real_node, rss_kb


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=600)
    p.add_argument("--files", type=int, default=512)
    p.add_argument("--header-timeout", type=float, default=None)
    p.add_argument("--watch", type=float, default=60.0, help="seconds to watch (default 60)")
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))
    testbed: dict[str, Any] = {"max_open_files": args.files}
    if args.header_timeout is not None:
        testbed["sections"] = {"http": {"header_timeout_s": args.header_timeout}}
    with tempfile.TemporaryDirectory() as tmp, real_node(Path(tmp), **testbed) as node:
        assert node.proc is not None
        host, port = "127.0.0.1", node.port
        socks: list[socket.socket] = []
        refused = 0
        t_open = time.monotonic()
        for _ in range(args.connections):
            s = socket.socket()
            s.settimeout(2.0)
            try:
                s.connect((host, port))
                s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # never finished
                s.setblocking(False)
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        opened = time.monotonic()
        status_lat: list[tuple[float, int, float]] = []  # (t since open, status, latency)
        shed_at = None
        open_socks = set(socks)
        while time.monotonic() - opened < args.watch:
            # A socket the server closed reads as EOF (or a reset).
            ready, _, _ = select.select(list(open_socks), [], [], 0) if open_socks else ([], [], [])
            for s in ready:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    open_socks.discard(s)
                    s.close()
            t0 = time.monotonic()
            try:
                code, _ = get(node.url, "/status", timeout_s=2.0)
            except OSError:
                code = 0
            status_lat.append((round(t0 - opened, 1), code, round(time.monotonic() - t0, 3)))
            if not open_socks and shed_at is None:
                shed_at = time.monotonic() - opened
            if shed_at is not None and code == 200:
                break
            time.sleep(0.5)
        answered = [x for x in status_lat if x[1] == 200]
        print(json.dumps({
            "connections": args.connections, "max_open_files": args.files,
            "connect_failed": refused, "open_s": round(opened - t_open, 2),
            "still_open": len(open_socks),
            "all_shed_after_s": round(shed_at, 1) if shed_at is not None else None,
            "status_polls": len(status_lat), "status_ok": len(answered),
            "first_status_ok_at_s": answered[0][0] if answered else None,
            "status_ok_max_latency_s": max((x[2] for x in answered), default=None),
            "status_final": status_lat[-1][1] if status_lat else None,
            "rss_mb": round(rss_kb(node.proc.pid) / 1024, 1),
        }))
        for s in open_socks:
            s.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
