"""Attack: lock strangers and the operator out of the peer table (issue 11, item 2).

Throwaway keys each send one bad signed request to a real `trustnet run` process: each
leaves a penalised record in the peer table. Then an honest newcomer asks for the
digest, and the operator adds a peer with `POST /peers`.

    .venv/bin/python scripts/attacks/peer_lockout.py [--keys 600]

Prints one JSON object: the newcomer's HTTP status (200: served; 429: locked out), the
operator's "added", and how long the flood took.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from trustnet.bench.stranger import Stranger, real_node
from trustnet.protocol import messages as m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=600, help="throwaway keys (default 600)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, real_node(Path(tmp)) as node:
        statuses: dict[int, int] = {}
        started = time.monotonic()
        for _ in range(args.keys):
            # Signed by a fresh key, but not msgpack: refused and charged to that key.
            status, _ = Stranger.fresh().post(node.url, m.PUSH, b"\xc1 not msgpack")
            statuses[status] = statuses.get(status, 0) + 1
        flood_s = time.monotonic() - started
        newcomer, _ = Stranger.fresh().post(node.url, m.DIGEST, m.encode(m.Digest(b"\0" * 32)))
        added = node.client.add_peer("http://203.0.113.7:7400")
        peers = node.client.get("/peers")
        print(json.dumps({
            "keys": args.keys, "flood_statuses": statuses, "flood_s": round(flood_s, 2),
            "newcomer_status": newcomer, "admin_added": added.get("added"),
            "table_records": peers["count"], "dropped": peers["dropped"],
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
