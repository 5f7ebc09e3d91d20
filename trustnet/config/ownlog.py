"""What a node directory keeps outside its store so a lost store cannot fork its own log
(DESIGN 5 and 12: a node with a key and no store signs nothing until it has recovered;
a node made by `init` signs at once).

- `identity.new`: written by `init` beside `identity.key`; its presence says this key
  has never signed an entry. It is removed durably (unlink, then fsync of the directory)
  before the first own entry is committed, so "no marker" always means "this key may
  have signed": with no own entry in the store, the log was lost and must be recovered.
- `peers.json`: the peers this node learned (those that dialled it, peer exchange,
  profiles), written atomically and bounded, loaded at start: a node nobody configured
  peers for still knows whom to ask for its own log after its store is gone.

`own_log_state` decides at start what the node knows of its own log: `new`, `held`
(the store holds some of it: check with peers) or `lost` (key, no store).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Literal, Protocol

from trustnet.config.loader import check_url
from trustnet.errors import ConfigError
from trustnet.identity import Identity

NEW_LOG_FILE = "identity.new"
PEERS_FILE = "peers.json"
MAX_SAVED_PEERS = 256
PEERS_FILE_BYTES = 1024 * 1024

OwnLog = Literal["new", "held", "lost"]

log = logging.getLogger("trustnet.recovery")


class Heads(Protocol):
    """What `own_log_state` reads of a store (trustnet.store.sqlite.Store is one): this module
    sits below the store, which clears the marker before its first own entry (issue 13)."""

    def head(self, author: bytes) -> object | None: ...


def _fsync_dir(node_dir: Path) -> None:
    fd = os.open(node_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mark_new_log(node_dir: Path, identity: Identity) -> None:
    """`init`: record durably that this key has signed nothing yet."""
    path = Path(node_dir) / NEW_LOG_FILE
    path.write_text(
        f"{identity.party_id}\n"
        "# This key has signed nothing yet: its node signs at once when it starts.\n"
        "# The node deletes this file before it signs its first entry. Never create it by\n"
        "# hand: a node whose store is lost would then sign seq 1 again and fork its log.\n",
        encoding="utf-8")
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    _fsync_dir(Path(node_dir))


def is_new_log(node_dir: Path) -> bool:
    """True while the key of `node_dir` has never signed (the `init` marker is present)."""
    return (Path(node_dir) / NEW_LOG_FILE).exists()


def clear_new_log(node_dir: Path) -> None:
    """Remove the marker durably: called before the first own entry is committed."""
    path = Path(node_dir) / NEW_LOG_FILE
    if path.exists():
        path.unlink()
        _fsync_dir(Path(node_dir))


def own_log_state(node_dir: Path, store: Heads, identity: Identity) -> OwnLog:
    """What the node knows of its own log at start (see the module docstring)."""
    if store.head(identity.author) is not None:
        clear_new_log(node_dir)  # e.g. imported from a bundle: the key has signed
        return "held"
    return "new" if is_new_log(node_dir) else "lost"


def load_peers(node_dir: Path) -> list[str]:
    """The peers saved in DIR/peers.json (none when it is absent or unreadable: warned)."""
    path = Path(node_dir) / PEERS_FILE
    try:
        if path.stat().st_size > PEERS_FILE_BYTES:
            raise ValueError(f"larger than {PEERS_FILE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
        urls = data["peers"] if isinstance(data, dict) else None
        if not isinstance(urls, list):
            raise ValueError("no list `peers`")
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return []
    out: list[str] = []
    for url in urls[:MAX_SAVED_PEERS]:
        with contextlib.suppress(ConfigError):
            out.append(check_url(url))
    return out


def save_peers(node_dir: Path, urls: list[str]) -> None:
    """Write DIR/peers.json atomically (a temporary file, fsync, rename), at most
    MAX_SAVED_PEERS URLs."""
    path = Path(node_dir) / PEERS_FILE
    tmp = path.with_name(PEERS_FILE + ".tmp")
    body = json.dumps({"peers": urls[:MAX_SAVED_PEERS]}, indent=1) + "\n"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
