"""Deterministic generator of the witness receipt conformance vectors (issue 14 item 4).

Run `.venv/bin/python tests/vectors/generate_receipts.py` to rewrite `receipts.json` next to
this file. Like `generate.py`, entries and receipts are built with plain msgpack from fixed
seeds and fixed timestamps; the rules are in docs/witnesses.md.

Each case is alice's chain (every entry valid, stored in order at `now_ms`), then receipts
offered one by one, each with its expected outcome: `ok` (taken), or a stable code
(`bad_receipt`, `not_witness`, `unknown_entry`, `conflicting_receipt`). `witnessed` gives the
witnessed time expected of each entry afterwards (null: none), `witness_forks` the fork proofs
of witnesses expected to be held.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import msgpack
from nacl.signing import SigningKey

OUT = Path(__file__).with_name("receipts.json")
ENTRY_DOMAIN = b"trustnet/v1/entry"
RECEIPT_DOMAIN = b"trustnet/v1/receipt"
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
KEYS = ("alice", "w1", "w2", "w3", "mallory")


def pack(obj: Any) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def seed_of(name: str) -> bytes:
    return hashlib.sha256(b"trustnet/v1/vectors/receipts/" + name.encode()).digest()


SK = {n: SigningKey(seed_of(n)) for n in KEYS}
PUB = {n: bytes(SK[n].verify_key) for n in KEYS}


class Chain:
    """Alice's chain; its first entry declares w1, w2 and w3 with receipts_needed = 2."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.ids: list[bytes] = []
        self.ts = NOW - 60 * MINUTE
        self.sign("witnesses", {"witnesses": sorted(PUB[w].hex() for w in ("w1", "w2", "w3")),
                                "receipts_needed": 2})

    def sign(self, kind: str, body: dict[str, Any]) -> bytes:
        self.ts += MINUTE
        prev = self.ids[-1] if self.ids else None
        payload = pack([1, PUB["alice"], len(self.ids) + 1, prev, self.ts, kind, body])
        raw = pack([payload, SK["alice"].sign(ENTRY_DOMAIN + payload).signature])
        self.entries.append(raw)
        self.ids.append(hashlib.sha256(payload).digest())
        return raw

    def trust(self, level: int) -> bytes:
        return self.sign("trust", {"subject": PUB["mallory"].hex(), "level": level})


def receipt(signer: str, seq: int, entry_id: bytes, time: int, *, witness: str | None = None,
            version: int = 1) -> bytes:
    """A receipt by `witness` (default: the signer) of (alice, seq, entry_id, time)."""
    payload = pack([version, PUB[witness or signer], PUB["alice"], seq, entry_id, time])
    return pack([payload, SK[signer].sign(RECEIPT_DOMAIN + payload).signature])


def case(name: str, description: str, chain: Chain, receipts: list[tuple[bytes, str]],
         witnessed: list[int | None], forks: list[bytes] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "now_ms": NOW,
        "entries": [raw.hex() for raw in chain.entries],
        "receipts": [raw.hex() for raw, _ in receipts],
        "expect": [code for _, code in receipts],
        "witnessed": witnessed,
        "witness_forks": [f.hex() for f in forks or ()],
    }


def cases() -> list[dict[str, Any]]:
    out = []
    c = Chain()
    c.trust(100)
    c.trust(200)
    t = c.ts + 1000
    out.append(case(
        "valid_receipts",
        "w1, w2 and w3 receipt seq 3 at t+500, t+2000 and t+1000: each is taken; the witnessed "
        "time is the 2nd by receipt time (k = 2): t+1000. Seq 2 has one receipt: no witnessed "
        "time. A receipt offered twice is taken once (ok both times: a duplicate changes nothing).",
        c,
        [(receipt("w1", 3, c.ids[2], t + 500), "ok"), (receipt("w2", 3, c.ids[2], t + 2000), "ok"),
         (receipt("w3", 3, c.ids[2], t + 1000), "ok"), (receipt("w2", 2, c.ids[1], t), "ok"),
         (receipt("w1", 3, c.ids[2], t + 500), "ok")],
        [None, None, t + 1000]))

    c = Chain()
    c.trust(100)
    t = c.ts + 1000
    out.append(case(
        "receipt_by_non_witness",
        "mallory is not among the witnesses alice declared: not_witness. Nor does the "
        "declaration at seq 1 hold for itself (it holds for the entries after it): a declared "
        "witness's receipt of seq 1 is not_witness too.",
        c,
        [(receipt("mallory", 2, c.ids[1], t), "not_witness"),
         (receipt("w1", 1, c.ids[0], t), "not_witness")],
        [None, None]))

    c = Chain()
    c.trust(100)
    t = c.ts + 1000
    out.append(case(
        "receipt_for_unknown_entry",
        "Receipts for an id not held at seq 2, and for seq 9 that alice's chain does not reach: "
        "unknown_entry (a node may keep them a while, until the entry arrives).",
        c,
        [(receipt("w1", 2, b"\x07" * 32, t), "unknown_entry"),
         (receipt("w1", 9, b"\x08" * 32, t), "unknown_entry")],
        [None, None]))

    c = Chain()
    c.trust(100)
    t = c.ts + 1000
    first = receipt("w1", 2, c.ids[1], t)
    other_id = b"\x09" * 32
    second = receipt("w1", 2, other_id, t + 10)
    ordered = [first, second] if c.ids[1] < other_id else [second, first]
    out.append(case(
        "conflicting_receipts",
        "w1 receipts seq 2 of alice, then another id at the same seq: conflicting_receipt. The "
        "pair, msgpack([receipt_a, receipt_b]) ordered by id, is kept as w1's fork proof; the "
        "first receipt stays held.",
        c,
        [(first, "ok"), (second, "conflicting_receipt"),
         (receipt("w2", 2, c.ids[1], t + 20), "ok")],
        [None, t + 20], [pack(ordered)]))

    c = Chain()
    c.trust(100)
    t = c.ts + 1000
    good = receipt("w1", 2, c.ids[1], t)
    payload, sig = msgpack.unpackb(good)
    out.append(case(
        "bad_receipts",
        "A receipt naming w1 but signed by mallory; one whose signature has a flipped bit; one of "
        "version 2; one with a non-minimal encoding (seq 2 as a 64-bit integer): each bad_receipt.",
        c,
        [(receipt("mallory", 2, c.ids[1], t, witness="w1"), "bad_receipt"),
         (pack([payload, sig[:-1] + bytes([sig[-1] ^ 1])]), "bad_receipt"),
         (receipt("w1", 2, c.ids[1], t, version=2), "bad_receipt"),
         (_non_minimal(c.ids[1], t), "bad_receipt")],
        [None, None]))
    return out


def _non_minimal(entry_id: bytes, time: int) -> bytes:
    """w1's receipt with seq 2 written as a 64-bit integer (0xcf): the same values, another
    encoding; a receipt has one."""
    payload = (b"\x96" + pack(1) + pack(PUB["w1"]) + pack(PUB["alice"])
               + b"\xcf" + (2).to_bytes(8, "big") + pack(entry_id) + pack(time))
    return pack([payload, SK["w1"].sign(RECEIPT_DOMAIN + payload).signature])


def build() -> dict[str, Any]:
    return {
        "format": "trustnet witness receipt conformance vectors",
        "version": 1,
        "keys": {n: {"seed": seed_of(n).hex(), "public_key": PUB[n].hex()} for n in KEYS},
        "cases": cases(),
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    vectors = build()
    out.write_text(render(vectors), encoding="ascii")
    print(f"wrote {len(vectors['cases'])} cases to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
