"""The fork book follows a forked author's head whichever route moves it (issue 15 item 5,
review): not only the protocol's own ingest, which tells the book, but a bundle import,
another writer of the store, a quarantined entry taking the head back and the node's own
append. Two real daemons in one process hold the same unforked heads; one of them has the
forked author's head moved by each route; their fingerprints of the unforked heads still
agree (and match the sum made from scratch), and a reconciliation between them converges
without falling back to heads pages."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.harness.nodes import MANUAL, init_node
from tests.harness.wait import wait_until
from tests.harness.wire import T0, ident
from trustnet.identity import Identity
from trustnet.log.bundle import import_bundle, write_bundle
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.log.keys import key_digest
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.events import ForkLearned
from trustnet.protocol.forks import ForkBook, fork_key_hash
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.recon_index import MOD, item_hash
from trustnet.protocol.replica import FORKS_KEPT, Replica
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store

DAY = 86_400_000
ROUTES = ("import", "other_writer", "quarantine", "own_append")


def signed(who: Identity, seq: int, prev: Entry | None, level: int, ts: int = T0) -> Entry:
    return sign_entry(who, seq=seq, prev=prev.id if prev else None, ts=ts, kind="trust",
                      body={"subject": "ab" * 32, "level": level})


def scratch(p: GossipProtocol, prefix: str) -> tuple[int, int]:
    """The fingerprint of the unforked heads under `prefix`, summed one by one."""
    forked = {a for a, _ in p.fork_keys()}
    under = [(a, s, i) for a, (s, i) in p.replica.heads().items()
             if a.hex().startswith(prefix) and a not in forked]
    return sum(item_hash(*h) for h in under) % MOD, len(under)


@pytest.mark.parametrize("route", ROUTES)
async def test_fingerprints_agree_and_a_session_converges_whatever_moved_the_forked_head(
        tmp_path: Path, route: str) -> None:
    a = Daemon(init_node(tmp_path, "a"), gossip=MANUAL)
    b = Daemon(init_node(tmp_path, "b"), gossip=MANUAL)
    # The forked author: a's own party for the local append, else a stranger.
    x = a.identity if route == "own_append" else ident("forked")
    people = [ident(f"w{i}") for i in range(24)]
    firsts = [signed(w, 1, None, 1) for w in people]
    x1, x1b = signed(x, 1, None, 1), signed(x, 1, None, 2)  # x signed two entries at seq 1
    x2 = signed(x, 2, x1, 3, T0 + 1)
    proof = ForkProof.of(x1, x1b)
    ahead = signed(people[5], 2, firsts[5], 9)  # b holds one entry a lacks
    for d in (a, b):
        d.store.ingest([e.raw for e in [*firsts, x1]], T0)
        if route == "quarantine":
            d.store.ingest([x2.raw], T0 + 1)
    b.store.ingest([ahead.raw], T0)
    await a.start()
    await b.start()
    try:
        pa, pb = a.node.protocol, b.node.protocol
        for p in (pa, pb):
            p._register_fork(proof, "ee" * 32, "node", T0)
        prefixes = ("", x.author.hex()[:1], x.author.hex()[:2], x.author.hex()[:3])
        before = {pre: pa.fingerprint(pre) for pre in prefixes}  # the book indexed now
        moved_from = a.store.head(x.author)
        assert moved_from is not None
        # x's head moves on a by the route, unseen by the protocol.
        if route == "import":
            bundle = tmp_path / "x.bundle"
            with bundle.open("wb") as out:
                write_bundle(out, [x2.raw])
            assert import_bundle(a.store, bundle, T0 + 2).accepted == 1
        elif route == "other_writer":
            assert a.store.ingest([x2.raw], T0 + 2).accepted
        elif route == "quarantine":
            assert a.store.quarantine(x.author, 2, "test: corrupted on disk") == 1
        else:
            await a.node.publish("trust", {"subject": "cd" * 32, "level": 4})
        head = a.store.head(x.author)
        assert head is not None and head.id != moved_from.id
        assert (head.seq < moved_from.seq) == (route == "quarantine")
        assert x.author in pa._forks.authors
        for pre in prefixes:
            assert pa.fingerprint(pre) == scratch(pa, pre) == before[pre], (route, pre)
            # b never had x's head moved; a's moves are left out of the heads. (Not where b's
            # one real difference lies: a's own key, x in the own_append route, is random and
            # may share its first hex digits with the author of `ahead`.)
            if pre and not ahead.author.hex().startswith(pre):
                assert pa.fingerprint(pre) == pb.fingerprint(pre), (route, pre)
        # A session of a with b finds the one real difference, by reconciliation alone.
        assert b.url is not None and a.node.add_peer(b.url)
        await a.node.tick()
        await wait_until(lambda: not a.node.busy, "a's session ends")
        assert a.store.get(ahead.id) is not None
        assert pa.stats["recon_fallbacks"] == 0
        for pre in prefixes:
            assert pa.fingerprint(pre) == pb.fingerprint(pre) == scratch(pb, pre)
        assert a.node.errors == [] and b.node.errors == []
    finally:
        await a.stop()
        await b.stop()


def test_a_store_change_costs_the_book_what_moved_not_every_forked_author() -> None:
    """Keys are free, so forked authors may be many: after a head moves by a route the
    protocol does not see, the book looks up the forked authors that moved, not all of them
    (adversarial review: it looked up every forked author at the next read of each change);
    a burst larger than the replica's log looks them all up once, and stays right."""
    from trustnet.protocol.forks import ForkBook
    from trustnet.protocol.recon_index import MOVES_KEPT
    from trustnet.store.sqlite import Store

    store = Store(None)
    forked = [ident(f"forked-{i}") for i in range(300)]
    firsts = [signed(x, 1, None, 1) for x in forked]
    store.ingest(firsts, T0)
    book = ForkBook(store, [ForkProof.of(a, signed(x, 1, None, 2))
                            for a, x in zip(firsts, forked, strict=True)])
    book.fingerprint("")
    looked: list[bytes] = []
    head = store.head

    def counted(author: bytes) -> object:
        looked.append(author)
        return head(author)

    store.head = counted  # type: ignore[method-assign]
    store.ingest([signed(ident(f"stranger-{i}"), 1, None, 1) for i in range(50)], T0)
    store.ingest([signed(forked[7], 2, firsts[7], 3)], T0)  # another writer: unseen by the book
    assert book.fingerprint("") == (sum(item_hash(a, *h) for a, h in store.heads().items()
                                        if a in {x.public_key for x in forked}) % MOD, 300)
    assert looked == [forked[7].public_key]
    looked.clear()
    store.ingest([signed(ident(f"burst-{i}"), 1, None, 1) for i in range(MOVES_KEPT + 1)], T0)
    book.fingerprint("")
    assert len(looked) == 300  # the log overflowed: every forked author, once
    looked.clear()
    book.fingerprint("")
    assert looked == []


async def test_a_recovery_rotation_imported_as_a_bundle_disowns_the_fork_in_gossip_too(
        tmp_path: Path) -> None:
    """A party whose key was stolen recovers with a rotation that disowns what the thief
    signed: the store stops counting the thief's fork. Reaching a node by gossip, the
    rotation also took the fork out of what the node's gossip advertises; reaching it by a
    bundle import (or any route the protocol does not see), the fork keys stayed in the
    digest and the listings until a restart (seen at stop 23), and this node told its
    peers the recovered party was still forked. Now the fork book asks the store again for
    every forked author whose head moved."""
    owner, nxt, fresh = (Identity.from_seed(bytes([n]) * 32) for n in (41, 42, 43))
    scratch_store = Store(None)
    scratch_store.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    head = scratch_store.append_own(owner, "trust", {"subject": "ab" * 32, "level": 1},
                                    T0 + DAY)
    # The thief signs seq 3 twice, after the theft (day 2).
    x, y = (sign_entry(owner, seq=3, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                       body={"subject": "cd" * 32, "level": level}) for level in (-1, 1))
    a = Daemon(init_node(tmp_path, "a"), gossip=MANUAL)
    chain = [scratch_store.get_by_seq(owner.author, s) for s in (1, 2)]
    assert a.store.ingest([e.raw for e in [*chain, x] if e], T0 + 3 * DAY).accepted
    assert a.store.ingest([y.raw], T0 + 3 * DAY).forks
    scratch_store.ingest([x.raw], T0 + 3 * DAY)
    rot = scratch_store.append_own(nxt.for_party(owner.author), "rotation", {
        "key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
        "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    await a.start()
    try:
        p = a.node.protocol
        p._register_fork(ForkProof.of(x, y), "ee" * 32, "node", T0)  # as gossip tells it
        assert [k[0] for k in p.fork_keys()] == [owner.author]
        forked_digest = p.digest()
        bundle = tmp_path / "rotation.bundle"
        with bundle.open("wb") as out:
            write_bundle(out, [rot.raw])
        assert import_bundle(a.store, bundle, T0 + 4 * DAY).accepted == 1
        assert owner.author not in a.store.forked_authors()
        assert p.fork_keys() == []
        # What a protocol started afresh over the same store says, it says.
        fresh_protocol = GossipProtocol(p.node_id, a.store, random.Random(1), p.config)
        assert p.digest() == fresh_protocol.digest() != forked_digest
    finally:
        await a.stop()


async def test_a_fork_imported_as_a_bundle_is_gossiped_without_a_restart(tmp_path: Path) -> None:
    """A fork the store finds by a route gossip does not see (here a bundle import into a
    running node) is in what the node gossips at once: its fork keys and listings, its
    digest (as a protocol started afresh over the same store makes it), and a peer daemon
    learns the proof from it in one session. Before, the fork book learned a proof only from
    a peer or at a restart: the node kept telling peers it knew of no such fork."""
    a = Daemon(init_node(tmp_path, "a"), gossip=MANUAL)
    b = Daemon(init_node(tmp_path, "b"), gossip=MANUAL)
    x = ident("equivocator")
    people = [ident(f"w{i}") for i in range(24)]
    x1, x1b = signed(x, 1, None, 1), signed(x, 1, None, 2)  # x signed two entries at seq 1
    for d in (a, b):
        d.store.ingest([e.raw for e in [*(signed(w, 1, None, 1) for w in people), x1]], T0)
    await a.start()
    await b.start()
    try:
        pa, pb = a.node.protocol, b.node.protocol
        quiet = pa.digest()
        assert quiet == pb.digest() and pa.fork_keys() == []
        bundle = tmp_path / "fork.bundle"
        with bundle.open("wb") as out:
            write_bundle(out, [x1.raw, x1b.raw])
        assert import_bundle(a.store, bundle, T0 + 1).forks == 1
        key = (x.author, 1)
        assert pa.fork_keys() == [key]
        assert pa._forks.shared_keys() == [key]  # what its listings carry
        fresh = GossipProtocol(pa.node_id, a.store, random.Random(1), pa.config)
        assert pa.digest() == fresh.digest() != quiet
        # No peer brought it: nobody is rewarded, no `ForkLearned` (the import reported it).
        assert pa.stats["forks_learned"] == 0
        assert b.url is not None and a.node.add_peer(b.url)
        await a.node.tick()
        await wait_until(lambda: not a.node.busy, "a's session ends")
        await wait_until(lambda: pb.fork_keys() == [key], "b learns the fork from a")
        assert [(p.author, p.seq) for p in b.store.forks()] == [key]
        assert pb.stats["forks_learned"] == 1  # registered by b's protocol, as gossip brought it
        assert pa.digest() == pb.digest()
        assert a.node.errors == [] and b.node.errors == []
    finally:
        await a.stop()
        await b.stop()


def replica_of(kind: str) -> Replica:
    return Store(None) if kind == "sqlite" else MemoryReplica()


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_the_book_adopts_the_forks_its_replica_found_by_other_routes(kind: str) -> None:
    """Fork proofs the replica gained unseen by the protocol (another writer's ingest, an
    `add_fork`) are in the book at its next read, by the protocol's rules: one per author,
    the lowest seq, whatever order they came in; at most `max_unheld` keys of authors not
    held; a burst larger than the replica's log is read again whole."""
    replica = replica_of(kind)
    x, y, z = ident("x"), ident("y"), ident("z")
    x1, y1, z1 = (signed(w, 1, None, 1) for w in (x, y, z))
    y2, z2 = signed(y, 2, y1, 1, T0 + 1), signed(z, 2, z1, 1, T0 + 1)
    replica.ingest([e.raw for e in (x1, y1, y2, z1, z2)], T0)
    book = ForkBook(replica, replica.forks(), max_unheld=1)
    assert book.keys_fp() == (0, 0)
    assert replica.ingest([signed(x, 1, None, 2).raw], T0).forks  # another writer
    assert book.first_seq(x.author) == 1 and book.shared_keys() == [(x.author, 1)]
    assert book.keys_fp() == (fork_key_hash(x.author, 1), 1)
    # y forks at 2, then at 1: the lower replaces the higher.
    assert replica.ingest([signed(y, 2, y1, 2, T0 + 1).raw], T0).forks
    assert book.first_seq(y.author) == 2
    assert replica.ingest([signed(y, 1, None, 2).raw], T0).forks
    assert sorted(book) == sorted([(x.author, 1), (y.author, 1)])
    # z forks at 2 and at 1 before the book looks: the lower one only.
    assert replica.ingest([signed(z, 2, z1, 2, T0 + 1).raw], T0).forks
    assert replica.ingest([signed(z, 1, None, 2).raw], T0).forks
    assert book.first_seq(z.author) == 1 and len(book) == 3
    assert len(replica.forks()) == 5  # the replica keeps every proof; the book one per author
    # Authors held nowhere here: the protocol's cap (`max_unheld_forks`) holds for them too.
    u, v = ident("u"), ident("v")
    for w in (u, v):
        assert replica.add_fork(ForkProof.of(signed(w, 1, None, 1), signed(w, 1, None, 2)))
    assert (u.author, 1) in book and (v.author, 1) not in book
    assert book.unheld == 1  # local state: not in what the node shares
    assert book.shared_keys() == sorted((w.author, 1) for w in (x, y, z))
    # More proofs than the replica's log keeps: the book reads them all again, once.
    many = [ident(f"many-{i}") for i in range(FORKS_KEPT + 1)]
    firsts = [signed(w, 1, None, 1) for w in many]
    replica.ingest([e.raw for e in firsts], T0)
    for w in many:
        assert replica.ingest([signed(w, 1, None, 2).raw], T0).forks
    assert len(book) == 4 + len(many)
    assert book.fingerprint("") == (sum(item_hash(a, *h) for a, h in replica.heads().items()
                                        if a != u.author) % MOD, 3 + len(many))


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_what_the_protocols_own_ingest_brings_is_registered_not_adopted(kind: str) -> None:
    """A fork found by the protocol's own ingest (a pushed entry) or pushed as a proof is
    registered by the protocol as before: counted, told as `ForkLearned`, the sender
    rewarded. The book's adoption passes over it (`ForkBook.own_ingest`): adopted first,
    the protocol would have found the author forked already and skipped all three."""
    replica = replica_of(kind)
    x, y = ident("x"), ident("y")
    x1, y1 = signed(x, 1, None, 1), signed(y, 1, None, 1)
    replica.ingest([x1.raw, y1.raw], T0)
    p = GossipProtocol(ident("me").public_key, replica, random.Random(1), MANUAL,
                       own_url="http://me", now_ms=T0, recover_own=False)
    p.fork_keys()  # the book has looked
    p.on_request("aa" * 32, m.PUSH, m.Push((signed(x, 1, None, 2).raw,)), T0)
    proof = ForkProof.of(y1, signed(y, 1, None, 2))
    p.on_request("bb" * 32, m.PUSH, m.Push((), (proof.encode(),)), T0)
    assert p.fork_keys() == sorted([(x.author, 1), (y.author, 1)])
    assert p.stats["forks_learned"] == 2
    learned = [(e.peer, e.proof.author) for e in p.take_events() if isinstance(e, ForkLearned)]
    assert learned == [("aa" * 32, x.author), ("bb" * 32, y.author)]
    assert p.peers.score("aa" * 32, T0) > 0 and p.peers.score("bb" * 32, T0) > 0
    # Inside `own_ingest` the book does not adopt what the call found: it is the caller's.
    z = ident("z")
    z1 = signed(z, 1, None, 1)
    replica.ingest([z1.raw], T0)
    with p._forks.own_ingest():
        assert replica.ingest([signed(z, 1, None, 2).raw], T0).forks
    assert p._forks.first_seq(z.author) is None


def test_a_fork_that_stops_counting_by_a_witnessed_time_leaves_the_book() -> None:
    """A witnessed time (docs/witnesses.md) can disown a fork without moving any head: a
    thief backdated two entries before the theft the party declared, and a witness saw one
    published after it. The store stops counting the fork (`witnessed_changed`); the book,
    which looked again only at authors whose head moved, kept advertising it."""
    owner, nxt, fresh = (Identity.from_seed(bytes([n]) * 32) for n in (51, 52, 53))
    home = Store(None)
    home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    second = home.append_own(owner, "trust", {"subject": "ab" * 32, "level": 1}, T0 + DAY)
    # Stolen on day 2, the key signs seq 3 twice on day 3, dated day 1 (before the theft).
    x, y = (sign_entry(owner, seq=3, prev=second.id, ts=T0 + DAY + 1, kind="trust",
                       body={"subject": "cd" * 32, "level": level}) for level in (-1, 1))
    home.ingest([x.raw], T0 + 3 * DAY)
    rot = home.append_own(nxt.for_party(owner.author), "rotation", {
        "key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
        "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    store = Store(None)
    store.ingest(list(home.export_raw()), T0 + 4 * DAY)
    assert store.ingest([y.raw], T0 + 4 * DAY).forks
    assert owner.author in store.forked_authors()  # both dated before the theft: it counts
    book = ForkBook(store, store.forks())
    assert book.shared_keys() == [(owner.author, 3)]
    heads = store.heads()
    with store.transaction():
        store.db.execute("INSERT INTO witnessed VALUES (?, ?)", (x.id, T0 + 3 * DAY))
    store.witnessed_changed(owner.author)
    assert owner.author not in store.forked_authors() and store.heads() == heads
    assert book.shared_keys() == [] and book.first_seq(owner.author) is None
    assert rot.seq == 4
