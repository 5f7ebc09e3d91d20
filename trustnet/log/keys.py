"""Key states: pre-rotation, rotation and revocation along an author's own chain (issue 14).

A party id is its inception key for life (DESIGN 12). Which key signs an entry
follows from the author's own chain, read in order:

- Until the author rotates, the author key itself signs, as it always did: a log
  with no `keys` or `rotation` statement is entry format v1 exactly as before.
- A `keys` statement ({"next": sha256 hex of the next public key}) commits to the
  next key. It may appear once, before any rotation (new parties make it their seq 1).
- A `rotation` statement ({"key": new public key hex, "next": digest of a fresh
  next key, "compromised_since"?: ms}) reveals the committed key and is signed
  *by it*: from its seq on, that key signs. A thief holding only the current
  signing key cannot make one.
- `compromised_since` T disowns what the outgoing key signed with ts > T: those
  entries are *revoked* (still held and shown, ignored by the analysis), and a
  fork with a revoked entry on either side no longer counts against the party.

Everything here is pure: the store keeps one `KeyState` per author that has
rotated or committed, and asks it which key must have signed an entry. What signs
the commitment into a store (and checks a rotation against it) is trustnet/store/keys.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from trustnet.errors import EntryError
from trustnet.log.entry import Entry, ForkProof

if TYPE_CHECKING:
    from trustnet.identity import Identity

KEYS_KIND = "keys"
ROTATION_KIND = "rotation"
KEY_KINDS = frozenset({KEYS_KIND, ROTATION_KIND})


def key_digest(public_key: bytes) -> bytes:
    """The commitment to a next key: sha256 of its 32-byte public key."""
    return hashlib.sha256(public_key).digest()


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """One signing key and the seqs it signed: [from_seq, until_seq) (until None: current)."""

    key: bytes
    from_seq: int
    from_ts: int
    until_seq: int | None = None
    until_ts: int | None = None
    compromised_since: int | None = None  # set by the rotation that ended the period
    next: bytes | None = None  # the next key committed while this key signed

    def to_json(self) -> dict[str, object]:
        """A JSON-friendly view (GET /parties `keys`)."""
        return {
            "key": self.key.hex(),
            "from_seq": self.from_seq,
            "from_ts": self.from_ts,
            "until_seq": self.until_seq,
            "until_ts": self.until_ts,
            "compromised_since": self.compromised_since,
            "next": None if self.next is None else self.next.hex(),
        }


@dataclass(frozen=True, slots=True)
class KeyState:
    """An author's keys along its chain: the periods so far and the committed next key."""

    author: bytes
    periods: tuple[KeyPeriod, ...]

    @classmethod
    def inception(cls, author: bytes) -> KeyState:
        """The state of an author who has neither committed nor rotated."""
        return cls(author, (KeyPeriod(author, 1, 0),))

    @property
    def next(self) -> bytes | None:
        """The digest of the committed next key (None: nothing committed yet)."""
        return self.periods[-1].next

    @property
    def current(self) -> bytes:
        """The key that signs the author's next ordinary entry."""
        return self.periods[-1].key

    @property
    def rotated(self) -> bool:
        """True once a rotation has been accepted."""
        return len(self.periods) > 1

    def key_at(self, seq: int) -> bytes:
        """The key that signed (or must sign) the author's ordinary entry at `seq`."""
        for period in reversed(self.periods):
            if period.from_seq <= seq:
                return period.key
        return self.periods[0].key

    def period_at(self, seq: int) -> KeyPeriod:
        """The key period covering `seq`."""
        for period in reversed(self.periods):
            if period.from_seq <= seq:
                return period
        return self.periods[0]

    def revoked(self, entry: Entry, witnessed: Callable[[Entry], int | None] | None = None) -> bool:
        """True when the party disowned `entry`: its key was declared compromised before its ts
        — or before its witnessed time (`witnessed(entry)`, docs/witnesses.md), where it has
        one: a thief who dates a statement before the theft cannot date its witnesses."""
        if entry.kind == ROTATION_KIND and self.rotation_at(entry.seq):
            return False
        period = self.period_at(entry.seq)
        if period.compromised_since is None:
            return False
        seen = None if witnessed is None else witnessed(entry)
        return max(entry.ts, seen or 0) > period.compromised_since

    def rotation_at(self, seq: int) -> bool:
        """True when the accepted chain rotated at `seq`."""
        return any(p.from_seq == seq for p in self.periods[1:])

    def disowns(self, proof: ForkProof,
                witnessed: Callable[[Entry], int | None] | None = None) -> bool:
        """True when a fork proof has a revoked entry on either side: it no longer counts."""
        return self.revoked(proof.a, witnessed) or self.revoked(proof.b, witnessed)

    def to_json(self) -> list[dict[str, object]]:
        """The periods as JSON."""
        return [p.to_json() for p in self.periods]


def _revealed(entry: Entry) -> bytes | None:
    key = entry.body.get("key")
    if isinstance(key, str) and len(key) == 64:
        try:
            return bytes.fromhex(key)
        except ValueError:
            return None
    return None


def signer(state: KeyState | None, entry: Entry) -> bytes:
    """The key whose signature a new entry at the head of its chain must carry.

    A rotation is signed by the key it reveals; every other entry by the key in
    force. Whether a rotation's key was the committed one is `apply`'s business
    (bad_rotation), after the signature.
    """
    if entry.kind == ROTATION_KIND:
        return _revealed(entry) or entry.author
    return entry.author if state is None else state.current


def signature_error(entry: Entry) -> EntryError:
    """The error of an entry whose signature fails under `signer`: a rotation not signed by
    the key it reveals is a bad rotation (e.g. signed by the current key); else bad_signature."""
    if entry.kind == ROTATION_KIND:
        return EntryError(f"seq {entry.seq}: a rotation must be signed by the committed next key "
                          "it reveals", code="bad_rotation")
    return EntryError("signature does not verify", code="bad_signature")


def evidence_signer(state: KeyState | None, entry: Entry) -> bytes:
    """The key an entry at any place of the chain held must carry to count as the party's
    (fork proofs). A rotation counts only when it reveals the key committed before its seq,
    so nobody can frame a party with a "rotation" to a key of their own."""
    if state is None:
        return entry.author
    if entry.kind == ROTATION_KIND:
        key = _revealed(entry)
        before = state.period_at(entry.seq - 1) if entry.seq > 1 else None
        if key is not None and before is not None and before.next == key_digest(key):
            return key
        if key is not None and state.rotation_at(entry.seq) and state.key_at(entry.seq) == key:
            return key
    return state.key_at(entry.seq)


def apply(state: KeyState | None, entry: Entry) -> KeyState | None:
    """The author's key state after `entry` joins its chain (raises bad_rotation).

    `entry`'s signature was checked under `signer(state, entry)`; its body passed
    its kind's schema. Returns `state` unchanged for ordinary entries.
    """
    if entry.kind == KEYS_KIND:
        current = state or KeyState.inception(entry.author)
        if current.next is not None or current.rotated:
            raise EntryError(
                f"seq {entry.seq}: the next key is committed already; only a rotation commits a new one",
                code="bad_rotation",
            )
        last = replace(current.periods[-1], next=bytes.fromhex(str(entry.body["next"])))
        return KeyState(current.author, (*current.periods[:-1], last))
    if entry.kind != ROTATION_KIND:
        return state
    current = state or KeyState.inception(entry.author)
    if current.next is None:
        raise EntryError(
            f"seq {entry.seq}: a rotation needs a committed next key, and this party committed none",
            code="bad_rotation",
        )
    new_key = bytes.fromhex(str(entry.body["key"]))
    if key_digest(new_key) != current.next:
        raise EntryError(
            f"seq {entry.seq}: the rotation reveals a key that is not the committed next key",
            code="bad_rotation",
        )
    nxt = entry.body.get("next")
    if nxt is None:
        raise EntryError(f"seq {entry.seq}: the rotation commits to no next key", code="bad_rotation")
    next_digest = bytes.fromhex(str(nxt))
    if next_digest == current.next:
        raise EntryError(f"seq {entry.seq}: the rotation commits to the key it reveals",
                         code="bad_rotation")
    since = entry.body.get("compromised_since")
    if since is not None and since > entry.ts:
        raise EntryError(
            f"seq {entry.seq}: compromised_since {since} is after the rotation's own ts {entry.ts}",
            code="bad_rotation",
        )
    last = current.periods[-1]
    closed = replace(last, until_seq=entry.seq, until_ts=entry.ts,
                     compromised_since=since if isinstance(since, int) else None)
    fresh = KeyPeriod(new_key, entry.seq, entry.ts, next=next_digest)
    return KeyState(entry.author, (*current.periods[:-1], closed, fresh))


def rotation_body(revealed: Identity, next_digest: bytes, compromised_since: int | None,
                  now_ms: int) -> dict[str, Any]:
    """The body of a rotation to `revealed`; `compromised_since` may not lie in the future."""
    if compromised_since is not None and compromised_since > now_ms:
        raise EntryError(
            f"compromised_since {compromised_since} is in the future (now {now_ms}); a key "
            "can only be declared compromised since a past time", code="bad_rotation")
    if len(next_digest) != 32 or next_digest == key_digest(revealed.public_key):
        raise EntryError("a rotation commits to a fresh next key (a sha256 digest)",
                         code="bad_rotation")
    body: dict[str, Any] = {"key": revealed.public_key.hex(), "next": next_digest.hex()}
    if compromised_since is not None:
        body["compromised_since"] = compromised_since
    return body
