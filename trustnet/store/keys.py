"""Pre-rotation applied to a store: the node's own `keys` commitment and its rotation check.

The rules are trustnet/log/keys.py (pure, below the store); these functions read a
`Store`'s key states and sign into it, so they sit above both (issue 13: no import cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustnet.errors import EntryError
from trustnet.identity import Identity
from trustnet.log.entry import Entry
from trustnet.log.keys import KEY_KINDS, KEYS_KIND, key_digest
from trustnet.statements.kinds import validate_body
from trustnet.store.sqlite import Store


def commit_first(store: Store, identity: Identity, next_digest: bytes | None, ts: int,
                 kind: str, body: Mapping[str, Any]) -> Entry | None:
    """Sign the `keys` commitment before a party's next statement, when the node has a next
    key (DIR/next.pub) and the party has committed to nothing yet; else None. A new party
    commits at seq 1; a party older than pre-rotation at its first statement after
    `trustnet key next` made it a next key."""
    if kind in KEY_KINDS:
        return None
    validate_body(kind, body)  # a statement that will be refused commits nothing either
    return commit_pending(store, identity, next_digest, ts)


def check_revealed(store: Store, identity: Identity, next_digest: bytes | None,
                   revealed: Identity) -> None:
    """Refuse (bad_rotation) a rotation to a key that is not the committed one, before
    anything is signed; `next_digest` is the node's own not yet signed commitment."""
    state = store.key_state(identity.author)
    committed = state.next if state is not None and (state.next or state.rotated) else next_digest
    if committed is None:
        raise EntryError("this party committed to no next key: it cannot rotate (make one with "
                         "`trustnet key next`, and rotate after its commitment is published)",
                         code="bad_rotation")
    if key_digest(revealed.public_key) != committed:
        raise EntryError(f"key {revealed.key_id[:16]}… is not the committed next key "
                         f"(sha256 {committed.hex()[:16]}…)", code="bad_rotation")


def commit_pending(store: Store, identity: Identity, next_digest: bytes | None,
                   ts: int) -> Entry | None:
    """Sign the `keys` commitment to `next_digest` unless the party committed already."""
    state = store.key_state(identity.author)
    if next_digest is None or (state is not None and (state.next is not None or state.rotated)):
        return None
    return store.append_own(identity, KEYS_KIND, {"next": next_digest.hex()}, ts)
