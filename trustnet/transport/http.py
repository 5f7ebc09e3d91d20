"""Gossip over HTTP with aiohttp (DESIGN 6): `POST {peer}/gossip/...`, msgpack bodies, signed.

The client side is `HttpTransport.request`. The server side is a route of the
node's one aiohttp application (`gossip_route`), which hands the exact request
bytes to the node's `handle_gossip` and sends back what it answers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from trustnet.clock import Clock
from trustnet.identity import Identity
from trustnet.protocol.peers import address_class, ip_class
from trustnet.transport.auth import RequestSigner
from trustnet.transport.base import (
    CONTENT_TYPE,
    GOSSIP_PREFIX,
    MAX_REQUEST_BYTES,
    GossipHandler,
    Transport,
    TransportError,
    error_body,
    error_from_reply,
)
from trustnet.transport.tls import TLS_FAILED, TLS_VERIFY_FAILED

# Loggers are per node (STYLE.md): the daemon hands its own to the transport and the guard;
# alone (a benchmark), they log as "trustnet.http".
DEFAULT_LOG = "trustnet.http"

REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
READ_CHUNK = 64 * 1024


class BodyTimeout(TransportError):
    """A request body did not arrive within the body timeout (`[http] body_timeout_s`)."""

    code = "request_timeout"


async def read_bounded(stream: aiohttp.StreamReader, limit: int,
                       timeout_s: float | None = None) -> bytes:
    """The whole body, or its first `limit + 1` bytes when it is longer (the caller refuses).

    `StreamReader.read(n)` returns whatever is buffered, up to n bytes, not n bytes:
    a body larger than one network chunk must be read in a loop until EOF.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while size <= limit:
                chunk = await stream.read(min(READ_CHUNK, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except TimeoutError:
        raise BodyTimeout(f"the request body did not arrive within {timeout_s:g} s",
                          code="request_timeout") from None
    return b"".join(chunks)


class PrivateAddressError(OSError):
    """A guarded host name resolved to a private or special-purpose address."""


class PublicResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, but refuses a host when any address it
    resolves to is private, loopback, link-local or otherwise special-purpose. The
    connector connects to exactly the addresses returned here, so a name cannot be
    checked with one answer and dialled with another (DNS rebinding)."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The host's addresses, or `PrivateAddressError`."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                why = ip_class(ipaddress.ip_address(result["host"]))
            except ValueError:
                why = "unparsable address"
            if why is not None:
                raise PrivateAddressError(f"{host} resolves to {result['host']} ({why})")
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


class HttpTransport(Transport):
    """Signed gossip requests over aiohttp; the server side lives in the node's app."""

    def __init__(self, identity: Identity, clock: Clock, url: str | None = None,
                 *, timeout_s: float = REQUEST_TIMEOUT_S, tls: ssl.SSLContext | None = None,
                 log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(DEFAULT_LOG)
        self.signer = RequestSigner(identity, clock)
        self._url = url.rstrip("/") if url else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=CONNECT_TIMEOUT_S)
        self._session: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None  # for URLs learned from gossip
        # How https:// peers are verified (trustnet.transport.tls.client_context); None: the
        # system trust store. Verification is never turned off.
        self._tls = tls
        self._tls_warned: set[str] = set()  # peers whose TLS failure was logged (bounded)

    @property
    def url(self) -> str | None:
        """The URL peers reach this node at (set once the server is bound)."""
        return self._url

    def set_url(self, url: str) -> None:
        """Record the bound address (port 0 is only known after binding)."""
        self._url = url.rstrip("/")

    async def start(self, handler: GossipHandler) -> None:
        """Open the client session. Inbound requests reach `handler` through the node's app
        (`gossip_route`), not through this transport."""
        if self._session is None:
            # A bounded pool: gossip is a few requests at a time to a few peers.
            connector = aiohttp.TCPConnector(limit=64, limit_per_host=8,
                                             ssl=self._tls if self._tls is not None else True)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        if self._guarded is None:
            guarded = aiohttp.TCPConnector(limit=64, limit_per_host=8, resolver=PublicResolver(),
                                           ssl=self._tls if self._tls is not None else True)
            self._guarded = aiohttp.ClientSession(connector=guarded, timeout=self._timeout)

    async def stop(self) -> None:
        """Close the client session (idempotent)."""
        for session in (self._session, self._guarded):
            if session is not None:
                await session.close()
        self._session = self._guarded = None

    async def request(self, peer_url: str, path: str, body: bytes, *, guard: bool = False) -> bytes:
        """POST a signed request; the reply body on 200, else `TransportError`.

        `guard`: refuse a private address (literal here, resolved in `PublicResolver`)."""
        session = self._guarded if guard else self._session
        if session is None:
            raise TransportError("transport is not started", code="unreachable")
        if guard:
            why = address_class(peer_url)
            if why is not None:
                raise TransportError(f"{peer_url} is a {why} address", code="private_address")
        headers = self.signer.headers("POST", path, body)
        headers["Content-Type"] = CONTENT_TYPE
        try:
            # Never follow redirects: a public URL must not bounce a request inwards.
            async with session.post(peer_url.rstrip("/") + path, data=body, headers=headers,
                                    allow_redirects=False) as resp:
                reply = await read_bounded(resp.content, MAX_REQUEST_BYTES)
                if len(reply) > MAX_REQUEST_BYTES:
                    raise TransportError(f"{peer_url} sent more than {MAX_REQUEST_BYTES} bytes",
                                         code="bad_reply")
                if resp.status != 200:
                    raise error_from_reply(resp.status, reply)
                return reply
        except TimeoutError:
            raise TransportError(f"{peer_url}{path} timed out", code="timeout") from None
        except aiohttp.ClientSSLError as exc:
            # A peer that fails verification is not used, and nothing is retried in the clear.
            code = (TLS_VERIFY_FAILED if isinstance(exc, aiohttp.ClientConnectorCertificateError)
                    else TLS_FAILED)
            self._warn_tls(peer_url, code, exc)
            raise TransportError(f"{peer_url}{path}: {code}: {exc}", code=code) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise TransportError(str(exc.os_error), code="private_address") from None
            raise TransportError(f"{peer_url}{path}: {exc}", code="unreachable") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{peer_url}{path}: {exc}", code="unreachable") from None

    def _warn_tls(self, peer_url: str, code: str, exc: Exception) -> None:
        # Once per peer (it is retried with back-off): the detail names what did not match.
        if peer_url in self._tls_warned or len(self._tls_warned) >= 1024:
            return
        self._tls_warned.add(peer_url)
        self.log.warning("peer %s not used: %s (%s); see GET /peers", peer_url[:200], code, exc)


def _remote_key(request: web.Request, address: Callable[[web.Request], str] | None = None) -> str:
    """Who to charge failures before authentication to: the client address.

    Loopback is never charged: every node of a local testbed shares 127.0.0.1,
    and one misbehaving process must not graylist its honest neighbours. Such
    requests are still refused; authenticated misbehaviour is charged to the node.
    """
    ip = address(request) if address is not None else request.remote or ""
    try:
        if ipaddress.ip_address(ip).is_loopback:
            return ""
    except ValueError:
        return ""
    return f"addr:{ip}"


def gossip_route(get_handler: Callable[[], GossipHandler | None],
                 body_timeout_s: float | None = None,
                 address: Callable[[web.Request], str] | None = None) -> web.RouteDef:
    """The `POST /gossip/{name}` route, answering with the node's handler (a body must arrive
    within `body_timeout_s`); `address` gives a request's client address (behind trusted
    proxies), else the TCP peer's."""

    async def gossip(request: web.Request) -> web.StreamResponse:
        handler = get_handler()
        if handler is None:
            return _reply(503, error_body("unavailable", "node is starting or stopping"))
        length = request.content_length
        if length is not None and length > MAX_REQUEST_BYTES:
            # Refused from the header, before reading a byte of the body.
            return _reply(413, error_body(
                "too_large", f"body is {length} bytes; the limit is {MAX_REQUEST_BYTES}"))
        try:
            body = await read_bounded(request.content, MAX_REQUEST_BYTES, body_timeout_s)
        except BodyTimeout as exc:
            return _reply(408, error_body(exc.code, exc.message))
        status, reply = await handler.handle_gossip(
            request.path, request.headers, body, remote=_remote_key(request, address)
        )
        return _reply(status, reply)

    return web.post(GOSSIP_PREFIX + "{name}", gossip)


def _reply(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=CONTENT_TYPE)




# -- connection guard ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a connection may take to send its request head, and how many may be open."""

    header_timeout_s: float = 10.0
    max_connections: int = 1024
    max_per_address: int = 256


def _refusal(code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 5\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


class ConnectionGuard:
    """Counts the server's open connections (in all and per client address) and wraps
    aiohttp's protocol factory so that a connection over a cap is answered 503 and closed
    at once, and one that has not sent a whole request head within `header_timeout_s` of
    opening is closed (a connection sending nothing, or a byte at a time, holds a file
    descriptor: a few hundred of them would exhaust the process's limit).

    Later requests on a kept-alive connection are bounded by aiohttp's keep-alive timeout,
    which closes a connection idle (or holding half a request) between requests.
    """

    def __init__(self, limits: ConnectionLimits, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(DEFAULT_LOG)
        self.limits = limits
        self.open = 0
        self.by_address: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0
        self._warned = 0.0

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for `loop.create_server` wrapping aiohttp's (`runner.server`)."""
        return lambda: _GuardedProtocol(self, inner)

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`; the refusal code when over a cap."""
        if self.open >= self.limits.max_connections:
            return "too_many_connections"
        if self.by_address.get(address, 0) >= self.limits.max_per_address:
            return "too_many_connections_from_address"
        self.open += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return None

    def release(self, address: str) -> None:
        """Forget a connection `admit` counted."""
        self.open -= 1
        left = self.by_address.get(address, 0) - 1
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)

    def refuse(self, address: str, code: str) -> bytes:
        """The answer to a connection over a cap (logged at most every 10 s)."""
        self.refused += 1
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._warned >= 10.0:
            self._warned = loop_time
            self.log.warning("refusing connections (%s): %d open, %d from %s; %d refused so far",
                             code, self.open, self.by_address.get(address, 0), address or "?",
                             self.refused)
        return _refusal(code, "too many open connections; try again later" if
                        code == "too_many_connections" else
                        f"too many open connections from {address}; close some first")


_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's request handler behind the guard (every call forwarded once admitted)."""

    def __init__(self, guard: ConnectionGuard, inner: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.inner_factory = inner
        self.inner: Any = None
        self.address = ""
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        refused = self.guard.admit(self.address)
        if refused is not None:
            transport.write(self.guard.refuse(self.address, refused))
            transport.close()
            return
        self.inner = self.inner_factory()
        self.inner.connection_made(transport)
        self.timer = asyncio.get_running_loop().call_later(self.guard.limits.header_timeout_s,
                                                           self._expire)

    def _expire(self) -> None:
        self.timer = None
        self.guard.timed_out += 1
        self.guard.log.debug("closing a connection from %s: no request head within %g s",
                             self.address, self.guard.limits.header_timeout_s)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        if self.timer is not None:
            seen = self.tail + data
            if any(end in seen for end in _HEAD_ENDS):
                self.timer.cancel()
                self.timer = None
            else:
                self.tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.inner is not None:
            self.guard.release(self.address)
            inner, self.inner = self.inner, None
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
