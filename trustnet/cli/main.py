"""The `trustnet` command line (DESIGN section 9).

`main(argv) -> int` is a plain function so tests and docs can call it. User
errors print `trustnet: error [code]: message` on stderr and exit 1; usage
errors exit 2 (argparse); a traceback is a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustnet import __version__
from trustnet.clock import DAY_MS, SystemClock
from trustnet.config.keyfiles import (
    NEXT_PUB_FILE,
    adopt_rotation,
    fresh_next_key,
    new_next_key,
    next_digest,
)
from trustnet.config.loader import (
    DEFAULT_LISTEN,
    load_config,
)
from trustnet.config.nodedir import init_node_dir
from trustnet.config.ownlog import own_log_state
from trustnet.errors import ConfigError, EntryError, StoreError, TrustnetError
from trustnet.identity import KEY_FILE, NEXT_KEY_FILE, Identity, is_party_id, load_node_identity
from trustnet.log.bundle import (
    ImportReport,
    import_bundle,
    iter_bundle,
    verify_stream,
    write_bundle,
)
from trustnet.log.keys import (
    check_revealed,
    commit_first,
    commit_pending,
    key_digest,
    rotation_body,
)
from trustnet.store.receipts import ReceiptBook
from trustnet.store.schema import DB_FILE
from trustnet.store.sqlite import Rejected, Store

Handler = Callable[[argparse.Namespace], int]


def _out(line: str = "") -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _json(obj: Any) -> None:
    _out(json.dumps(obj, indent=2, ensure_ascii=False))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


# -- init ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create a node directory: node.toml, identity.key (0600), admin.token (0600)."""
    node_dir = Path(args.dir)
    if node_dir.exists() and any(node_dir.iterdir()):  # before the TLS checks print anything
        raise ConfigError(f"{node_dir} exists and is not empty; choose a new directory", code="exists")
    made = init_node_dir(node_dir, name=args.name or "", listen=args.listen, peers=args.peer,
                         anchors=args.anchor, sections=_init_tls(args))
    _err(f"created node {made.config.name!r} in {node_dir} (listen {made.config.listen})")
    _err(f"move {node_dir / NEXT_KEY_FILE} offline now (keep it safe, apart from this machine): "
         "it is the only key that can rotate this party's key, e.g. after a theft "
         "(`trustnet key rotate DIR --next-key FILE`)")
    _out(made.party_id)
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
        _err(f"TLS: {info.describe()}")
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
        _out(json.dumps(result))
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
    _out(json.dumps({"id": entry.id_hex, "seq": entry.seq}))
    return 0


# -- keys: pre-rotation and rotation (trustnet/log/keys.py) ------------------------------------


def _parse_time(text: str, what: str) -> int:
    """ms since the epoch, from an integer or an ISO 8601 time (UTC unless it says)."""
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{what} {text!r} is neither ms since the epoch nor an ISO 8601 time",
                          code="bad_argument") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def cmd_key_rotate(args: argparse.Namespace) -> int:
    """Reveal the committed next key and commit to a fresh one: through the running node,
    or into the store when it is stopped."""
    node_dir = Path(args.dir)
    config = load_config(node_dir)
    next_path = Path(args.next_key) if args.next_key else node_dir / NEXT_KEY_FILE
    revealed = Identity.load(next_path)
    now = SystemClock().now_ms()
    since = None if args.compromised_since is None else _parse_time(args.compromised_since,
                                                                        "--compromised-since")
    if since is not None and since > now:
        raise EntryError(f"--compromised-since {args.compromised_since} is in the future; a key "
                         "is compromised since a past time", code="bad_rotation")
    try:
        store = Store.open_dir(node_dir)
    except StoreError as exc:
        if exc.code != "locked":
            raise
        from trustnet.api.client import NodeClient

        fresh = fresh_next_key(node_dir)
        result = NodeClient.for_dir(node_dir, config).rotate_keys(
            bytes(revealed.signing_key), key_digest(fresh.public_key), since)
        # The running node has adopted the key files (identity.key, party.id, next.key).
        _err(f"rotated: the node signs with {result['key'][:16]}… from seq {result['seq']}; "
             f"the fresh next key is in {node_dir / NEXT_KEY_FILE}: move it offline")
        _out(json.dumps(result))
        return 0
    with store:
        identity = load_node_identity(node_dir)
        if own_log_state(node_dir, store, identity) == "lost":
            raise StoreError(f"{node_dir}'s store holds none of this party's log: run the node "
                             "to recover it before rotating", code="catching_up")
        pending = next_digest(node_dir)
        check_revealed(store, identity, pending, revealed)
        fresh = fresh_next_key(node_dir)
        body = rotation_body(revealed, key_digest(fresh.public_key), since, now)
        commit_pending(store, identity, pending, now)
        entry = store.append_own(revealed.for_party(identity.author), "rotation", body, now)
        adopt_rotation(node_dir, entry.seq, revealed.for_party(identity.author),
                       key_digest(fresh.public_key))
    _err(f"rotated: {node_dir / KEY_FILE} now holds key {revealed.key_id[:16]}… from seq "
         f"{entry.seq}; the fresh next key is in {node_dir / NEXT_KEY_FILE}: move it offline")
    _out(json.dumps({"id": entry.id_hex, "seq": entry.seq, "key": revealed.key_id,
                     "party": identity.party_id}))
    return 0


def cmd_key_next(args: argparse.Namespace) -> int:
    """A party made before pre-rotation: make a next key; its next statement commits to it."""
    node_dir = Path(args.dir)
    load_config(node_dir)
    if (node_dir / NEXT_KEY_FILE).exists() or next_digest(node_dir) is not None:
        raise ConfigError(f"{node_dir} has a next key already ({NEXT_PUB_FILE})", code="exists")
    new_next_key(node_dir)
    _err(f"wrote {node_dir / NEXT_KEY_FILE}: the node's next statement commits to it (restart a "
         "running node first); then move the file offline")
    return 0


# -- reading: status, entries, forks ---------------------------------------------------------


def _open_read(target: str) -> Store:
    """A store to read from, whether or not a node holds the directory's write lock."""
    node_dir = Path(target)
    load_config(node_dir)  # a clear error when this is not a node directory
    if not (node_dir / DB_FILE).exists():
        raise StoreError(f"{node_dir} has no store yet", code="no_node")
    return Store.open_dir(node_dir, readonly=True)


TOKEN_ENV = "TRUSTNET_TOKEN"
TLS_HELP = ("nodes serve TLS and verify each other against a throwaway CA made for the run "
            "(BASE/tls/ca.pem: pass it to --cacert to read them)")
CACERT_HELP = ("verify an https:// node against this CA certificate instead of the system trust "
               "store (default: $TRUSTNET_CACERT)")


def _remote(target: str, path: str, token: str | None = None, *, cacert: str | None = None) -> Any:
    """GET a node's JSON route (with `token` or $TRUSTNET_TOKEN, for nodes whose reads need
    the token and for the details only the operator sees; https:// verified against `cacert`,
    $TRUSTNET_CACERT or the system trust store)."""
    from trustnet.api.client import get_json

    return get_json(target.rstrip("/") + path, token=token or os.environ.get(TOKEN_ENV) or None,
                    cafile=cacert)


def _remote_pages(target: str, path: str, key: str, token: str | None = None, *,
                  cacert: str | None = None) -> dict[str, Any]:
    """A paginated list route of a node's URL read whole (see `_pages`)."""
    return _pages(lambda p: _remote(target, p, token, cacert=cacert), path, key)


def _pages(get: Callable[[str], Any], path: str, key: str) -> dict[str, Any]:
    """A paginated list route read whole: the first page's document with every page's items
    under `key`, following `next` (a list stops at 1000 items per page)."""
    sep = "&" if "?" in path else "?"
    whole: dict[str, Any] = get(f"{path}{sep}offset=0")
    offset = whole.pop("next", None)
    while offset is not None:
        page = get(f"{path}{sep}offset={offset}")
        whole[key] += page[key]
        offset = page.get("next")
    whole.pop("total", None)
    return whole


def cmd_parties(args: argparse.Namespace) -> int:
    """List the parties a node holds statements of, with their self-declared profiles."""
    if _is_url(args.target):
        parties = _remote_pages(args.target, "/parties", "parties", cacert=args.cacert)["parties"]
    else:
        from trustnet.api.inspection import parties_of

        node_dir = Path(args.target)
        identity = load_node_identity(node_dir)
        with _open_read(args.target) as store:
            parties = parties_of(store, identity.party_id)
    if args.json:
        _json(parties)
        return 0
    _out(f"{'party':<16} {'name':<16} {'role':<10} {'seq':>6}  {'':<6} url")
    for p in parties:
        flags = "forked" if p["forked"] else ("self" if p["self"] else "")
        _out(f"{p['party'][:16]:<16} {str(p['name'] or '-')[:16]:<16} {str(p['role'] or '-')[:10]:<10} "
             f"{p['seq']:>6}  {flags:<6} {', '.join(p['urls'])[:60]}")
    _err(f"{len(parties)} parties")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show a node's identity and what it holds."""
    if _is_url(args.target):
        status = _remote(args.target, "/status", cacert=args.cacert)
    else:
        node_dir = Path(args.target)
        config = load_config(node_dir)
        identity = load_node_identity(node_dir)
        with _open_read(args.target) as store:
            head = store.head(identity.author)
            status = {
                "node_id": identity.party_id,
                "name": config.name,
                "version": __version__,
                "running": _is_running(node_dir),
                "listen": config.listen,
                "entries": store.count(),
                "authors": store.author_count(),
                "peers": len(config.peers),
                "forks": len(store.forked_authors()),
                "own_seq": head.seq if head else 0,
                "kinds": store.kinds(),
            }
    if args.json:
        _json(status)
        return 0
    width = max(len(k) for k in status)
    for key, value in status.items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        _out(f"{key.ljust(width)}  {shown}")
    return 0


def _is_running(node_dir: Path) -> bool:
    try:
        Store.open_dir(node_dir).close()
    except StoreError as exc:
        return exc.code == "locked"
    return False


def _entry_line(e: dict[str, Any]) -> str:
    body = json.dumps(e["body"], ensure_ascii=False, separators=(",", ":"))
    if len(body) > 70:
        body = body[:67] + "..."
    if e.get("revoked"):
        body = "[revoked] " + body  # its party disowned it (a stolen key, docs/keys.md)
    return f"{e['author'][:12]}  {e['seq']:>6}  {_iso(e['ts'])}  {e['kind']:<20}  {e['id'][:12]}  {body}"


def cmd_entries(args: argparse.Namespace) -> int:
    """List entries, filtered by author and kind."""
    if args.author is not None and not is_party_id(args.author):
        raise ConfigError(f"--author {args.author!r} is not a party id", code="bad_argument")
    if _is_url(args.target):
        query = f"?limit={args.limit}&after={args.after}"
        if args.author:
            query += f"&author={args.author}"
        if args.kind:
            query += f"&kind={args.kind}"
        items = _remote(args.target, "/entries" + query, cacert=args.cacert)["entries"]
    else:
        with _open_read(args.target) as store:
            entries = store.query(
                author=bytes.fromhex(args.author) if args.author else None,
                kind=args.kind,
                after=args.after,
                limit=args.limit,
            )
            receipts = ReceiptBook(store).brief([e.id for e in entries])
            items = [{**e.to_json(), "revoked": store.revoked(e), **receipts[e.id]}
                     for e in entries]
    if args.json:
        _json(items)
        return 0
    _out(f"{'author':<12}  {'seq':>6}  {'time (UTC)':<19}  {'kind':<20}  {'id':<12}  body")
    for item in items:
        _out(_entry_line(item))
    _err(f"{len(items)} entries")
    return 0


def cmd_forks(args: argparse.Namespace) -> int:
    """List fork proofs: authors caught signing two entries with one seq."""
    if _is_url(args.target):
        forks = _remote_pages(args.target, "/forks", "forks", cacert=args.cacert)["forks"]
    else:
        with _open_read(args.target) as store:
            forks = [p.to_json() for p in store.forks()]
    if args.json:
        _json(forks)
        return 0
    if not forks:
        _out("no forks")
    for f in forks:
        _out(f"author {f['author']} equivocated at seq {f['seq']}: {f['ids'][0][:16]} vs {f['ids'][1][:16]}")
    return 0


# -- bundles ---------------------------------------------------------------------------------


MAX_LISTED = 20


def _list_rejected(what: str, rejected: Sequence[Rejected], codes: Counter[str] | None = None
                   ) -> None:
    """Name each bad entry with its code; past MAX_LISTED, count them by code (`codes`: the
    counts of every rejection, when `rejected` names only some)."""
    for r in rejected[:MAX_LISTED]:
        _err(f"trustnet: {what} entry {r.index} ({r.id or 'undecodable'}): [{r.code}] {r.message}")
    rest = Counter(codes) if codes is not None else Counter(r.code for r in rejected)
    rest.subtract(r.code for r in rejected[:MAX_LISTED])
    more = sum(rest.values())
    if more > 0:
        _err(f"trustnet: ... and {more} more {what} entries ("
             + ", ".join(f"{n} {code}" for code, n in rest.most_common() if n > 0) + ")")


def cmd_export(args: argparse.Namespace) -> int:
    """Write every entry of a node to a bundle file."""
    out_path = Path(args.file)
    with _open_read(args.dir) as store:
        tmp = out_path.with_name(out_path.name + ".tmp")
        with open(tmp, "wb") as f:
            n = write_bundle(f, store.export_raw())
        tmp.replace(out_path)
    _err(f"exported {n} entries to {out_path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Verify and store the entries of a bundle; bad entries are named and skipped."""
    node_dir = Path(args.dir)
    load_config(node_dir)
    started = time.monotonic()
    last = [started]

    def progress(r: ImportReport) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            _err(f"  ... {r.read} read, {r.accepted} stored, {r.rejected_count} rejected")

    with Store.open_dir(node_dir) as store:
        # Entries beyond a gap wait in a temporary file beside the store (not in /tmp, which
        # may be memory), deleted when the import ends.
        report = import_bundle(store, Path(args.file), SystemClock().now_ms(), progress=progress,
                               spill_dir=node_dir)
    _list_rejected("rejected", report.rejected, report.rejected_codes)
    if report.stream_error:
        _err(f"trustnet: error [{report.stream_error.code}]: {report.stream_error.message}")
    elapsed = time.monotonic() - started
    summary = {
        "read": report.read,
        "stored": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected_count,
        "forks": report.forks,
        "seconds": round(elapsed, 3),
    }
    _out(json.dumps(summary))
    return 0 if report.ok else 1


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every signature, body and chain of a bundle file or a node directory."""
    target = Path(args.target)
    now = SystemClock().now_ms()
    if target.is_dir():
        with _open_read(args.target) as store:
            report = verify_stream(store.export_raw(), now)
            fork_count = len(store.forks())
    else:
        report = verify_stream(iter_bundle(target), now)
        fork_count = report.forks
    _list_rejected("invalid", report.rejected, report.rejected_codes)
    if report.stream_error:
        _err(f"trustnet: error [bad_bundle]: {report.stream_error}")
    ok = report.ok
    _out(json.dumps({
        "ok": ok,
        "entries": report.entries,
        "authors": report.authors,
        "invalid": report.rejected_count,
        "forks": fork_count,
    }))
    return 0 if ok else 1


# -- the daemon and the testbed --------------------------------------------------------------


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
    if args.clock_offset_ms:  # testbed only: a node on loopback (testbed.py's), said loudly
        host = load_config(Path(args.dir)).host
        if address_class(f"http://[{host}]/" if ":" in host else f"http://{host}/") != "loopback":
            raise ConfigError(f"--clock-offset-ms is for testbed nodes only (listening on loopback); "
                              f"this node listens on {host!r}: its peers would refuse its requests "
                              f"as stale and its entries would carry shifted times", code="testbed_only")
        _err(f"trustnet: warning: --clock-offset-ms: this node's clock runs "
             f"{args.clock_offset_ms / DAY_MS:+.2f} days from the wall clock (testbed only)")
        clock = OffsetClock(args.clock_offset_ms)
    return asyncio.run(serve(Path(args.dir), recovered_from=recovered_from,
                             log_lost=args.i_know_the_log_is_lost,
                             stop_requested=lambda: bool(received), clock=clock))


def cmd_peers(args: argparse.Namespace) -> int:
    """Show a running node's peers: score, state, and the reason for each decision (the
    reasons need the admin token: read from a node directory, or $TRUSTNET_TOKEN)."""
    if _is_url(args.target):
        data = _remote_pages(args.target, "/peers", "peers", cacert=args.cacert)
    else:  # the node of a local directory, with its token, by its own certificate under TLS
        client = _client_of(args.target)
        data = _pages(client.get, "/peers", "peers")
    if args.json:
        _json(data)
        return 0
    peers = data.get("peers", [])
    _out(f"{'peer':<30} {'state':<11} {'score':>7} {'in':>6} {'bad':>5}  reason / last event")
    for p in peers:
        log = p.get("log") or []
        last = log[-1] if log and isinstance(log[-1], dict) else {}
        why = p.get("reason") or f"{last.get('event', '')} {last.get('reason', '')}".strip()
        _out(f"{str(p.get('url') or p.get('key', ''))[:30]:<30} {p.get('state', ''):<11} "
             f"{p.get('score', 0):>7.2f} {p.get('accepted', 0):>6} {p.get('rejected', 0):>5}  {why[:60]}")
    _err(f"{len(peers)} peers")
    return 0


def _client_of(node_dir: str) -> Any:
    """The API client of the node running on a directory."""
    from trustnet.api.client import NodeClient

    return NodeClient.for_dir(Path(node_dir), load_config(Path(node_dir)))


def cmd_testbed_up(args: argparse.Namespace) -> int:
    """Start N node processes on loopback and keep them running until Ctrl-C."""
    import signal as _signal
    import tempfile

    from trustnet.testbed.cluster import Testbed, describe, to_json

    names = args.names.split(",") if args.names else [f"node-{i + 1}" for i in range(args.n)]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="trustnet-testbed-"))
    testbed = Testbed(base, names, peers_per_node=args.peers, tls=args.tls)
    stop = []
    _signal.signal(_signal.SIGTERM, lambda *_: stop.append(1))
    _err(f"starting {len(names)} nodes in {base} ...")
    try:
        testbed.start(progress=lambda line: _err("  " + line))
        _out(to_json(testbed) if args.json else describe(testbed))
        _err("all nodes are up; Ctrl-C stops them all")
        while not stop:
            time.sleep(0.2)
            dead = [n.name for n in testbed.nodes if not n.alive]
            if dead:
                _err(f"trustnet: node(s) exited: {', '.join(dead)}; see their node.log")
                break
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not leave nodes behind: stopping is bounded, let it finish.
        previous = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        _err("stopping all nodes ...")
        codes = testbed.stop()
        _signal.signal(_signal.SIGINT, previous)
        _err("stopped: " + ", ".join(f"{k} exit {v}" for k, v in codes.items()))
    return 0


def _view(args: argparse.Namespace, route: str) -> Any:
    """GET /ROUTE or /ROUTE/{party} from a node's URL, or compute it from a node directory."""
    if args.party and not is_party_id(args.party):
        raise ConfigError(f"--party {args.party!r} is not a party id", code="bad_argument")
    path = f"/{route}/{args.party}" if args.party else f"/{route}"
    if _is_url(args.target):
        path += f"?at={args.at}" if args.at else ""
        if args.party:
            return _remote(args.target, path, cacert=args.cacert)
        return _remote_pages(args.target, path, "parties", cacert=args.cacert)
    from trustnet.analysis.views import VIEWS, local_views

    collection, per_party = VIEWS[route]
    views = local_views(args.target)
    query = {"at": str(args.at)} if args.at else {}
    if args.party or collection is None:
        return per_party(views, args.party, query)
    return collection(views, query)


def cmd_beliefs(args: argparse.Namespace) -> int:
    """Show the node's web-of-trust beliefs: reliability and compliance of every party."""
    data = _view(args, "beliefs")
    if args.json:
        _json(data)
        return 0
    parties = [data] if args.party else data["parties"]
    _out(f"{'party':<14} {'reliability':>11} {'verified':>9} {'raw':>6} {'facts':>5}  explanation")
    for b in parties:
        who = b.get("name") or b["party"][:12]
        _out(f"{who[:14]:<14} {b['reliability']['p']:>11.2f} {b['verified']['score']:>9.2f} "
             f"{b['raw']['score']:>6.2f} {len(b['raw']['evidence']):>5}  {b['explanation'][:90]}")
    if args.party:
        _out("")
        _out(data["explanation"])
        for c in data["raw"]["evidence"]:
            mark = "verified" if c["verified"] else "unverified"
            _out(f"  {c['weight']:+.2f} {c['rule']:<26} {mark:<10} {c['note'][:100]}")
    return 0


def cmd_suspicion(args: argparse.Namespace) -> int:
    """Show the node's suspicion of every party: level, trend, escalation index, drivers."""
    data = _view(args, "suspicion")
    if args.json:
        _json(data)
        return 0
    parties = [data] if args.party else data["parties"]
    _out(f"{'party':<14} {'level':>6} {'trend/day':>10} {'index':>8}  {'regime':<14} top driver")
    for p in parties:
        who = p.get("name") or p["party"][:12]
        drivers = p.get("drivers") or []
        top = f"{drivers[0]['rule']} ({drivers[0]['contribution']:+.3f})" if drivers else ""
        _out(f"{who[:14]:<14} {p['level']:>6.3f} {p['trend']:>+10.4f} {p['escalation_index']:>+8.4f}"
             f"  {p['regime']:<14} {top}")
    return 0


def _desk_view(args: argparse.Namespace, route: str, key: str, query: dict[str, str]) -> int:
    """One desk view (`/compliance` rows or `/calendar` activities) of a node by URL (every
    page) or of a directory, printed as a table or as JSON."""
    from trustnet.analysis import views
    from trustnet.desk import text

    if _is_url(args.target):
        from urllib.parse import urlencode

        path = f"/{route}?" + urlencode(query) if query else f"/{route}"
        data = _remote_pages(args.target, path, key)
    else:
        compute = views.compliance_all if route == "compliance" else views.calendar_all
        data = compute(views.local_views(args.target), query)
    if args.json:
        _json(data)
        return 0
    table = text.compliance_table if route == "compliance" else text.calendar_table
    for line in table(data):
        _out(line)
    return 0


def cmd_compliance(args: argparse.Namespace) -> int:
    """Show compliance by obligation: one row per party, obligation and year (trustnet.desk)."""
    query = {k: str(v) for k, v in (("year", args.year), ("party", args.party)) if v is not None}
    return _desk_view(args, "compliance", "rows", query)


def cmd_calendar(args: argparse.Namespace) -> int:
    """Show the calendar reconciled: activities announced, notified and found, matched."""
    year = {} if args.year is None else {"year": str(args.year)}  # --year 0: refused, not "now"
    return _desk_view(args, "calendar", "activities", year)


def cmd_report(args: argparse.Namespace) -> int:
    """Write a report to send: report.md, report.html (self-contained) and its figures."""
    from trustnet.desk import report

    at = report.parse_time(args.at) if args.at else None
    if _is_url(args.target):
        target = args.target

        def remote(route: str, query: Mapping[str, str]) -> Any:
            from urllib.parse import urlencode

            path = route + ("?" + urlencode(query) if query else "")
            key = {"/beliefs": "parties", "/suspicion": "parties", "/compliance": "rows",
                   "/forks": "forks"}.get(route)
            return _remote_pages(target, path, key) if key else _remote(target, path)

        fetch: report.Fetch = remote
        if at is None:
            at = int(_remote(target, "/suspicion?limit=1")["now"])
    else:
        from trustnet.analysis.views import local_views

        views = local_views(args.target)
        fetch = report.local_fetch(views)
        if at is None:
            at = views.clock.now_ms()
    since = report.parse_time(args.since) if args.since else at - 30 * DAY_MS
    if since > at:
        raise ConfigError("--since must not be after --at", code="bad_argument")
    paths = report.write(report.build(fetch, at, since), Path(args.out))
    for p in paths:
        _out(str(p))
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
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"trustnet-{scenario.name}-"))
    # SIGTERM (a service manager, `kill`, a background job) stops the nodes like Ctrl-C
    # does, instead of leaving them running without their parent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run_scenario(scenario, out, keep=args.keep, log=_err, say=_out, tls=args.tls)


# -- the parser ------------------------------------------------------------------------------


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
        _err(f"trustnet: error [{exc.code}]: {exc.message}")
        return 1
    except KeyboardInterrupt:
        _err("trustnet: interrupted")
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
        _err(f"trustnet: error [io_error]: {exc.strerror or exc}{where}")
        return 1


def entrypoint() -> None:
    """Console-script entry point."""
    sys.exit(main())

