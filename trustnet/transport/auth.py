"""Signed gossip requests (DESIGN section 6): pure signing and verification, no I/O.

Every gossip request carries three headers:

    X-Trustnet-Node       the sender's node id (64 lowercase hex: its Ed25519 public key)
    X-Trustnet-Time       the sender's clock, integer ms since the Unix epoch (decimal)
    X-Trustnet-Signature  128 hex: Ed25519 over
                          b"trustnet/v1/request" + METHOD + PATH + sha256(body) + TIME

(METHOD and PATH are ASCII, e.g. b"POST" b"/gossip/push"; sha256(body) is the 32
raw digest bytes; TIME is the header's decimal text. METHOD is letters only and
PATH starts with "/", and the digest is fixed-width, so the concatenation is
unambiguous.) The verifier refuses, each with a stable code and HTTP 401:
`unsigned` (a header missing or malformed), `stale` (time outside the freshness
window either way), `replayed` (this signature was seen inside the window),
`bad_signature`. Replays are caught by a bounded cache of signatures seen within
the window; a signature older than the window is refused as stale anyway. The
cache forgets a signature only once its request time has left the window; when it
is full of fresh ones, new requests are refused with `busy` (HTTP 503, nobody is
blamed) until some expire. So a flood of requests can delay gossip for at most a
window, but never make the node forget a signature that could still be replayed.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Mapping

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

from trustnet.clock import Clock
from trustnet.errors import TrustnetError
from trustnet.identity import Identity, is_party_id

REQUEST_DOMAIN = b"trustnet/v1/request"
HEADER_NODE = "X-Trustnet-Node"
HEADER_TIME = "X-Trustnet-Time"
HEADER_SIGNATURE = "X-Trustnet-Signature"
FRESHNESS_MS = 60_000
REPLAY_CACHE = 65_536


class AuthError(TrustnetError):
    """A gossip request is not properly signed. Codes: unsigned, stale, replayed,
    bad_signature (HTTP 401), and busy (503: the replay cache is full of fresh requests)."""

    code = "unsigned"
    status = 401

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = 503 if self.code == "busy" else 401


def request_message(method: str, path: str, body: bytes, time_ms: str) -> bytes:
    """The exact bytes a request signature covers."""
    return (
        REQUEST_DOMAIN + method.encode("ascii") + path.encode("ascii")
        + hashlib.sha256(body).digest() + time_ms.encode("ascii")
    )


def sign_request(identity: Identity, method: str, path: str, body: bytes, now_ms: int) -> dict[str, str]:
    """The three X-Trustnet-* headers for a request sent at `now_ms`."""
    stamp = str(now_ms)
    sig = identity.sign(request_message(method, path, body, stamp))
    return {HEADER_NODE: identity.key_id, HEADER_TIME: stamp, HEADER_SIGNATURE: sig.hex()}


class RequestSigner:
    """Signs outgoing requests with one identity on one clock (what a transport holds)."""

    def __init__(self, identity: Identity, clock: Clock) -> None:
        self.identity = identity
        self.clock = clock

    @property
    def node_id(self) -> str:
        """The signing node's id: its signing key's id (the party id until it rotates)."""
        return self.identity.key_id

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        """Headers for a request sent now."""
        return sign_request(self.identity, method, path, body, self.clock.now_ms())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # HTTP header names are case-insensitive
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value


class RequestVerifier:
    """Checks request signatures, freshness and replays; one per node (holds the cache)."""

    def __init__(self, *, window_ms: int = FRESHNESS_MS, replay_cache: int = REPLAY_CACHE) -> None:
        self.window_ms = window_ms
        self.capacity = replay_cache
        self._seen: set[bytes] = set()  # signatures of requests still inside the window
        self._expiry: list[tuple[int, bytes]] = []  # heap of (request time, signature)
        # Request times before this were forgotten: such a request is stale, whatever the clock
        # says now (were it to step back, a forgotten signature must not become fresh again).
        self._forgotten_before = 0

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               now_ms: int) -> str:
        """The authenticated sender's node id (hex), or raise `AuthError`."""
        node, stamp, sig_hex = (_header(headers, h) for h in (HEADER_NODE, HEADER_TIME, HEADER_SIGNATURE))
        if node is None or stamp is None or sig_hex is None:
            raise AuthError("request is not signed (X-Trustnet-Node, -Time, -Signature)",
                            code="unsigned")
        if not is_party_id(node) or not stamp.isascii() or not stamp.isdigit() or len(stamp) > 16:
            raise AuthError("X-Trustnet-Node or X-Trustnet-Time is malformed", code="unsigned")
        try:
            sig = bytes.fromhex(sig_hex)
        except ValueError:
            sig = b""
        if len(sig) != 64:
            raise AuthError("X-Trustnet-Signature is not 128 hex characters", code="unsigned")
        t = int(stamp)
        if abs(now_ms - t) > self.window_ms or t < self._forgotten_before:
            raise AuthError(f"request time {t} is {now_ms - t} ms from ours "
                            f"(window {self.window_ms} ms)", code="stale")
        self._forget(now_ms)
        if sig in self._seen:
            raise AuthError("this request was seen already", code="replayed")
        if len(self._seen) >= self.capacity:
            raise AuthError(f"{len(self._seen)} requests arrived inside the last "
                            f"{self.window_ms} ms; try again shortly", code="busy")
        try:
            crypto_sign_open(sig + request_message(method, path, body, stamp), bytes.fromhex(node))
        except (BadSignatureError, CryptoError, ValueError):
            raise AuthError("request signature does not verify", code="bad_signature") from None
        self._seen.add(sig)
        heapq.heappush(self._expiry, (t, sig))
        return node

    def _forget(self, now_ms: int) -> None:
        """Drop the signatures whose request time left the window (stale from now on)."""
        horizon = now_ms - self.window_ms
        while self._expiry and self._expiry[0][0] < horizon:
            _, sig = heapq.heappop(self._expiry)
            self._seen.discard(sig)
            self._forgotten_before = max(self._forgotten_before, horizon)

    def __len__(self) -> int:
        return len(self._seen)
