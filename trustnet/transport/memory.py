"""The in-memory "internet" of tests and the simulator (as py-ipv8's mocking endpoint).

`MemoryNetwork` maps URLs to node handlers. Each node gets a `MemoryTransport`
from `network.transport(url, identity, clock)`; its requests are signed exactly
as over HTTP and go through the receiving node's full checks (the protocol's
admission policy: size, auth, graylist, rate limit, decoding), so the in-memory
path tests the same code as the HTTP path minus the sockets. The caller's URL is
the `remote` address the receiver sees.

Two ways to deliver, one set of faults and counters: `await deliver(...)` (the
`MemoryTransport` of asyncio tests: the handler's `handle_gossip`), and `send(...)`,
synchronous, for handlers that answer without awaiting (`SyncGossipHandler`: the
node's `serve_gossip`, the simulator's hosts), which `trustnet sim` drives round by
round without an event loop.

Fault injection: `kill(url)` / `revive(url)` (neither answers nor sends),
`down(url)` / `up(url)` (does not answer; what it sent before still arrives: the
simulator's churn), `partition(group, ...)` / `heal()`, `block(a, b)` for one link,
and `drop_rate` (a seeded RNG decides; a request to an unknown URL fails before
that draw, one to a dead or cut-off host after it). Counters of requests and bytes
per path make the bandwidth figures measurable.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping

from trustnet.clock import Clock
from trustnet.identity import Identity
from trustnet.transport.auth import RequestSigner
from trustnet.transport.base import (
    GossipHandler,
    Transport,
    TransportError,
    error_from_reply,
)


class MemoryNetwork:
    """URL -> handler, with faults and traffic counters. One per test or simulation."""

    def __init__(self, *, rng: random.Random | None = None, drop_rate: float = 0.0) -> None:
        self.rng = rng or random.Random(0)
        self.drop_rate = drop_rate
        self._handlers: dict[str, GossipHandler] = {}
        self._dead: set[str] = set()
        self._down: set[str] = set()
        self._groups: dict[str, int] = {}
        self._blocked: set[frozenset[str]] = set()
        self.requests: dict[str, int] = defaultdict(int)  # per path
        self.bytes_sent: dict[str, int] = defaultdict(int)  # request bodies, per path
        self.bytes_received: dict[str, int] = defaultdict(int)  # reply bodies, per path
        self.header_bytes = 0
        self.failures: dict[str, int] = defaultdict(int)  # per code

    # -- membership --------------------------------------------------------------------

    def transport(self, url: str, identity: Identity, clock: Clock) -> MemoryTransport:
        """A transport for the node at `url`, signing as `identity` on `clock`."""
        return MemoryTransport(self, url.rstrip("/"), RequestSigner(identity, clock))

    def register(self, url: str, handler: GossipHandler) -> None:
        """Serve `url` with `handler` (a node's `handle_gossip`)."""
        self._handlers[url.rstrip("/")] = handler

    def unregister(self, url: str) -> None:
        """Stop serving `url`."""
        self._handlers.pop(url.rstrip("/"), None)

    def urls(self) -> list[str]:
        """Every URL served, sorted."""
        return sorted(self._handlers)

    # -- faults ------------------------------------------------------------------------

    def kill(self, url: str) -> None:
        """`url` neither answers nor sends until revived."""
        self._dead.add(url)

    def revive(self, url: str) -> None:
        """Undo `kill`."""
        self._dead.discard(url)

    def down(self, url: str) -> None:
        """`url` stops answering (requests to it fail `unreachable`); what it sent before
        still arrives. A host that crashed or went offline, as the simulator's churn."""
        self._down.add(url)

    def up(self, url: str) -> None:
        """Undo `down`."""
        self._down.discard(url)

    def partition(self, *groups: Iterable[str]) -> None:
        """Only URLs in the same group reach each other (URLs in no group reach no one)."""
        self._groups = {url: i for i, group in enumerate(groups) for url in group}

    def heal(self) -> None:
        """Remove partitions and blocked links."""
        self._groups = {}
        self._blocked.clear()

    def block(self, a: str, b: str) -> None:
        """Cut the link between `a` and `b` (both ways)."""
        self._blocked.add(frozenset((a, b)))

    def reset_counters(self) -> None:
        """Zero the traffic counters."""
        for counter in (self.requests, self.bytes_sent, self.bytes_received, self.failures):
            counter.clear()
        self.header_bytes = 0

    def _reachable(self, src: str, dst: str) -> bool:
        if src in self._dead or dst in self._dead or dst in self._down:
            return False
        if self._groups and self._groups.get(src, -1) != self._groups.get(dst, -2):
            return False
        return frozenset((src, dst)) not in self._blocked

    # -- delivery ----------------------------------------------------------------------

    def _route(self, src: str, dst: str, path: str, headers: Mapping[str, str],
               body: bytes) -> GossipHandler:
        """Count a request and apply the faults: the handler at `dst`, or TransportError."""
        self.requests[path] += 1
        self.bytes_sent[path] += len(body)
        self.header_bytes += sum(len(k) + len(v) for k, v in headers.items())
        handler = self._handlers.get(dst)
        if handler is None:
            self.failures["unreachable"] += 1
            raise TransportError(f"{dst} is unreachable from {src}", code="unreachable")
        if self.drop_rate and self.rng.random() < self.drop_rate:
            self.failures["dropped"] += 1
            raise TransportError(f"request to {dst} was dropped", code="dropped")
        if not self._reachable(src, dst):
            self.failures["unreachable"] += 1
            raise TransportError(f"{dst} is unreachable from {src}", code="unreachable")
        return handler

    def _settle(self, path: str, status: int, reply: bytes) -> bytes:
        self.bytes_received[path] += len(reply)
        if status != 200:
            err = error_from_reply(status, reply)
            self.failures[err.code] += 1
            raise err
        return reply

    async def deliver(self, src: str, dst: str, path: str, headers: Mapping[str, str],
                      body: bytes) -> bytes:
        """Hand a request from `src` to the handler at `dst`; the reply body or TransportError."""
        dst = dst.rstrip("/")
        handler = self._route(src, dst, path, headers, body)
        status, reply = await handler.handle_gossip(path, headers, body, remote=src)
        return self._settle(path, status, reply)

    def send(self, src: str, dst: str, path: str, headers: Mapping[str, str],
             body: bytes) -> bytes:
        """`deliver` without an event loop: the handler at `dst` must answer synchronously
        (`SyncGossipHandler.serve_gossip`)."""
        dst = dst.rstrip("/")
        handler = self._route(src, dst, path, headers, body)
        # Not isinstance(handler, SyncGossipHandler): a runtime Protocol check walks the
        # protocol's attributes on every call, a tenth of a 100,000-node simulation.
        serve = getattr(handler, "serve_gossip", None)
        if serve is None:
            raise TypeError(f"the handler at {dst} cannot answer synchronously")
        status, reply = serve(path, headers, body, remote=src)
        return self._settle(path, status, reply)


class MemoryTransport(Transport):
    """One node's end of a `MemoryNetwork`."""

    def __init__(self, network: MemoryNetwork, url: str, signer: RequestSigner) -> None:
        self.network = network
        self._url = url
        self.signer = signer

    @property
    def url(self) -> str | None:
        """Where this node is served."""
        return self._url

    async def start(self, handler: GossipHandler) -> None:
        """Register the node's handler on the network."""
        self.network.register(self._url, handler)

    async def stop(self) -> None:
        """Unregister (idempotent)."""
        self.network.unregister(self._url)

    async def request(self, peer_url: str, path: str, body: bytes, *, guard: bool = False) -> bytes:
        """Sign and deliver a request; the reply body or TransportError (an in-memory network
        resolves no host names: `guard` has nothing to check)."""
        headers = self.signer.headers("POST", path, body)
        return await self.network.deliver(self._url, peer_url, path, headers, body)
