"""Witness receipts: the format, its checks and witnessed time (issue 14 item 4; docs/witnesses.md).

A witness signs, once per place (author, seq), that it received the entry `id` at `time`:

    payload = msgpack([1, witness: bin32, author: bin32, seq: int>=1, id: bin32, time: int ms])
    sig     = Ed25519 detached signature over b"trustnet/v1/receipt" + payload   (64 bytes)
    receipt = msgpack([payload: bin, sig: bin])

`witness` is the witness's party id; the signature is by one of its signing keys
(trustnet/log/keys.py: the party id itself until it rotates). Two receipts by one witness at
one place for different ids are a fork proof *of the witness* (`conflicting_receipt`):
`msgpack([receipt_a, receipt_b])`, ordered by id, self-verifying like an entry fork proof.

An author declares its witnesses in its own log (a `witnesses` statement:
{"witnesses": [party id hex...], "receipts_needed": k}); the declaration at seq d holds for
the author's entries at seq > d, until the next one. So a declaration is itself receipted
by the witnesses it replaces, and a branch of a split view cannot swap in witnesses of its
own at the place it forks.

The **witnessed time** of an entry is the time of its k-th receipt (by receipt time) among
the declared witnesses. A split view cannot gather k receipts on both branches when
k > n/2 of n honest witnesses: each receipts one id per place, and two sets of k out of n
overlap when 2k > n (docs/witnesses.md).

Everything here is pure; `trustnet/store/receipts.py` stores and checks receipts against a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

from trustnet.errors import TrustnetError
from trustnet.identity import Identity
from trustnet.log.entry import MAX_INT

RECEIPT_DOMAIN = b"trustnet/v1/receipt"
RECEIPT_VERSION = 1
WITNESSES_KIND = "witnesses"
MAX_WITNESSES = 16  # witnesses one author may declare (bounds receipts held per entry)
MAX_RECEIPT_BYTES = 512  # an encoded receipt is ~200 bytes
SIG_BYTES = 64
ID_BYTES = 32


class ReceiptError(TrustnetError):
    """A receipt is refused. Codes: bad_receipt (encoding or signature), not_witness (its
    signer is not a declared witness of the author at that seq), unknown_entry (no such entry
    held here), conflicting_receipt (the witness receipted another id at that place: the
    pair is kept as its fork proof)."""

    code = "bad_receipt"


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def _unpack(data: bytes, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, timestamp=0,
                               ext_hook=_no_ext, max_array_len=8, max_map_len=0)
    except ReceiptError:
        raise
    except Exception as exc:
        raise ReceiptError(f"{what} is not valid msgpack: {type(exc).__name__}",
                           code="bad_receipt") from None


def _no_ext(code: int, data: bytes) -> Any:
    raise ReceiptError(f"ext type {code} is not allowed", code="bad_receipt")


@dataclass(frozen=True, slots=True, repr=False)
class Receipt:
    """A decoded receipt: `witness` says it received entry `id` at (`author`, `seq`) at `time`."""

    raw: bytes
    payload: bytes
    sig: bytes
    witness: bytes
    author: bytes
    seq: int
    id: bytes
    time: int

    def __repr__(self) -> str:
        return (f"Receipt(witness={self.witness.hex()[:12]}…, author={self.author.hex()[:12]}…, "
                f"seq={self.seq}, time={self.time})")

    @property
    def place(self) -> tuple[bytes, int]:
        """(author, seq): where a witness receipts once."""
        return self.author, self.seq

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (GET /entries/{id} `receipts`)."""
        return {"witness": self.witness.hex(), "time": self.time, "receipt": self.raw.hex()}


def sign_receipt(identity: Identity, author: bytes, seq: int, entry_id: bytes,
                 time: int) -> Receipt:
    """The receipt `identity` (a witness) signs for entry `entry_id` at (author, seq)."""
    payload = _pack([RECEIPT_VERSION, identity.author, author, seq, entry_id, time])
    sig = identity.sign(RECEIPT_DOMAIN + payload)
    return Receipt(_pack([payload, sig]), payload, sig, identity.author, author, seq,
                   entry_id, time)


def decode_receipt(raw: bytes, keys: Callable[[bytes], Iterable[bytes]] | None = None) -> Receipt:
    """Decode and check a receipt (bad_receipt). `keys(witness)`: the witness's signing keys
    known (trustnet/log/keys.py); None: the witness key itself, as for a party that never rotated."""
    if not isinstance(raw, bytes) or len(raw) > MAX_RECEIPT_BYTES:
        raise ReceiptError(f"a receipt is at most {MAX_RECEIPT_BYTES} bytes", code="bad_receipt")
    outer = _unpack(raw, "receipt")
    if not (isinstance(outer, list) and len(outer) == 2 and isinstance(outer[0], bytes)
            and isinstance(outer[1], bytes) and len(outer[1]) == SIG_BYTES):
        raise ReceiptError("a receipt is [payload: bin, sig: bin64]", code="bad_receipt")
    payload, sig = outer
    fields = _unpack(payload, "receipt payload")
    if not (isinstance(fields, list) and len(fields) == 6):
        raise ReceiptError("a receipt payload is [1, witness, author, seq, id, time]",
                           code="bad_receipt")
    version, witness, author, seq, entry_id, time = fields
    if version != RECEIPT_VERSION:
        raise ReceiptError(f"receipt version {version!r} is not {RECEIPT_VERSION}",
                           code="bad_receipt")
    for name, value in (("witness", witness), ("author", author), ("id", entry_id)):
        if not isinstance(value, bytes) or len(value) != ID_BYTES:
            raise ReceiptError(f"receipt {name}: expected bin of 32 bytes", code="bad_receipt")
    for name, value, lo in (("seq", seq, 1), ("time", time, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= MAX_INT:
            raise ReceiptError(f"receipt {name}: expected an integer in [{lo}, 2**53-1]",
                               code="bad_receipt")
    if payload != _pack(fields) or raw != _pack([payload, sig]):
        raise ReceiptError("a receipt has one encoding (canonical msgpack)", code="bad_receipt")
    for key in (witness,) if keys is None else keys(witness):
        try:
            crypto_sign_open(sig + RECEIPT_DOMAIN + payload, key)
        except (BadSignatureError, CryptoError, ValueError):
            continue
        return Receipt(raw, payload, sig, witness, author, seq, entry_id, time)
    raise ReceiptError(f"receipt signature does not verify under witness {witness.hex()[:16]}…",
                       code="bad_receipt")


@dataclass(frozen=True, slots=True)
class ReceiptFork:
    """Two receipts by one witness at one place for different ids: the witness lied."""

    a: Receipt
    b: Receipt

    @classmethod
    def of(cls, x: Receipt, y: Receipt) -> ReceiptFork:
        """A proof from two conflicting receipts (ordered by id: one encoding)."""
        if x.witness != y.witness or x.place != y.place or x.id == y.id:
            raise ReceiptError("receipts do not conflict: same witness and place, other ids",
                               code="bad_receipt")
        return cls(*((x, y) if x.id < y.id else (y, x)))

    @property
    def witness(self) -> bytes:
        """The witness that receipted two ids at one place."""
        return self.a.witness

    def encode(self) -> bytes:
        """`msgpack([receipt_a, receipt_b])`."""
        return _pack([self.a.raw, self.b.raw])

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (GET /entries/{id} `witness_forks`)."""
        return {"witness": self.witness.hex(), "author": self.a.author.hex(), "seq": self.a.seq,
                "ids": [self.a.id.hex(), self.b.id.hex()], "proof": self.encode().hex()}


@dataclass(frozen=True, slots=True)
class WitnessSet:
    """An author's declared witnesses and k, from its `witnesses` statement at `seq`."""

    seq: int
    witnesses: frozenset[bytes]
    needed: int

    @classmethod
    def from_body(cls, seq: int, body: Any) -> WitnessSet:
        """The set a `witnesses` statement body declares (its schema checked already)."""
        ids = frozenset(bytes.fromhex(w) for w in body.get("witnesses", ()))
        return cls(seq, ids, min(int(body.get("receipts_needed", 0)), len(ids)))


def in_force(declarations: Sequence[WitnessSet], seq: int) -> WitnessSet | None:
    """The declaration that holds for the author's entry at `seq` (the latest before it)."""
    found = None
    for d in declarations:
        if d.seq < seq and (found is None or d.seq > found.seq):
            found = d
    return found


def witnessed_time(times: Iterable[int], needed: int) -> int | None:
    """The time of the k-th receipt (by receipt time), or None with fewer than k (or k = 0)."""
    ordered = sorted(times)
    if needed < 1 or len(ordered) < needed:
        return None
    return ordered[needed - 1]
