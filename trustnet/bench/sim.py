"""Dissemination benchmark: `trustnet.sim.engine` at 10,000 nodes (DESIGN 11).

DESIGN 11: "at 10,000 simulated nodes a new entry reaches every node in <= log3(N) + 3
rounds; in-sync anti-entropy costs O(1) bytes per round." One run of the simulator
(real `GossipProtocol` and `Store(None)` per node, wire codec, virtual clock; see
`trustnet/sim/engine.py` for the round and latency models) measures rounds to full
dissemination, the messages and bytes it took, and the in-sync cost per node per
round. A second run with `--compare-authors` new authors shows the in-sync cost does
not grow with the number of authors; `--authors A` starts every node holding A other
authors (in sync), which shows what an anti-entropy mismatch costs in a network with
many authors. `ratio` is rounds to full dissemination over the log3(N) + 3 bound (<= 1
meets it); the raw figures are beside it. Loss, churn, byzantine nodes and the round
interval can be set as for `trustnet sim` (the bound is stated for none of them). Wall
time and peak RSS are reported; they are what a 10,000-node run costs on this machine,
not part of the figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from typing import Any

from trustnet.sim.config import MODES, Mode, SimConfig
from trustnet.sim.engine import Simulator
from trustnet.sim.result import RoundStats, SimResult, peak_rss_mb


def _one(config: SimConfig, verbose: bool) -> tuple[SimResult, float, float]:
    """Run once: (result, seconds to build the nodes, seconds to run)."""
    def progress(r: RoundStats) -> None:
        print(f"  round {r.round}: {r.holders}/{config.nodes} hold it, {r.requests} requests",
              file=sys.stderr)

    t0 = time.perf_counter()
    sim = Simulator(config, progress if verbose else None)
    t1 = time.perf_counter()
    result = sim.run()
    return result, t1 - t0, time.perf_counter() - t1


def _summary(result: SimResult, build_s: float, run_s: float) -> dict[str, Any]:
    s = result.in_sync
    nodes = result.config.nodes
    return {
        "publishers": result.config.publishers,
        "rounds_to_all": result.rounds_to_all,
        "bound": round(result.bound, 2),
        "ratio": None if result.rounds_to_all is None
        else round(result.rounds_to_all / result.bound, 3),
        "within_bound": result.within_bound,
        "reached": result.reached,
        "honest": result.config.honest,
        "virtual_seconds": result.virtual_seconds,
        "holders_by_round": [r.holders for r in result.rounds[: result.rounds_to_all or None]],
        "requests": result.requests,
        "body_bytes": result.bytes,
        "header_bytes": result.header_bytes,
        "messages_per_node": round(result.requests / nodes, 3),
        "bytes_per_node": round(result.bytes / nodes, 1),
        "byzantine_graylisted": result.graylisting.graylisted,
        "in_sync_requests_per_node_round": None if s is None else s.requests_per_node_round,
        "in_sync_bytes_per_node_round": None if s is None else round(s.bytes_per_node_round, 2),
        "in_sync_wire_bytes_per_node_round":
            None if s is None else round(s.wire_bytes_per_node_round, 2),
        "in_sync_digest_bytes_per_node_round":
            None if s is None else round(s.digest_bytes_per_node_round, 2),
        "in_sync_mismatches": None if s is None else s.mismatches,
        "build_s": round(build_s, 2),
        "run_s": round(run_s, 2),
        "peak_rss_mb": round(result.peak_rss_mb, 1),
    }


def run(nodes: int = 10_000, peers: int = 8, fanout: int = 3, seed: int = 1,
        publishers: int = 1, drop_rate: float = 0.0, mode: Mode = "hop",
        compare_authors: int = 0, authors: int = 0, verbose: bool = False, *,
        round_interval_s: float = 1.0, churn: float = 0.0, byzantine: float = 0.0
        ) -> dict[str, Any]:
    """Simulate `nodes` nodes; rounds to full dissemination (and their ratio to the bound),
    bytes, in-sync cost, time, RSS."""
    base = SimConfig(nodes=nodes, peers=peers, fanout=fanout, seed=seed, publishers=publishers,
                     authors=authors, drop_rate=drop_rate, mode=mode,
                     tick_ms=round(round_interval_s * 1000), churn=churn, byzantine=byzantine)
    result, build_s, run_s = _one(base, verbose)
    out: dict[str, Any] = {
        "nodes": nodes, "peers": peers, "fanout": fanout, "seed": seed, "mode": mode,
        "drop_rate": drop_rate, "round_interval_s": round_interval_s, "churn": churn,
        "byzantine": byzantine, "authors_held": authors, **_summary(result, build_s, run_s),
    }
    if compare_authors:
        del result  # free the first network before building the second
        other = replace(base, publishers=compare_authors)
        out["compare"] = _summary(*_one(other, verbose))
        out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench sim [--nodes N] [--compare-authors A] [--json] ...`."""
    p = argparse.ArgumentParser(prog="trustnet bench sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=10_000)
    p.add_argument("--peers", type=int, default=8)
    p.add_argument("--fanout", type=int, default=3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--publishers", type=int, default=1)
    p.add_argument("--authors", type=int, default=0,
                   help="authors (one entry each) every node holds at the start")
    p.add_argument("--loss", "--drop-rate", dest="drop_rate", type=float, default=0.0)
    p.add_argument("--round-interval", type=float, default=1.0, metavar="SECONDS")
    p.add_argument("--churn", type=float, default=0.0, metavar="FRACTION")
    p.add_argument("--byzantine", type=float, default=0.0, metavar="FRACTION")
    p.add_argument("--mode", choices=MODES, default="hop")
    p.add_argument("--compare-authors", type=int, default=0,
                   help="a second run with this many new authors (in-sync cost vs authors)")
    p.add_argument("--verbose", action="store_true", help="a line per round on stderr")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print(f"simulating {args.nodes} nodes ({args.mode} rounds)...", file=sys.stderr)
    result = run(args.nodes, args.peers, args.fanout, args.seed, args.publishers,
                 args.drop_rate, args.mode, args.compare_authors, args.authors, args.verbose,
                 round_interval_s=args.round_interval, churn=args.churn,
                 byzantine=args.byzantine)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<36} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
