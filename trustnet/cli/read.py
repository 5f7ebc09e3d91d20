"""The commands that read a node by `DIR-or-URL` (cli/target.py): its `status`, `parties`,
`entries`, `forks`, `peers`, and its web-of-trust `beliefs` and `suspicion`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from trustnet import __version__
from trustnet.cli.output import err, iso_utc, out, out_json
from trustnet.cli.target import Target
from trustnet.config.loader import load_config
from trustnet.errors import ConfigError, StoreError
from trustnet.identity import is_party_id, load_node_identity
from trustnet.store.receipts import ReceiptBook
from trustnet.store.sqlite import Store


def cmd_parties(args: argparse.Namespace) -> int:
    """List the parties a node holds statements of, with their self-declared profiles."""
    target = Target(args.target, args.cacert)
    if target.is_url:
        parties = target.get_all("/parties", "parties")["parties"]
    else:
        from trustnet.api.inspection import parties_of

        identity = load_node_identity(target.node_dir)
        with target.store() as store:
            parties = parties_of(store, identity.party_id)
    if args.json:
        out_json(parties)
        return 0
    out(f"{'party':<16} {'name':<16} {'role':<10} {'seq':>6}  {'':<6} url")
    for p in parties:
        flags = "forked" if p["forked"] else ("self" if p["self"] else "")
        out(f"{p['party'][:16]:<16} {str(p['name'] or '-')[:16]:<16} {str(p['role'] or '-')[:10]:<10} "
            f"{p['seq']:>6}  {flags:<6} {', '.join(p['urls'])[:60]}")
    err(f"{len(parties)} parties")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show a node's identity and what it holds."""
    target = Target(args.target, args.cacert)
    if target.is_url:
        status = target.get("/status")
    else:
        node_dir = target.node_dir
        config = load_config(node_dir)
        identity = load_node_identity(node_dir)
        with target.store() as store:
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
        out_json(status)
        return 0
    width = max(len(k) for k in status)
    for key, value in status.items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        out(f"{key.ljust(width)}  {shown}")
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
    return f"{e['author'][:12]}  {e['seq']:>6}  {iso_utc(e['ts'])}  {e['kind']:<20}  {e['id'][:12]}  {body}"


def cmd_entries(args: argparse.Namespace) -> int:
    """List entries, filtered by author and kind."""
    if args.author is not None and not is_party_id(args.author):
        raise ConfigError(f"--author {args.author!r} is not a party id", code="bad_argument")
    target = Target(args.target, args.cacert)
    if target.is_url:
        query = f"?limit={args.limit}&after={args.after}"
        if args.author:
            query += f"&author={args.author}"
        if args.kind:
            query += f"&kind={args.kind}"
        items = target.get("/entries" + query)["entries"]
    else:
        with target.store() as store:
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
        out_json(items)
        return 0
    out(f"{'author':<12}  {'seq':>6}  {'time (UTC)':<19}  {'kind':<20}  {'id':<12}  body")
    for item in items:
        out(_entry_line(item))
    err(f"{len(items)} entries")
    return 0


def cmd_forks(args: argparse.Namespace) -> int:
    """List fork proofs: authors caught signing two entries with one seq."""
    target = Target(args.target, args.cacert)
    if target.is_url:
        forks = target.get_all("/forks", "forks")["forks"]
    else:
        with target.store() as store:
            forks = [p.to_json() for p in store.forks()]
    if args.json:
        out_json(forks)
        return 0
    if not forks:
        out("no forks")
    for f in forks:
        out(f"author {f['author']} equivocated at seq {f['seq']}: {f['ids'][0][:16]} vs {f['ids'][1][:16]}")
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    """Show a running node's peers: score, state, and the reason for each decision (the
    reasons need the admin token: read from a node directory, or $TRUSTNET_TOKEN)."""
    # By directory: the node running on it, with its token, by its own certificate under TLS.
    data = Target(args.target, args.cacert).get_all("/peers", "peers")
    if args.json:
        out_json(data)
        return 0
    peers = data.get("peers", [])
    out(f"{'peer':<30} {'state':<11} {'score':>7} {'in':>6} {'bad':>5}  reason / last event")
    for p in peers:
        log = p.get("log") or []
        last = log[-1] if log and isinstance(log[-1], dict) else {}
        why = p.get("reason") or f"{last.get('event', '')} {last.get('reason', '')}".strip()
        out(f"{str(p.get('url') or p.get('key', ''))[:30]:<30} {p.get('state', ''):<11} "
            f"{p.get('score', 0):>7.2f} {p.get('accepted', 0):>6} {p.get('rejected', 0):>5}  {why[:60]}")
    err(f"{len(peers)} peers")
    return 0


def _view(args: argparse.Namespace, route: str) -> Any:
    """GET /ROUTE or /ROUTE/{party} from a node's URL, or compute it from a node directory."""
    if args.party and not is_party_id(args.party):
        raise ConfigError(f"--party {args.party!r} is not a party id", code="bad_argument")
    path = f"/{route}/{args.party}" if args.party else f"/{route}"
    target = Target(args.target, args.cacert)
    if target.is_url:
        path += f"?at={args.at}" if args.at else ""
        if args.party:
            return target.get(path)
        return target.get_all(path, "parties")
    from trustnet.analysis.views import VIEWS

    collection, per_party = VIEWS[route]
    views = target.views()
    query = {"at": str(args.at)} if args.at else {}
    if args.party or collection is None:
        return per_party(views, args.party, query)
    return collection(views, query)


def cmd_beliefs(args: argparse.Namespace) -> int:
    """Show the node's web-of-trust beliefs: reliability and compliance of every party."""
    data = _view(args, "beliefs")
    if args.json:
        out_json(data)
        return 0
    parties = [data] if args.party else data["parties"]
    out(f"{'party':<14} {'reliability':>11} {'verified':>9} {'raw':>6} {'facts':>5}  explanation")
    for b in parties:
        who = b.get("name") or b["party"][:12]
        out(f"{who[:14]:<14} {b['reliability']['p']:>11.2f} {b['verified']['score']:>9.2f} "
            f"{b['raw']['score']:>6.2f} {len(b['raw']['evidence']):>5}  {b['explanation'][:90]}")
    if args.party:
        out("")
        out(data["explanation"])
        for c in data["raw"]["evidence"]:
            mark = "verified" if c["verified"] else "unverified"
            out(f"  {c['weight']:+.2f} {c['rule']:<26} {mark:<10} {c['note'][:100]}")
    return 0


def cmd_suspicion(args: argparse.Namespace) -> int:
    """Show the node's suspicion of every party: level, trend, escalation index, drivers."""
    data = _view(args, "suspicion")
    if args.json:
        out_json(data)
        return 0
    parties = [data] if args.party else data["parties"]
    out(f"{'party':<14} {'level':>6} {'trend/day':>10} {'index':>8}  {'regime':<14} top driver")
    for p in parties:
        who = p.get("name") or p["party"][:12]
        drivers = p.get("drivers") or []
        top = f"{drivers[0]['rule']} ({drivers[0]['contribution']:+.3f})" if drivers else ""
        out(f"{who[:14]:<14} {p['level']:>6.3f} {p['trend']:>+10.4f} {p['escalation_index']:>+8.4f}"
            f"  {p['regime']:<14} {top}")
    return 0
