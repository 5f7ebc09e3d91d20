"""Deterministic generator of the range reconciliation conformance vectors (issue 15 item 1).

Run `.venv/bin/python tests/vectors/generate_reconcile.py` to rewrite `reconcile.json` next
to this file. Like the other generators it uses plain msgpack, hashlib and PyNaCl, never
trustnet's code; the rules are in docs/protocol.md ("Reconciliation").

- `item_hashes`: item_hash(author, seq, id) of a few heads.
- `fork_keys`: fork_key_hash(author, seq) of a few fork keys, and the fingerprint of all
  of them (`forks_fp` of a digest and a first reply).
- `fingerprints`: one set of heads and, per prefix, the fingerprint (16 bytes, hex) and
  count of the heads under it.
- `exchanges`: two sides (A initiates, B answers), each given as its raw entries (hex;
  ingest them in order) and the authors whose heads moved in its last tick (`recent`),
  then every message of the exchange in order (`path`, `from`, msgpack hex), and what A
  fetches and pushes afterwards (author hex, after, target), so both hold the same heads.
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import msgpack
from nacl.signing import SigningKey

OUT = Path(__file__).with_name("reconcile.json")
ENTRY_DOMAIN = b"trustnet/v1/entry"
ITEM_TAG = b"trustnet/v1/reconcile-item"
FORK_KEY_TAG = b"trustnet/v1/fork-key"
DIGEST_TAG = b"trustnet/v1/gossip-digest"
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MOD = 1 << 128
HEX = "0123456789abcdef"
RECON_ITEMS = 8  # [gossip] recon_items: a prefix with at most this many heads is listed
Head = tuple[bytes, int, bytes]


def pack(obj: Any) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(b"trustnet/v1/vectors/reconcile/" + name.encode()).digest())


def chain(name: str, length: int) -> list[tuple[bytes, Head]]:
    """`length` trust entries of `name`: (raw entry, its head (author, seq, id))."""
    sk = key(name)
    author = bytes(sk.verify_key)
    out: list[tuple[bytes, Head]] = []
    prev = None
    for seq in range(1, length + 1):
        payload = pack([1, author, seq, prev, NOW - 3_600_000 + seq * 60_000, "trust",
                        {"subject": "ab" * 32, "level": seq}])
        raw = pack([payload, sk.sign(ENTRY_DOMAIN + payload).signature])
        prev = hashlib.sha256(payload).digest()
        out.append((raw, (author, seq, prev)))
    return out


def item_hash(author: bytes, seq: int, ident: bytes) -> int:
    return int.from_bytes(hashlib.sha256(ITEM_TAG + author + struct.pack(">Q", seq) + ident)
                          .digest()[:16], "big")


def fork_key_hash(author: bytes, seq: int) -> int:
    return int.from_bytes(hashlib.sha256(FORK_KEY_TAG + author + struct.pack(">Q", seq))
                          .digest()[:16], "big")


def fp(value: int) -> bytes:
    return (value % MOD).to_bytes(16, "big")


class Side:
    """One node's heads (no forks) and the rules of docs/protocol.md."""

    def __init__(self, chains: dict[str, int]) -> None:
        self.entries: list[bytes] = []
        self.heads: dict[bytes, Head] = {}
        self.names: dict[bytes, str] = {}
        for name, length in chains.items():
            for raw, head in chain(name, length):
                self.entries.append(raw)
                self.heads[head[0]] = head
                self.names[head[0]] = name

    def under(self, prefix: str) -> list[Head]:
        return [self.heads[a] for a in sorted(self.heads) if a.hex().startswith(prefix)]

    def fingerprint(self, prefix: str) -> tuple[bytes, int]:
        heads = self.under(prefix)
        return fp(sum(item_hash(*h) for h in heads)), len(heads)

    def digest(self) -> bytes:
        h = hashlib.sha256(DIGEST_TAG)
        for author in sorted(self.heads):
            _, seq, ident = self.heads[author]
            h.update(b"H" + author + struct.pack(">Q", seq) + ident)
        return h.digest()

    def answer(self, nodes: list[tuple[str, bytes | None, int]]) -> dict[str, Any]:
        """The responder's answer to prefixes asked (fp None, count -1: not known)."""
        splits, items = [], []
        for prefix, their_fp, count in nodes:
            mine_fp, mine = self.fingerprint(prefix)
            if their_fp is not None and (their_fp, count) == (mine_fp, mine):
                continue
            if mine <= RECON_ITEMS or count == 0:
                items.append([prefix, [list(h) for h in self.under(prefix)]])
            else:
                children = [self.fingerprint(prefix + c) for c in HEX]
                splits.append([prefix, b"".join(f for f, _ in children), [c for _, c in children]])
        out: dict[str, Any] = {"t": "reconcile"}
        if splits:
            out["splits"] = splits
        if items:
            out["items"] = items
        return out


def compare(a: Side, theirs: list[Head], ours: list[bytes], fetch: list[Any],
            push: list[Any]) -> None:
    listed = {h[0] for h in theirs}
    for author in ours:
        if author not in listed:
            push.append([author.hex(), 0, a.heads[author][1]])
    for author, seq, _ in theirs:
        mine = a.heads.get(author, (author, 0, b""))[1]
        if seq > mine:
            fetch.append([author.hex(), max(0, mine - 1), seq])
        elif seq < mine:
            push.append([author.hex(), seq - 1, mine])


def exchange(name: str, description: str, a: Side, b: Side, a_recent: list[str],
             b_recent: list[str]) -> dict[str, Any]:
    """A opens with a digest; the transcript runs until A has nothing more to ask."""
    messages: list[dict[str, str]] = []
    fetch: list[Any] = []
    push: list[Any] = []

    def send(path: str, sender: str, msg: dict[str, Any]) -> None:
        messages.append({"path": path, "from": sender, "msgpack": pack(msg).hex()})

    recent_a = sorted(a.heads[k(n)] for n in a_recent)
    opener: dict[str, Any] = {"t": "digest", "digest": a.digest(), "recon": True}
    if recent_a:
        opener["recent"] = [list(h) for h in recent_a]
    send("/gossip/digest", "A", opener)
    b_fp, b_count = b.fingerprint("")
    asked_recent = {h[0] for h in recent_a}
    reply_recent = sorted(b.heads[x] for x in {k(n) for n in b_recent} | asked_recent
                          if x in b.heads)
    if b_count > RECON_ITEMS and (reply_recent or recent_a):
        send("/gossip/digest", "B", {"t": "reconcile", "fp": [b_fp, b_count],
                                     "recent": [list(h) for h in reply_recent]})
        compare(a, reply_recent, [h[0] for h in recent_a], fetch, push)
        rest_a = {x: h for x, h in a.heads.items() if x not in asked_recent
                  and x not in {h[0] for h in reply_recent}}
        rest_value = sum(item_hash(*h) for h in rest_a.values())
        rest_b = int.from_bytes(b_fp, "big") - sum(item_hash(*h) for h in reply_recent)
        assert (rest_value - rest_b) % MOD == 0 and len(rest_a) == b_count - len(reply_recent)
        return {"name": name, "description": description, "a": side_json(a, a_recent),
                "b": side_json(b, b_recent), "messages": messages,
                "fetch": sorted(fetch), "push": sorted(push)}
    reply = b.answer([("", None, -1)])
    send("/gossip/digest", "B", reply)
    while True:
        nodes = []
        for prefix, heads in reply.get("items", []):
            theirs: list[Head] = [(h[0], h[1], h[2]) for h in heads]
            compare(a, theirs, [h[0] for h in a.under(prefix)], fetch, push)
        for prefix, fps, counts in reply.get("splits", []):
            for i, c in enumerate(HEX):
                mine_fp, mine = a.fingerprint(prefix + c)
                if (mine_fp, mine) != (fps[16 * i:16 * i + 16], counts[i]):
                    nodes.append([prefix + c, mine_fp, mine])
        if not nodes:
            break
        send("/gossip/reconcile", "A", {"t": "reconcile", "nodes": nodes})
        reply = b.answer([(p, f, c) for p, f, c in nodes])
        send("/gossip/reconcile", "B", reply)
    return {"name": name, "description": description, "a": side_json(a, a_recent),
            "b": side_json(b, b_recent), "messages": messages,
            "fetch": sorted(fetch), "push": sorted(push)}


def k(name: str) -> bytes:
    return bytes(key(name).verify_key)


def side_json(side: Side, recent: list[str]) -> dict[str, Any]:
    return {"entries": [e.hex() for e in side.entries], "recent": [k(n).hex() for n in recent]}


def build() -> dict[str, Any]:
    common = {f"common-{i}": 1 for i in range(40)}
    heads_side = Side({**common, "extra": 2})
    items = sorted(heads_side.heads.values())
    prefixes = ["", "0", "7", "a", "f", *sorted({h[0].hex()[:2] for h in items[:6]}),
                items[0][0].hex()[:3], items[0][0].hex()]
    a1 = Side({**common, "only-a": 1})
    b1 = Side({**common, "common-5": 2, "only-b-0": 1, "only-b-1": 1, "only-b-2": 1})
    a2 = Side({**common, "new-at-a": 1})
    b2 = Side({**common, "new-at-b": 1})
    return {
        "description": "trustnet range reconciliation vectors (docs/protocol.md, "
                       "\"Reconciliation\"); generated by generate_reconcile.py",
        "item_hash": "int(sha256(\"trustnet/v1/reconcile-item\" | author | seq (8 bytes "
                     "big-endian) | id)[:16], big-endian)",
        "fingerprint": "sum of item hashes mod 2**128 (16 bytes big-endian) and count",
        "recon_items": RECON_ITEMS,
        "item_hashes": [{"author": h[0].hex(), "seq": h[1], "id": h[2].hex(),
                         "hash": fp(item_hash(*h)).hex()} for h in items[:4]],
        "fork_key_hash": "int(sha256(\"trustnet/v1/fork-key\" | author | seq (8 bytes "
                         "big-endian))[:16], big-endian); forks_fp: their sum mod 2**128 "
                         "(16 bytes big-endian) and count",
        "fork_keys": {
            "keys": [{"author": h[0].hex(), "seq": h[1],
                      "hash": fp(fork_key_hash(h[0], h[1])).hex()} for h in items[:4]],
            "forks_fp": [fp(sum(fork_key_hash(h[0], h[1]) for h in items[:4])).hex(), 4],
        },
        "fingerprints": {
            "heads": [[h[0].hex(), h[1], h[2].hex()] for h in items],
            "prefixes": [{"prefix": p, "fp": heads_side.fingerprint(p)[0].hex(),
                          "count": heads_side.fingerprint(p)[1]} for p in prefixes],
        },
        "exchanges": [
            exchange("descent", "nothing moved lately: B splits the whole set, A names the "
                     "children that differ, B lists their heads", a1, b1, [], []),
            exchange("recent", "each took in one new author in its last tick: the digest and "
                     "the first reply carry them, and the rest agrees: one round trip",
                     a2, b2, ["new-at-a"], ["new-at-b"]),
        ],
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUT
    out.write_text(render(build()), encoding="ascii")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
