"""The laboratory: `testbed up` (N real nodes on loopback), `testbed run` (a scenario played
on a fresh testbed, checked and reported) and `bench` (a benchmark; they measure). `sim`
and `experiment` parse their own options: `main` hands them over before parsing."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path

from trustnet.cli.output import err, out


def cmd_testbed_up(args: argparse.Namespace) -> int:
    """Start N node processes on loopback and keep them running until Ctrl-C."""
    import tempfile

    from trustnet.testbed.cluster import Testbed, describe, to_json

    names = args.names.split(",") if args.names else [f"node-{i + 1}" for i in range(args.n)]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="trustnet-testbed-"))
    testbed = Testbed(base, names, peers_per_node=args.peers, tls=args.tls)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    err(f"starting {len(names)} nodes in {base} ...")
    try:
        testbed.start(progress=lambda line: err("  " + line))
        out(to_json(testbed) if args.json else describe(testbed))
        err("all nodes are up; Ctrl-C stops them all")
        while not stop:
            time.sleep(0.2)
            dead = [n.name for n in testbed.nodes if not n.alive]
            if dead:
                err(f"trustnet: node(s) exited: {', '.join(dead)}; see their node.log")
                break
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not leave nodes behind: stopping is bounded, let it finish.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        err("stopping all nodes ...")
        codes = testbed.stop()
        signal.signal(signal.SIGINT, previous)
        err("stopped: " + ", ".join(f"{k} exit {v}" for k, v in codes.items()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark (its own options follow its name)."""
    from trustnet.bench import main as bench_main

    return bench_main(args.name, list(args.rest))


def cmd_testbed_run(args: argparse.Namespace) -> int:
    """Play a scenario on a fresh testbed, check its expectations, write the report."""
    import tempfile

    from trustnet.testbed.loader import load_scenario
    from trustnet.testbed.run import run_scenario

    scenario = load_scenario(Path(args.scenario))
    if args.origin:
        from trustnet.testbed.loader import with_origin

        scenario = with_origin(scenario, args.origin, "--origin")
    out_dir = (Path(args.out) if args.out
               else Path(tempfile.mkdtemp(prefix=f"trustnet-{scenario.name}-")))
    # SIGTERM (a service manager, `kill`, a background job) stops the nodes like Ctrl-C
    # does, instead of leaving them running without their parent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run_scenario(scenario, out_dir, keep=args.keep, log=err, say=out, tls=args.tls)
