#!/usr/bin/env python3
"""What forks and a large heads set cost reconciliation and anti-entropy (issue 15, item 1's
adversarial review). Measures CPU time (time.process_time, so load matters less); asserts
nothing. Runs against whatever `trustnet` is first on PYTHONPATH, so the same command
measures two trees (e.g. PYTHONPATH=/work/main for the version before):

    PYTHONPATH=$PWD .venv/bin/python scripts/bench-recon-forks.py [--authors 10000]
        [--forks 10000] [--flood 2000] [--store] [--json]

- `reconcile_ms`: one /gossip/reconcile request of 64 one- and two-digit prefixes, every
  fingerprint differing (each answered by a split: 17 fingerprints), from a node holding
  `--authors` authors of which `--forks` are proven forked (fork proofs it found itself);
- `first_reply_ms` / `first_reply_bytes`: the answer to a mismatching `recon` digest
  (`_same_forks`: from a peer whose digest says it holds the same fork keys);
- `digest_ms`: one entry pushed by a peer (one head moves), then the anti-entropy digest
  (`--authors` heads);
- `flood`: a stranger pushes `--flood` fork proofs about fresh keys nobody holds (16 per
  push, as the wire allows): how many the node keeps, lists and rewards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from typing import Any

from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.gossip import GossipProtocol
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store

T0 = 1_767_225_600_000


def ident(tag: str, i: int) -> Identity:
    return Identity.from_seed(hashlib.sha256(f"bench-recon-forks/{tag}/{i}".encode()).digest())


def signed(who: Identity, level: int, ts: int = T0) -> Entry:
    return sign_entry(who, seq=1, prev=None, ts=ts, kind="trust",
                      body={"subject": "ab" * 32, "level": level})


def cpu_ms(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return round(best * 1000, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors", type=int, default=10_000)
    ap.add_argument("--forks", type=int, default=10_000)
    ap.add_argument("--flood", type=int, default=2_000)
    ap.add_argument("--store", action="store_true",
                    help="the node's SQLite store (in memory) instead of a MemoryReplica")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = GossipConfig(tick_interval_s=None, peer_exchange_every=0, new_authors_per_peer=0,
                       new_authors_total=0)
    forkers = [ident("forker", i) for i in range(min(args.forks, args.authors))]
    plain = [ident("held", i) for i in range(args.authors - len(forkers))]
    replica: Any = Store(None) if args.store else MemoryReplica()
    replica.ingest([signed(w, 1).raw for w in forkers + plain], T0)
    node = GossipProtocol(ident("node", 0).public_key, replica, random.Random(1), cfg,
                          own_url="http://node", peers=["http://peer"], now_ms=T0,
                          recover_own=False)
    # The other branch of each forker: ingest finds the fork, the protocol registers it.
    peer = ident("peer", 0).public_key.hex()
    for i in range(0, len(forkers), 64):
        push = m.Push(tuple(signed(w, 2, T0 + 1).raw for w in forkers[i:i + 64]))
        node.on_request(peer, m.PUSH, push, T0)
    out: dict[str, Any] = {"authors": args.authors, "forks": len(node.fork_keys())}
    prefixes = [f"{i:x}" for i in range(16)] + [f"{i:02x}" for i in range(48)]
    req = m.Reconcile(nodes=tuple((p, bytes(16), 1) for p in prefixes))
    out["reconcile_ms"] = cpu_ms(lambda: node.on_request(peer, m.RECONCILE, req, T0), 3)
    digest = m.Digest(bytes(32), recon=True)
    out["first_reply_ms"] = cpu_ms(lambda: node.on_request(peer, m.DIGEST, digest, T0), 3)
    out["first_reply_bytes"] = len(m.encode(node.on_request(peer, m.DIGEST, digest, T0)[0]))
    if hasattr(node, "_forks_fp"):  # a peer holding the same fork keys says so (forks_fp)
        same = m.Digest(bytes(32), recon=True, forks_fp=node._forks_fp())
        out["first_reply_bytes_same_forks"] = len(m.encode(
            node.on_request(peer, m.DIGEST, same, T0)[0]))
    level = [10]

    def one_change() -> None:
        level[0] += 1
        head = replica.head(plain[0].public_key) if plain else None
        prev = replica.get(head.id) if head is not None else None
        if prev is not None:
            e = sign_entry(plain[0], seq=prev.seq + 1, prev=prev.id, ts=T0, kind="trust",
                           body={"subject": "ab" * 32, "level": level[0]})
            node.on_request(peer, m.PUSH, m.Push((e.raw,)), T0)  # as a peer pushes it
        node.digest()

    node.digest()
    out["digest_ms"] = cpu_ms(one_change, 5)
    # A stranger's flood: fork proofs about fresh keys, 16 per push.
    flooder = GossipProtocol(ident("flooder", 0).public_key, MemoryReplica(), random.Random(2),
                             cfg, own_url="http://flooder", now_ms=T0, recover_own=False)
    stranger = flooder.node_id.hex()
    before = len(node.fork_keys())
    rng = random.Random(3)
    t = time.process_time()
    for i in range(0, args.flood, 16):
        proofs = []
        for _ in range(i, min(i + 16, args.flood)):
            who = Identity.from_seed(rng.randbytes(32))
            proofs.append(ForkProof.of(signed(who, 1), signed(who, 2)).encode())
        try:
            node.on_request(stranger, m.PUSH, m.Push((), tuple(proofs)), T0)
        except Exception as exc:  # a refusal is a result here
            out.setdefault("flood_refused", type(exc).__name__)
    out["flood"] = {"sent": args.flood, "kept": len(node.fork_keys()) - before,
                    "cpu_s": round(time.process_time() - t, 2),
                    "stranger_score": round(node.peers.score(stranger, T0), 2)}
    out["first_reply_bytes_after_flood"] = len(m.encode(node.on_request(peer, m.DIGEST,
                                                                        digest, T0)[0]))
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
