"""The fork proofs the gossip protocol counts, and what they take out of the fingerprints.

Anti-entropy leaves forked authors out of the heads it compares (two honest nodes may hold
different branches of an equivocator forever; the fork keys (author, seq) stand for them).
Range reconciliation therefore needs the fingerprint of a prefix *without* the forked
authors under it. Subtracting them one by one made every fingerprint cost O(forked authors
under the prefix): with 10,000 fork proofs (keys are free, so are proofs about them) one
reconcile request cost ~50-260 ms. `ForkBook` keeps the forked authors' own contributions
in a second `HeadIndex`, updated as their heads move, so the fingerprint of the unforked
heads is one subtraction: the replica's sum less this index's, O(1) for a short prefix.

It also keeps, in O(1) per change: the forked authors (a fork key count each), the fork
keys sorted (for listings, made again only after a change), how many forked authors this
node holds no entry of (`unheld`: the fork-proof gate of `protocol.push` caps them), and a
fingerprint of the fork keys themselves (`keys_fp`, `fork_key_hash`): two nodes compare
their fork keys in 20 bytes before listing them (docs/protocol.md "Reconciliation").

Pure code: no I/O, no time, no randomness (the replica is read for heads only).
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Iterable, Iterator, KeysView, MutableMapping

from trustnet.log.entry import ForkProof
from trustnet.protocol.recon_index import FP_BYTES, MOD, HeadIndex, bounds, item_hash
from trustnet.protocol.replica import Replica

ForkKey = tuple[bytes, int]
_Q = struct.Struct(">Q").pack
_KEY_TAG = b"trustnet/v1/fork-key"


def fork_key_hash(author: bytes, seq: int) -> int:
    """The 128-bit hash of one fork key: sha256(tag | author | seq (8 bytes, big-endian)),
    its first 16 bytes read big-endian (summed mod 2**128 into `ForkBook.keys_fp`)."""
    digest = hashlib.sha256(_KEY_TAG + author + _Q(seq)).digest()
    return int.from_bytes(digest[:FP_BYTES], "big")


class ForkBook(MutableMapping[ForkKey, ForkProof]):
    """Fork proofs by key (author, seq), with the forked authors' head contributions indexed.

    A mapping, as the plain dict it replaces: every change goes through `__setitem__` and
    `__delitem__`, which keep the indexes. Heads of forked authors move when entries of
    theirs arrive: the protocol calls `moved` with the authors of what it took in.
    """

    def __init__(self, replica: Replica, proofs: Iterable[ForkProof] = ()) -> None:
        self._replica = replica
        self._proofs: dict[ForkKey, ForkProof] = {}
        self._authors: dict[bytes, int] = {}  # forked author -> its fork keys here
        self._heads = HeadIndex()  # forked authors held here -> item_hash of their head
        self._held: dict[bytes, tuple[int, bytes]] = {}  # the heads indexed, to tell moves
        self._sorted: list[ForkKey] | None = None
        self._keys_sum = 0
        self._unheld = 0  # fork keys of authors with no head here
        self._first: dict[bytes, int] = {}  # forked author -> its lowest forked seq here
        lowest: dict[bytes, ForkProof] = {}
        for proof in proofs:  # one proof per author: its lowest seq (see `first_seq`)
            if proof.author not in lowest or proof.seq < lowest[proof.author].seq:
                lowest[proof.author] = proof
        for proof in lowest.values():
            self[(proof.author, proof.seq)] = proof

    # -- the mapping ---------------------------------------------------------------------

    def __getitem__(self, key: ForkKey) -> ForkProof:
        return self._proofs[key]

    def __setitem__(self, key: ForkKey, proof: ForkProof) -> None:
        if key not in self._proofs:
            author = key[0]
            self._sorted = None
            self._keys_sum = (self._keys_sum + fork_key_hash(*key)) % MOD
            self._authors[author] = self._authors.get(author, 0) + 1
            self._first[author] = min(self._first.get(author, key[1]), key[1])
            if author not in self._held:
                self._unheld += 1
            if self._authors[author] == 1:
                self._index(author)
        self._proofs[key] = proof

    def __delitem__(self, key: ForkKey) -> None:
        del self._proofs[key]
        author = key[0]
        self._sorted = None
        self._keys_sum = (self._keys_sum - fork_key_hash(*key)) % MOD
        self._authors[author] -= 1
        if author not in self._held:
            self._unheld -= 1
        if not self._authors[author]:
            del self._authors[author]
            del self._first[author]
            self._heads.remove(author)
            self._held.pop(author, None)
        elif self._first[author] == key[1]:
            self._first[author] = min(s for a, s in self._proofs if a == author)

    def __iter__(self) -> Iterator[ForkKey]:
        return iter(self._proofs)

    def __len__(self) -> int:
        return len(self._proofs)

    def __contains__(self, key: object) -> bool:
        return key in self._proofs

    # -- what the protocol reads -----------------------------------------------------------

    @property
    def authors(self) -> KeysView[bytes]:
        """The forked authors (a live, set-like view)."""
        return self._authors.keys()

    def first_seq(self, author: bytes) -> int | None:
        """The lowest seq of a fork key of `author` here (None: not forked here). The
        protocol keeps one proof per author, this one: a forked author is left out of the
        heads already, a second proof adds nothing, and the lowest seq is the same choice
        on every node (two nodes holding different proofs of one author converge)."""
        return self._first.get(author)

    def sorted_keys(self) -> list[ForkKey]:
        """Every fork key, ascending (kept until the next change: do not modify)."""
        if self._sorted is None:
            self._sorted = sorted(self._proofs)
        return self._sorted

    def keys_fp(self) -> tuple[int, int]:
        """(sum mod 2**128 of `fork_key_hash` of every key, count)."""
        return self._keys_sum, len(self._proofs)

    def keys_under(self, prefix: str) -> list[ForkKey]:
        """The fork keys whose author's hex id starts with `prefix`, ascending."""
        keys = self.sorted_keys()
        lo, hi = bounds(prefix)
        i = bisect.bisect_left(keys, (lo, -1))
        j = len(keys) if hi is None else bisect.bisect_left(keys, (hi, -1))
        return keys[i:j]

    @property
    def unheld(self) -> int:
        """Fork keys of authors of whom this node holds no entry."""
        return self._unheld

    def fingerprint(self, prefix: str) -> tuple[int, int]:
        """(sum, count) of the heads of the forked authors under `prefix` held here."""
        return self._heads.fingerprint(prefix)

    def held_under(self, prefix: str) -> list[bytes]:
        """The forked authors under `prefix` with a head here, ascending."""
        return self._heads.authors(prefix)

    def moved(self, authors: Iterable[bytes]) -> None:
        """These authors' heads may have moved (entries taken in, a rotation): index the
        forked ones' heads again (the others cost a set lookup). A head moved unseen by the
        protocol (a quarantined entry of a forked author) is indexed at that author's next
        entry; meanwhile a reconciliation may find nothing where the digests differ, and
        falls back to heads pages (protocol.reconcile)."""
        for author in authors:
            if author in self._authors:
                self._index(author)

    def _index(self, author: bytes) -> None:
        head = self._replica.head(author)
        if head is None:
            if self._held.pop(author, None) is not None:
                self._heads.remove(author)
                self._unheld += self._authors[author]
            return
        if self._held.get(author) != (head.seq, head.id):
            if author not in self._held:
                self._unheld -= self._authors[author]
            self._held[author] = (head.seq, head.id)
            self._heads.put(author, item_hash(author, head.seq, head.id), 1)
