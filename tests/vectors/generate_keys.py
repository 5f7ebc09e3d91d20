"""Deterministic generator of the key conformance vectors (pre-rotation, rotation, revocation).

Run `.venv/bin/python tests/vectors/generate_keys.py` to rewrite `keys.json` next
to this file. Like `generate.py`, entries are built with plain msgpack from fixed
seeds and fixed timestamps; the rules are in docs/keys.md.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import msgpack
from nacl.signing import SigningKey

OUT = Path(__file__).with_name("keys.json")
DOMAIN = b"trustnet/v1/entry"
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000
DAY = 86_400_000
KEYS = ("alice0", "alice1", "alice2", "alice3", "mallory", "bob")


def pack(obj: Any) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def seed_of(name: str) -> bytes:
    return hashlib.sha256(b"trustnet/v1/vectors/keys/" + name.encode()).digest()


SK = {n: SigningKey(seed_of(n)) for n in KEYS}
PUB = {n: bytes(SK[n].verify_key) for n in KEYS}


def digest(name: str) -> str:
    """The commitment to key `name`: sha256 of its public key, hex."""
    return hashlib.sha256(PUB[name]).hexdigest()


BOB = PUB["bob"].hex()


class Chain:
    """Alice's chain: author is alice0 (the inception key) for life."""

    def __init__(self) -> None:
        self.seq = 0
        self.prev: bytes | None = None
        self.ts = NOW - 30 * DAY

    def sign(self, key: str, kind: str, body: dict[str, Any], ts: int | None = None,
             advance: bool = True) -> bytes:
        when = self.ts + MINUTE if ts is None else ts
        payload = pack([1, PUB["alice0"], self.seq + 1, self.prev, when, kind, body])
        raw = pack([payload, SK[key].sign(DOMAIN + payload).signature])
        if advance:
            self.seq += 1
            self.prev = hashlib.sha256(payload).digest()
            self.ts = when
        return raw


def trust(level: int) -> dict[str, Any]:
    return {"subject": BOB, "level": level}


def rotation(key: str, nxt: str | None, since: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"key": PUB[key].hex()}
    if nxt is not None:
        body["next"] = digest(nxt)
    if since is not None:
        body["compromised_since"] = since
    return body


def case(name: str, description: str, entries: list[tuple[bytes, str]],
         revoked: list[bool] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "now_ms": NOW,
        "entries": [raw.hex() for raw, _ in entries],
        "expect": [code for _, code in entries],
    }
    if revoked is not None:
        out["revoked"] = revoked
    return out


def cases() -> list[dict[str, Any]]:
    out = []
    c = Chain()
    e1 = c.sign("alice0", "keys", {"next": digest("alice1")})
    e2 = c.sign("alice0", "trust", trust(500))
    e3 = c.sign("alice1", "rotation", rotation("alice1", "alice2"))
    old = c.sign("alice0", "trust", trust(1), advance=False)
    e4 = c.sign("alice1", "trust", trust(600))
    e5 = c.sign("alice2", "rotation", rotation("alice2", "alice3"))
    e6 = c.sign("alice2", "trust", trust(700))
    out.append(case(
        "valid_rotations",
        "keys commits to alice1 at seq 1; seq 3 rotates to alice1 (signed by it), committing to "
        "alice2; an entry by the retired key alice0 is refused; seq 5 rotates again.",
        [(e1, "ok"), (e2, "ok"), (e3, "ok"), (old, "bad_signature"), (e4, "ok"), (e5, "ok"),
         (e6, "ok")]))

    c = Chain()
    e1 = c.sign("alice0", "keys", {"next": digest("alice1")})
    by_current = c.sign("alice0", "rotation", rotation("alice1", "alice2"), advance=False)
    by_thief = c.sign("mallory", "rotation", rotation("mallory", "alice2"), advance=False)
    nothing = c.sign("alice1", "rotation", rotation("alice1", None), advance=False)
    same = c.sign("alice1", "rotation", rotation("alice1", "alice1"), advance=False)
    future_since = c.sign("alice1", "rotation", rotation("alice1", "alice2", c.ts + 2 * MINUTE),
                          advance=False)
    again = c.sign("alice0", "keys", {"next": digest("mallory")}, advance=False)
    out.append(case(
        "bad_rotations",
        "After the commitment to alice1: a rotation signed by the current key alice0, one "
        "revealing a key that was not committed (mallory, signed by itself), one that commits to "
        "no next key, one that commits to the key it reveals, one whose compromised_since is after "
        "its own ts, and a second `keys` commitment: each bad_rotation, and the chain stays at "
        "seq 1.",
        [(e1, "ok"), (by_current, "bad_rotation"), (by_thief, "bad_rotation"),
         (nothing, "bad_rotation"), (same, "bad_rotation"), (future_since, "bad_rotation"),
         (again, "bad_rotation")]))

    c = Chain()
    e1 = c.sign("alice0", "trust", trust(1))
    rot = c.sign("alice1", "rotation", rotation("alice1", "alice2"))
    out.append(case(
        "rotation_without_commitment",
        "A party that never committed to a next key cannot rotate (a v1 log: its key is for life).",
        [(e1, "ok"), (rot, "bad_rotation")]))

    c = Chain()
    e1 = c.sign("alice0", "keys", {"next": digest("alice1")})
    e2 = c.sign("alice0", "trust", trust(1))
    r1 = c.sign("alice1", "rotation", rotation("alice1", "alice2"), advance=False)
    r2 = c.sign("alice1", "rotation", rotation("alice1", "alice3"))
    out.append(case(
        "two_rotations_at_one_place",
        "Two rotations at seq 3, both signed by the committed key: the first is taken, the "
        "second is bad_rotation (and a fork proof of the next key's holder).",
        [(e1, "ok"), (e2, "ok"), (r2, "ok"), (r1, "bad_rotation")]))

    c = Chain()
    t0 = NOW - 10 * DAY
    e1 = c.sign("alice0", "keys", {"next": digest("alice1")}, ts=t0)
    e2 = c.sign("alice0", "trust", trust(500), ts=t0 + DAY)
    stolen = t0 + 2 * DAY
    e3 = c.sign("alice0", "trust", trust(-1000), ts=t0 + 3 * DAY)  # the thief
    e4 = c.sign("alice1", "rotation", rotation("alice1", "alice2", stolen), ts=t0 + 4 * DAY)
    e5 = c.sign("alice1", "trust", trust(600), ts=t0 + 5 * DAY)
    late = c.sign("alice0", "trust", trust(-1000), ts=t0 + 6 * DAY, advance=False)
    out.append(case(
        "recovery_after_theft",
        "alice0 was stolen at `compromised_since` (day 2): the thief's seq 3 (day 3) is held but "
        "revoked; the rotation at seq 4 is signed by the committed key; after it the stolen key "
        "signs nothing (bad_signature). `revoked` gives the mark of each accepted entry.",
        [(e1, "ok"), (e2, "ok"), (e3, "ok"), (e4, "ok"), (e5, "ok"), (late, "bad_signature")],
        revoked=[False, False, True, False, False, False]))
    return out


def build() -> dict[str, Any]:
    return {
        "format": "trustnet key conformance vectors (pre-rotation, rotation, revocation)",
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
