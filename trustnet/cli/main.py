"""The `trustnet` command line (DESIGN section 9): the parser of every command and the
dispatch to the module of its family.

`main(argv) -> int` is a plain function so tests and docs can call it. User
errors print `trustnet: error [code]: message` on stderr and exit 1; usage
errors exit 2 (argparse); a traceback is a bug.

The commands live by family: node.py (init, publish, run), keys.py (key rotate, key
next), read.py (status, parties, entries, forks, peers, beliefs, suspicion), desk.py
(compliance, calendar, report), bundles.py (export, import, verify), lab.py (testbed,
bench); every command that reads a node by `DIR-or-URL` reads it through target.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from trustnet import __version__
from trustnet.cli.bundles import cmd_export, cmd_import, cmd_verify
from trustnet.cli.desk import cmd_calendar, cmd_compliance, cmd_report
from trustnet.cli.keys import cmd_key_next, cmd_key_rotate
from trustnet.cli.lab import cmd_bench, cmd_testbed_run, cmd_testbed_up
from trustnet.cli.node import cmd_init, cmd_publish, cmd_run
from trustnet.cli.output import err
from trustnet.cli.read import (
    cmd_beliefs,
    cmd_entries,
    cmd_forks,
    cmd_parties,
    cmd_peers,
    cmd_status,
    cmd_suspicion,
)
from trustnet.cli.target import TOKEN_ENV
from trustnet.config.loader import DEFAULT_LISTEN
from trustnet.errors import TrustnetError

Handler = Callable[[argparse.Namespace], int]

TLS_HELP = ("nodes serve TLS and verify each other against a throwaway CA made for the run "
            "(BASE/tls/ca.pem: pass it to --cacert to read them)")
CACERT_HELP = ("verify an https:// node against this CA certificate instead of the system trust "
               "store (default: $TRUSTNET_CACERT)")


def _bounded_int(text: str) -> int:
    """An argparse type: an integer in [0, 2**53-1], as large as any seq or ts may be (bigger
    ones would overflow the store: a clear usage error instead of a traceback)."""
    from trustnet.log.entry import MAX_INT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {MAX_INT}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (importable for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="trustnet",
        description="Peer-to-peer trust network daemon for confidence-building measures.",
        epilog="Each command has --help. Errors print [code] and exit non-zero. Commands that "
        f"read a node by URL send ${TOKEN_ENV} as its token, for nodes whose reads need one, and "
        "verify https:// nodes against --cacert, $TRUSTNET_CACERT or the system trust store.",
    )
    parser.add_argument("--version", action="version", version=f"trustnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler | None, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        if handler is not None:
            p.set_defaults(handler=handler)
        return p

    p = add("init", cmd_init, "create a node directory with a new identity")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--name", help="the party's name (default: the directory's name)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address of the node's HTTP server (default {DEFAULT_LISTEN})")
    p.add_argument("--peer", action="append", default=[], metavar="URL",
                   help="a peer's base URL, e.g. http://127.0.0.1:7401 (repeatable)")
    p.add_argument("--anchor", action="append", default=[], metavar="ID",
                   help="a party id this node trusts a priori (repeatable)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (chain); "
                   "written to [http] tls_cert (README: Exposing a node)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (mode 0600); "
                   "written to [http] tls_key")
    p.add_argument("--ca-file", metavar="PEM", help="verify https:// peers against this CA "
                   "instead of the system trust store; written to [gossip] ca_file")

    p = add("publish", cmd_publish, "sign and append a statement to the node's log")
    p.add_argument("dir", metavar="DIR")
    from trustnet.statements import KINDS

    p.add_argument("kind", metavar="KIND", help="statement kind: " + ", ".join(KINDS))
    p.add_argument("--body", required=True, metavar="JSON",
                   help="the statement body as a JSON object, @FILE, or @- for stdin")
    p.add_argument("--ts", type=int, help="timestamp in ms (default: now)")

    p = add("key", None, "rotate the party's signing key (pre-rotation)")
    kp = p.add_subparsers(dest="key_command", required=True, metavar="SUBCOMMAND")
    rot = kp.add_parser("rotate", help="reveal the committed next key and sign with it from now on",
                        description="Rotate to the pre-committed next key and commit to a fresh "
                        "one (written to DIR/next.key: move it offline). Through the running node, "
                        "or into the store when the node is stopped. The party id stays.")
    rot.set_defaults(handler=cmd_key_rotate)
    rot.add_argument("dir", metavar="DIR")
    rot.add_argument("--next-key", metavar="FILE",
                     help="the committed next key's file (default DIR/next.key)")
    rot.add_argument("--compromised-since", metavar="TIME",
                     help="the old key was stolen at TIME (ms, or ISO 8601 UTC): every node "
                     "disowns what it signed after TIME")
    nk = kp.add_parser("next", help="make a next key for a party older than pre-rotation",
                       description="Write DIR/next.key; the node's next statement commits to it.")
    nk.set_defaults(handler=cmd_key_next)
    nk.add_argument("dir", metavar="DIR")

    p = add("status", cmd_status, "show a node's identity and what it holds")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("parties", cmd_parties, "list the parties a node holds, with their profiles")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("entries", cmd_entries, "list entries")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
    p.add_argument("--author", metavar="ID", help="only this author's entries")
    p.add_argument("--kind", metavar="KIND", help="only this kind")
    p.add_argument("--after", type=_bounded_int, default=0,
                   help="cursor: a seq with --author, else a position (default 0)")
    p.add_argument("--limit", type=_bounded_int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("forks", cmd_forks, "list fork proofs (equivocating authors)")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("verify", cmd_verify, "verify every entry of a bundle file or node directory")
    p.add_argument("target", metavar="FILE-or-DIR")

    p = add("export", cmd_export, "write a node's entries to a bundle file")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("file", metavar="FILE")

    p = add("import", cmd_import, "verify and store the entries of a bundle file")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("file", metavar="FILE")

    p = add("run", cmd_run, "run the node in the foreground until SIGINT/SIGTERM")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--recovered-from", metavar="BUNDLE",
                   help="after a store loss: import this node's own log from a bundle (`trustnet "
                   "export` of any node holding it) and sign on top of it without asking peers")
    p.add_argument("--i-know-the-log-is-lost", action="store_true",
                   help="DANGEROUS: sign without recovering this node's own log (from seq 1 if "
                   "its store holds none of it). If any peer holds entries of this key beyond "
                   "what the store holds, the node becomes a proven equivocator everywhere")
    p.add_argument("--clock-offset-ms", type=int, default=0, metavar="MS",
                   help="TESTBED ONLY: run the node's clock MS ahead of (negative: behind) the "
                   "wall clock, as a scenario with a fixed origin does (docs/scenarios.md, "
                   "Time); a real node's peers would refuse its requests as stale")

    p = add("peers", cmd_peers, "show a running node's peers, scores and decisions")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    for name, handler, what in (("beliefs", cmd_beliefs, "web-of-trust beliefs about every party"),
                                ("suspicion", cmd_suspicion, "suspicion of every party")):
        p = add(name, handler, f"show the node's {what}")
        p.add_argument("target", metavar="DIR-or-URL")
        p.add_argument("--cacert", metavar="PEM", help=CACERT_HELP)
        p.add_argument("--party", metavar="ID", help="one party, with its evidence")
        p.add_argument("--at", type=_bounded_int, metavar="MS", help="as of this time (ms since the epoch)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("compliance", cmd_compliance, "show compliance by obligation, party and year")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--year", type=_bounded_int, metavar="Y", help="one calendar year")
    p.add_argument("--party", metavar="ID", help="one party")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("calendar", cmd_calendar, "show the year's activities: announced, notified, found")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--year", type=_bounded_int, metavar="Y", help="the calendar year (default: this one)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("report", cmd_report, "write a report to send (Markdown and self-contained HTML)")
    p.add_argument("target", metavar="DIR-or-URL")
    p.add_argument("--since", metavar="TIME", help="start of the period: ms or YYYY-MM-DD (default: 30 days before --at)")
    p.add_argument("--at", metavar="TIME", help="as of this time: ms or YYYY-MM-DD (default: the node's now)")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write report.md, report.html and the figures")

    from trustnet.bench import BENCHMARKS

    p = add("bench", cmd_bench, "run a benchmark (they measure; they do not assert)")
    p.add_argument("name", choices=sorted(BENCHMARKS), metavar="NAME",
                   help="; ".join(f"{k}: {v}" for k, v in BENCHMARKS.items()))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the benchmark's own options (--help)")

    # Listed for `trustnet --help` only: main() hands `sim` and its options to trustnet.sim.engine
    # before parsing (argparse's REMAINDER cannot take options that come first).
    p = add("sim", None, "simulate thousands of nodes in one process on a virtual clock "
            "(the real protocol): rounds to full dissemination, messages, bytes")
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="simulator options (trustnet sim --help): --nodes N --fanout F "
                   "--round-interval S --loss P --churn F --byzantine F --seed S --json ...")

    p = add("experiment", None, "sweep parameters over generated worlds played in process: "
            "escalation rate with intervals, peak suspicion, settling time (docs/experiment.md)")
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="SWEEP.toml [--out DIR] [--jobs N] [--json] (trustnet experiment --help)")

    p = add("testbed", None, "local multi-node testbeds")
    tb = p.add_subparsers(dest="testbed_command", required=True, metavar="SUBCOMMAND")
    up = tb.add_parser("up", help="start N nodes on loopback until Ctrl-C",
                       description="Start N real node processes on loopback (free ports, a "
                       "directory each), connected; print their URLs; Ctrl-C stops them all.")
    up.set_defaults(handler=cmd_testbed_up)
    up.add_argument("-n", type=int, default=6, help="how many nodes (default 6)")
    up.add_argument("--names", help="comma-separated node names (overrides -n)")
    up.add_argument("--dir", help="base folder (default: a new temporary folder)")
    up.add_argument("--peers", type=int, default=3, help="peers per node (default 3)")
    up.add_argument("--json", action="store_true", help="print the nodes as JSON")
    up.add_argument("--tls", action="store_true", help=TLS_HELP)

    runp = tb.add_parser("run", help="play a scenario on a fresh testbed and report",
                         description="Start one node per party on loopback, play the scenario's "
                         "steps through their admin APIs, sample every node's suspicion and beliefs, "
                         "check the expectations and write a report (Markdown, JSON, PNG). "
                         "Exit 1 when an expectation fails.",
                         epilog="Scenarios: configs/scenarios/ (demo, demo-refused, partition, "
                         "equivocation, stolen-key, tension-unverified, tension-verified). The "
                         "format — steps, faults (stop, crash, restart, partition, heal, "
                         "equivocate, compromise, rotate), expectations — is in docs/scenarios.md.")
    runp.set_defaults(handler=cmd_testbed_run)
    runp.add_argument("scenario", metavar="SCENARIO", help="e.g. configs/scenarios/demo.toml")
    runp.add_argument("--out", metavar="DIR", help="where the nodes and the report go "
                      "(default: a new temporary folder)")
    runp.add_argument("--keep", action="store_true",
                      help="leave the nodes running after the report, until Ctrl-C")
    runp.add_argument("--tls", action="store_true", help=TLS_HELP)
    runp.add_argument("--origin", metavar="YYYY-MM-DD",
                      help="play the story from this day (midnight UTC) whatever today is, so "
                      "that it gives the same numbers on any date (overrides the file's "
                      "`origin`; docs/scenarios.md, Time)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sim"]:
        # The simulator parses its own options (its --help lists them).
        from trustnet.sim.cli import main as sim_main

        return sim_main(argv[1:])
    if argv[:1] == ["experiment"]:  # issue 17: parses its own options (docs/experiment.md)
        from trustnet.experiment.cli import main as experiment_main

        return experiment_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except TrustnetError as exc:
        err(f"trustnet: error [{exc.code}]: {exc.message}")
        return 1
    except KeyboardInterrupt:
        err("trustnet: interrupted")
        return 130
    except BrokenPipeError:
        # `trustnet entries DIR | head`: the reader left; that is not an error. (Before the
        # OSError clause, which would otherwise catch it first.) stdout goes to /dev/null so
        # the interpreter's last flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        err(f"trustnet: error [io_error]: {exc.strerror or exc}{where}")
        return 1


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())

