#!/usr/bin/env python3
"""Mount a store loss on real `trustnet run` processes and print whether the node forks.

A victim signs 5 entries; its only peer holds them. The victim's store.sqlite is
deleted (its key survives) and it restarts. Before the fix, a victim whose peer was
learned (the peer dialled it; none configured) "checked its own log with 0 peers",
signed seq 1 again and was a proven equivocator everywhere. Also measured: a node
just made by `init` asked to sign the moment it answers (it used to get 503
`catching_up` until its first gossip tick).

    .venv/bin/python scripts/attacks/store-loss.py [--budget-s 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from trustnet.bench.recovery import fresh_first_post, store_loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-s", type=float, default=30.0,
                        help="how long to keep asking the victim to sign (default 30)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="store-loss-") as tmp:
        for i, (configured, lose_peers) in enumerate(((True, False), (False, False),
                                                      (False, True))):
            r = store_loss(Path(tmp) / str(i), configured=configured, lose_peers_file=lose_peers,
                           budget_s=args.budget_s)
            results.append(r)
            if not args.json:
                print(f"{r['scenario']:<52} {r['outcome']:<40} after {r['seconds']:>5} s  "
                      f"forks at the peer: {r['forks_at_peer']}", flush=True)
        r = fresh_first_post(Path(tmp) / "fresh")
        results.append(r)
        if not args.json:
            print(f"{r['scenario']:<52} first answer: {r['first_post']} (seq {r['signed_seq']})",
                  flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
