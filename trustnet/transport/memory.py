"""An in-memory "internet" for tests and the simulator (as py-ipv8's mocking endpoint).

`MemoryNetwork` maps URLs to node handlers. Each node gets a `MemoryTransport`
from `network.transport(url, identity, clock)`; its requests are signed exactly
as over HTTP and go through the receiving node's full `handle_gossip` checks
(size, auth, graylist, rate limit, decoding), so the in-memory path tests the
same code as the HTTP path minus the sockets. The caller's URL is the `remote`
address the receiver sees.

Fault injection: `kill(url)` / `revive(url)`, `partition(group, ...)` / `heal()`,
`block(a, b)` for one link, and `drop_rate` (a seeded RNG decides). Counters of
requests and bytes per path make the bandwidth figures measurable.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping

from trustnet.clock import Clock
from trustnet.identity import Identity
from trustnet.transport.auth import RequestSigner
from trustnet.transport.base import GossipHandler, Transport, TransportError, error_from_reply


class MemoryNetwork:
    """URL -> handler, with faults and traffic counters. One per test or simulation."""

    def __init__(self, *, rng: random.Random | None = None, drop_rate: float = 0.0) -> None:
        self.rng = rng or random.Random(0)
        self.drop_rate = drop_rate
        self._handlers: dict[str, GossipHandler] = {}
        self._dead: set[str] = set()
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
        if src in self._dead or dst in self._dead or dst not in self._handlers:
            return False
        if self._groups and self._groups.get(src, -1) != self._groups.get(dst, -2):
            return False
        return frozenset((src, dst)) not in self._blocked

    # -- delivery ----------------------------------------------------------------------

    async def deliver(self, src: str, dst: str, path: str, headers: Mapping[str, str],
                      body: bytes) -> bytes:
        """Hand a request from `src` to the handler at `dst`; the reply body or TransportError."""
        dst = dst.rstrip("/")
        self.requests[path] += 1
        self.bytes_sent[path] += len(body)
        self.header_bytes += sum(len(k) + len(v) for k, v in headers.items())
        if not self._reachable(src, dst):
            self.failures["unreachable"] += 1
            raise TransportError(f"{dst} is unreachable from {src}", code="unreachable")
        if self.drop_rate and self.rng.random() < self.drop_rate:
            self.failures["dropped"] += 1
            raise TransportError(f"request to {dst} was dropped", code="dropped")
        status, reply = await self._handlers[dst].handle_gossip(path, headers, body, remote=src)
        self.bytes_received[path] += len(reply)
        if status != 200:
            err = error_from_reply(status, reply)
            self.failures[err.code] += 1
            raise err
        return reply


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
