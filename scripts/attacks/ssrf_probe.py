"""Attack: make a node dial private addresses, and read the outcome from /peers (issue 11,
item 8).

A stranger pushes a signed `profile` naming a URL on the node's own loopback (a canary
HTTP server that answers 501), and hands it a closed loopback port and the canary again
under this machine's host name (which resolves to a local address) by peer exchange.
The node runs with its default settings. Does it dial the canary, and does
`GET /peers` without the token tell an open port (`http_501`) from a closed one
(`unreachable`)?

    .venv/bin/python scripts/attacks/ssrf_probe.py [--wait 15]

Prints one JSON object: connections the canary received (and once the operator adds
it: configured and admin-added peers are dialled whatever their address), and what /peers shows
anyone (no token) and the operator (token) for each URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from trustnet.bench.liars import mount_private_probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=15.0, help="seconds to wait for a dial")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(mount_private_probe(Path(tmp), wait_s=args.wait))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
