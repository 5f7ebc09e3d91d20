"""`trustnet sim`: the command line of the simulator (options, progress lines, the result
table or JSON); the round model itself is `trustnet.sim.engine`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from trustnet.errors import ConfigError
from trustnet.sim import engine
from trustnet.sim.config import BYZANTINE_MODES, MODES, SimConfig
from trustnet.sim.engine import simulate
from trustnet.sim.result import RoundStats, SimResult


def _table(result: SimResult) -> str:
    cfg = result.config
    lines = [
        f"nodes {cfg.nodes} ({cfg.byzantine_count} byzantine, {cfg.byzantine_mode}), "
        f"{cfg.peers} peers each, fanout {cfg.fanout}, mode {cfg.mode}, "
        f"{cfg.publishers} publisher(s), {cfg.authors} authors held, seed {cfg.seed}",
        f"round interval {cfg.round_interval_s:g} s, loss {cfg.drop_rate}, churn {cfg.churn} "
        f"(mean downtime {cfg.downtime:g} rounds)",
        "",
        f"{'round':>5} {'holders':>9} {'online':>7} {'requests':>9} {'bytes':>12} "
        f"{'headers':>11} {'failed':>7} {'deferred':>8}",
    ]
    for r in result.rounds:
        lines.append(f"{r.round:>5} {r.holders:>9} {r.online:>7} {r.requests:>9} {r.bytes:>12} "
                     f"{r.header_bytes:>11} {r.failures:>7} {r.deferred:>8}")
    lines.append("")
    if result.rounds_to_all is None:
        lines.append(f"NOT disseminated within {cfg.max_rounds} rounds: {result.reached} of "
                     f"{cfg.honest} honest nodes hold it")
    else:
        verdict = "within" if result.within_bound else "OVER"
        lines.append(f"rounds to full dissemination  {result.rounds_to_all} ({verdict} "
                     f"log3(N)+3 = {result.bound:.2f}), {result.virtual_seconds:g} virtual s")
    lines.append(f"messages / bytes until then   {result.requests} requests, {result.bytes} "
                 f"body bytes + {result.header_bytes} header bytes "
                 f"({result.bytes / cfg.nodes:.0f} body bytes per node), "
                 f"{result.failures} failed")
    g = result.graylisting
    if g.byzantine:
        lines.append(f"byzantine graylisted          {g.graylisted} of {g.byzantine}, by "
                     f"{g.by_mean:.1f} honest nodes each on average (max {g.by_max})")
    if g.honest_pairs:
        lines.append(f"honest graylisted by honest   {g.honest_pairs} pairs")
    s = result.in_sync
    if s is not None:
        lines.append(f"in sync, per node per round   {s.requests_per_node_round:.2f} requests, "
                     f"{s.bytes_per_node_round:.1f} body bytes "
                     f"({s.wire_bytes_per_node_round:.1f} with headers); anti-entropy digest "
                     f"alone {s.digest_bytes_per_node_round:.1f} B; mismatches {s.mismatches}")
    lines.append(f"peak RSS                      {result.peak_rss_mb:.0f} MiB")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The `trustnet sim` argument parser."""
    p = argparse.ArgumentParser(prog="trustnet sim", description=engine.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000, help="simulated nodes (default 1000)")
    p.add_argument("--peers", type=int, default=8, help="initial random peers per node")
    p.add_argument("--fanout", type=int, default=3, help="eager-push fanout (default 3)")
    p.add_argument("--rounds", type=int, default=100, help="most rounds for dissemination")
    p.add_argument("--round-interval", type=float, default=1.0, metavar="SECONDS",
                   help="virtual time per round, the nodes' tick interval (default 1)")
    p.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    p.add_argument("--publishers", type=int, default=1,
                   help="honest nodes that each publish one new entry at round 0")
    p.add_argument("--authors", type=int, default=0,
                   help="authors (one entry each) every node holds at the start")
    p.add_argument("--loss", "--drop-rate", dest="drop_rate", type=float, default=0.0,
                   metavar="P", help="probability that a request is lost (default 0)")
    p.add_argument("--churn", type=float, default=0.0, metavar="FRACTION",
                   help="share of the online nodes that go offline each round (default 0)")
    p.add_argument("--downtime", type=float, default=5.0, metavar="ROUNDS",
                   help="mean rounds an offline node stays away, geometric (default 5)")
    p.add_argument("--byzantine", type=float, default=0.0, metavar="FRACTION",
                   help="share of the nodes that are byzantine (default 0)")
    p.add_argument("--byzantine-mode", choices=BYZANTINE_MODES, default="mixed",
                   help="silent: swallow everything; forge: serve and push entries with "
                   "broken signatures; garbage: answer and send non-msgpack; mixed: each in turn")
    p.add_argument("--mode", choices=MODES, default="hop",
                   help="hop: one hop per round; drain: deliver until quiet each round")
    p.add_argument("--in-sync-rounds", type=int, default=10,
                   help="quiet rounds measured for the in-sync cost (default 10)")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object (the last line of stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`trustnet sim ...`: 0 when every honest node got every entry, 1 when not, 2 on bad
    options."""
    args = parser().parse_args(argv)
    try:
        config = SimConfig(nodes=args.nodes, peers=args.peers, fanout=args.fanout,
                           max_rounds=args.rounds, seed=args.seed, publishers=args.publishers,
                           authors=args.authors, drop_rate=args.drop_rate, mode=args.mode,
                           in_sync_rounds=args.in_sync_rounds,
                           tick_ms=round(args.round_interval * 1000), churn=args.churn,
                           downtime=args.downtime, byzantine=args.byzantine,
                           byzantine_mode=args.byzantine_mode)
    except ConfigError as exc:
        print(f"trustnet sim: {exc}", file=sys.stderr)
        return 2
    chatty = not (args.json or args.quiet)
    if chatty:
        print(f"building {config.nodes} nodes...", file=sys.stderr)

    def progress(r: RoundStats) -> None:
        print(f"round {r.round}: {r.holders}/{config.honest} honest nodes hold it, "
              f"{r.online} online, {r.requests} requests, {r.bytes} bytes", file=sys.stderr)

    # Wall time is what the run costs on this machine, reported, never part of a figure.
    start = time.perf_counter()
    result = simulate(config, progress if chatty else None)
    wall_s = time.perf_counter() - start
    if args.json:
        print(json.dumps({**result.to_json(), "wall_s": round(wall_s, 2)}))
    else:
        print(_table(result))
        print(f"wall time                     {wall_s:.1f} s")
    return 0 if result.rounds_to_all is not None else 1


if __name__ == "__main__":
    sys.exit(main())
