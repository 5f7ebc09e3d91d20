"""`MemoryReplica`: the gossip protocol's replica interface in plain dicts (issue 13).

The simulator runs thousands of protocols in one process; a SQLite database each cost
about 200 KiB (2.1 GB at N = 10,000). This replica holds the same things in memory —
chains, heads, fork proofs, key states — and applies the same rules as
`Store.ingest`: signatures (under the key in force, `keys.signer`), bodies, chain links,
timestamps, gaps reported, conflicting entries turned into fork proofs, key commitments
and rotations, and a recovery rotation taking a stolen key's suffix off a chain. What it
leaves out is what only a disk needs: durability, the one-writer lock, quarantine of
corrupted rows (nothing here is read back from a file), and the analysis' reads
(`page`, `profiles`, `received`...). Tests hold it to `Store` on the same batches.

`MemoryReplica(base=...)` starts from another replica's entries without copying them:
the simulator seeds the authors every node already holds once, in one base, and each
node keeps only what differs from it (a chain it extends is copied on its first write;
the base's fingerprint index is shared and the node's own holds the difference). A
replica used as a base is frozen: it refuses writes.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from typing import Any

from trustnet.errors import EntryError, StoreError
from trustnet.identity import Identity
from trustnet.log.entry import (
    ChainHead,
    Entry,
    ForkProof,
    check_chain,
    check_timestamp,
    decode_entry,
    sign_entry,
    verify_signature,
)
from trustnet.log.keys import (
    KEY_KINDS,
    ROTATION_KIND,
    KeyState,
    apply as apply_keys,
    evidence_signer,
    key_digest,
    signature_error,
    signer,
)
from trustnet.protocol.recon_index import MOD, HeadIndex, MoveMark, item_hash
from trustnet.protocol.replica import ForkLog, ForkMark, IngestResult, Rejected
from trustnet.statements import validate_body

_Q = struct.Struct(">Q").pack


def _signed_by(entry: Entry, key: bytes) -> bool:
    try:
        verify_signature(key, entry.payload, entry.sig)
    except EntryError:
        return False
    return True


def _recoveries(state: KeyState) -> int:
    return sum(p.compromised_since is not None for p in state.periods)


class MemoryReplica:
    """Entries, heads, forks and key states of one simulated or test node, in memory."""

    def __init__(self, base: MemoryReplica | None = None) -> None:
        # This node's own author (as `Store.own_author`): kept for symmetry with the store.
        self.own_author: bytes | None = None
        self._base = base  # entries held without a copy (frozen); ours are what differs
        self._shared = False  # a base of other replicas: frozen
        self._chains: dict[bytes, list[Entry]] = {}  # author -> its entries, seq 1 first
        self._by_id: dict[bytes, Entry] = {}
        self._gone: frozenset[bytes] = frozenset()  # ids of the base's taken off a chain here
        self._arrival: list[Entry] = []  # every entry held, in the order it came
        self._forks: dict[tuple[bytes, int], ForkProof] = {}  # in the order found
        self._forked: set[bytes] = set()
        self._keys: dict[bytes, KeyState] = {}
        self._digest: bytes | None = None
        self._index: HeadIndex | None = None  # built at the first fingerprint asked
        self._fork_log = ForkLog()  # this replica's own, not the base's (`fork_changes`)
        self._heads_frozen: dict[bytes, tuple[int, bytes]] | None = None  # a base's heads
        self.keys_epoch = 0
        if base is not None:
            base._shared = True
            self._forks = dict(base._forks)
            self._forked = set(base._forked)
            self.keys_epoch = base.keys_epoch

    # -- writes --------------------------------------------------------------------------

    def append_own(self, identity: Identity, kind: str, body: Mapping[str, Any], ts: int,
                   received: int | None = None) -> Entry:
        """Sign the next entry of `identity`'s chain and keep it (as `Store.append_own`)."""
        author = identity.author
        recovery = kind == ROTATION_KIND and body.get("compromised_since") is not None
        if author in self._forked and not recovery:
            raise StoreError("this identity has equivocated; refusing to sign more", code="forked")
        head = self.head(author)
        seq, prev, ts = (1, None, ts) if head is None else (head.seq + 1, head.id, max(ts, head.ts))
        entry = sign_entry(identity, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
        state = self._key(author)
        if signer(state, entry) != identity.public_key:
            raise StoreError(f"{identity.key_id[:16]}… is not this party's signing key at seq "
                             f"{seq}", code="wrong_key")
        self._append(entry)
        if kind in KEY_KINDS:
            new_state = apply_keys(state, entry)
            if new_state is not None and new_state is not state:
                self._set_keys(new_state)
        return entry

    def ingest(self, items: Iterable[bytes | Entry], now_ms: int) -> IngestResult:
        """Verify and keep a batch of foreign entries, by the rules of `Store.ingest`.

        `bytes` items are fully verified; `Entry` items come from `decode_entry` (verified)
        or `sign_entry` and are not verified again."""
        rejected: list[Rejected] = []
        fresh: list[tuple[int, Entry, bool]] = []  # (index, entry, signature checked)
        duplicates = 0
        for index, item in enumerate(items):
            if isinstance(item, Entry):
                entry, checked = item, True
            else:
                try:
                    entry, checked = decode_entry(item, verify=False), False
                except EntryError as exc:
                    rejected.append(Rejected(index, None, exc.code, exc.message))
                    continue
            if self.get(entry.id) is not None:
                duplicates += 1
                continue
            fresh.append((index, entry, checked))
        fresh.sort(key=lambda c: (c[1].author, c[1].seq))
        accepted: list[Entry] = []
        forks: list[ForkProof] = []
        gaps: dict[bytes, int] = {}
        for index, entry, checked in fresh:
            head = self.head(entry.author)
            if (entry.kind == ROTATION_KIND and head is not None
                    and entry.body.get("compromised_since") is not None
                    and not any(e.author == entry.author for e in accepted)
                    and not (entry.seq == head.seq + 1 and entry.prev == head.id)
                    and self._id_at(entry.author, entry.seq) != entry.id):
                back = self._displace_for(entry)
                if back is not None:
                    head = back
                    if entry.seq > back.seq + 1 or entry.prev != back.id:
                        gaps[entry.author] = back.seq
                        continue
            try:
                if head is not None and entry.seq <= head.seq:
                    if self._id_at(entry.author, entry.seq) == entry.id:
                        duplicates += 1
                        continue
                    key = evidence_signer(self._key(entry.author), entry)
                    if not checked:
                        verify_signature(key, entry.payload, entry.sig)
                    other = self._at(entry.author, entry.seq)
                    proof = None if other is None else ForkProof.of(other, entry)
                    if proof is not None and self.add_fork(proof):
                        forks.append(proof)
                    if proof is not None and proof.a.kind == proof.b.kind == ROTATION_KIND:
                        raise EntryError(f"seq {entry.seq}: two rotations at one place (the "
                                         "next key's holder equivocated)", code="bad_rotation")
                    continue
                if entry.seq > (head.seq if head else 0) + 1:
                    gaps[entry.author] = head.seq if head else 0
                    continue
                check_chain(entry, head)
                check_timestamp(entry, now_ms)
                state = self._key(entry.author)
                if not checked:
                    if not _signed_by(entry, signer(state, entry)):
                        raise signature_error(entry)
                    validate_body(entry.kind, entry.body)
                if entry.kind in KEY_KINDS:
                    new_state = apply_keys(state, entry)
                    if new_state is not None:
                        self._append(entry)
                        self._set_keys(new_state)
                        accepted.append(entry)
                        continue
            except EntryError as exc:
                rejected.append(Rejected(index, entry.id_hex, exc.code, exc.message))
                continue
            self._append(entry)
            accepted.append(entry)
        rejected.sort(key=lambda r: r.index)
        return IngestResult(tuple(accepted), duplicates, tuple(rejected), tuple(forks), gaps)

    def add_fork(self, proof: ForkProof) -> bool:
        """Keep a fork proof learned from elsewhere; True when it was new."""
        key = (proof.author, proof.seq)
        if key in self._forks:
            return False
        self._forks[key] = proof
        if not self._disowned(proof):
            self._forked.add(proof.author)
        self._fork_log.note(proof.author, proof.seq, added=True)
        return True

    def _own_chain(self, author: bytes) -> list[Entry]:
        """`author`'s chain for writing: copied from the base at the first write."""
        if self._shared:
            raise StoreError("this replica is the base of others: it is frozen", code="frozen")
        chain = self._chains.get(author)
        if chain is None:
            inherited = None if self._base is None else self._base._chain(author)
            chain = self._chains[author] = list(inherited or ())
        return chain

    def _append(self, entry: Entry) -> None:
        self._own_chain(entry.author).append(entry)
        self._by_id[entry.id] = entry
        self._arrival.append(entry)
        self._digest = None
        self._indexed(entry.author)

    def _indexed(self, author: bytes) -> None:
        """Keep the fingerprint index (when built) in step with `author`'s head."""
        if self._index is None:
            return
        self._index.put(*self._contribution(author, self._chains[author][-1]))

    def _head_index(self) -> HeadIndex:
        if self._index is None:
            self._index = HeadIndex.of(self._contribution(a, c[-1])
                                       for a, c in self._chains.items() if c)
        return self._index

    def _contribution(self, author: bytes, head: Entry) -> tuple[bytes, int, int]:
        """What `author`'s head adds to our index: itself, or its difference from the base's."""
        value = item_hash(author, head.seq, head.id)
        inherited = None if self._base is None else self._base._head_index().contribution(author)
        return (author, value, 1) if inherited is None else (author, value - inherited[0], 0)

    def _displace_for(self, rotation: Entry) -> ChainHead | None:
        """As `Store._displace_for`: take the suffix a stolen key signed after the rotation's
        `compromised_since` off the chain; the new head, or None."""
        state = self._key(rotation.author)
        since = rotation.body.get("compromised_since")
        key = signer(state, rotation)
        if (state is None or state.next is None or not isinstance(since, int)
                or key_digest(key) != state.next or not _signed_by(rotation, key)):
            return None
        chain = self._own_chain(rotation.author)
        start = state.periods[-1].from_seq
        run: list[Entry] = []
        for e in reversed(chain):
            if e.seq < start or e.ts <= since or e.kind in KEY_KINDS:
                break
            run.append(e)
        if not run or run[-1].seq > rotation.seq:
            return None
        low = run[-1].seq
        del chain[low - 1:]
        gone = {e.id for e in run}
        for ident in gone:
            if self._by_id.pop(ident, None) is None:
                self._gone = self._gone | {ident}  # the base's: hidden here
        self._arrival = [e for e in self._arrival if e.id not in gone]
        self._digest = None
        self._indexed(rotation.author)
        return ChainHead.of(chain[-1])

    def _key(self, author: bytes) -> KeyState | None:
        state = self._keys.get(author)
        if state is None and self._base is not None:
            return self._base._key(author)
        return state

    def _set_keys(self, state: KeyState) -> None:
        old = self._key(state.author)
        self._keys[state.author] = state
        if _recoveries(state) != (0 if old is None else _recoveries(old)):
            self.keys_epoch += 1  # what is revoked changed
        if state.author in self._forked and all(
            self._disowned(p) for (a, _), p in self._forks.items() if a == state.author
        ):
            self._forked.discard(state.author)
        for author, seq in self._forks:  # which count may have changed: as Store._set_keys
            if author == state.author:
                self._fork_log.note(author, seq, added=False)

    def _disowned(self, proof: ForkProof) -> bool:
        state = self._key(proof.author)
        return state is not None and state.disowns(proof)

    # -- reads ---------------------------------------------------------------------------

    def _chain(self, author: bytes) -> list[Entry] | None:
        chain = self._chains.get(author)
        if chain is None and self._base is not None:
            return self._base._chain(author)
        return chain

    def _at(self, author: bytes, seq: int) -> Entry | None:
        chain = self._chain(author)
        if chain is None or not 1 <= seq <= len(chain):
            return None
        return chain[seq - 1]

    def _id_at(self, author: bytes, seq: int) -> bytes | None:
        entry = self._at(author, seq)
        return None if entry is None else entry.id

    def head(self, author: bytes) -> ChainHead | None:
        """The latest entry of `author` held here."""
        chain = self._chain(author)
        return ChainHead.of(chain[-1]) if chain else None

    def heads(self) -> dict[bytes, tuple[int, bytes]]:
        """Every author's latest (seq, id): a copy."""
        if self._shared:  # frozen: computed once for every replica built on it
            if self._heads_frozen is None:
                self._heads_frozen = self._own_heads()
            return dict(self._heads_frozen)
        out = {} if self._base is None else self._base.heads()
        out.update(self._own_heads())
        return out

    def _own_heads(self) -> dict[bytes, tuple[int, bytes]]:
        return {a: (c[-1].seq, c[-1].id) for a, c in self._chains.items() if c}

    def heads_digest(self) -> bytes:
        """sha256 over the sorted heads, as `Store.heads_digest`."""
        if self._digest is None:
            h = hashlib.sha256(b"trustnet/v1/heads")
            for author, (seq, ident) in sorted(self.heads().items()):
                h.update(author + _Q(seq) + ident)
            self._digest = h.digest()
        return self._digest

    def prefix_fingerprint(self, prefix: str) -> tuple[int, int]:
        """(sum mod 2**128 of `item_hash` of the heads, count) of the authors under `prefix`."""
        value, count = self._head_index().fingerprint(prefix)
        if self._base is not None:
            bv, bc = self._base.prefix_fingerprint(prefix)
            value, count = (value + bv) % MOD, count + bc
        return value, count

    def head_moves(self, mark: MoveMark | None) -> tuple[MoveMark, list[bytes] | None]:
        """The authors whose head changed since `mark` (protocol.recon_index: the index logs
        every route that moves a head once asked), None when not all are known."""
        return self._head_index().moves_since(mark)

    def prefix_authors(self, prefix: str) -> list[bytes]:
        """The authors held under `prefix`, ascending."""
        own = self._head_index().authors(prefix)
        if self._base is None:
            return own
        return sorted(set(self._base.prefix_authors(prefix)).union(own))

    def get(self, entry_id: bytes) -> Entry | None:
        """The entry with this id, if held."""
        entry = self._by_id.get(entry_id)
        if entry is None and self._base is not None and entry_id not in self._gone:
            return self._base.get(entry_id)
        return entry

    def range(self, author: bytes, after_seq: int, limit: int, *, verify: bool = False
              ) -> list[Entry]:
        """Up to `limit` entries of `author` with seq > after_seq, ascending (`verify` has
        nothing to check again: nothing here was read back from a disk)."""
        chain = self._chain(author) or []
        return chain[max(after_seq, 0): max(after_seq, 0) + max(limit, 0)]

    def query(self, *, author: bytes | None = None, kind: str | None = None,
              after: int = 0, limit: int = 100) -> list[Entry]:
        """Entries by author (after: a seq) or in arrival order (after: a position), by kind."""
        if author is not None:
            pool = (self._chain(author) or [])[max(after, 0):]
        elif self._base is None:
            pool = self._arrival[max(after, 0):]
        else:
            held = [e for e in self._base._arrival if e.id not in self._gone] + self._arrival
            pool = held[max(after, 0):]
        out = [e for e in pool if kind is None or e.kind == kind]
        return out[:limit]

    def forks(self) -> list[ForkProof]:
        """Every fork proof that counts against its author (not disowned by a recovery)."""
        return [p for p in self._forks.values() if not self._disowned(p)]

    def fork_changes(self, mark: ForkMark | None
                     ) -> tuple[ForkMark, list[tuple[ForkProof, bool]] | None]:
        """The fork proofs added since `mark` (True) or whose standing a key event may have
        changed (False), oldest first; None when not all are known (as
        `Store.fork_changes`; no witnessed times here)."""
        now, changes = self._fork_log.since(mark)
        if not changes:
            return now, None if changes is None else []
        forks = self._forks
        return now, [(forks[(a, seq)], added) for a, seq, added in changes if (a, seq) in forks]

    def forked_authors(self) -> set[bytes]:
        """Authors proven to have equivocated (forks they disowned do not count)."""
        return set(self._forked)

    def disowns(self, proof: ForkProof) -> bool:
        """Whether the proof's author disowned it (a recovery rotation revoked one of its two
        entries): it no longer counts, whoever holds it."""
        return self._disowned(proof)

    def evidence_key(self, entry: Entry) -> bytes:
        """The key `entry` must be signed by to count as its author's (fork proofs)."""
        return evidence_signer(self._key(entry.author), entry)

    def key_state(self, author: bytes) -> KeyState | None:
        """The author's key state, when it committed to a next key or rotated."""
        return self._key(author)

    def count(self) -> int:
        """How many entries are held."""
        inherited = 0 if self._base is None else self._base.count() - len(self._gone)
        return len(self._by_id) + inherited

    def author_count(self) -> int:
        """How many authors have entries here."""
        if self._base is None:
            return sum(1 for c in self._chains.values() if c)
        return self._base.author_count() + sum(
            1 for a, c in self._chains.items() if c and self._base._chain(a) is None)
