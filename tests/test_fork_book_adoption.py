"""The gossip fork book's adoption of fork proofs gained by other routes (review of the fork
log, 2026-12-04): a rotation that disowns an author's lowest fork leaves the next that
counts as the author's proof; a read that fails adopts again at the next; the log pins no
stranger's proofs in memory."""

from __future__ import annotations

import gc
import random
import sqlite3
import tracemalloc
from typing import Any

import pytest

from tests.harness.nodes import MANUAL
from tests.harness.wire import T0, ident
from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.log.keys import key_digest
from trustnet.protocol import messages as m
from trustnet.protocol.forks import ForkBook
from trustnet.protocol.gossip import GossipProtocol
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store

DAY = 86_400_000


def _body(level: int) -> dict[str, Any]:
    return {"subject": "ab" * 32, "level": level}


def _protocol(store: Store | MemoryReplica) -> GossipProtocol:
    return GossipProtocol(ident("me").public_key, store, random.Random(1), MANUAL,
                          own_url="http://me", now_ms=T0, recover_own=False)


def _forked_then_rotating(kind: str) -> tuple[Identity, Store | MemoryReplica, Entry]:
    """An author forked at seq 3 by the thief (after the compromise it later declares) and at
    seq 4 by itself (before): its recovery rotation disowns the first, not the second."""
    owner, nxt, fresh = (Identity.from_seed(bytes([n]) * 32) for n in (61, 62, 63))
    home = Store(None)
    home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    e2 = home.append_own(owner, "trust", _body(1), T0 + DAY)
    e3 = home.append_own(owner, "trust", _body(2), T0 + DAY + 1)
    home.append_own(owner, "trust", _body(3), T0 + DAY + 2)
    since = T0 + 2 * DAY
    alt3 = sign_entry(owner, seq=3, prev=e2.id, ts=T0 + 3 * DAY, kind="trust", body=_body(-1))
    alt4 = sign_entry(owner, seq=4, prev=e3.id, ts=T0 + DAY + 3, kind="trust", body=_body(-2))
    store: Store | MemoryReplica = Store(None) if kind == "sqlite" else MemoryReplica()
    store.ingest(list(home.export_raw()), T0 + 4 * DAY)
    assert store.ingest([alt3.raw, alt4.raw], T0 + 4 * DAY).forks
    rotation = home.append_own(nxt.for_party(owner.author), "rotation", {
        "key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
        "compromised_since": since}, T0 + 4 * DAY)
    return owner, store, rotation


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_a_rotation_disowning_the_lowest_fork_leaves_the_next_that_counts(kind: str) -> None:
    owner, store, rotation = _forked_then_rotating(kind)
    live = _protocol(store)
    assert live._forks.first_seq(owner.author) == 3
    assert store.ingest([rotation.raw], T0 + 4 * DAY).accepted  # by a route gossip not sees
    assert [(f.author, f.seq) for f in store.forks()] == [(owner.author, 4)]
    fresh = _protocol(store)
    assert fresh._forks.first_seq(owner.author) == live._forks.first_seq(owner.author) == 4
    assert live.digest() == fresh.digest()


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_a_peer_is_not_rewarded_for_a_fork_the_store_held(kind: str) -> None:
    _, store, rotation = _forked_then_rotating(kind)
    live = _protocol(store)
    assert store.ingest([rotation.raw], T0 + 4 * DAY).accepted
    (x4,) = store.forks()
    live.take_events()
    live._fork_in(x4.encode(), "bb" * 32, "node", T0 + 4 * DAY, exclude=())
    assert live.stats["forks_learned"] == 0
    assert live.peers.score("bb" * 32, T0 + 4 * DAY) <= 0


def test_a_read_that_fails_leaves_the_changes_to_the_next() -> None:
    store = Store(None)
    x = ident("x")

    def signed(level: int) -> Entry:
        return sign_entry(x, seq=1, prev=None, ts=T0, kind="trust", body=_body(level))

    first = signed(1)
    store.ingest([first.raw], T0)
    book = ForkBook(store, store.forks(), max_unheld=16)
    assert store.add_fork(ForkProof.of(first, signed(2)))  # by another route
    real, calls = store.disowns, [0]

    def flaky(proof: ForkProof) -> bool:
        calls[0] += 1
        if calls[0] == 1:
            raise sqlite3.OperationalError("transient")
        return real(proof)

    store.disowns = flaky  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        book.keys_fp()
    store.disowns = real  # type: ignore[method-assign]
    assert book.first_seq(x.author) == ForkBook(store, store.forks()).first_seq(x.author) == 1


def test_the_fork_log_pins_no_strangers_proofs() -> None:
    # A fresh key's chain of large entries, then a large alternative at each seq, pushed as
    # ordinary gossip: the store keeps the proofs on disk, the log only their keys.
    store = Store(None)
    live = _protocol(store)
    x = ident("a stranger's fresh key")
    n, pad = 128, 30_000

    def big(level: int) -> dict[str, Any]:
        return {**_body(level), "ext": {"pad": "ab"[level % 2] * pad}}

    chain: list[Entry] = []
    for s in range(1, n + 1):
        chain.append(sign_entry(x, seq=s, prev=chain[-1].id if chain else None, ts=T0,
                                kind="trust", body=big(1)))
    alts = [sign_entry(x, seq=s, prev=None if s == 1 else chain[s - 2].id, ts=T0,
                       kind="trust", body=big(2)).raw for s in range(1, n + 1)]
    for i in range(0, n, 16):
        live.on_request("aa" * 32, m.PUSH, m.Push(tuple(e.raw for e in chain[i:i + 16])), T0)
    del chain
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(0, n, 16):
            live.on_request("aa" * 32, m.PUSH, m.Push(tuple(alts[i:i + 16])), T0)
        del alts
        live.take_events()
        live._seen.clear()
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
        store._fork_log._kept = None  # what the log alone held
        gc.collect()
        without, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store.all_forks()) == n
    assert held - without < 100_000  # keys: ~150 B each; proofs were 2 x 30 KB each
