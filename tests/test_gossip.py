"""The sans-IO gossip protocol, with protocol objects wired by a fake wire (as h11's tests).

No node, no transport, no auth: every message still goes through the msgpack codec,
so what one protocol sends is exactly what the other decodes.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter

import pytest

from trustnet.config.loader import load_table
from trustnet.errors import ConfigError
from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import Action, LocalEntry, RequestFailed, Response, Send, Tick
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.peers import PeerPolicy
from trustnet.store.sqlite import Store

T0 = 1_767_225_600_000


def ident(name: str) -> Identity:
    return Identity.from_seed(hashlib.sha256(name.encode()).digest())


def chain(who: Identity, n: int, start: int = 1, prev: Entry | None = None) -> list[Entry]:
    out = []
    for seq in range(start, start + n):
        e = sign_entry(who, seq=seq, prev=prev.id if prev else None, ts=T0, kind="trust",
                       body={"subject": "ab" * 32, "level": seq % 1000})
        out.append(e)
        prev = e
    return out


class Wire:
    """Protocols by URL; runs actions to completion, recording every request."""

    def __init__(self) -> None:
        self.protos: dict[str, GossipProtocol] = {}
        self.sent: list[tuple[str, str, str, int, int]] = []  # src, dst, path, req, reply bytes
        self.down: set[str] = set()

    def add(self, name: str, peers: list[str], *, store: Store | None = None,
            config: GossipConfig | None = None, recover_own: bool = False,
            cls: type[GossipProtocol] = GossipProtocol) -> GossipProtocol:
        p = cls(
            ident(name).public_key, store or Store(None), random.Random(name),
            config or GossipConfig(tick_interval_s=None), own_url=f"http://{name}",
            peers=[f"http://{x}" for x in peers], now_ms=T0, recover_own=recover_own,
        )
        self.protos[f"http://{name}"] = p
        return p

    def run(self, src: GossipProtocol, actions: list[Action], now: int = T0,
            limit: int = 10_000) -> None:
        queue = [(src, a) for a in actions]
        while queue:
            limit -= 1
            assert limit > 0, "the protocols do not go quiet"
            sender, send = queue.pop(0)
            assert isinstance(send, Send)
            src_url = next(u for u, p in self.protos.items() if p is sender)
            if send.peer_url in self.down:
                queue += [(sender, a) for a in sender.handle(
                    RequestFailed(send.request_id, send.peer_url, "unreachable"), now)]
                continue
            dst = self.protos[send.peer_url]
            body = m.encode(send.message)
            request = m.decode_request(send.path, body)
            reply, more = dst.on_request(sender.node_id.hex(), send.path, request, now)
            raw = m.encode(reply)
            self.sent.append((src_url, send.peer_url, send.path, len(body), len(raw)))
            queue += [(dst, a) for a in more]
            response = Response(send.request_id, send.peer_url, m.decode_reply(send.path, raw))
            queue += [(sender, a) for a in sender.handle(response, now)]

    def tick(self, p: GossipProtocol, now: int = T0) -> None:
        self.run(p, p.handle(Tick(), now), now)

    def paths(self) -> Counter[str]:
        return Counter(path for _, _, path, _, _ in self.sent)


def test_in_sync_round_is_one_constant_exchange() -> None:
    w = Wire()
    a, b = w.add("a", ["b"]), w.add("b", ["a"])
    entries = [e.raw for i in range(5) for e in chain(ident(f"x{i}"), 3)]
    a.store.ingest(entries, T0)
    b.store.ingest(entries, T0)
    assert a.digest() == b.digest()
    actions = a.handle(Tick(), T0)
    digests = [s for s in actions if s.path == m.DIGEST]
    assert len(digests) == 1 and digests[0].message == m.Digest(a.digest(), recon=True)
    w.run(a, actions)
    assert w.paths()[m.DIGEST] == 1 and w.paths()[m.FETCH] == 0 and w.paths()[m.PUSH] == 0
    assert a.stats["in_sync"] == 1


def test_anti_entropy_fetches_in_bounded_batches_and_pushes_back() -> None:
    w = Wire()
    cfg = GossipConfig(tick_interval_s=None, fetch_batch_entries=100, max_push_entries=50,
                       peer_exchange_every=0)
    a = w.add("a", ["b"], config=cfg)
    b = w.add("b", ["a"], config=cfg)
    b.store.ingest([e.raw for e in chain(ident("long"), 350)], T0)
    a.store.ingest([e.raw for e in chain(ident("mine"), 120)], T0)
    w.tick(a)
    assert a.digest() == b.digest()
    assert a.store.count() == b.store.count() == 470
    fetches = [s for s in w.sent if s[2] == m.FETCH]
    pushes = [s for s in w.sent if s[2] == m.PUSH and s[0] == "http://a"]
    assert len(fetches) == 4  # 350 entries, 100 per batch
    assert len(pushes) == 3  # 120 entries, 50 per push
    assert all(size <= cfg.fetch_batch_bytes + 1024 for *_, size in fetches)


def test_heads_map_is_paged() -> None:
    # The previous wire format (range reconciliation off: heads pages on a mismatch).
    w = Wire()
    cfg = GossipConfig(tick_interval_s=None, heads_page=4, peer_exchange_every=0,
                       reconcile=False)
    a = w.add("a", ["b"], config=cfg)
    b = w.add("b", ["a"], config=cfg)
    b.store.ingest([e.raw for i in range(10) for e in chain(ident(f"b{i}"), 2)], T0)
    a.store.ingest([e.raw for i in range(7) for e in chain(ident(f"a{i}"), 1)], T0)
    w.tick(a)
    assert w.paths()[m.HEADS] == 2  # pages 2 and 3 of b's 10 authors
    assert a.digest() == b.digest()
    assert a.store.author_count() == b.store.author_count() == 17


def test_eager_push_goes_to_fanout_peers_once() -> None:
    w = Wire()
    a = w.add("a", ["b", "c", "d", "e", "f"])
    for name in "bcdef":
        w.add(name, ["a"])
    [entry] = chain(ident("a"), 1)
    a.store.ingest([entry.raw], T0)
    actions = a.handle(LocalEntry(entry), T0)
    assert len(actions) == 3 and len({s.peer_url for s in actions}) == 3
    assert all(s.path == m.PUSH and s.message == m.Push((entry.raw,)) for s in actions)
    assert a.handle(LocalEntry(entry), T0) == []  # dedup: once per entry
    w.run(a, actions)
    have = [u for u, p in w.protos.items() if p.store.get(entry.id)]
    # The three receivers push it on once each; the network holds it everywhere or nearly.
    assert len(have) >= 4
    assert all(p.stats["pushed"] <= 3 for p in w.protos.values())


def test_push_beyond_a_gap_makes_the_pusher_send_the_range() -> None:
    w = Wire()
    a, b = w.add("a", ["b"]), w.add("b", ["a"])
    entries = chain(ident("x"), 5)
    a.store.ingest([e.raw for e in entries], T0)
    w.run(a, a.handle(LocalEntry(entries[-1]), T0))  # b gets seq 5 only: a gap
    assert b.store.count() == 5
    # seq 5, then 1..5 after b's PushAck said it wants what follows its head (0).
    assert [(src, path) for src, _, path, *_ in w.sent][:2] == [("http://a", m.PUSH)] * 2


def test_equivocation_becomes_a_fork_proof_on_both_sides() -> None:
    w = Wire()
    a, b = w.add("a", ["b"]), w.add("b", ["a"])
    liar = ident("liar")
    common = chain(liar, 3)
    x = chain(liar, 2, start=4, prev=common[-1])
    y = [sign_entry(liar, seq=4, prev=common[-1].id, ts=T0 + 1, kind="trust",
                    body={"subject": "cd" * 32, "level": 1})]
    a.store.ingest([e.raw for e in common + x], T0)
    b.store.ingest([e.raw for e in common + y], T0)
    w.tick(a)
    # b finds the equivocation when a pushes seq 4-5, and sends the proof back to a at once.
    assert b.fork_keys() == [(liar.public_key, 4)]
    assert a.fork_keys() == [(liar.public_key, 4)]
    assert liar.public_key in b.store.forked_authors()
    # Both sides now leave the equivocator's heads out: the digests agree again.
    assert a.digest() == b.digest()
    n = len(w.sent)
    w.tick(a)
    assert len(w.sent) == n + 1  # in sync: one digest exchange


def test_fork_proof_is_pushed_on_and_a_bad_one_costs_score() -> None:
    w = Wire()
    a = w.add("a", ["b", "c"])
    b, c = w.add("b", ["c"]), w.add("c", [])
    liar = ident("liar")
    x, y = chain(liar, 1)[0], sign_entry(liar, seq=1, prev=None, ts=T0 + 5, kind="trust",
                                           body={"subject": "ef" * 32, "level": 2})
    proof = ForkProof.of(x, y)
    a.store.ingest([x.raw], T0)  # a proof about an author held is news worth a reward
    reply, actions = a.on_request("ff" * 32, m.PUSH, m.Push((), (proof.encode(),)), T0)
    assert reply == m.PushAck()
    assert a.fork_keys() == [(liar.public_key, 1)]
    assert {s.peer_url for s in actions} == {"http://b", "http://c"}
    w.run(a, actions)
    assert b.fork_keys() == c.fork_keys() == [(liar.public_key, 1)]
    bogus = m.Push((), (x.raw,))  # one entry is not a proof
    a.on_request("ee" * 32, m.PUSH, bogus, T0)
    assert a.peers.score("ee" * 32, T0) < 0
    assert a.peers.score("ff" * 32, T0) > 0  # the first sender brought useful news


def test_rejected_entries_lower_the_senders_score() -> None:
    a = Wire().add("a", [])
    good = chain(ident("x"), 1)[0]
    bad = good.raw[:-10] + bytes(10)  # breaks the signature
    reply, _ = a.on_request("aa" * 32, m.PUSH, m.Push((bad,)), T0)
    assert isinstance(reply, m.PushAck) and reply.rejected == 1
    assert a.peers.score("aa" * 32, T0) < 0
    reply, _ = a.on_request("bb" * 32, m.PUSH, m.Push((good.raw,)), T0)
    assert isinstance(reply, m.PushAck) and reply.accepted == 1
    assert a.peers.score("bb" * 32, T0) > 0


def test_own_log_recovery_waits_for_a_quorum_and_fetches_own_chain() -> None:
    w = Wire()
    me = ident("me")
    mine = chain(me, 30)
    for name in ("p1", "p2", "p3"):
        w.add(name, ["me"]).store.ingest([e.raw for e in mine[: 30 if name == "p2" else 20]], T0)
    me_p = w.add("me", ["p1", "p2", "p3"], recover_own=True)
    assert me_p.catching_up
    w.down = {"http://p1", "http://p2", "http://p3"}
    w.tick(me_p)
    assert me_p.catching_up  # nobody answered: still refusing to sign
    w.down = set()
    now = T0 + 60_000  # past every back-off
    for _ in range(4):
        w.tick(me_p, now)
        now += 1000
        if not me_p.catching_up:
            break
    assert not me_p.catching_up
    assert me_p.own_seq() >= me_p.own_max_seen
    assert me_p.recovery_json()["answers"] >= 2


def test_a_node_made_by_init_signs_at_once_and_a_lone_node_with_its_log_too() -> None:
    w = Wire()
    assert not w.add("new", ["p1"], recover_own=False).catching_up  # nothing to recover
    store = Store(None)
    store.ingest([e.raw for e in chain(ident("held"), 3)], T0)
    held = w.add("held", [], store=store, recover_own=True)
    assert held.catching_up
    held.handle(Tick(), T0)
    assert not held.catching_up  # its store holds its log and nobody can say more


def test_a_lone_node_whose_store_was_lost_never_signs_on_its_own() -> None:
    # DESIGN 12: a key with no store signs nothing until it has recovered; "0 peers
    # answered" is no recovery, and neither is the deadline.
    p = Wire().add("alone", [], recover_own=True)
    assert p.catching_up and p.own_log_lost
    for now in (T0, T0 + 10**9):
        p.handle(Tick(), now)
        assert p.catching_up
    assert "--i-know-the-log-is-lost" in p.recovery_reason(T0)


def test_failures_back_off_and_bad_replies_cost_score() -> None:
    w = Wire()
    a = w.add("a", ["b"], config=GossipConfig(tick_interval_s=None, peer_exchange_every=0))
    [send] = a.handle(Tick(), T0)
    a.handle(RequestFailed(send.request_id, send.peer_url, "unreachable"), T0)
    assert a.peers.state("http://b", T0) == "backoff"
    assert a.handle(Tick(), T0 + 10) == []  # nobody usable to talk to
    [send] = a.handle(Tick(), T0 + 1000)
    a.handle(RequestFailed(send.request_id, send.peer_url, "bad_message"), T0 + 1000)
    assert a.peers.score("http://b", T0 + 1000) < 0
    # A reply to a request we never sent, or that timed out, is ignored.
    assert a.handle(Response(999, "http://b", m.InSync()), T0) == []


def test_requests_time_out() -> None:
    a = Wire().add("a", ["b"], config=GossipConfig(tick_interval_s=None, request_timeout_ms=5000))
    a.handle(Tick(), T0)
    assert a.pending() >= 1
    a.handle(Tick(), T0 + 5000)
    assert a.peers.get("http://b") is not None
    assert a.peers.get("http://b").last_error == "timeout"  # type: ignore[union-attr]


def test_discovery_from_profiles_and_peer_exchange() -> None:
    w = Wire()
    a = w.add("a", ["b"])
    b = w.add("b", ["c"])
    w.add("c", [])
    prof = sign_entry(ident("z"), seq=1, prev=None, ts=T0, kind="profile",
                      body={"name": "Z", "role": "state", "urls": ["http://z.example/"]})
    a.on_request("cc" * 32, m.PUSH, m.Push((prof.raw,)), T0)
    assert "http://z.example" in a.peers.urls()
    assert a.peers.get("http://z.example").node_id == ident("z").party_id  # type: ignore[union-attr]
    actions = a.handle(Tick(), T0)
    peers_req = [s for s in actions if s.path == m.PEERS]
    assert len(peers_req) == 1
    assert isinstance(peers_req[0].message, m.PeersRequest)
    assert peers_req[0].message.url == "http://a"
    w.protos["http://z.example"] = w.add("z", [])
    w.run(a, actions)
    assert "http://a" in b.peers.urls() or "http://a" in w.protos["http://z.example"].peers.urls()
    assert "http://c" in a.peers.urls() or b.peers.urls() == ["http://c"]


def test_malformed_request_message_for_endpoint() -> None:
    a = Wire().add("a", [])
    with pytest.raises(m.MessageError):
        a.on_request("aa" * 32, m.PUSH, m.InSync(), T0)


def test_gossip_config_from_its_table() -> None:
    cfg = load_table(GossipConfig, {"fanout": 5, "tick_interval_s": 0.5, "cooldown_ms": 1000},
                     "gossip")
    assert cfg.fanout == 5 and cfg.tick_interval_s == 0.5 and cfg.policy.cooldown_ms == 1000
    with pytest.raises(ConfigError, match=r"\[gossip\] fan_out: unknown setting"):
        load_table(GossipConfig, {"fan_out": 5}, "gossip")
    with pytest.raises(ConfigError, match="integer"):
        load_table(GossipConfig, {"fanout": "5"}, "gossip")
    with pytest.raises(ConfigError, match="integer"):
        load_table(GossipConfig, {"fanout": 2.5}, "gossip")
    with pytest.raises(ConfigError) as info:
        load_table(GossipConfig, {"fanout": 0}, "gossip")
    assert info.value.message == "[gossip] fanout: expected an integer >= 1, got 0"
    assert info.value.code == "bad_config"
    with pytest.raises(ConfigError, match=r"\[gossip\] graylist_threshold: expected a number < 0"):
        load_table(GossipConfig, {"graylist_threshold": 5}, "gossip")
    with pytest.raises(ConfigError):
        PeerPolicy(graylist_threshold=5)


class LyingProtocol(GossipProtocol):
    """Claims any author's head is at seq 10**12 with no proof; holds nothing; answers a
    fetch with `more: true` and nothing (a stall)."""

    def on_request(self, peer_id: str, path: str, message: m.Message,
                   now_ms: int) -> tuple[m.Message, list[Action]]:
        if isinstance(message, m.HeadRequest):
            return m.HeadReply(message.author, 10**12, bytes(32)), []
        if isinstance(message, m.Fetch):
            return m.Entries((), (), more=True), []
        return super().on_request(peer_id, path, message, now_ms)


class ClaimingProtocol(GossipProtocol):
    """Claims seq 1000 with no proof, as an older node would; serves fetches honestly."""

    def on_request(self, peer_id: str, path: str, message: m.Message,
                   now_ms: int) -> tuple[m.Message, list[Action]]:
        if isinstance(message, m.HeadRequest):
            return m.HeadReply(message.author, 1000, bytes(32)), []
        return super().on_request(peer_id, path, message, now_ms)


class ForgingProtocol(GossipProtocol):
    """Proves a head with an entry that is not the asker's (its own key signed it)."""

    def on_request(self, peer_id: str, path: str, message: m.Message,
                   now_ms: int) -> tuple[m.Message, list[Action]]:
        if isinstance(message, m.HeadRequest):
            fake = chain(ident("forger"), 1)[0]
            return m.HeadReply(message.author, 50, fake.id, fake.raw), []
        return super().on_request(peer_id, path, message, now_ms)


class WithholdingProtocol(GossipProtocol):
    """Holds our log and proves its head, but never delivers a single entry."""

    def on_request(self, peer_id: str, path: str, message: m.Message,
                   now_ms: int) -> tuple[m.Message, list[Action]]:
        if isinstance(message, m.Fetch):
            return m.Entries(()), []
        if isinstance(message, m.Digest):
            return m.InSync(), []
        return super().on_request(peer_id, path, message, now_ms)


NO_EXCHANGE = GossipConfig(tick_interval_s=None, peer_exchange_every=0)


def held_store(n: int) -> Store:
    store = Store(None)
    store.ingest([e.raw for e in chain(ident("me"), n)], T0)
    return store


def test_head_replies_carry_the_signed_head_and_old_replies_still_decode() -> None:
    w = Wire()
    peer = w.add("peer", [])
    mine = chain(ident("me"), 4)
    peer.store.ingest([e.raw for e in mine], T0)
    reply, _ = peer.on_request("aa" * 32, m.HEAD, m.HeadRequest(ident("me").public_key), T0)
    assert isinstance(reply, m.HeadReply) and reply.entry == mine[-1].raw
    assert m.decode_reply(m.HEAD, m.encode(reply)) == reply
    old = m.HeadReply(ident("me").public_key, 4, mine[-1].id)  # an older node's reply
    assert "entry" not in old.wire() and m.decode_reply(m.HEAD, m.encode(old)) == old


def test_an_unproven_head_claim_cannot_stall_recovery() -> None:
    w = Wire()
    w.add("honest", ["me"]).store.ingest([e.raw for e in chain(ident("me"), 30)], T0)
    w.add("liar", ["me"], cls=LyingProtocol)
    me = w.add("me", ["honest", "liar"], store=held_store(20), recover_own=True,
               config=NO_EXCHANGE)
    w.tick(me)
    rec = me.recovery_json()
    assert rec["answers"] == 2 and rec["own_max_seen"] == 30  # the honest peer's proof
    assert me.own_seq() == 30  # fetched up to the proven head
    w.tick(me, T0 + 1000)
    assert not me.catching_up  # long before the deadline, and never at seq 10**12


def test_a_peer_that_claims_our_chain_but_cannot_deliver_it_is_overruled() -> None:
    w = Wire()
    w.add("honest", ["me"])
    w.add("liar", ["me"], cls=ClaimingProtocol)
    me = w.add("me", ["honest", "liar"], store=held_store(3), recover_own=True,
               config=NO_EXCHANGE)
    w.tick(me)
    assert me.recovery_json()["answers"] == 2
    assert me.own_max_seen == 3  # the liar's claim proved nothing and delivered nothing
    assert me.peers.score("http://liar", T0) < 0  # `more: false` and no entry: a lie
    liar_log = me.peers.to_json(T0)["peers"][1]["log"]
    assert any("false_head" in e["reason"] for e in liar_log)
    w.tick(me, T0 + 1000)
    assert not me.catching_up


def test_a_forged_proof_is_refused_and_costs_score() -> None:
    w = Wire()
    w.add("forger", ["me"], cls=ForgingProtocol)
    me = w.add("me", ["forger"], store=held_store(3), recover_own=True, config=NO_EXCHANGE)
    w.tick(me)
    assert me.own_max_seen == 3 and me.peers.score("http://forger", T0) < 0
    w.tick(me, T0 + 1000)
    assert not me.catching_up


def test_a_silent_or_failing_peer_is_outlasted_by_the_deadline() -> None:
    w = Wire()
    w.add("p1", ["me"])
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0,
                       own_recovery_deadline_ms=60_000)
    me = w.add("me", ["p1"], store=held_store(3), recover_own=True, config=cfg)
    w.down = {"http://p1"}  # every request fails (a 500 or a dead peer alike)
    w.tick(me)
    w.tick(me, T0 + 59_999)
    assert me.catching_up
    w.tick(me, T0 + 60_000)
    assert not me.catching_up and me.own_seq() == 3


def test_a_proven_head_blocks_signing_past_the_deadline_until_it_is_fetched() -> None:
    w = Wire()
    mine = [e.raw for e in chain(ident("me"), 10)]
    w.add("hoarder", ["me"], cls=WithholdingProtocol).store.ingest(mine, T0)
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0,
                       own_recovery_deadline_ms=1000)
    me = w.add("me", ["hoarder", "late"], store=held_store(3), recover_own=True, config=cfg)
    w.down = {"http://late"}
    for now in range(T0, T0 + 60_000, 1000):
        w.tick(me, now)
    assert me.catching_up and me.own_max_seen == 10 and me.own_seq() == 3
    assert "seq 10" in me.recovery_reason(T0)
    w.down = set()
    w.add("late", ["me"]).store.ingest(mine, T0)
    for now in range(T0 + 60_000, T0 + 120_000, 1000):
        w.tick(me, now)
        if not me.catching_up:
            break
    assert not me.catching_up and me.own_seq() == 10


def test_a_lost_store_waits_for_a_peer_to_confirm_its_head_not_just_for_pushed_entries() -> None:
    w = Wire()
    mine = [e.raw for e in chain(ident("me"), 100)]
    me = w.add("me", [], recover_own=True, config=NO_EXCHANGE)
    me.on_request("bb" * 32, m.PUSH, m.Push(tuple(mine[:64])), T0)  # a stranger pushed part
    w.tick(me)
    assert me.own_seq() == 64 and me.catching_up  # nobody said where our head is
    w.add("peer", []).store.ingest(mine, T0)
    me.peers.add("http://peer", "exchange", T0)
    for now in range(T0 + 1000, T0 + 30_000, 1000):
        w.tick(me, now)
        if not me.catching_up:
            break
    assert not me.catching_up and me.own_seq() == 100


class OldProtocol(GossipProtocol):
    """An honest node of an older version: head replies without the proof."""

    def on_request(self, peer_id: str, path: str, message: m.Message,
                   now_ms: int) -> tuple[m.Message, list[Action]]:
        reply, actions = super().on_request(peer_id, path, message, now_ms)
        if isinstance(reply, m.HeadReply):
            reply = m.HeadReply(reply.author, reply.seq, reply.id)
        return reply, actions


def test_an_older_peer_without_proofs_still_brings_our_log_back() -> None:
    w = Wire()
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0, fetch_batch_entries=10)
    w.add("old", ["me"], cls=OldProtocol).store.ingest([e.raw for e in chain(ident("me"), 50)], T0)
    me = w.add("me", ["old"], store=held_store(20), recover_own=True, config=cfg)
    w.tick(me)
    assert me.own_seq() == 50 and me.recovery_json()["unproven"] == 0
    w.tick(me, T0 + 1000)
    assert not me.catching_up


# -- anti-entropy sessions end (issue 11 item 5) -------------------------------------------


def _liar_page(n: int, after: bytes | None) -> m.Heads:
    return m.Heads(((n.to_bytes(32, "big"), 10**6, b"\x11" * 32),), more=True, after=after)


def _session_config(**kw: int) -> GossipConfig:
    return GossipConfig(tick_interval_s=None, peer_exchange_every=0, max_sessions=1, **kw)


def _digest(actions: list[Action]) -> Send:
    [send] = [a for a in actions if a.path == m.DIGEST]
    return send


def test_a_heads_page_that_does_not_advance_ends_the_session() -> None:
    a = Wire().add("a", ["liar"], config=_session_config())
    send = _digest(a.handle(Tick(), T0))
    [nxt] = [s for s in a.handle(Response(send.request_id, "http://liar", _liar_page(5, None)), T0)
             if s.path == m.HEADS]
    assert isinstance(nxt.message, m.HeadsRequest) and nxt.message.after == (5).to_bytes(32, "big")
    # The same page again: `after` does not advance. The session ends; the liar pays.
    again = a.handle(Response(nxt.request_id, "http://liar", _liar_page(5, nxt.message.after)), T0)
    assert [s for s in again if s.path == m.HEADS] == []
    assert a.stats["sessions_ended"] == 1 and a.peers.score("http://liar", T0) == -30.0
    log = a.peers.to_json(T0)["peers"][0]["log"]
    assert any(line["reason"].startswith("no_progress") for line in log)
    assert _digest(a.handle(Tick(), T0 + 1))  # the slot is free again


def test_a_page_for_another_start_ends_the_session() -> None:
    a = Wire().add("a", ["liar"], config=_session_config())
    send = _digest(a.handle(Tick(), T0))
    [nxt] = [s for s in a.handle(Response(send.request_id, "http://liar", _liar_page(5, None)), T0)
             if s.path == m.HEADS]
    a.handle(Response(nxt.request_id, "http://liar", _liar_page(9, None)), T0)  # after: None
    assert a.stats["sessions_ended"] == 1


def test_pages_are_capped_per_session_and_endless_peers_get_graylisted() -> None:
    a = Wire().add("a", ["liar"], config=_session_config(max_session_pages=5))
    now = T0
    for _round in range(2):
        send = _digest(a.handle(Tick(), now))
        page, pages = _liar_page(1 + _round * 100, None), 0
        while True:
            pages += 1
            replies = [s for s in a.handle(Response(send.request_id, "http://liar", page), now)
                       if s.path == m.HEADS]
            if not replies:
                break
            send = replies[0]
            assert isinstance(send.message, m.HeadsRequest) and send.message.after is not None
            page = _liar_page(int.from_bytes(send.message.after, "big") + 1, send.message.after)
        assert pages == 5  # progress every page, but no end: cut at max_session_pages
        now += 1
    assert a.stats["sessions_ended"] == 2
    assert a.peers.is_ignored("http://liar", now)  # two endless sessions: graylisted
    assert a.handle(Tick(), now) == []  # and no longer dialled


def test_a_session_past_its_deadline_ends_and_late_replies_only_deliver_data() -> None:
    a = Wire().add("a", ["slow"], config=_session_config(session_timeout_ms=5000))
    send = _digest(a.handle(Tick(), T0))
    a.handle(Tick(), T0 + 4999)
    assert a.stats["sessions_ended"] == 0
    a.handle(Tick(), T0 + 5000)
    assert a.stats["sessions_ended"] == 1 and a.peers.score("http://slow", T0 + 5000) == -5.0
    late = a.handle(Response(send.request_id, "http://slow", _liar_page(3, None)), T0 + 5001)
    assert late == []  # the ended session pages no further


def test_sessions_to_learned_urls_are_guarded_configured_ones_not() -> None:
    a = Wire().add("a", ["cfg"], config=_session_config())
    assert not _digest(a.handle(Tick(), T0)).guard
    b = Wire().add("b", [], config=_session_config())
    b.on_request("cc" * 32, m.PEERS, m.PeersRequest("http://learned.example", ()), T0)
    send = _digest(b.handle(Tick(), T0))
    assert send.guard
    # A private literal address from exchange never gets in; the sender gets no URL either.
    b.on_request("dd" * 32, m.PEERS, m.PeersRequest("http://10.0.0.7:7400", ()), T0)
    assert "http://10.0.0.7:7400" not in b.peers
    assert b.peers.get("dd" * 32).url is None  # type: ignore[union-attr]
    # A learned host name that resolves to a private address (the shell says so) is dropped.
    b.handle(RequestFailed(send.request_id, send.peer_url, "private_address"), T0 + 3)
    assert "http://learned.example" not in b.peers
    assert b.peers.refused["http://learned.example"]["reason"] == "private_address"


def test_a_second_refusal_of_a_dropped_url_keeps_where_it_was_learned() -> None:
    b = Wire().add("b", [], config=GossipConfig(tick_interval_s=None, peer_exchange_every=1))
    b.on_request("cc" * 32, m.PEERS, m.PeersRequest("http://learned.example", ()), T0)
    sends = b.handle(Tick(), T0)  # a digest and a peer exchange, both in flight
    assert len(sends) == 2
    for send in sends:
        b.handle(RequestFailed(send.request_id, send.peer_url, "private_address"), T0 + 1)
    refused = b.peers.refused["http://learned.example"]
    assert refused["source"] == "exchange" and refused["count"] == 2
