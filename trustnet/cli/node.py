"""The commands of one's own node: `init` (a new node directory), `publish` (sign and
append a statement, through the running node or into its stopped store) and `run` (the
daemon in the foreground)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from trustnet.cli.output import err, out
from trustnet.clock import DAY_MS, SystemClock
from trustnet.config.keyfiles import next_digest
from trustnet.config.loader import load_config
from trustnet.config.nodedir import init_node_dir
from trustnet.config.ownlog import own_log_state
from trustnet.errors import ConfigError, StoreError
from trustnet.identity import NEXT_KEY_FILE, load_node_identity
from trustnet.store.keys import commit_first
from trustnet.store.sqlite import Store

# -- init ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create a node directory: node.toml, identity.key (0600), admin.token (0600)."""
    node_dir = Path(args.dir)
    if node_dir.exists() and any(node_dir.iterdir()):  # before the TLS checks print anything
        raise ConfigError(f"{node_dir} exists and is not empty; choose a new directory", code="exists")
    made = init_node_dir(node_dir, name=args.name or "", listen=args.listen, peers=args.peer,
                         anchors=args.anchor, sections=_init_tls(args))
    err(f"created node {made.config.name!r} in {node_dir} (listen {made.config.listen})")
    err(f"move {node_dir / NEXT_KEY_FILE} offline now (keep it safe, apart from this machine): "
        "it is the only key that can rotate this party's key, e.g. after a theft "
        "(`trustnet key rotate DIR --next-key FILE`)")
    out(made.party_id)
    return 0


def _init_tls(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """`--tls-cert/--tls-key/--ca-file`, checked as the node will check them, as absolute paths."""
    from trustnet.transport.tls import check_pair, client_context

    sections: dict[str, dict[str, Any]] = {}
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together (the certificate and its private "
                          "key)", code="tls_incomplete")
    if args.tls_cert:
        cert, key = Path(args.tls_cert).resolve(), Path(args.tls_key).resolve()
        info = check_pair(cert, key, SystemClock().now_ms())
        err(f"TLS: {info.describe()}")
        sections["http"] = {"tls_cert": str(cert), "tls_key": str(key)}
    if args.ca_file:
        ca_file = Path(args.ca_file).resolve()
        client_context(ca_file)
        sections["gossip"] = {"ca_file": str(ca_file)}
    return sections


# -- publish ---------------------------------------------------------------------------------


def _parse_body(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--body {text}: {exc.strerror}", code="bad_argument") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--body is not valid JSON: {exc}", code="bad_argument") from None
    if not isinstance(body, dict):
        raise ConfigError("--body must be a JSON object", code="bad_argument")
    if _has_float(body):
        raise ConfigError("--body holds a fractional number; bodies use integers", code="bad_body")
    return body


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def cmd_publish(args: argparse.Namespace) -> int:
    """Sign and append a statement: through the running node, or to the store directly."""
    node_dir = Path(args.dir)
    config = load_config(node_dir)
    body = _parse_body(args.body)
    try:
        store = Store.open_dir(node_dir)
    except StoreError as exc:
        if exc.code != "locked":
            raise
        from trustnet.api.client import NodeClient

        result = NodeClient.for_dir(node_dir, config).publish(args.kind, body, args.ts)
        out(json.dumps(result))
        return 0
    with store:
        identity = load_node_identity(node_dir)
        if own_log_state(node_dir, store, identity) == "lost":
            raise StoreError(
                f"this node's key has signed before but {node_dir}'s store holds none of its "
                "entries: signing now would fork its log. Run the node (`trustnet run`) to "
                "recover it from peers, or `trustnet run --recovered-from BUNDLE`",
                code="catching_up")
        now = SystemClock().now_ms()
        ts = args.ts if args.ts is not None else now
        commit_first(store, identity, next_digest(node_dir), ts, args.kind, body)
        # DESIGN 12: received now, so a backdated ts is shown and judged as backdated.
        entry = store.append_own(identity, args.kind, body, ts, received=now)
    out(json.dumps({"id": entry.id_hex, "seq": entry.seq}))
    return 0


# -- run -------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run the node in the foreground until SIGINT or SIGTERM."""
    import asyncio

    # A stop signal may come while the node is still starting (imports, opening the store,
    # reading the views take seconds on a busy host): it is noted here, before that work,
    # and honoured once the daemon can stop cleanly, exit 0 (a service manager's stop).
    received: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: received.append(signum))

    from trustnet.clock import OffsetClock
    from trustnet.node.daemon import serve
    from trustnet.protocol.peers import address_class

    recovered_from = Path(args.recovered_from) if args.recovered_from else None
    clock: OffsetClock | None = None
    if args.clock_offset_ms:  # testbed only: a node on loopback (testbed's), said loudly
        host = load_config(Path(args.dir)).host
        if address_class(f"http://[{host}]/" if ":" in host else f"http://{host}/") != "loopback":
            raise ConfigError(f"--clock-offset-ms is for testbed nodes only (listening on loopback); "
                              f"this node listens on {host!r}: its peers would refuse its requests "
                              f"as stale and its entries would carry shifted times", code="testbed_only")
        err(f"trustnet: warning: --clock-offset-ms: this node's clock runs "
            f"{args.clock_offset_ms / DAY_MS:+.2f} days from the wall clock (testbed only)")
        clock = OffsetClock(args.clock_offset_ms)
    return asyncio.run(serve(Path(args.dir), recovered_from=recovered_from,
                             log_lost=args.i_know_the_log_is_lost,
                             stop_requested=lambda: bool(received), clock=clock))
