"""Attack: halt anti-entropy with endless sessions (issue 11, item 5).

A stranger hands a real `trustnet run` process four fake peers (one `/gossip/peers`
request) that answer every heads page with `more: true`. Once the node pages with
them, the operator adds an honest peer holding 1,000 entries that only answers (it
never dials, so only the node's own anti-entropy can fetch them).

    .venv/bin/python scripts/attacks/endless_sessions.py [--liars 4] [--entries 1000]

Prints one JSON object: `synced_s`, seconds until the node held every entry (null: not
within --timeout), and what the liars served.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from trustnet.bench.liars import mount_endless_sessions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--liars", type=int, default=4)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(mount_endless_sessions(
            Path(tmp), liars=args.liars, entries=args.entries, timeout_s=args.timeout))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
