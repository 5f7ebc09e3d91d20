#!/usr/bin/env python3
"""What TLS costs a node: the same two benchmarks with and without TLS, side by side.

1. `trustnet bench propagation --nodes N`: N real node processes on loopback; the time from
   a publish until every node holds the entry (median, p90, max over P publishes).
2. `trustnet bench gossip`: entries stored per second through the HTTP gossip path into one
   receiving daemon (best of its runs), and its ratio to raw signature verification.

Each benchmark runs as its own process, plain first then TLS, `--rounds` times alternating
(the machine's other load shifts between runs; compare within a round). Measures; asserts
nothing. Usage:

    .venv/bin/python scripts/bench-tls.py [--nodes 20] [--publishes 20] [--rounds 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any


def bench(name: str, args: list[str]) -> dict[str, Any]:
    """One `trustnet bench NAME ARGS --json` run in its own process; its JSON."""
    cmd = [sys.executable, "-m", "trustnet", "bench", name, *args, "--json"]
    print("$ " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=20)
    p.add_argument("--publishes", type=int, default=20)
    p.add_argument("--entries", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for tls in (False, True):
            extra = ["--tls"] if tls else []
            prop = bench("propagation", ["--nodes", str(args.nodes), "--publishes",
                                         str(args.publishes), *extra])["time_to_all"]
            gossip = bench("gossip", ["--entries", str(args.entries), *extra])
            rows.append({"round": r + 1, "tls": tls, "propagation": prop, "gossip": gossip})
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'round':<6} {'hops':<6} {'publish-to-all (' + str(args.nodes) + ' nodes) s':<36} "
          f"{'gossip ingest':<28}")
    print(f"{'':<6} {'':<6} {'median':>8} {'p90':>8} {'max':>8}    "
          f"{'entries/s':>10} {'ratio':>7}")
    for row in rows:
        t, g = row["propagation"], row["gossip"]
        print(f"{row['round']:<6} {'TLS' if row['tls'] else 'plain':<6} {t['median_s']:>8.3f} "
              f"{t['p90_s']:>8.3f} {t['max_s']:>8.3f}    {g['gossip_per_s']:>10} "
              f"{g['ratio']:>7.3f}")
    print(f"(gossip tick {rows[0]['propagation']['tick_s']} s, poll "
          f"{rows[0]['propagation']['poll_s']} s; raw verify/s "
          f"{', '.join(str(r['gossip']['raw_verify_per_s']) for r in rows)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
