"""`trustnet key`: rotate the party's signing key to its pre-committed next key (`rotate`),
or make a next key for a party older than pre-rotation (`next`); docs/keys.md."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from trustnet.cli.output import err, out
from trustnet.clock import SystemClock
from trustnet.config.keyfiles import (
    NEXT_PUB_FILE,
    adopt_rotation,
    fresh_next_key,
    new_next_key,
    next_digest,
)
from trustnet.config.loader import load_config
from trustnet.config.ownlog import own_log_state
from trustnet.errors import ConfigError, EntryError, StoreError
from trustnet.identity import KEY_FILE, NEXT_KEY_FILE, Identity, load_node_identity
from trustnet.log.keys import key_digest, rotation_body
from trustnet.store.keys import check_revealed, commit_pending
from trustnet.store.sqlite import Store


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
        err(f"rotated: the node signs with {result['key'][:16]}… from seq {result['seq']}; "
            f"the fresh next key is in {node_dir / NEXT_KEY_FILE}: move it offline")
        out(json.dumps(result))
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
    err(f"rotated: {node_dir / KEY_FILE} now holds key {revealed.key_id[:16]}… from seq "
        f"{entry.seq}; the fresh next key is in {node_dir / NEXT_KEY_FILE}: move it offline")
    out(json.dumps({"id": entry.id_hex, "seq": entry.seq, "key": revealed.key_id,
                    "party": identity.party_id}))
    return 0


def cmd_key_next(args: argparse.Namespace) -> int:
    """A party made before pre-rotation: make a next key; its next statement commits to it."""
    node_dir = Path(args.dir)
    load_config(node_dir)
    if (node_dir / NEXT_KEY_FILE).exists() or next_digest(node_dir) is not None:
        raise ConfigError(f"{node_dir} has a next key already ({NEXT_PUB_FILE})", code="exists")
    new_next_key(node_dir)
    err(f"wrote {node_dir / NEXT_KEY_FILE}: the node's next statement commits to it (restart a "
        "running node first); then move the file offline")
    return 0
