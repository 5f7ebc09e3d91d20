"""Gossip over HTTP with aiohttp (DESIGN 6): `POST {peer}/gossip/...`, msgpack bodies, signed.

The client side is `HttpTransport.request`. The server side is a route of the
node's one aiohttp application (`gossip_route`), which hands the exact request
bytes to the node's `handle_gossip` and sends back what it answers.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable

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

log = logging.getLogger("trustnet.transport")

REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
READ_CHUNK = 64 * 1024


async def read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first `limit + 1` bytes when it is longer (the caller refuses).

    `StreamReader.read(n)` returns whatever is buffered, up to n bytes, not n bytes:
    a body larger than one network chunk must be read in a loop until EOF.
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
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
                 *, timeout_s: float = REQUEST_TIMEOUT_S, tls: ssl.SSLContext | None = None) -> None:
        self.signer = RequestSigner(identity, clock)
        self._url = url.rstrip("/") if url else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=CONNECT_TIMEOUT_S)
        self._session: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None  # for URLs learned from gossip
        self.handler: GossipHandler | None = None
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
        """Open the client session and accept inbound requests for `handler`."""
        self.handler = handler
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
        self.handler = None
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
        log.warning("peer %s not used: %s (%s); see GET /peers", peer_url[:200], code, exc)


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
                 address: Callable[[web.Request], str] | None = None) -> web.RouteDef:
    """The `POST /gossip/{name}` route, answering with the node's handler; `address` gives a
    request's client address (behind trusted proxies), else the TCP peer's."""

    async def gossip(request: web.Request) -> web.StreamResponse:
        handler = get_handler()
        if handler is None:
            return _reply(503, error_body("unavailable", "node is starting or stopping"))
        length = request.content_length
        if length is not None and length > MAX_REQUEST_BYTES:
            # Refused from the header, before reading a byte of the body.
            return _reply(413, error_body(
                "too_large", f"body is {length} bytes; the limit is {MAX_REQUEST_BYTES}"))
        body = await read_bounded(request.content, MAX_REQUEST_BYTES)
        status, reply = await handler.handle_gossip(
            request.path, request.headers, body, remote=_remote_key(request, address)
        )
        return _reply(status, reply)

    return web.post(GOSSIP_PREFIX + "{name}", gossip)


def _reply(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=CONTENT_TYPE)


