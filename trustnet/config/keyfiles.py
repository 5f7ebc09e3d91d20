"""A node directory's key files around pre-rotation (trustnet/log/keys.py holds the rules).

    identity.key   the current signing key's seed (0600)
    next.key       the committed next key's seed (0600): move it offline after `init`
    next.pub       sha256 of the next public key (hex): what the log commits to; not secret
    party.id       after a rotation: the party id (inception key) the new key signs for
    identity.key.<seq>.retired   a key rotated away at <seq> (kept, 0600, never used again)

A rotation is made in this order, so a crash leaves nothing ambiguous: the fresh
next key is written first (`next.key.new`), then the rotation is committed to the
store, then the files are swapped in (`adopt_rotation`). A crash between the last
two leaves the store ahead of the files; signing then fails with `wrong_key` and
`trustnet key rotate` says which file to put back.
"""

from __future__ import annotations

import os
from pathlib import Path

from trustnet.errors import IdentityError
from trustnet.identity import KEY_FILE, NEXT_KEY_FILE, PARTY_FILE, Identity
from trustnet.log.keys import key_digest

NEXT_PUB_FILE = "next.pub"
FRESH_SUFFIX = ".new"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_next_key(node_dir: Path, path: Path | None = None) -> Identity:
    """Generate a next key: its seed to `path` (default DIR/next.key, 0600, never overwritten);
    unless `path` is given, its digest to DIR/next.pub."""
    nxt = Identity.generate()
    nxt.save(path or Path(node_dir) / NEXT_KEY_FILE)
    if path is None:
        _write_text(Path(node_dir) / NEXT_PUB_FILE, key_digest(nxt.public_key).hex() + "\n")
    return nxt


def next_digest(node_dir: Path) -> bytes | None:
    """The digest in DIR/next.pub (None when the directory predates pre-rotation)."""
    path = Path(node_dir) / NEXT_PUB_FILE
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise IdentityError(f"{path} does not hold a sha256 digest (64 hex characters)",
                            code="bad_key_file")
    return digest


def fresh_next_key(node_dir: Path) -> Identity:
    """The next key a rotation commits to, written to DIR/next.key.new until it is adopted."""
    path = Path(node_dir) / (NEXT_KEY_FILE + FRESH_SUFFIX)
    path.unlink(missing_ok=True)  # left by a rotation that never committed
    return new_next_key(node_dir, path)


def adopt_rotation(node_dir: Path, seq: int, revealed: Identity, next_digest: bytes) -> None:
    """After the rotation at `seq` is committed: `revealed` becomes identity.key (signing for
    its party), the old key is kept as identity.key.<seq>.retired, and the fresh next key
    (DIR/next.key.new, when `trustnet key rotate` made it here) becomes next.key."""
    d = Path(node_dir)
    old = d / KEY_FILE
    if old.exists():
        os.replace(old, d / f"{KEY_FILE}.{seq}.retired")
    tmp = d / (KEY_FILE + FRESH_SUFFIX)
    tmp.unlink(missing_ok=True)
    Identity(revealed.signing_key).save(tmp)
    os.replace(tmp, old)
    _write_text(d / PARTY_FILE, revealed.party_id + "\n")
    _write_text(d / NEXT_PUB_FILE, next_digest.hex() + "\n")
    fresh, used = d / (NEXT_KEY_FILE + FRESH_SUFFIX), d / NEXT_KEY_FILE
    if fresh.exists():
        os.replace(fresh, used)
    elif used.exists() and Identity.load(used).public_key == revealed.public_key:
        used.unlink()  # it signs now, as identity.key; the caller keeps the fresh next key
    _fsync_dir(d)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
