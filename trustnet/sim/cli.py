"""`trustnet sim`: the command line of the simulator (options, progress lines, the result
table or JSON); the round model itself is `trustnet.sim.engine`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from trustnet.errors import ConfigError
from trustnet.sim import engine
from trustnet.sim.config import BYZANTINE_MODES, MODES, SimConfig
from trustnet.sim.engine import SimError, simulate
from trustnet.sim.result import RoundStats, SimResult
from trustnet.sim.sharded import Cluster, LocalCluster, ShardedSimulator

ENGINES = ("local", "sharded", "ray")


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
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: one process, requests delivered one by one (default); "
                   "sharded: the nodes split over --workers shards in this process, messages "
                   "between shards batched per round; ray: the same shards in Ray actors, on "
                   "this machine or a Ray cluster (pip install 'trustnet[ray]')")
    p.add_argument("--workers", type=int, default=None, metavar="K",
                   help="shards (sharded: default 1; ray: default one per CPU of the cluster)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="ray: the Ray cluster to join (auto: the one this host joined with "
                   "`ray start`; ray://HOST:10001); default: start a local Ray instance")
    p.add_argument("--json", action="store_true",
                   help="print the result as one JSON object (the last line of stdout)")
    p.add_argument("--progress", action="store_true",
                   help="progress lines on stderr even with --json")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _fail(code: str, message: str, as_json: bool) -> int:
    """Report an error with its stable code (stderr; stdout too with --json); exit 2."""
    print(f"trustnet sim: error [{code}]: {message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}}))
    return 2


def _run(config: SimConfig, args: argparse.Namespace,
         progress: Callable[[RoundStats], None] | None) -> tuple[SimResult, dict[str, Any]]:
    """Run on the chosen engine: the result and the engine's own JSON keys."""
    if args.engine == "local":
        return simulate(config, progress), {}
    cluster: Cluster
    if args.engine == "ray":
        from trustnet.sim.ray_engine import RayCluster

        cluster = RayCluster(config, args.workers, args.address)
    else:
        cluster = LocalCluster(config, args.workers or 1)
    sim = ShardedSimulator(config, cluster, progress)
    try:
        result = sim.run()
    finally:
        cluster.close()
    return result, {"engine": args.engine, "workers": cluster.workers,
                    "worker_peak_rss_mb": sim.worker_peak_rss_mb}


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
    if args.workers is not None and not 1 <= args.workers <= config.nodes:
        return _fail("bad_option", "--workers must be between 1 and --nodes", args.json)
    if args.engine == "local" and (args.workers is not None or args.address is not None):
        return _fail("bad_option", "--workers and --address need --engine sharded or ray",
                     args.json)
    if args.engine != "ray" and args.address is not None:
        return _fail("bad_option", "--address needs --engine ray", args.json)
    chatty = (args.progress or not args.json) and not args.quiet
    if chatty:
        print(f"building {config.nodes} nodes ({args.engine} engine)...", file=sys.stderr)

    def progress(r: RoundStats) -> None:
        print(f"round {r.round}: {r.holders}/{config.honest} honest nodes hold it, "
              f"{r.online} online, {r.requests} requests, {r.bytes} bytes", file=sys.stderr)

    # Wall time is what the run costs on this machine, reported, never part of a figure.
    start = time.perf_counter()
    try:
        result, extra = _run(config, args, progress if chatty else None)
    except SimError as exc:
        return _fail(exc.code, exc.message, args.json)
    wall_s = time.perf_counter() - start
    if args.json:
        print(json.dumps({**result.to_json(), "wall_s": round(wall_s, 2), **extra}))
    else:
        print(_table(result))
        if extra:
            print(f"engine                        {extra['engine']}, {extra['workers']} "
                  f"workers, peak RSS per worker {extra['worker_peak_rss_mb']} MiB")
        print(f"wall time                     {wall_s:.1f} s")
    return 0 if result.rounds_to_all is not None else 1


if __name__ == "__main__":
    sys.exit(main())
