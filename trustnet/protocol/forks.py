"""The fork proofs the gossip protocol counts, and what they take out of the fingerprints.

Anti-entropy leaves forked authors out of the heads it compares (two honest nodes may hold
different branches of an equivocator forever; the fork keys (author, seq) stand for them).
Range reconciliation therefore needs the fingerprint of a prefix *without* the forked
authors under it. Subtracting them one by one made every fingerprint cost O(forked authors
under the prefix): with 10,000 fork proofs (keys are free, so are proofs about them) one
reconcile request cost ~50-260 ms. `ForkBook` keeps the forked authors' own contributions
in a second `HeadIndex`, updated as their heads move, so the fingerprint of the unforked
heads is one subtraction: the replica's sum less this index's, O(1) for a short prefix.
A head may move by routes the protocol never sees (an import, a local append, a rotation,
quarantine, another writer of the same store): a read first asks the replica which heads
moved since its last look (`Replica.head_moves`: the replica's own index logs every route)
and looks up again the forked ones among them: O(what moved), not O(forked authors) — keys
are free, so forked authors may be many. A forked author the replica no longer counts as
forked (a recovery rotation disowned the fork, by whichever route it came) leaves the book
there. Only when more heads moved than the log keeps
(`recon_index.MOVES_KEPT`) are all forked authors looked up, once per such burst.

A fork proof, too, may reach the replica by routes the protocol never sees (a bundle
import, a witness answering with a fork, another writer of the store) or change standing
there (a witnessed time: docs/witnesses.md): a read also asks the replica which proofs
changed since its last look (`Replica.fork_changes`) and adopts them by the protocol's
rules (one per author, the lowest seq; a disowned one leaves; `max_unheld_forks` for
authors not held), so a fork the node learned by import is in its digest, `forks_fp` and
listings at once, and spreads. The protocol's own ingest is the exception
(`own_ingest`): what it brings, the protocol registers itself, sender's reward and event
included.

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
from contextlib import contextmanager

from trustnet.log.entry import ForkProof
from trustnet.protocol.recon_index import FP_BYTES, MOD, HeadIndex, MoveMark, bounds, item_hash
from trustnet.protocol.replica import ForkMark, Replica

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
    `__delitem__`, which keep the indexes. Heads of forked authors move by many routes (the
    protocol's ingest, imports, local appends, rotations, quarantine, another writer): every
    read that depends on them first follows the replica (`_follow`), so the book is never
    stale whichever route moved a head.
    """

    def __init__(self, replica: Replica, proofs: Iterable[ForkProof] = (), *,
                 max_unheld: int | None = None) -> None:
        """`proofs`: the replica's fork proofs as of now (`Replica.forks()`); what the
        replica adds from here on is adopted as it comes (`_adopt`). `max_unheld`: the
        protocol's `max_unheld_forks`, which adoption keeps too (None: no cap)."""
        self._replica = replica
        self._max_unheld = max_unheld
        self._fork_mark: ForkMark = replica.fork_changes(None)[0]  # starts the replica's log
        self._proofs: dict[ForkKey, ForkProof] = {}
        self._authors: dict[bytes, set[int]] = {}  # forked author -> its forked seqs here
        self._heads = HeadIndex()  # forked authors held here -> item_hash of their head
        self._held: dict[bytes, tuple[int, bytes]] = {}  # the heads indexed, to tell moves
        self._sorted: list[ForkKey] | None = None
        self._shared: list[ForkKey] | None = None
        self._keys_sum = 0
        self._shared_sum = 0  # over the keys of authors held here (`shared_fp`)
        self._shared_count = 0
        self._unheld = 0  # fork keys of authors with no head here
        self._unheld_authors: set[bytes] = set()
        self._mark: MoveMark | None = None  # the replica's head moves at the last `_follow`:
        # the forked authors' heads were indexed as of it
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
            self._sorted = self._shared = None
            h = fork_key_hash(*key)
            self._keys_sum = (self._keys_sum + h) % MOD
            self._proofs[key] = proof
            seqs = self._authors.setdefault(author, set())
            seqs.add(key[1])
            if author in self._held:
                self._shared_sum = (self._shared_sum + h) % MOD
                self._shared_count += 1
            else:
                self._unheld += 1
            if len(seqs) == 1:
                self._unheld_authors.add(author)
                if len(self._authors) == 1:  # the only forked author: indexed as of now
                    self._mark = self._replica.head_moves(None)[0]
                self._index(author)
        self._proofs[key] = proof

    def __delitem__(self, key: ForkKey) -> None:
        del self._proofs[key]
        author = key[0]
        self._sorted = self._shared = None
        h = fork_key_hash(*key)
        self._keys_sum = (self._keys_sum - h) % MOD
        seqs = self._authors[author]
        seqs.discard(key[1])
        if author in self._held:
            self._shared_sum = (self._shared_sum - h) % MOD
            self._shared_count -= 1
        else:
            self._unheld -= 1
        if not seqs:
            del self._authors[author]
            self._unheld_authors.discard(author)
            self._heads.remove(author)
            self._held.pop(author, None)

    # Reads follow the replica first (`_follow`): a fork its party disowned by a route the
    # protocol does not see (a bundle import) is gone from every listing and count.

    def __iter__(self) -> Iterator[ForkKey]:
        self._follow()
        return iter(self._proofs)

    def __len__(self) -> int:
        self._follow()
        return len(self._proofs)

    def __contains__(self, key: object) -> bool:
        self._follow()
        return key in self._proofs

    # -- what the protocol reads -----------------------------------------------------------

    @property
    def authors(self) -> KeysView[bytes]:
        """The forked authors (a live, set-like view), as of the replica now (`_follow`)."""
        self._follow()
        return self._authors.keys()

    def first_seq(self, author: bytes) -> int | None:
        """The lowest seq of a fork key of `author` here (None: not forked here). The
        protocol keeps one proof per author, this one: a forked author is left out of the
        heads already, a second proof adds nothing, and the lowest seq is the same choice
        on every node (two nodes holding different proofs of one author converge)."""
        self._follow()
        seqs = self._authors.get(author)
        return min(seqs) if seqs else None

    def sorted_keys(self) -> list[ForkKey]:
        """Every fork key, ascending (kept until the next change: do not modify)."""
        self._follow()
        if self._sorted is None:
            self._sorted = sorted(self._proofs)
        return self._sorted

    def keys_fp(self) -> tuple[int, int]:
        """(sum mod 2**128 of `fork_key_hash` of every key, count)."""
        self._follow()
        return self._keys_sum, len(self._proofs)

    def shared_keys(self) -> list[ForkKey]:
        """The fork keys of authors held here, ascending: what the digest, `forks_fp` and
        listings carry. A proof about an author of whom this node holds no entry is local
        state (the `max_unheld_forks` gate keeps it): two nodes whose caps filled with
        different such proofs still end in sync (kept until the next change)."""
        self._follow()
        if self._shared is None:
            held = self._held
            self._shared = [k for k in self.sorted_keys() if k[0] in held]
        return self._shared

    def shared_fp(self) -> tuple[int, int]:
        """`keys_fp` over `shared_keys` only."""
        self._follow()
        return self._shared_sum, self._shared_count

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
        self._follow()
        return self._unheld

    def fingerprint(self, prefix: str) -> tuple[int, int]:
        """(sum, count) of the heads of the forked authors under `prefix` held here."""
        self._follow()
        return self._heads.fingerprint(prefix)

    def held_under(self, prefix: str) -> list[bytes]:
        """The forked authors under `prefix` with a head here, ascending."""
        self._follow()
        return self._heads.authors(prefix)

    @contextmanager
    def own_ingest(self) -> Iterator[None]:
        """Around the protocol's own call that may add fork proofs to the replica (`ingest`,
        `add_fork`): what other routes added before is adopted first, and what this call
        adds is passed over by adoption, because the protocol registers it itself
        (`PushGossip._register_fork`: the `forks_learned` count, the `ForkLearned` event,
        the sender's reward). Were it adopted first, the first read in `_register_fork`
        would find the author forked already and skip all three. A proof the protocol
        chooses not to register (its party disowned it; a lower seq is held) adoption would
        refuse as well. Should the call fail, nothing is passed over: what it stored is
        adopted at the next read."""
        self._follow()
        yield
        # What the call added, the protocol registers; a change of standing it brought (a
        # rotation's: which of an author's forks count) is adopted here. A log that cannot
        # say (over FORKS_KEPT changes in one call) is read whole: the book stays right,
        # the call's own proofs then go without reward or event.
        self._adopt(own=True)

    def refresh(self) -> None:
        """Index again the forked authors whose head moved since the last read: their head
        may move by any route (the protocol's ingest, a bundle import, a local append, a key
        rotation or recovery displacing a head, a quarantined entry taking one back, another
        writer of the store). See `_follow`."""
        self._follow()

    def _follow(self) -> None:
        """Bring the forked authors' indexed heads up to the replica's: the forked authors
        among the heads moved since the last look are looked up again (a stranger's burst of
        pushes costs what it moved, not O(forked authors) per read); every forked author
        only when the replica cannot name all that moved (its log overflowed, or this is its
        first look). Without forks, nothing is read. Fork proofs the replica gained or
        whose standing changed since the last look are adopted first (`_adopt`)."""
        self._adopt()
        if not self._authors:
            return
        self._mark, moved = self._replica.head_moves(self._mark)
        forked = self._authors
        replica = self._replica
        for author in (list(forked) if moved is None
                       else [a for a in dict.fromkeys(moved) if a in forked]):
            # Its party may have disowned the fork (a recovery rotation, by whatever route
            # it came; its head moved with it): then it stops counting here as in the store.
            gone = [seq for seq in forked[author] if replica.disowns(self._proofs[(author, seq)])]
            for seq in gone:
                del self[(author, seq)]
            if author in forked:
                self._index(author)

    def _adopt(self, *, own: bool = False) -> None:
        """Take in the fork proofs the replica logged since the last look, by whatever route
        (`Replica.fork_changes`; all of them when its log cannot say), by the rules the
        protocol registers its own by: a disowned proof leaves; one proof per author, the
        lowest seq that counts (`first_seq`; drops go before adds, as a change of standing
        names every proof of its author: the next that counts replaces one disowned); a
        proof of an author with no head here is taken only while fewer than `max_unheld`
        such keys are (the protocol's `fork_limit` gate: such a proof is local state, not
        shared). No reward and no event: no peer brought it. `own`: after the protocol's
        own call (`own_ingest`), whose added proofs it registers itself."""
        mark, changed = self._replica.fork_changes(self._fork_mark)
        if changed is None:
            self._take(None)
        else:
            taken = [p for p, added in changed if not (own and added)]
            if taken:
                self._take(taken)
        self._fork_mark = mark  # after: a failure above leaves the changes to the next read

    def _take(self, changed: list[ForkProof] | None) -> None:
        """`_adopt` of these proofs (None: every proof the replica holds, and ours again)."""
        replica = self._replica
        if changed is None:  # not all known: every proof the replica counts, and ours again
            changed = replica.forks()
            changed += [p for p in self._proofs.values() if replica.disowns(p)]
        lowest: dict[bytes, ForkProof] = {}
        for proof in changed:
            key = (proof.author, proof.seq)
            if replica.disowns(proof):
                if key in self._proofs:
                    del self[key]
            elif proof.author not in lowest or proof.seq < lowest[proof.author].seq:
                lowest[proof.author] = proof
        for author, proof in lowest.items():
            seqs = self._authors.get(author)
            first = min(seqs) if seqs else None
            if first is not None and first <= proof.seq:
                continue
            if first is None and (self._max_unheld is not None
                                  and self._unheld >= self._max_unheld
                                  and replica.head(author) is None):
                continue
            if first is not None:
                del self[(author, first)]
            self[(author, proof.seq)] = proof

    def _index(self, author: bytes) -> None:
        head = self._replica.head(author)
        if head is None:
            if self._held.pop(author, None) is not None:
                self._heads.remove(author)
                self._share(author, -1)
                self._unheld_authors.add(author)
            return
        if self._held.get(author) != (head.seq, head.id):
            if author not in self._held:
                self._share(author, 1)
                self._unheld_authors.discard(author)
            self._held[author] = (head.seq, head.id)
            self._heads.put(author, item_hash(author, head.seq, head.id), 1)

    def _share(self, author: bytes, sign: int) -> None:
        """`author` became held here (1) or no longer is (-1): its keys move between the
        shared ones and the local (unheld) ones."""
        seqs = self._authors[author]
        total = sum(fork_key_hash(author, seq) for seq in seqs)
        self._shared_sum = (self._shared_sum + sign * total) % MOD
        self._shared_count += sign * len(seqs)
        self._unheld -= sign * len(seqs)
        self._shared = None
