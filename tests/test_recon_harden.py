"""The adversarial review of range reconciliation (issue 15 item 1), unit side: forked
authors kept in their own index (a fingerprint costs O(1) whatever the forks), fork proofs
about authors nobody here holds gated and unrewarded.

The same attacks against a real `trustnet run` node are in test_attack_forks.py.
"""

from __future__ import annotations

import random

from tests.harness.wire import CFG, T0, Wire, ident
from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import EntriesRejected
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.recon_index import MOD, item_hash
from trustnet.store.memory import MemoryReplica


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
    p.replica.ingest([signed(held).raw], T0)
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
    # A key refused lately is not fetched again from each peer that lists it.
    refused = next(iter(p._forks_refused))
    assert not p._fork_wanted(refused, T0)
    assert p._fork_wanted(refused, T0 + cfg.new_authors_interval_s * 1000)
