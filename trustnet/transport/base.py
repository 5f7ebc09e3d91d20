"""The transport interface: how a node sends gossip requests and serves them (DESIGN 6).

Two implementations sit behind it: aiohttp HTTP between processes, and the
in-memory network of tests and the simulator (`trustnet.transport.memory`).

Client side: `await transport.request(peer_url, path, body) -> reply body`. The
transport signs every request with the node's identity (see `auth.py`) and
raises `TransportError` with a stable code on any failure, so the node can
report `RequestFailed(code)` to the sans-IO protocol.

Server side: the transport hands every request it receives to the node's
`GossipHandler.handle_gossip(path, headers, body, remote=...)`, which does all
the checking (size, auth, graylist, rate limit, decoding) and returns
`(status, body)`; the transport sends that back as it is. A non-200 reply body
is `error_body(code, message)`; the client turns it into a `TransportError` with
`error_from_reply`.

HTTP mapping for the implementer of the aiohttp transport:
- every gossip request is `POST {peer_url}{path}` with `Content-Type:
  application/msgpack`, the three X-Trustnet-* headers of `auth.sign_request`,
  and the msgpack body; the reply carries the status and body from the handler;
- `remote` is the TCP peer address (e.g. "addr:127.0.0.1"): failures of
  authentication are charged to it, since the claimed node id is not proven;
- refuse bodies larger than `MAX_REQUEST_BYTES` before reading them (413);
- a connection error or timeout is `TransportError(code="unreachable" | "timeout")`; a TLS
  failure `"tls_verify_failed" | "tls_failed"` (never retried over plain HTTP);
- `guard=True` (a URL learned from gossip, DESIGN 12): refuse to connect when the host
  resolves to a private, loopback, link-local or other special-purpose address
  (`peers.ip_class`), with `TransportError(code="private_address")`, checking the very
  addresses connected to; and never follow redirects.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import msgpack

from trustnet.errors import TrustnetError
from trustnet.protocol.messages import MAX_MESSAGE_BYTES

MAX_REQUEST_BYTES = MAX_MESSAGE_BYTES
CONTENT_TYPE = "application/msgpack"
GOSSIP_PREFIX = "/gossip/"

# HTTP status for each refusal code the handler gives (the body says which code).
STATUS = {
    "unsigned": 401,
    "stale": 401,
    "replayed": 401,
    "bad_signature": 401,
    "graylisted": 403,
    "unknown_path": 404,
    "too_large": 413,
    "rate_limited": 429,
    "busy": 503,
    "bad_message": 400,
    "internal": 500,
}


class TransportError(TrustnetError):
    """A gossip request failed. Codes: unreachable, timeout, dropped, bad_reply,
    private_address (a guarded URL resolved to a private address), tls_verify_failed (an
    https:// peer's certificate did not verify), tls_failed (another TLS handshake
    failure), or the
    refusal code the peer gave (unsigned, stale, replayed, bad_signature, graylisted,
    unknown_path, too_large, rate_limited, busy, bad_message, internal); `status` is the HTTP
    status when the peer answered."""

    code = "unreachable"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


class GossipHandler(Protocol):
    """What a transport's server side calls: the node."""

    async def handle_gossip(
        self, path: str, headers: Mapping[str, str], body: bytes, *, remote: str = ""
    ) -> tuple[int, bytes]:
        """Check and answer one gossip request; returns (HTTP status, body)."""
        ...


@runtime_checkable
class SyncGossipHandler(GossipHandler, Protocol):
    """A handler that answers without awaiting (the node, the simulator's hosts): what
    the in-memory network's synchronous `MemoryNetwork.send` calls."""

    def serve_gossip(
        self, path: str, headers: Mapping[str, str], body: bytes, *, remote: str = ""
    ) -> tuple[int, bytes]:
        """`handle_gossip`, synchronously."""
        ...


class Transport(abc.ABC):
    """Send signed gossip requests to peers, and serve the node's gossip endpoints."""

    @property
    @abc.abstractmethod
    def url(self) -> str | None:
        """The URL peers reach this node at (known once started; None: client only)."""

    @abc.abstractmethod
    async def start(self, handler: GossipHandler) -> None:
        """Begin serving inbound gossip requests with `handler`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop serving and close client connections (idempotent)."""

    @abc.abstractmethod
    async def request(self, peer_url: str, path: str, body: bytes, *, guard: bool = False) -> bytes:
        """POST a signed request; the reply body on 200, else raise `TransportError`.

        `guard`: the URL was learned from gossip; refuse private addresses
        (`private_address`) as the module docstring says."""


def error_body(code: str, message: str) -> bytes:
    """The msgpack body of a refusal: `{"error": {"code", "message"}}`."""
    data: bytes = msgpack.packb({"error": {"code": code, "message": message[:500]}})
    return data


def error_from_reply(status: int, body: bytes) -> TransportError:
    """The `TransportError` for a non-200 reply (code from the body when it is well-formed)."""
    code, message = f"http_{status}", f"peer answered HTTP {status}"
    try:
        obj: Any = msgpack.unpackb(body[:4096], raw=False)
        err = obj["error"]
        if isinstance(err["code"], str) and isinstance(err["message"], str):
            code, message = err["code"][:64], err["message"][:500]
    except Exception:  # any malformed refusal body: keep the status-derived code
        pass
    return TransportError(message, code=code, status=status)
