#!/usr/bin/env python3
"""Mount the lying-head attack on real `trustnet run` processes and print the outcome.

A victim node that signed 3 entries restarts with a peer that answers `/gossip/head`
with seq 10**12 (no proof) and `/gossip/fetch` with `more: true` and nothing, or with
HTTP 500. Before the fix it stayed `catching_up` for good; DESIGN 12 says a claim about
our own head counts only with the signed entry that proves it.

    .venv/bin/python scripts/attacks/lying-head.py [--budget-s 30] [--json]

Scenarios: the liar beside an honest peer (store kept, store lost) and the liar alone
(store kept); last, a liar that answers no head at all (HTTP 500): the node signs after
`own_recovery_deadline_ms`, set to 5 s here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from trustnet.bench.recovery import lying_head


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-s", type=float, default=30.0,
                        help="how long to keep asking the victim to sign (default 30)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    cases = [("claim", fetch, honest, lose) for fetch in ("more", "500")
             for honest, lose in ((True, False), (True, True), (False, False))]
    cases.append(("500", "500", False, False))  # no answer at all: the deadline ends it
    with tempfile.TemporaryDirectory(prefix="lying-head-") as tmp:
        for i, (head, fetch, honest, lose) in enumerate(cases):
            r = lying_head(Path(tmp) / str(i), head=head, fetch=fetch, honest=honest,
                           lose_store=lose, budget_s=args.budget_s)
            results.append(r)
            if not args.json:
                print(f"{r['scenario']:<62} {r['outcome']:<40} after {r['seconds']:>5} s  "
                      f"refusals {r['refused']}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
