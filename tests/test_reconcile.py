"""Range reconciliation (issue 15 item 1): fingerprints of author-id prefixes kept as heads
move, an exchange whose cost grows with what differs, its bounds, and the previous wire
format (heads pages) still spoken.

Protocols are wired by a fake wire (every message through the msgpack codec, as in
test_gossip.py); the interop test runs real `Node`s on the in-memory network.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness.cluster import Cluster, url
from tests.harness.wire import CFG, T0, Wire, ident
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.admission import Refused, admit
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import Action, PeerDecision, RequestFailed, Response, Send, Tick
from trustnet.protocol.forks import ForkBook, fork_key_hash
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.peers import PeerPolicy
from trustnet.protocol.recon_index import MOD, MOVES_KEPT, HeadIndex, bounds, fp_bytes, item_hash
from trustnet.protocol.replica import Replica
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store


def entry(who: str, seq: int = 1, prev: Entry | None = None) -> Entry:
    return sign_entry(ident(who), seq=seq, prev=prev.id if prev else None, ts=T0, kind="trust",
                      body={"subject": "ab" * 32, "level": seq % 1000})


def held(n: int) -> list[Entry]:
    return [entry(f"held-{i}") for i in range(n)]


def brute(heads: dict[bytes, tuple[int, bytes]], prefix: str) -> tuple[int, int]:
    under = [(a, s, i) for a, (s, i) in heads.items() if a.hex().startswith(prefix)]
    return sum(item_hash(*h) for h in under) % MOD, len(under)


def test_prefix_fingerprints_follow_every_head_change() -> None:
    rng = random.Random(5)
    index = HeadIndex()
    heads: dict[bytes, tuple[int, bytes]] = {}
    for step in range(3000):
        author = bytes([rng.randrange(4)]) + rng.randbytes(31) if step % 3 else \
            rng.choice(sorted(heads) or [rng.randbytes(32)])
        if heads and rng.random() < 0.1:
            gone = rng.choice(sorted(heads))
            del heads[gone]
            index.remove(gone)
            continue
        seq, ident_ = heads.get(author, (0, b""))[0] + 1, rng.randbytes(32)
        heads[author] = (seq, ident_)
        index.set_head(author, seq, ident_)
    prefixes = ["", "0", "00", "000", "0000", "00a", "01f3", "02", "0" * 6,
                *(a.hex()[:n] for a in sorted(heads)[:20] for n in (3, 4, 5, 64))]
    for prefix in prefixes:
        assert index.fingerprint(prefix) == brute(heads, prefix), prefix
        assert index.authors(prefix) == sorted(a for a in heads if a.hex().startswith(prefix))
    assert bounds("") == (bytes(32), None)
    assert bounds("f") == (bytes([0xF0]) + bytes(31), None)
    assert bounds("0a") == (bytes([0x0A]) + bytes(31), bytes([0x0B]) + bytes(31))


def test_an_index_names_what_moved_since_a_mark() -> None:
    """`moves_since` names every author changed since a mark, or says it cannot (None)."""
    rng = random.Random(9)
    index, other = HeadIndex(), HeadIndex()
    authors = [rng.randbytes(32) for _ in range(50)]
    mark, moved = index.moves_since(None)
    assert moved is None  # the first call starts the log
    for _ in range(40):
        changed = set()
        for _ in range(rng.randrange(0, 30)):
            author = rng.choice(authors)
            if rng.random() < 0.2:
                if index.contribution(author) is not None:
                    changed.add(author)
                index.remove(author)
            else:
                index.set_head(author, rng.randrange(1, 9), rng.randbytes(32))
                changed.add(author)
        mark, moved = index.moves_since(mark)
        assert moved is not None and set(moved) == changed
    assert index.moves_since(other.moves_since(None)[0])[1] is None  # another index's mark
    assert index.moves_since(None)[1] is None
    for i in range(MOVES_KEPT + 1):
        index.set_head(authors[0], i + 1, bytes(32))
    assert index.moves_since(mark)[1] is None  # more changes than the log keeps


def test_store_memory_and_a_shared_base_give_the_same_fingerprints() -> None:
    base_entries = held(300)
    store, memory, base = Store(None), MemoryReplica(), MemoryReplica()
    for r in (store, memory, base):
        r.ingest([e.raw for e in base_entries], T0)
    overlay = MemoryReplica(base)
    replicas: list[Replica] = [store, memory, overlay]
    for r in replicas:
        r.prefix_fingerprint("")  # built now: every later batch is kept incrementally
    # Later: a held author advances, new authors come.
    batch = [entry("held-3", 2, base_entries[3]).raw, *(entry(f"new-{i}").raw for i in range(40))]
    for r in replicas:
        assert len(r.ingest(batch, T0).accepted) == 41
    heads = store.heads()
    assert overlay.heads() == heads and memory.heads() == heads
    for prefix in ["", "0", "7", "a", "3c", "3c1", "e0e"]:
        want = brute(heads, prefix)
        assert [r.prefix_fingerprint(prefix) for r in replicas] == [want] * 3, prefix
        assert all(r.prefix_authors(prefix) == sorted(a for a in heads if a.hex().startswith(prefix))
                   for r in replicas)
    assert overlay.count() == store.count() == 341 and overlay.author_count() == 340
    assert base.count() == 300  # the base is untouched (and frozen)
    with pytest.raises(Exception, match="frozen"):
        base.ingest([entry("late").raw], T0)


def _pair(n: int, *, a_only: int = 0, b_only: int = 0, advanced: int = 0,
          config: GossipConfig = CFG) -> tuple[Wire, GossipProtocol, GossipProtocol]:
    base = MemoryReplica()
    base_entries = held(n)
    base.ingest(base_entries, T0)
    w = Wire()
    a = w.add("a", ["b"], MemoryReplica(base), config)
    b = w.add("b", ["a"], MemoryReplica(base), config)
    a.replica.ingest([entry(f"a-only-{i}") for i in range(a_only)], T0)
    b.replica.ingest([entry(f"b-only-{i}") for i in range(b_only)]
                     + [entry(f"held-{i}", 2, base_entries[i]) for i in range(advanced)], T0)
    return w, a, b


def test_a_mismatch_costs_what_differs_not_what_is_held() -> None:
    w, a, b = _pair(3000, a_only=1, b_only=2, advanced=1)
    heads_map = sum(len(m.encode(m.Heads(tuple((x, s, i) for x, (s, i) in
                                                sorted(b.replica.heads().items())))))
                    for _ in [0])
    w.tick(a)
    assert a.digest() == b.digest()
    assert a.replica.count() == b.replica.count() == 3000 + 1 + 2 + 1
    paths = w.paths()
    assert paths[m.HEADS] == 0 and paths[m.RECONCILE] >= 1
    recon = sum(x + y for p, x, y in w.sent if p in (m.DIGEST, m.RECONCILE))
    assert recon < 4000 < heads_map // 50, (recon, heads_map)
    assert a.stats["mismatch"] == 1 and not a._sessions


def test_cost_grows_with_the_difference() -> None:
    costs = {}
    for diff in (1, 16, 128):
        w, a, b = _pair(2000, b_only=diff)
        w.tick(a)
        assert a.digest() == b.digest()
        costs[diff] = sum(x + y for p, x, y in w.sent if p in (m.DIGEST, m.RECONCILE))
    assert costs[1] < costs[16] < costs[128]
    assert costs[128] < 128 * 450  # a few hundred bytes per differing head at most


def test_recent_heads_settle_a_mismatch_in_one_round_trip() -> None:
    # What spreading one new entry looks like: the digest carries the head that moved.
    w, a, b = _pair(2000)
    [new] = [entry("fresh")]
    a.replica.ingest([new], T0)
    a._note_recent([new])
    w.tick(a)
    assert b.replica.get(new.id) is not None and a.digest() == b.digest()
    assert w.paths()[m.RECONCILE] == 0 and w.paths()[m.PUSH] >= 1


def test_liars_splitting_forever_or_answering_the_unasked_are_bounded() -> None:
    class Splitter(GossipProtocol):
        """Says every prefix differs, ever deeper (`mode`: "deep", its 1000 heads all under
        the first child; "wide": 1000 under every child, which does not add up), or
        answers what was not asked ("unasked")."""

        mode = "deep"

        def on_request(self, peer_id: str, path: str, message: m.Message, now_ms: int
                       ) -> tuple[m.Message, list[Action]]:
            if self.mode == "wide":
                fps, counts = bytes(range(256)), (1000,) * 16
            else:
                fps, counts = b"\x11" * 16 + bytes(240), (1000,) + (0,) * 15
            if isinstance(message, m.Digest):
                return m.Reconcile(splits=(("", fps, counts),)), []
            if isinstance(message, m.Reconcile):
                if self.mode == "unasked":
                    return m.Reconcile(splits=(("fff", fps, counts),)), []
                if self.mode == "repeat":  # one asked prefix, many times over
                    return m.Reconcile(splits=((message.nodes[0][0], fps, counts),) * 8), []
                return m.Reconcile(splits=tuple((p, fps, counts) for p, _, _ in message.nodes)), []
            return super().on_request(peer_id, path, message, now_ms)

    for mode, most, reason in (("deep", 24, "bad_reconcile"), ("wide", 1, "reconcile_mismatch"),
                               ("unasked", 1, "bad_reconcile"), ("repeat", 1, "bad_reconcile")):
        w = Wire()
        a = w.add("a", ["liar"], MemoryReplica())
        # All at one instant: the liar's own rate limit must not be what stops the session.
        unlimited = GossipConfig(tick_interval_s=None, peer_exchange_every=0,
                                 policy=PeerPolicy(rates={m.RECONCILE: (1e6, 1e6)}))
        liar = w.add("liar", ["a"], MemoryReplica(), unlimited, cls=Splitter)
        assert isinstance(liar, Splitter)
        liar.mode = mode
        w.tick(a)
        assert w.paths()[m.RECONCILE] <= most, mode  # MAX_DEPTH: one digit per request
        assert all(x <= m.MAX_MESSAGE_BYTES and y <= m.MAX_MESSAGE_BYTES for _, x, y in w.sent)
        record = a.peers.get("http://liar")
        assert record is not None
        assert any(str(line.get("reason", "")).startswith(reason) for line in record.log), mode
        assert not a._sessions


def test_a_request_is_answered_within_its_bounds() -> None:
    _w, a, b = _pair(3000, b_only=200)
    nodes = tuple((f"{i:03x}", bytes(16), 5) for i in range(1024))
    reply = b.on_request(a.node_id.hex(), m.RECONCILE, m.Reconcile(nodes=nodes), T0)[0]
    assert isinstance(reply, m.Reconcile)
    assert len(reply.items) + len(reply.splits) <= CFG.max_ranges
    assert sum(len(h) for _, h in reply.items) <= 1024
    with pytest.raises(m.MessageError):  # a split of a 64-digit prefix does not decode
        m.decode_reply(m.RECONCILE, m.encode(m.Reconcile(
            splits=(("0" * 64, bytes(256), (0,) * 16),))))
    with pytest.raises(m.MessageError):  # items outside their prefix
        m.decode_reply(m.RECONCILE, m.encode(m.Reconcile(
            items=(("f", ((bytes(32), 1, bytes(32)),)),))))


def test_previous_wire_format_both_ways() -> None:
    old = GossipConfig(tick_interval_s=None, peer_exchange_every=0, reconcile=False)
    base = MemoryReplica()
    base.ingest(held(500), T0)
    w = Wire()
    a = w.add("a", ["b"], MemoryReplica(base), old)  # the previous version
    b = w.add("b", ["a"], MemoryReplica(base))
    a.replica.ingest([entry("a-new")], T0)
    b.replica.ingest([entry("b-new")], T0)
    w.tick(b)  # this version asks an old node: its digest's `recon` is ignored, heads pages
    assert a.digest() == b.digest()
    assert w.paths()[m.HEADS] == 0 and w.paths()[m.RECONCILE] == 0
    b.replica.ingest([entry("b-newer")], T0)
    w.sent.clear()
    w.tick(a)  # an old node asks this one: heads pages as before
    assert a.digest() == b.digest() and w.paths()[m.RECONCILE] == 0
    sent = m.encode(m.Reconcile(nodes=(("", bytes(16), 0),)))
    refused = admit(a, m.RECONCILE, sent, T0, remote="http://b", claimed=b.node_id.hex(),
                    authenticate=lambda: b.node_id.hex())
    assert isinstance(refused, Refused) and refused.code == "unknown_path"


def test_a_peer_refusing_the_reconcile_path_gets_heads_pages_next() -> None:
    _w, a, _b = _pair(100, b_only=3)
    sends = a.handle(Tick(), T0)
    digest = next(s for s in sends if isinstance(s, Send) and s.path == m.DIGEST)
    assert isinstance(digest.message, m.Digest) and digest.message.recon
    reply = m.Reconcile(splits=(("", bytes(256), (7,) * 16),))
    follow = a.handle(Response(digest.request_id, digest.peer_url, reply), T0)
    recon = next(s for s in follow if isinstance(s, Send) and s.path == m.RECONCILE)
    a.handle(RequestFailed(recon.request_id, recon.peer_url, "unknown_path"), T0)
    row = a.peers.get("http://b")
    assert row is not None and row.last_error == "reconcile_refused:unknown_path"
    assert any(isinstance(e, PeerDecision) and "reconcile" in e.reason for e in a.take_events())
    a.peers.succeeded("http://b", T0)
    nxt = [s for s in a.handle(Tick(), T0 + 60_000) if isinstance(s, Send) and s.path == m.DIGEST]
    assert nxt and isinstance(nxt[0].message, m.Digest) and not nxt[0].message.recon


def test_forked_authors_are_left_out_and_their_keys_exchanged() -> None:
    w, a, b = _pair(50, b_only=20)
    x1, x2 = entry("forker"), sign_entry(ident("forker"), seq=1, prev=None, ts=T0 + 1,
                                         kind="trust", body={"subject": "cd" * 32, "level": 1})
    a.replica.ingest([x1], T0)
    b.replica.ingest([x1], T0)
    result = b.replica.ingest([x2], T0)
    assert result.forks
    b._forks[(result.forks[0].author, 1)] = result.forks[0]
    assert b.fingerprint("")[1] == 50 + 20  # the forked author left out
    w.tick(a)
    assert (ident("forker").public_key, 1) in a.fork_keys()
    assert a.digest() == b.digest()


def test_a_responder_of_before_forks_fp_still_teaches_its_forks() -> None:
    """Review 2, item 3: a responder of before `forks_fp` sends none and lists its fork
    keys always; a new initiator knowing no fork must read that as "different", not as
    "none" (equal to its own none): it learns the fork and the two end in sync."""
    w, new, old = _pair(40)
    x1 = entry("forker")
    x2 = sign_entry(ident("forker"), seq=1, prev=None, ts=T0 + 1, kind="trust",
                    body={"subject": "cd" * 32, "level": 1})
    new.replica.ingest([x1], T0)
    old.replica.ingest([x1], T0)
    proof = old.replica.ingest([x2], T0).forks[0]
    old._register_fork(proof, "ff" * 32, "node", T0)
    old._forks_fp = lambda: None  # type: ignore[method-assign]  # the wire of before
    old._fork_listing = lambda theirs: tuple(old._forks.sorted_keys())  # type: ignore[method-assign]
    w.tick(new)
    assert (proof.author, 1) in new.fork_keys()
    assert new.digest() == old.digest()


async def test_nodes_of_both_formats_sync_on_the_network() -> None:
    cluster = Cluster(seed=3)
    old = GossipConfig(tick_interval_s=None, reconcile=False)
    try:
        new1 = await cluster.add(1, [url(2), url(3)])
        new2 = await cluster.add(2, [url(1), url(3)])
        prev = await cluster.add(3, [url(1), url(2)], config=old)
        for i, node in enumerate((new1, new2, prev)):
            node.store.ingest([e.raw for e in held(40 + i)], T0)
            node.store.ingest([entry(f"own-{i}").raw], T0)
        await cluster.settle(cluster.converged)
        assert new1.store.count() == new2.store.count() == prev.store.count() == 42 + 3
        assert cluster.errors() == []
    finally:
        await cluster.close()


# -- conformance vectors (tests/vectors/reconcile.json) ------------------------------------

VECTORS = Path(__file__).parent / "vectors"
RECONCILE_JSON = VECTORS / "reconcile.json"


def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECONCILE_JSON.read_text(encoding="ascii"))
    return data


def test_generator_reproduces_reconcile_json_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("trustnet_vectors_generate_reconcile",
                                                  VECTORS / "generate_reconcile.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen
    spec.loader.exec_module(gen)
    out = tmp_path / "reconcile.json"
    assert gen.main([str(out)]) == 0
    assert out.read_bytes() == RECONCILE_JSON.read_bytes()
    assert GossipConfig().recon_items == gen.RECON_ITEMS


def test_vectors_item_hashes_and_fingerprints() -> None:
    data = _vectors()
    for case in data["item_hashes"]:
        value = item_hash(bytes.fromhex(case["author"]), case["seq"], bytes.fromhex(case["id"]))
        assert fp_bytes(value).hex() == case["hash"]
    index = HeadIndex()
    for author, seq, ident_ in data["fingerprints"]["heads"]:
        index.set_head(bytes.fromhex(author), seq, bytes.fromhex(ident_))
    for case in data["fingerprints"]["prefixes"]:
        value, count = index.fingerprint(case["prefix"])
        assert (fp_bytes(value).hex(), count) == (case["fp"], case["count"]), case["prefix"]
    book = ForkBook(MemoryReplica())
    for case in data["fork_keys"]["keys"]:
        author = bytes.fromhex(case["author"])
        assert fp_bytes(fork_key_hash(author, case["seq"])).hex() == case["hash"]
        book[(author, case["seq"])] = None  # type: ignore[assignment]  # keys only
    value, count = book.keys_fp()
    assert [fp_bytes(value).hex(), count] == data["fork_keys"]["forks_fp"]


@pytest.mark.parametrize("case", _vectors()["exchanges"], ids=lambda c: c["name"])
def test_vectors_exchange_transcript(case: dict[str, Any]) -> None:
    w = Wire()
    sides = {}
    for name in ("a", "b"):
        replica = MemoryReplica()
        result = replica.ingest([bytes.fromhex(e) for e in case[name]["entries"]], T0)
        assert not result.rejected
        p = w.add(name, ["b" if name == "a" else "a"], replica)
        p._note_recent(e for e in result.accepted if e.author.hex() in case[name]["recent"])
        sides[name] = p
    a, b = sides["a"], sides["b"]
    w.tick(a)
    got = []
    for path, body, reply in w.bodies:
        if path in (m.DIGEST, m.RECONCILE):
            got += [(path, "A", body.hex()), (path, "B", reply.hex())]
    assert got == [(msg["path"], msg["from"], msg["msgpack"]) for msg in case["messages"]]
    assert a.digest() == b.digest()
    for author, _after, target in case["fetch"] + case["push"]:
        head = a.replica.head(bytes.fromhex(author))
        assert head is not None and head.seq == target


def test_a_quarantined_entry_leaves_the_fingerprints_with_the_head() -> None:
    # Fingerprints kept apart from the heads must follow them back: else a store that set a
    # corrupted entry aside would read as in sync with a peer holding it, and never fetch it.
    chain = [entry("q", 1)]
    chain.append(entry("q", 2, chain[0]))
    store = Store(None)
    assert len(store.ingest([e.raw for e in [*held(50), *chain]], T0).accepted) == 52
    store.prefix_fingerprint("")  # built: kept incrementally from here
    store.quarantine(chain[1].author, 2, "test: corrupted on disk")
    assert store.prefix_fingerprint("") == brute(store.heads(), "")
    store.quarantine(chain[0].author, 1, "test: corrupted on disk")
    assert store.prefix_fingerprint("") == brute(store.heads(), "")


def test_forks_forgotten_and_learned_in_one_push_do_not_leave_a_stale_forked_set() -> None:
    # A recovery rotation disowns one fork and the same push brings another: the count of
    # fork keys is unchanged, and the fingerprints must still leave out the right author.
    es = held(40)
    r = MemoryReplica()
    r.ingest(es, T0)
    v = GossipProtocol(ident("victim").public_key, r, random.Random(1), CFG, own_url="http://v",
                       peers=[], now_ms=T0, recover_own=False)
    a, b = es[0].author, es[1].author

    def twin(e: Entry) -> Entry:
        return sign_entry(ident(f"held-{es.index(e)}"), seq=1, prev=None, ts=T0, kind="trust",
                          body={"subject": "cd" * 32, "level": 7})

    proof_a, proof_b = ForkProof.of(es[0], twin(es[0])), ForkProof.of(es[1], twin(es[1]))
    v._forks[(a, 1)] = proof_a
    v.fingerprint("")  # the forked set is now cached
    # `a`'s party disowns its fork (as a recovery rotation does), and its head moves.
    r.disowns = lambda proof: proof is proof_a  # type: ignore[method-assign]
    r.ingest([entry("held-0", 2, es[0])], T0)
    v._forks[(b, 1)] = proof_b
    assert set(v._forks.authors) == {b}
    whole, count = brute(r.heads(), "")
    assert v.fingerprint("") == ((whole - item_hash(b, 1, es[1].id)) % MOD, count - 1)
