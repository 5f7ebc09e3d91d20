"""A new node directory: node.toml, identity.key (0600), next.key, admin.token (0600), the store.

The config layer's one way to make a node: `trustnet init`, the testbed and the tests
call `init_node_dir` (before, the testbed ran the CLI with its stdout swapped, and the
CLI imported the testbed: a cycle).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustnet.config.keyfiles import new_next_key
from trustnet.config.loader import (
    DEFAULT_LISTEN,
    NodeConfig,
    check_url,
    new_admin_token,
    parse_listen,
    write_config,
)
from trustnet.config.ownlog import mark_new_log
from trustnet.errors import ConfigError
from trustnet.identity import KEY_FILE, Identity, is_party_id
from trustnet.store.sqlite import Store


@dataclass(frozen=True, slots=True)
class NewNode:
    """What `init_node_dir` made."""

    dir: Path
    party_id: str
    config: NodeConfig


def init_node_dir(
    node_dir: Path,
    *,
    name: str = "",
    listen: str = DEFAULT_LISTEN,
    peers: Sequence[str] = (),
    anchors: Sequence[str] = (),
    sections: Mapping[str, Mapping[str, Any]] | None = None,
) -> NewNode:
    """Create a node directory; refused (`exists`, `bad_config`) before anything is written.

    `name` defaults to the directory's name; `sections` are further node.toml tables.
    The party signs at once (a node made here needs no recovery: DESIGN 12).
    """
    node_dir = Path(node_dir)
    if node_dir.exists() and any(node_dir.iterdir()):
        raise ConfigError(f"{node_dir} exists and is not empty; choose a new directory", code="exists")
    parse_listen(listen, "init")
    checked_peers = tuple(check_url(p, "init: peer") for p in peers)
    for anchor in anchors:
        if not is_party_id(anchor):
            raise ConfigError(f"init: anchor {anchor!r} is not a party id (64 hex characters)")
    config = NodeConfig(
        name=name or node_dir.name, listen=listen, peers=checked_peers, anchors=tuple(anchors),
        sections={k: dict(v) for k, v in (sections or {}).items()},
    )
    node_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(node_dir, 0o700)
    identity = Identity.generate()
    # Before the key: a key without its "never signed" marker is never taken for a new log.
    mark_new_log(node_dir, identity)
    identity.save(node_dir / KEY_FILE)
    new_next_key(node_dir)  # pre-rotation: the log's first statement commits to it
    new_admin_token(node_dir)
    write_config(node_dir, config)
    Store.open_dir(node_dir).close()
    return NewNode(node_dir, identity.party_id, config)
