"""The adversarial review of range reconciliation (issue 15 item 1), unit side: forked
authors kept in their own index (a fingerprint costs O(1) whatever the forks), fork proofs
about authors nobody here holds gated and unrewarded.

The same attacks against a real `trustnet run` node are in test_attack_forks.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.harness.nodes import MANUAL, init_node
from tests.harness.wait import wait_until
from tests.harness.wire import CFG, T0, Wire, ident
from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.node.daemon import Daemon
from trustnet.protocol import digest as digest_records, messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import EntriesRejected, PeerDecision, Send, Tick
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.recon_index import MOD, item_hash
from trustnet.protocol.reconcile import FALLBACK_AFTER
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store


def signed(who: Identity, seq: int = 1, prev: Entry | None = None, level: int = 1,
           ts: int = T0) -> Entry:
    return sign_entry(who, seq=seq, prev=prev.id if prev else None, ts=ts, kind="trust",
                      body={"subject": "ab" * 32, "level": level})


def fork_of(who: Identity, seq: int = 1) -> ForkProof:
    prev = None if seq == 1 else bytes([seq]) * 32  # a proof needs no chain, only two ids
    x, y = (sign_entry(who, seq=seq, prev=prev, ts=T0 + k, kind="trust",
                       body={"subject": "ab" * 32, "level": k}) for k in (1, 2))
    return ForkProof.of(x, y)


def brute(p: GossipProtocol, prefix: str) -> tuple[int, int]:
    """The fingerprint of the unforked heads under `prefix`, summed one by one."""
    forked = {a for a, _ in p.fork_keys()}
    under = [(a, s, i) for a, (s, i) in p.replica.heads().items()
             if a.hex().startswith(prefix) and a not in forked]
    return sum(item_hash(*h) for h in under) % MOD, len(under)


def node(name: str = "n", config: GossipConfig = CFG) -> GossipProtocol:
    return Wire().add(name, ["peer"], MemoryReplica(), config)


def test_forked_authors_index_follows_forks_heads_and_disowning() -> None:
    rng = random.Random(7)
    p = node()
    people = [ident(f"p{i}") for i in range(60)]
    chains: dict[bytes, list[Entry]] = {}
    for who in people[:40]:
        chains[who.public_key] = [signed(who)]
    p.replica.ingest([c[0].raw for c in chains.values()], T0)
    for step in range(200):
        who = rng.choice(people)
        roll = rng.random()
        if roll < 0.4:  # a new entry (for an author not held yet: its first)
            chain = chains.setdefault(who.public_key, [])
            e = signed(who, len(chain) + 1, chain[-1] if chain else None, level=step)
            chain.append(e)
            p.on_request("ee" * 32, m.PUSH, m.Push((e.raw,)), T0)
        elif roll < 0.7:  # a fork proof about it (held or not)
            seq = rng.randint(1, 3)
            p._register_fork(fork_of(who, seq), "ee" * 32, "node", T0)
        elif roll < 0.8 and p._forks:  # a fork key forgotten (a recovery rotation disowns)
            del p._forks[rng.choice(sorted(p._forks))]
        for prefix in ("", "a", "3f", "c01"):
            assert p.fingerprint(prefix) == brute(p, prefix), (step, prefix)
    assert p._forks.unheld == sum(1 for a, _ in p.fork_keys() if p.replica.head(a) is None)


def test_a_fingerprint_costs_no_walk_over_the_forked_authors() -> None:
    # 2,000 forked authors held: a fingerprint no longer reads their heads one by one.
    p = node(config=GossipConfig(tick_interval_s=None, peer_exchange_every=0,
                                 new_authors_per_peer=0, new_authors_total=0))
    people = [ident(f"f{i}") for i in range(2000)]
    p.replica.ingest([signed(w).raw for w in people], T0)
    for w in people:
        p._register_fork(fork_of(w), "ee" * 32, "node", T0)
    reads = []
    head = p.replica.head
    p.replica.head = lambda a: reads.append(a) or head(a)  # type: ignore[method-assign]
    assert p.fingerprint("") == (0, 0) and p.fingerprint("7")[1] == 0
    reply = p.on_request("ee" * 32, m.RECONCILE,
                         m.Reconcile(nodes=tuple((f"{i:x}", bytes(16), 1) for i in range(16))),
                         T0)[0]
    assert isinstance(reply, m.Reconcile) and not reply.splits and len(reply.items) == 16
    assert reads == []


def test_fork_proofs_about_authors_not_held_are_capped_counted_and_unrewarded() -> None:
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0, max_unheld_forks=20,
                       new_authors_per_peer=12, new_authors_total=1000)
    p = node(config=cfg)
    held = ident("held")
    p.replica.ingest([fork_of(held).a.raw], T0)  # one of the proof's own entries is held
    rng = random.Random(3)

    def flood(sender: str, n: int) -> None:
        for i in range(0, n, 16):
            proofs = tuple(fork_of(Identity.from_seed(rng.randbytes(32))).encode()
                           for _ in range(min(16, n - i)))
            p.on_request(sender, m.PUSH, m.Push((), proofs), T0)

    flood("aa" * 32, 32)  # one sender: its new-author window (12) stops it
    assert len(p.fork_keys()) == 12 and p.stats["forks_refused"] == 20
    flood("bb" * 32, 32)  # another: the cap of 20 kept stops it
    assert len(p.fork_keys()) == 20 and p.stats["forks_refused"] == 44
    codes = [r.code for ev in p.take_events() if isinstance(ev, EntriesRejected)
             for r in ev.rejected]
    assert codes.count("author_limit") == 20 and codes.count("fork_limit") == 24
    assert p.peers.score("aa" * 32, T0) == 0 == p.peers.score("bb" * 32, T0)  # no reward
    # A proof about an author held here protects something: taken past the cap, rewarded.
    p.on_request("cc" * 32, m.PUSH, m.Push((), (fork_of(held).encode(),)), T0)
    assert (held.public_key, 1) in p.fork_keys() and p.peers.score("cc" * 32, T0) > 0
    # A key refused is not fetched again from each peer that lists it, however late,
    # until its author is held here (then one of its entries may be held too).
    refused = next(iter(p._forks_refused))
    assert not p._fork_wanted(refused, T0)
    assert not p._fork_wanted(refused, T0 + 10 * cfg.new_authors_interval_s * 1000)
    p.replica.ingest([signed(Identity.from_seed(rng.randbytes(32)))], T0)  # someone else
    assert not p._fork_wanted(refused, T0)


def test_a_reconciliation_finding_nothing_while_digests_differ_falls_back_to_heads_pages(
) -> None:
    # A fingerprint that collides: every prefix's sum reads equal on both sides (as two
    # ground sets of heads would), the counts are honest. b holds one head further.
    w = Wire()
    config = GossipConfig(tick_interval_s=None, peer_exchange_every=0, recon_recent=0)
    base = MemoryReplica()
    people = [ident(f"c{i}") for i in range(40)]
    firsts = [signed(who) for who in people]
    base.ingest([e.raw for e in firsts], T0)
    a = w.add("a", ["b"], MemoryReplica(base), config)
    b = w.add("b", ["a"], MemoryReplica(base), config)
    ahead = signed(people[5], 2, firsts[5], level=9)
    b.replica.ingest([ahead.raw], T0)
    for p in (a, b):
        honest = p.fingerprint
        p.fingerprint = lambda prefix, f=honest: (0, f(prefix)[1])  # type: ignore[method-assign]
    w.tick(a)
    assert a.replica.get(ahead.id) is None and a.digest() != b.digest()  # nothing found
    assert w.paths()[m.HEADS] == 0  # the first reply split "": every child "equal"
    assert a.stats["recon_fallbacks"] == 0  # once may be a race
    w.tick(a)
    assert a.replica.get(ahead.id) is None and w.paths()[m.HEADS] == 0
    assert a.stats["recon_fallbacks"] == 1  # twice in a row is not
    assert any(isinstance(e, PeerDecision) and "heads pages" in e.reason
               for e in a.take_events())
    w.sent.clear()
    w.tick(a)  # the next session with b: heads pages, which compare every head
    assert a.replica.get(ahead.id) is not None and a.digest() == b.digest()
    assert w.paths()[m.RECONCILE] == 0
    w.sent.clear()
    w.tick(a)  # in sync again; and reconciliation is what it offers next
    sends = a.handle(Tick(), T0)
    digest = next(s for s in sends if isinstance(s, Send) and s.path == m.DIGEST)
    assert isinstance(digest.message, m.Digest) and digest.message.recon


def test_an_honest_reconciliation_never_falls_back() -> None:
    rng = random.Random(11)
    w = Wire()
    base = MemoryReplica()
    base.ingest([signed(ident(f"h{i}")).raw for i in range(300)], T0)
    a = w.add("a", ["b"], MemoryReplica(base))
    b = w.add("b", ["a"], MemoryReplica(base))
    for step in range(12):
        side = rng.choice((a, b))
        side.replica.ingest([signed(ident(f"n{step}-{k}")).raw for k in range(rng.randint(1, 30))],
                            T0)
        if step % 3 == 0:  # a fork only one side knows of (its key listed, the heads left out)
            side._register_fork(fork_of(ident(f"h{step}")), "ee" * 32, "node", T0)
        w.tick(rng.choice((a, b)))
    w.tick(a)
    w.tick(b)
    assert a.digest() == b.digest()
    assert a.stats["recon_fallbacks"] == b.stats["recon_fallbacks"] == 0
    assert a.stats["mismatch"] + b.stats["mismatch"] >= 8


async def test_over_http_a_peer_whose_fingerprints_collide_is_synced_by_heads_pages(
        tmp_path: Path) -> None:
    # Two daemons over real HTTP; b's fingerprints read exactly as a's (what a ground set
    # of heads would show a), while b holds one entry a lacks. No push: only a's sessions.
    a = Daemon(init_node(tmp_path, "a"), gossip=MANUAL)
    b = Daemon(init_node(tmp_path, "b"), gossip=MANUAL)
    people = [ident(f"w{i}") for i in range(20)]
    firsts = [signed(who) for who in people]
    ahead = signed(people[3], 2, firsts[3], level=7)
    for d in (a, b):
        d.store.ingest([e.raw for e in firsts], T0)
    b.store.ingest([ahead.raw], T0)
    await a.start()
    await b.start()
    try:
        b.node.protocol.fingerprint = a.node.protocol.fingerprint  # type: ignore[method-assign]
        assert b.url is not None and a.node.add_peer(b.url)
        for _ in range(2):  # two reconciliations that find nothing while the digests differ
            await a.node.tick()
            await wait_until(lambda: not a.node.busy, "a's session ends")
        assert a.store.get(ahead.id) is None
        assert a.node.protocol.stats["recon_fallbacks"] == 1
        await a.node.tick()  # heads pages: every head compared
        await wait_until(lambda: a.store.get(ahead.id) is not None, "a fetches b's entry")
        assert a.node.errors == [] and b.node.errors == []
    finally:
        await a.stop()
        await b.stop()


def reference_digest(p: GossipProtocol) -> bytes:
    """The anti-entropy digest by its definition (docs/protocol.md), from scratch."""
    import hashlib
    import struct

    forked = {a for a, _ in p.fork_keys()}
    heads = p.replica.heads()
    h = hashlib.sha256(b"trustnet/v1/gossip-digest")
    for author, (seq, ident_) in sorted(heads.items()):
        if author not in forked:
            h.update(b"H" + author + struct.pack(">Q", seq) + ident_)
    for author, seq in p.fork_keys():
        if author in heads:  # keys of authors not held are local state
            h.update(b"F" + author + struct.pack(">Q", seq))
    return h.digest()


@pytest.mark.parametrize("mirror", [False, True], ids=["records-per-digest", "mirror"])
def test_the_digest_is_made_once_per_change_and_keeps_its_value(
        mirror: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # From MIRROR_MIN_AUTHORS authors up the records are kept ready (protocol.digest); the
    # value is the same either way, and made again only after a change.
    monkeypatch.setattr(digest_records, "MIRROR_MIN_AUTHORS", 1 if mirror else 10**9)
    rng = random.Random(5)
    p = node()
    calls = {"heads": 0}
    heads = p.replica.heads

    def counted() -> dict[bytes, tuple[int, bytes]]:
        calls["heads"] += 1
        return heads()

    def whole_pass() -> bytes:
        raise AssertionError("the protocol reads no digest over every head of the replica")

    p.replica.heads = counted  # type: ignore[method-assign]
    p.replica.heads_digest = whole_pass  # type: ignore[method-assign]
    people = [ident(f"d{i}") for i in range(30)]
    chains: dict[bytes, list[Entry]] = {}
    for step in range(120):
        who = rng.choice(people)
        chain = chains.setdefault(who.public_key, [])
        roll = rng.random()
        if roll < 0.5:  # through the protocol
            e = signed(who, len(chain) + 1, chain[-1] if chain else None, level=step)
            chain.append(e)
            p.on_request("ee" * 32, m.PUSH, m.Push((e.raw,)), T0)
        elif roll < 0.7:  # into the replica behind the protocol's back (an import)
            e = signed(who, len(chain) + 1, chain[-1] if chain else None, level=step)
            chain.append(e)
            p.replica.ingest([e.raw], T0)
        elif roll < 0.8:
            p._register_fork(fork_of(who, rng.randint(1, 2)), "ee" * 32, "node", T0)
        elif roll < 0.85 and p._forks:
            del p._forks[rng.choice(sorted(p._forks))]
        before = calls["heads"]
        calls["heads"] = -10**9  # the reference's own read is not counted
        want = reference_digest(p)
        calls["heads"] = before
        assert p.digest() == want, step
        made = calls["heads"]
        for _ in range(5):  # asked again (ticks, peers' digests): nothing made again
            assert p.digest() == want
            p.on_request("ee" * 32, m.DIGEST, m.Digest(bytes(32)), T0)
        assert calls["heads"] == made, step
    assert (p._mirror is not None) == mirror


def test_fork_keys_are_listed_only_when_their_fingerprints_differ() -> None:
    w = Wire()
    unlimited = GossipConfig(tick_interval_s=None, peer_exchange_every=0,
                             new_authors_per_peer=0, new_authors_total=0)
    base = MemoryReplica()
    people = [ident(f"k{i}") for i in range(300)]
    base.ingest([signed(who).raw for who in people], T0)
    a = w.add("a", ["b"], MemoryReplica(base), unlimited)
    b = w.add("b", ["a"], MemoryReplica(base), unlimited)
    proofs = [fork_of(who) for who in people[:200]]
    for p in (a, b):
        for proof in proofs:
            p._register_fork(proof, "ee" * 32, "node", T0)
    b.replica.ingest([signed(ident("new")).raw], T0)
    w.tick(a)
    assert a.digest() == b.digest() and a.replica.head(ident("new").public_key) is not None
    first = m.decode_reply(m.DIGEST, w.bodies[0][2])
    assert isinstance(first, m.Reconcile) and first.forks == () and first.forks_fp is not None
    assert len(w.bodies[0][2]) < 1000  # 200 fork keys would be ~8 KB
    # One fork key more on b: the fingerprints differ, b lists its keys, a fetches the one.
    extra = fork_of(people[250])
    b._register_fork(extra, "ee" * 32, "node", T0)
    w.sent.clear()
    w.bodies.clear()
    w.tick(a)
    first = m.decode_reply(m.DIGEST, w.bodies[0][2])
    assert isinstance(first, m.Reconcile) and len(first.forks) == 201
    assert a.fork_keys() == b.fork_keys() and a.digest() == b.digest()
    # A digest without the fingerprint (a node of before it) still gets the keys listed.
    reply = b.on_request(a.node_id.hex(), m.DIGEST, m.Digest(bytes(32), recon=True), T0)[0]
    assert isinstance(reply, m.Reconcile) and len(reply.forks) == 201


def test_the_kept_records_follow_a_head_moved_behind_the_protocol(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A quarantined entry takes a head back without the protocol seeing it: the replica's
    # fingerprint tells, and the records are made again.
    monkeypatch.setattr(digest_records, "MIRROR_MIN_AUTHORS", 1)
    store = Store(None)
    people = [ident(f"q{i}") for i in range(40)]
    firsts = [signed(who) for who in people]
    second = signed(people[7], 2, firsts[7], level=5)
    store.ingest([e.raw for e in [*firsts, second]], T0)
    p = Wire().add("q", [], store)
    assert p.digest() == reference_digest(p) and p._mirror is not None
    store.quarantine(people[7].public_key, 2, "test: corrupted on disk")
    assert p.digest() == reference_digest(p)
    store.quarantine(people[8].public_key, 1, "test: corrupted on disk")  # no head left
    assert p.digest() == reference_digest(p) and len(p._mirror) == 39


@pytest.mark.parametrize("reconcile", [True, False], ids=["reconcile", "heads-pages"])
def test_a_fork_of_an_author_not_held_is_local_until_its_chain_is_fetched(
        reconcile: bool) -> None:
    """Review 2, item 2: a proof about an author with no entry here is local state (out of
    the digest and listings); a peer that holds the author lists its key, and the session
    fetches the chain up to the fork, after which the key is shared and both are in sync."""
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0, reconcile=reconcile)
    base = MemoryReplica()
    base.ingest([signed(ident(f"s{i}")).raw for i in range(30)], T0)
    w = Wire()
    a = w.add("a", ["c"], MemoryReplica(base), cfg)
    c = w.add("c", ["a"], MemoryReplica(base), cfg)
    proof = fork_of(ident("x"))
    a.replica.ingest([proof.a.raw], T0)
    a._register_fork(proof, "ee" * 32, "node", T0)
    lone = fork_of(ident("y"))  # c's own proof about an author neither holds
    c._register_fork(lone, "ee" * 32, "node", T0)
    before = c.digest()
    assert before == heads_only_digest(c)
    for _ in range(3):
        w.tick(c)
    assert (proof.author, 1) in c.fork_keys() and c.replica.head(proof.author) is not None
    assert a.digest() == c.digest()
    assert (lone.author, 1) not in a.fork_keys()  # never listed, never fetched
    w.sent.clear()
    w.tick(c)
    assert c.stats["in_sync"] + a.stats["in_sync"] >= 1


def heads_only_digest(p: GossipProtocol) -> bytes:
    """What `p`'s digest is when none of its fork keys is shared: the heads only."""
    import hashlib
    import struct

    h = hashlib.sha256(b"trustnet/v1/gossip-digest")
    for author, (seq, ident_) in sorted(p.replica.heads().items()):
        h.update(b"H" + author + struct.pack(">Q", seq) + ident_)
    return h.digest()


def test_a_collision_hidden_by_churn_is_found_within_fallback_after_sessions() -> None:
    """Review 2, item 4: with a new entry elsewhere every round each session finds
    something, so "nothing found twice" never fires; reconciliations in a row whose
    digests differ (no "in sync" between) fall back to heads pages after FALLBACK_AFTER."""
    w = Wire()
    config = GossipConfig(tick_interval_s=None, peer_exchange_every=0)
    base = MemoryReplica()
    people = [ident(f"c{i}") for i in range(40)]
    firsts = [signed(who) for who in people]
    base.ingest([e.raw for e in firsts], T0)
    a = w.add("a", ["b"], MemoryReplica(base), config)
    b = w.add("b", ["a"], MemoryReplica(base), config)
    hidden = people[5].public_key
    ahead = signed(people[5], 2, firsts[5], level=9)
    b.replica.ingest([ahead.raw], T0)
    delta = item_hash(hidden, 2, ahead.id) - item_hash(hidden, 1, firsts[5].id)
    honest = a.fingerprint
    a.fingerprint = lambda prefix: (  # type: ignore[method-assign]
        (honest(prefix)[0] + (delta if hidden.hex().startswith(prefix) else 0)) % MOD,
        honest(prefix)[1])
    k = 0
    for _ in range(FALLBACK_AFTER + 1):
        while True:  # one new entry reaches b each round, under another first digit
            k += 1
            who = ident(f"fresh{k}")
            if who.public_key.hex()[0] != hidden.hex()[0]:
                break
        b.replica.ingest([signed(who).raw], T0)
        w.tick(a)
    assert a.replica.get(ahead.id) is not None and a.stats["recon_fallbacks"] == 1


def test_an_honest_busy_random_run_rarely_falls_back() -> None:
    rng = random.Random(12)
    w = Wire()
    base = MemoryReplica()
    base.ingest([signed(ident(f"h{i}")).raw for i in range(200)], T0)
    nodes = [w.add(n, [x for x in "abc" if x != n], MemoryReplica(base)) for n in "abc"]
    for step in range(150):
        if rng.random() < 0.4:
            rng.choice(nodes).replica.ingest(
                [signed(ident(f"n{step}-{k}")).raw for k in range(rng.randint(1, 5))], T0)
        w.tick(rng.choice(nodes))
    assert sum(p.stats["recon_fallbacks"] for p in nodes) == 0
    assert sum(p.stats["in_sync"] for p in nodes) >= 20


def test_the_heads_mirror_merges_many_new_authors_in_one_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review 2, item 5: more than 64 new authors at one sync are merged in one pass (one by
    one each insert moved every record after it); the result is what a fresh build gives."""
    from trustnet.protocol.digest import HeadsMirror

    replica = MemoryReplica()
    people = [ident(f"m{i}") for i in range(1100)]
    firsts = [signed(who) for who in people]
    replica.ingest([e.raw for e in firsts[:1000]], T0)
    mirror = HeadsMirror(replica)
    moved = [signed(people[i], 2, firsts[i]) for i in range(0, 1000, 50)]  # and updates
    replica.ingest([e.raw for e in firsts[1000:]] + [e.raw for e in moved], T0)
    mirror.moved([who.public_key for who in people[1000:]] + [e.author for e in moved])
    built, version = HeadsMirror(replica), mirror.version

    def no_rebuild(self: HeadsMirror) -> None:
        raise AssertionError("applied in place, not rebuilt")

    monkeypatch.setattr(HeadsMirror, "_build", no_rebuild)
    mirror.sync()
    assert mirror.version == version + 1
    assert mirror.authors == built.authors and len(mirror) == 1100
    assert bytes(mirror._buf) == bytes(built._buf)
    assert mirror._fp == replica.prefix_fingerprint("")
