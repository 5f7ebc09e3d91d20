"""Deterministic generator of the entry format v1 conformance vectors (DESIGN section 3).

Run `.venv/bin/python tests/vectors/generate.py` to rewrite `entries.json` next to
this file. Everything is fixed: Ed25519 keys come from fixed seeds (Ed25519
signatures are deterministic), timestamps are constants, and entries are built
here with plain msgpack rather than with `trustnet.log.entry`, so a bug in the codec
cannot leak into the vectors. Invalid entries are hand-crafted and signed
correctly, so each one breaks exactly the rule its case names.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from trustnet.identity import Identity

OUT = Path(__file__).with_name("entries.json")
DOMAIN = b"trustnet/v1/entry"  # DESIGN section 3: signatures cover DOMAIN + payload
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the receiver's clock in every case
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
MAX_FUTURE = 5 * MINUTE
MAX_ENTRY = 64 * 1024
AUTHORS = ("alice", "bob", "carol", "mallory")


def pack(obj: Any) -> bytes:
    """Minimal msgpack, bin type for bytes: the one encoding v1 accepts."""
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


def seed_of(name: str) -> bytes:
    """The fixed 32-byte Ed25519 seed of a test author."""
    return hashlib.sha256(b"trustnet/v1/vectors/" + name.encode()).digest()


IDS: dict[str, Identity] = {name: Identity.from_seed(seed_of(name)) for name in AUTHORS}


def entry_id(payload: bytes) -> bytes:
    """sha256 of the payload bytes."""
    return hashlib.sha256(payload).digest()


def payload_of(fields: list[Any]) -> bytes:
    """Encode payload fields [version, author, seq, prev, ts, kind, body]."""
    return pack(fields)


def seal(signer: str, payload: bytes) -> bytes:
    """Sign `payload` with `signer`'s key and wrap it as an entry."""
    return pack([payload, IDS[signer].sign(DOMAIN + payload)])


@dataclass
class Author:
    """A chain under construction: what the next valid entry needs."""

    name: str
    seq: int = 0
    prev: bytes | None = None
    ts: int = NOW - 30 * DAY
    history: list[bytes] = field(default_factory=list)  # payloads, index seq-1

    @property
    def key(self) -> bytes:
        """The 32-byte public key."""
        return IDS[self.name].public_key

    @property
    def party(self) -> str:
        """The party id (hex)."""
        return self.key.hex()

    def fields(self, kind: str, body: Any, ts: Any = None) -> list[Any]:
        """The payload fields of the next entry of this chain (not yet appended)."""
        return [1, self.key, self.seq + 1, self.prev, self.ts if ts is None else ts, kind, body]

    def append(self, payload: bytes, ts: int) -> None:
        """Record `payload` as the chain's next entry."""
        self.seq += 1
        self.prev = entry_id(payload)
        self.ts = ts
        self.history.append(payload)

    def next(self, kind: str, body: dict[str, Any], ts: int | None = None) -> bytes:
        """A valid signed entry extending the chain (advances it)."""
        when = self.ts + MINUTE if ts is None else ts
        payload = payload_of(self.fields(kind, body, when))
        self.append(payload, when)
        return seal(self.name, payload)

    def id_hex(self, seq: int) -> str:
        """The id (hex) of this author's entry `seq`."""
        return entry_id(self.history[seq - 1]).hex()


def authors() -> tuple[Author, Author, Author, Author]:
    """Fresh chains for every case (cases are independent)."""
    return Author("alice"), Author("bob"), Author("carol"), Author("mallory")


# -- valid bodies, one per kind ------------------------------------------------------------

DIGEST = hashlib.sha256(b"aerial photograph 1").hexdigest()


def profile(name: str) -> dict[str, Any]:
    return {"name": name, "role": "state", "urls": [f"https://{name}.example:7700"]}


def annual_exchange() -> dict[str, Any]:
    unit = {
        "unit": "1st Armoured Brigade", "location": "Northfield", "personnel": 4200,
        "tanks": 90, "acv": 140, "artillery": 36, "aircraft": 0, "helicopters": 12,
    }
    return {"valid_from": NOW, "units": [unit]}


def calendar() -> dict[str, Any]:
    act = {"activity": "Autumn Shield", "start": NOW + 200 * DAY, "end": NOW + 210 * DAY,
           "troops": 9500}
    return {"year": 2026, "activities": [act]}


def notification(kind: str = "exercise", start: int = NOW + 50 * DAY, troops: Any = 12_500,
                 **extra: Any) -> dict[str, Any]:
    body = {
        "activity": "Steppe Eagle", "type": kind, "start": start, "end": start + 7 * DAY,
        "area": "training area east", "troops": troops, "tanks": 250, "acv": 300,
        "artillery": 100, "amphibious": 0, "sorties": 40, "observers_invited": False,
    }
    body.update(extra)
    return body


def observation(subject: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": subject, "area": "training area east", "at": NOW - 2 * DAY,
        "troops": 20_000, "tanks": 350, "acv": 400, "artillery": 120, "method": "aerial",
        "confidence": 700, "evidence": [DIGEST],
    }
    body.update(extra)
    return body


def attestation(subject: str) -> dict[str, Any]:
    return {"subject": subject, "verdict": "confirm", "method": "inspection",
            "confidence": 900, "evidence": [DIGEST], "note": "counted on site"}


def trust(subject: str, level: int = 600) -> dict[str, Any]:
    return {"subject": subject, "level": level}


# -- cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    """One vector: entries played in order from an empty store, and fork proofs."""

    name: str
    description: str
    entries: list[tuple[bytes, str]] = field(default_factory=list)
    fork_proofs: list[tuple[bytes, str]] = field(default_factory=list)
    now_ms: int = NOW

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "now_ms": self.now_ms,
            "entries": [raw.hex() for raw, _ in self.entries],
            "expect": [code for _, code in self.entries],
        }
        if self.fork_proofs:
            out["fork_proofs"] = [{"proof": p.hex(), "expect": c} for p, c in self.fork_proofs]
        return out


CASES: list[Callable[[], Case]] = []


def case(fn: Callable[[], Case]) -> Callable[[], Case]:
    CASES.append(fn)
    return fn


def bad_body_case(name: str, description: str, body: Any, kind: str,
                  code: str) -> Case:
    """A first entry by alice whose only fault is in kind/body, correctly signed."""
    alice = Author("alice")
    payload = payload_of(alice.fields(kind, body, NOW - HOUR))
    return Case(name, description, [(seal("alice", payload), code)])


def raw_payload_case(name: str, description: str, payload: bytes, code: str,
                     signer: str = "alice") -> Case:
    """A single entry around a hand-made payload, correctly signed by `signer`."""
    return Case(name, description, [(seal(signer, payload), code)])


# valid chains


@case
def valid_single_profile() -> Case:
    alice, *_ = authors()
    return Case("valid_single_profile", "One profile entry, seq 1, prev nil.",
                [(alice.next("profile", profile("alice")), "ok")])


@case
def valid_chain_one_author() -> Case:
    alice, *_ = authors()
    entries = [
        alice.next("profile", profile("alice")),
        alice.next("annual_exchange", annual_exchange()),
        alice.next("calendar", calendar()),
        alice.next("notification", notification()),
        alice.next("notification", notification(kind="transfer", troops=3000)),
    ]
    return Case("valid_chain_one_author",
                "Five entries of one author, kinds profile, annual_exchange, calendar, "
                "notification.", [(e, "ok") for e in entries])


@case
def valid_interleaved_authors() -> Case:
    alice, bob, carol, _ = authors()
    e: list[bytes] = []
    e.append(alice.next("profile", profile("alice")))
    e.append(bob.next("profile", profile("bob")))
    e.append(alice.next("notification", notification()))
    e.append(carol.next("profile", profile("carol")))
    e.append(bob.next("observation", observation(alice.party)))
    e.append(carol.next("attestation", attestation(bob.id_hex(2))))
    e.append(bob.next("trust", trust(carol.party)))
    e.append(bob.next("consultation_request", {
        "subject": alice.party, "concern": "troop numbers above the notified figure",
        "area": "training area east", "activity": "Steppe Eagle"}))
    e.append(alice.next("consultation_reply", {
        "request": bob.id_hex(4), "explanation": "below threshold"}))
    e.append(bob.next("inspection_request", {
        "host": alice.party, "area": "training area east", "grounds": "observation"}))
    e.append(alice.next("inspection_response", {
        "request": bob.id_hex(5), "accept": True, "reason": ""}))
    e.append(bob.next("inspection_report", {
        "request": bob.id_hex(5), "host": alice.party, "troops": 16_000, "tanks": 320,
        "acv": 380, "artillery": 110, "verdict": "inconsistent", "evidence": [DIGEST],
        "activity": "Steppe Eagle"}))
    e.append(carol.next("trust", trust(alice.party, -250)))
    return Case("valid_interleaved_authors",
                "Three authors interleaved, every statement kind of the demo scenario; "
                "bodies refer to earlier entry ids.", [(x, "ok") for x in e])


@case
def valid_alert_notification() -> Case:
    alice, *_ = authors()
    e1 = alice.next("profile", profile("alice"))
    start = alice.ts + MINUTE
    e2 = alice.next("notification", notification(kind="alert", start=start, troops=15_000),
                    ts=start)
    return Case("valid_alert_notification",
                "An alert (snap) notification published the moment the activity starts.",
                [(e1, "ok"), (e2, "ok")])


@case
def valid_ext_field() -> Case:
    alice, bob, *_ = authors()
    ext = {"note": "bilateral", "weights": [1, -1, 0, 2**63 - 1, -(2**63)],
           "raw": b"\x00\x01\xff", "flag": True, "none": None, "big": 2**64 - 1,
           "nested": {"a": {"b": ["c"]}}}
    return Case("valid_ext_field",
                "Optional ext maps carry any msgpack value but floats/ext types: ints of "
                "every width, bin, bool, nil, nested maps and arrays.",
                [(alice.next("trust", {**trust(bob.party), "ext": ext}), "ok"),
                 (alice.next("notification", notification(ext={"exercise_series": 7})), "ok")])


@case
def valid_optional_fields_nil() -> Case:
    alice, bob, *_ = authors()
    return Case("valid_optional_fields_nil",
                "Optional fields (activity, ext) may be present as nil or absent.",
                [(bob.next("observation", observation(alice.party, activity=None, ext=None)),
                  "ok"),
                 (bob.next("observation", observation(alice.party)), "ok")])


@case
def valid_unicode_text() -> Case:
    alice, *_ = authors()
    body = notification(activity="Запад-2026 演習", area="Łódź — Ωmega 🛰")
    return Case("valid_unicode_text", "Non-ASCII text is UTF-8 in msgpack str.",
                [(alice.next("notification", body), "ok")])


@case
def valid_equal_timestamps() -> Case:
    alice, *_ = authors()
    e1 = alice.next("profile", profile("alice"))
    e2 = alice.next("trust", trust(IDS["bob"].party_id), ts=alice.ts)
    return Case("valid_equal_timestamps", "ts may stay equal along a chain (never decrease).",
                [(e1, "ok"), (e2, "ok")])


@case
def valid_timestamp_at_future_limit() -> Case:
    alice, *_ = authors()
    return Case("valid_timestamp_at_future_limit",
                "ts exactly 5 minutes ahead of the receiver's clock is accepted.",
                [(alice.next("profile", profile("alice"), ts=NOW + MAX_FUTURE), "ok")])


def nested(levels: int) -> Any:
    """`levels` nested arrays around 0."""
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@case
def valid_nesting_at_limit() -> Case:
    alice, bob, *_ = authors()
    # Levels: payload 1, body 2, ext 3, then 5 arrays: levels 4..8 (the limit).
    body = {**trust(bob.party), "ext": {"deep": nested(5)}}
    return Case("valid_nesting_at_limit",
                "Containers nested exactly 8 deep (payload array = level 1, body = 2, "
                "ext = 3, five arrays inside).", [(alice.next("trust", body), "ok")])


def sized_entry(author: Author, size: int) -> bytes:
    """A valid trust entry of exactly `size` bytes (padding in ext), advancing the chain."""
    bob = IDS["bob"].party_id
    for n in range(size, 0, -1):
        body = {**trust(bob), "ext": {"pad": "x" * n}}
        payload = payload_of(author.fields("trust", body, author.ts + MINUTE))
        raw = seal(author.name, payload)
        if len(raw) == size:
            author.append(payload, author.ts + MINUTE)
            return raw
        if len(raw) < size:
            break
    raise AssertionError(f"no padding gives exactly {size} bytes")


@case
def valid_size_at_limit() -> Case:
    alice, *_ = authors()
    return Case("valid_size_at_limit", "An entry of exactly 65536 bytes is accepted.",
                [(sized_entry(alice, MAX_ENTRY), "ok")])


# size and framing


@case
def too_large() -> Case:
    alice, *_ = authors()
    return Case("too_large",
                "An entry of 65537 bytes (validly signed) is refused before decoding.",
                [(sized_entry(alice, MAX_ENTRY + 1), "too_large")])


@case
def truncated_entry() -> Case:
    alice, bob, *_ = authors()
    raw = alice.next("profile", profile("alice"))
    other = bob.next("profile", profile("bob"))
    return Case("truncated_entry",
                "Entries cut short (last byte missing; only half; empty input).",
                [(raw[:-1], "bad_encoding"), (other[: len(other) // 2], "bad_encoding"),
                 (b"", "bad_encoding"), (raw, "ok")])


@case
def trailing_bytes_entry() -> Case:
    alice, *_ = authors()
    raw = alice.next("profile", profile("alice"))
    return Case("trailing_bytes_entry", "A valid entry followed by one extra byte (nil).",
                [(raw + b"\xc0", "bad_encoding"), (raw, "ok")])


@case
def trailing_bytes_payload() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR)) + b"\x00"
    return raw_payload_case("trailing_bytes_payload",
                            "A signed payload with one byte after the 7-element array.",
                            payload, "bad_encoding")


@case
def entry_wrong_shape() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR))
    sig = IDS["alice"].sign(DOMAIN + payload)
    return Case("entry_wrong_shape",
                "The outer entry is not [payload: bin, sig: bin]: three elements, a map, "
                "payload as an embedded array, payload as str.",
                [(pack([payload, sig, b""]), "bad_encoding"),
                 (pack({"payload": payload, "sig": sig}), "bad_encoding"),
                 (pack([msgpack.unpackb(payload), sig]), "bad_encoding"),
                 (pack([payload.decode("latin-1"), sig]), "bad_encoding")])


@case
def payload_wrong_arity() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    return Case("payload_wrong_arity", "Payload arrays of 6 and 8 elements; a payload map.",
                [(seal("alice", pack(fields[:6])), "bad_encoding"),
                 (seal("alice", pack([*fields, None])), "bad_encoding"),
                 (seal("alice", pack(dict(enumerate(fields)))), "bad_encoding")])


# signatures


@case
def wrong_key() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR))
    return Case("wrong_key", "alice's payload signed by mallory's key.",
                [(seal("mallory", payload), "bad_signature"), (seal("alice", payload), "ok")])


@case
def flipped_signature_bit() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR))
    sig = bytearray(IDS["alice"].sign(DOMAIN + payload))
    sig[17] ^= 0x04
    return Case("flipped_signature_bit", "One bit of the signature flipped.",
                [(pack([payload, bytes(sig)]), "bad_signature")])


@case
def signature_of_other_payload() -> Case:
    alice, *_ = authors()
    body = notification()
    payload = payload_of(alice.fields("notification", body, NOW - HOUR))
    sig = IDS["alice"].sign(DOMAIN + payload)
    forged = payload_of(alice.fields("notification", {**body, "troops": 8_500}, NOW - HOUR))
    return Case("signature_of_other_payload",
                "A signature moved onto a payload whose troop count was lowered.",
                [(pack([forged, sig]), "bad_signature")])


@case
def signature_wrong_length() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR))
    sig = IDS["alice"].sign(DOMAIN + payload)
    return Case("signature_wrong_length", "Signatures of 63 and 65 bytes.",
                [(pack([payload, sig[:63]]), "bad_signature"),
                 (pack([payload, sig + b"\x00"]), "bad_signature")])


@case
def signature_without_domain() -> Case:
    alice, *_ = authors()
    payload = payload_of(alice.fields("profile", profile("alice"), NOW - HOUR))
    return Case("signature_without_domain",
                "Signed over the bare payload, without the b\"trustnet/v1/entry\" prefix.",
                [(pack([payload, IDS["alice"].sign(payload)]), "bad_signature")])


@case
def author_not_a_key() -> Case:
    mallory = Author("mallory")
    fields = mallory.fields("profile", profile("zero"), NOW - HOUR)
    fields[1] = bytes(32)  # a small-order point: no signature verifies under it
    return raw_payload_case("author_not_a_key",
                            "author is 32 zero bytes (not a usable Ed25519 public key).",
                            pack(fields), "bad_signature", signer="mallory")


# chain rules


@case
def swapped_prev() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    a2 = alice.next("trust", trust(bob.party))
    b1 = bob.next("profile", profile("bob"))
    wrong_own = alice.fields("trust", trust(bob.party, 100), alice.ts + MINUTE)
    wrong_own[3] = entry_id(alice.history[0])  # points at seq 1, not seq 2
    wrong_other = list(wrong_own)
    wrong_other[3] = entry_id(bob.history[0])  # points into another author's chain
    return Case("swapped_prev",
                "seq 3 whose prev is the id of the author's seq 1, then of bob's seq 1.",
                [(a1, "ok"), (a2, "ok"), (b1, "ok"),
                 (seal("alice", pack(wrong_own)), "bad_prev"),
                 (seal("alice", pack(wrong_other)), "bad_prev"),
                 (alice.next("trust", trust(bob.party, 100)), "ok")])


@case
def seq_gap() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    a2 = alice.next("trust", trust(bob.party))
    a3 = alice.next("trust", trust(bob.party, 700))
    return Case("seq_gap",
                "seq 3 arrives before seq 2 (refused: not accepted entries do not advance "
                "the chain); then seq 2 and seq 3 are accepted in order.",
                [(a1, "ok"), (a3, "bad_seq"), (a2, "ok"), (a3, "ok")])


@case
def first_entry_not_seq_1() -> Case:
    alice, bob, *_ = authors()
    alice.next("profile", profile("alice"))
    a2 = alice.next("trust", trust(bob.party))
    return Case("first_entry_not_seq_1", "An empty chain's first entry must be seq 1.",
                [(a2, "bad_seq")])


@case
def replayed_entry() -> Case:
    alice, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    return Case("replayed_entry", "The same entry twice: the second is a replay position.",
                [(a1, "ok"), (a1, "bad_seq")])


@case
def seq_zero() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    fields[2] = 0
    return raw_payload_case("seq_zero", "seq 0 with prev nil.", pack(fields), "bad_seq")


@case
def seq_negative() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    fields[2] = -1
    return raw_payload_case("seq_negative", "seq -1 with prev nil.", pack(fields), "bad_seq")


@case
def seq_not_int() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    fields[2] = True
    return raw_payload_case("seq_not_int", "seq is the boolean true.", pack(fields), "bad_seq")


@case
def seq1_with_prev() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    fields[3] = hashlib.sha256(b"nothing").digest()
    return raw_payload_case("seq1_with_prev", "seq 1 carrying a prev id.", pack(fields),
                            "bad_prev")


@case
def seq2_without_prev() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    fields = alice.fields("trust", trust(bob.party), alice.ts + MINUTE)
    fields[3] = None
    return Case("seq2_without_prev", "seq 2 with prev nil.",
                [(a1, "ok"), (seal("alice", pack(fields)), "bad_prev")])


@case
def prev_wrong_length() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    fields = alice.fields("trust", trust(bob.party), alice.ts + MINUTE)
    fields[3] = fields[3][:31]
    fields_str = alice.fields("trust", trust(bob.party), alice.ts + MINUTE)
    fields_str[3] = fields_str[3].hex()
    return Case("prev_wrong_length", "prev of 31 bytes; prev as a hex str.",
                [(a1, "ok"), (seal("alice", pack(fields)), "bad_prev"),
                 (seal("alice", pack(fields_str)), "bad_prev")])


@case
def equivocation() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    fa = alice.fields("trust", trust(bob.party, 900), alice.ts + MINUTE)
    fb = alice.fields("trust", trust(bob.party, -900), alice.ts + MINUTE)
    ea, eb = seal("alice", pack(fa)), seal("alice", pack(fb))
    x, y = sorted([(entry_id(pack(fa)), ea), (entry_id(pack(fb)), eb)])
    return Case("equivocation",
                "Two validly signed seq 2 entries of one author: the chain takes the first, "
                "refuses the second (bad_seq), and the pair is a valid fork proof in either "
                "order.",
                [(a1, "ok"), (ea, "ok"), (eb, "bad_seq")],
                [(pack([x[1], y[1]]), "ok"), (pack([y[1], x[1]]), "ok")])


# timestamps


@case
def future_timestamp() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW + MAX_FUTURE + 1)
    return Case("future_timestamp",
                "ts 5 minutes and 1 ms ahead of the receiver's clock; the same entry is "
                "fine for a receiver whose clock is 1 ms later (see the next case).",
                [(seal("alice", pack(fields)), "bad_timestamp")])


@case
def future_timestamp_later_clock() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW + MAX_FUTURE + 1)
    return Case("future_timestamp_later_clock", "The previous entry, receiver clock 1 ms later.",
                [(seal("alice", pack(fields)), "ok")], now_ms=NOW + 1)


@case
def decreasing_timestamp() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"), ts=NOW - HOUR)
    fields = alice.fields("trust", trust(bob.party), NOW - HOUR - 1)
    return Case("decreasing_timestamp", "seq 2 is 1 ms older than seq 1.",
                [(a1, "ok"), (seal("alice", pack(fields)), "bad_timestamp"),
                 (alice.next("trust", trust(bob.party), ts=NOW - HOUR), "ok")])


@case
def negative_timestamp() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), -1)
    return raw_payload_case("negative_timestamp", "ts -1.", pack(fields), "bad_timestamp")


@case
def timestamp_not_int() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), str(NOW))
    return raw_payload_case("timestamp_not_int", "ts as a decimal str.", pack(fields),
                            "bad_timestamp")


# integer bounds: seq and ts are at most 2**53-1 (issue 11: larger ones overflowed the store)

MAX_INT = 2**53 - 1


@case
def seq_beyond_2_53() -> Case:
    alice, *_ = authors()
    entries = []
    for seq in (MAX_INT + 1, 2**63, 2**64 - 1):
        fields = alice.fields("profile", profile("alice"), NOW - HOUR)
        fields[2], fields[3] = seq, hashlib.sha256(b"nothing").digest()
        entries.append((seal("alice", pack(fields)), "bad_seq"))
    return Case("seq_beyond_2_53", "seq 2**53, 2**63 and 2**64-1 (with a prev): seq is at most "
                "2**53-1.", entries)


@case
def timestamp_beyond_2_53() -> Case:
    alice, *_ = authors()
    at_max = alice.fields("profile", profile("alice"), MAX_INT)
    beyond = alice.fields("profile", profile("alice"), MAX_INT + 1)
    huge = alice.fields("profile", profile("alice"), 2**64 - 1)
    return Case("timestamp_beyond_2_53",
                "ts 2**53 and 2**64-1 are refused even by a receiver whose clock (2**53-1) lets "
                "ts 2**53 pass its future bound; "
                "ts 2**53-1 is the largest allowed.",
                [(seal("alice", pack(beyond)), "bad_timestamp"),
                 (seal("alice", pack(huge)), "bad_timestamp"),
                 (seal("alice", pack(at_max)), "ok")], now_ms=MAX_INT)


@case
def fork_proof_integer_bounds() -> Case:
    alice, *_ = authors()
    prev = hashlib.sha256(b"nothing").digest()

    def proof(seq: int, ts: int) -> bytes:
        pair = []
        for name in ("a", "b"):
            fields = alice.fields("profile", profile(name), ts)
            fields[2], fields[3] = seq, prev
            pair.append(seal("alice", pack(fields)))
        return pack(sorted(pair))

    return Case("fork_proof_integer_bounds",
                "Fork proofs whose entries carry seq 2**53 or ts 2**64-1 are not proofs: their "
                "entries do not decode. At seq and ts 2**53-1 they are.",
                [], [(proof(MAX_INT + 1, NOW - HOUR), "bad_fork_proof"),
                     (proof(2, 2**64 - 1), "bad_fork_proof"),
                     (proof(MAX_INT, MAX_INT), "ok")])


# encoding


@case
def float_in_body() -> Case:
    alice, bob, *_ = authors()
    f64 = pack(alice.fields("trust", {"subject": bob.party, "level": 600.0}, NOW - HOUR))
    f32 = pack(alice.fields("trust", {**trust(bob.party), "ext": {"w": 0.5}}, NOW - HOUR))
    f32 = f32.replace(b"\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", b"\xca\x3f\x00\x00\x00")
    ts_float = alice.fields("profile", profile("alice"), float(NOW))
    return Case("float_in_body",
                "Floats anywhere are refused: float64 level, float32 in ext, float ts.",
                [(seal("alice", f64), "bad_encoding"), (seal("alice", f32), "bad_encoding"),
                 (seal("alice", pack(ts_float)), "bad_encoding")])


@case
def ext_type_in_body() -> Case:
    alice, bob, *_ = authors()
    body = {**trust(bob.party), "ext": {"x": msgpack.ExtType(5, b"ab")}}
    return raw_payload_case("ext_type_in_body", "A msgpack ext type (5) inside ext.",
                            pack(alice.fields("trust", body, NOW - HOUR)), "bad_encoding")


@case
def timestamp_ext_in_body() -> Case:
    alice, *_ = authors()
    body = notification()
    body["start"] = msgpack.Timestamp(1_772_000_000, 0)
    return raw_payload_case("timestamp_ext_in_body",
                            "A msgpack timestamp ext (-1) as notification.start.",
                            pack(alice.fields("notification", body, NOW - HOUR)), "bad_encoding")


@case
def non_str_map_key() -> Case:
    alice, bob, *_ = authors()
    int_key = {**trust(bob.party), "ext": {1: "one"}}
    bin_key: dict[Any, Any] = {**trust(bob.party), b"level2": 5}
    return Case("non_str_map_key", "An int key in ext; a bin key in the body.",
                [(seal("alice", pack(alice.fields("trust", int_key, NOW - HOUR))), "bad_encoding"),
                 (seal("alice", pack(alice.fields("trust", bin_key, NOW - HOUR))), "bad_encoding")])


@case
def nesting_too_deep() -> Case:
    alice, bob, *_ = authors()
    body = {**trust(bob.party), "ext": {"deep": nested(6)}}
    return raw_payload_case("nesting_too_deep",
                            "Containers nested 9 deep (one more than valid_nesting_at_limit).",
                            pack(alice.fields("trust", body, NOW - HOUR)), "bad_encoding")


@case
def non_minimal_encoding() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    head = bytes([0x97])  # fixarray of 7
    rest = b"".join(pack(f) for f in fields[3:])
    # seq 1 as uint32 (0xce) where a positive fixint fits.
    seq_u32 = head + pack(1) + pack(fields[1]) + b"\xce\x00\x00\x00\x01" + rest
    # author as bin16 (0xc5) where bin8 fits.
    author_b16 = head + pack(1) + b"\xc5\x00\x20" + fields[1] + pack(1) + rest
    # version 1 as int8 (0xd0).
    ver_i8 = head + b"\xd0\x01" + b"".join(pack(f) for f in fields[1:])
    # kind "profile" as str8 (0xd9) where fixstr fits.
    kind_s8 = (head + b"".join(pack(f) for f in fields[:5]) + b"\xd9\x07profile"
               + pack(fields[6]))
    minimal = payload_of(fields)
    sig = IDS["alice"].sign(DOMAIN + minimal)
    # the outer entry with the payload as bin32 (0xc6) where bin8 fits.
    outer_b32 = b"\x92\xc6" + len(minimal).to_bytes(4, "big") + minimal + pack(sig)
    return Case("non_minimal_encoding",
                "Each value re-encoded in a longer form msgpack allows: seq as uint32, "
                "author as bin16, version as int8, kind as str8, the outer payload as bin32. "
                "Only the minimal encoding is valid (one statement, one id).",
                [(seal("alice", seq_u32), "bad_encoding"),
                 (seal("alice", author_b16), "bad_encoding"),
                 (seal("alice", ver_i8), "bad_encoding"),
                 (seal("alice", kind_s8), "bad_encoding"),
                 (outer_b32, "bad_encoding"),
                 (seal("alice", minimal), "ok")])


@case
def duplicate_map_key() -> Case:
    alice, bob, *_ = authors()
    # {"subject": ..., "level": 600, "level": 600} written by hand: a map of 3 pairs.
    pairs = [("subject", bob.party), ("level", 600), ("level", 600)]
    body = bytes([0x83]) + b"".join(pack(k) + pack(v) for k, v in pairs)
    fields = alice.fields("trust", {}, NOW - HOUR)
    payload = b"".join([bytes([0x97]), *(pack(f) for f in fields[:6]), body])
    return raw_payload_case("duplicate_map_key", "A body map with the key 'level' twice.",
                            payload, "bad_encoding")


@case
def invalid_utf8() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    payload = pack(fields).replace(b"\xa5alice", b"\xa5al\xffce")
    return raw_payload_case("invalid_utf8", "A str (profile.name) that is not UTF-8.",
                            payload, "bad_encoding")


@case
def wrong_version() -> Case:
    alice, *_ = authors()
    out = []
    for version in (2, 0, "1", True):
        fields = alice.fields("profile", profile("alice"), NOW - HOUR)
        fields[0] = version
        out.append((seal("alice", pack(fields)), "bad_version"))
    return Case("wrong_version", "Format versions 2, 0, \"1\" (a str) and true (a bool).", out)


@case
def author_wrong_length() -> Case:
    alice, *_ = authors()
    short = alice.fields("profile", profile("alice"), NOW - HOUR)
    short[1] = short[1][:31]
    as_hex = alice.fields("profile", profile("alice"), NOW - HOUR)
    as_hex[1] = as_hex[1].hex()
    return Case("author_wrong_length", "author of 31 bytes; author as a hex str.",
                [(seal("alice", pack(short)), "bad_encoding"),
                 (seal("alice", pack(as_hex)), "bad_encoding")])


@case
def kind_not_str() -> Case:
    alice, *_ = authors()
    fields = alice.fields("profile", profile("alice"), NOW - HOUR)
    fields[5] = b"profile"
    return raw_payload_case("kind_not_str", "kind as bin instead of str.", pack(fields),
                            "bad_encoding")


# kinds and bodies


@case
def unknown_kind() -> Case:
    return bad_body_case("unknown_kind", "kind 'treaty' is not a statement kind.",
                         {"text": "hello"}, "treaty", "unknown_kind")


@case
def body_not_map() -> Case:
    return bad_body_case("body_not_map", "body is an array.", [], "profile",
                         "bad_body")


@case
def missing_field() -> Case:
    body = notification()
    del body["troops"]
    return bad_body_case("missing_field", "notification without troops.", body,
                         "notification", "bad_body")


@case
def extra_field() -> Case:
    body = {**notification(), "threat_level": "low"}
    return bad_body_case("extra_field",
                         "notification with a field the kind does not define (not under ext).",
                         body, "notification", "bad_body")


@case
def ill_typed_field() -> Case:
    return bad_body_case("ill_typed_field", "notification.troops as a str.",
                         notification(troops="12500"), "notification", "bad_body")


@case
def confidence_out_of_range() -> Case:
    return bad_body_case("confidence_out_of_range", "observation.confidence 1001 (max 1000).",
                         observation(IDS["bob"].party_id, confidence=1001), "observation",
                         "bad_body")


@case
def bool_where_int() -> Case:
    return bad_body_case("bool_where_int", "notification.tanks is true (bool is not int).",
                         notification(tanks=True), "notification", "bad_body")


@case
def bad_body_values() -> Case:
    alice, *_ = authors()
    bob = IDS["bob"].party_id
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("profile", {**profile("alice"), "role": "king"}),
        ("profile", {**profile("alice"), "urls": ["ftp://alice.example"]}),
        ("trust", trust(bob.upper())),
        ("trust", trust(bob, 1001)),
        ("notification", notification(area="x" * 4097)),
        ("notification", notification(troops=-1)),
        ("notification", notification(observers_invited=1)),
        ("observation", observation(bob, evidence=["00" * 31])),
        ("calendar", {**calendar(), "year": 1899}),
        ("annual_exchange", {**annual_exchange(), "units": [{"unit": "x"}]}),
        ("trust", {**trust(bob), "ext": ["not", "a", "map"]}),
    ]
    entries = [(seal("alice", pack(alice.fields(k, b, NOW - HOUR))), "bad_body")
               for k, b in bodies]
    return Case("bad_body_values",
                "Schema violations: unknown role literal, non-http URL, uppercase party id, "
                "trust level 1001, area over 4096 chars, negative count, int for a bool, "
                "short digest, year 1899, incomplete nested unit, ext not a map.", entries)


@case
def signature_checked_before_body() -> Case:
    alice, *_ = authors()
    payload = pack(alice.fields("treaty", {"text": "hello"}, NOW - HOUR))
    return raw_payload_case("signature_checked_before_body",
                            "An unknown kind signed by the wrong key: the signature is checked "
                            "first.", payload, "bad_signature", signer="mallory")


# fork proofs


@case
def fork_proofs() -> Case:
    alice, bob, *_ = authors()
    a1 = alice.next("profile", profile("alice"))
    fa = pack(alice.fields("trust", trust(bob.party, 900), alice.ts + MINUTE))
    fb = pack(alice.fields("trust", trust(bob.party, -900), alice.ts + MINUTE))
    ea, eb = seal("alice", fa), seal("alice", fb)
    a2 = alice.next("trust", trust(bob.party, 1))
    b1 = bob.next("profile", profile("bob"))
    weird_a = seal("alice", pack(alice.fields("treaty", {"x": 1}, alice.ts)))
    weird_b = seal("alice", pack(alice.fields("treaty", {"x": 2}, alice.ts)))
    forged = bytearray(eb)
    forged[-1] ^= 0x01
    return Case("fork_proofs",
                "Fork proofs msgpack([entry_a, entry_b]) checked on their own: valid pairs "
                "(bodies are not validated: a signed entry is evidence whatever it says) and "
                "invalid ones (same entry twice, other authors, other seqs, a bad signature, "
                "three entries, garbage).",
                [],
                [(pack([ea, eb]), "ok"),
                 (pack([weird_a, weird_b]), "ok"),
                 (pack([ea, ea]), "bad_fork_proof"),
                 (pack([a1, b1]), "bad_fork_proof"),
                 (pack([a1, a2]), "bad_fork_proof"),
                 (pack([ea, bytes(forged)]), "bad_fork_proof"),
                 (pack([ea, eb, a1]), "bad_fork_proof"),
                 (pack([ea]), "bad_fork_proof"),
                 (b"\xc1garbage", "bad_fork_proof"),
                 (ea, "bad_fork_proof")])


def build() -> dict[str, Any]:
    """The whole vector file as a JSON-ready dict."""
    return {
        "format": "trustnet entry v1 conformance vectors",
        "version": 1,
        "authors": {n: {"seed": seed_of(n).hex(), "party_id": IDS[n].party_id} for n in AUTHORS},
        "cases": [make().to_json() for make in CASES],
    }


def render(vectors: dict[str, Any]) -> str:
    """The exact text of entries.json."""
    return json.dumps(vectors, indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite entries.json (or the path given as the only argument)."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    vectors = build()
    out.write_text(render(vectors), encoding="ascii")
    print(f"wrote {len(vectors['cases'])} cases to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
