"""N nodes on the in-memory network and one ManualClock, in one event loop, settled by rounds.

No sleeps: the clock moves one second per round, nodes are ticked by the harness (tick
loop off), and each round waits until no request is in flight (py-ipv8's mocked internet).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable

from trustnet.clock import ManualClock
from trustnet.identity import Identity
from trustnet.node.core import Node
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.transport.memory import MemoryNetwork

CONFIG = GossipConfig(tick_interval_s=None)


def ident(i: int | str) -> Identity:
    """The identity of cluster node `i` (deterministic)."""
    return Identity.from_seed(hashlib.sha256(f"node-{i}".encode()).digest())


def url(i: int | str) -> str:
    """The in-memory URL of cluster node `i`."""
    return f"http://node-{i}.test"


class Cluster:
    """N nodes on one MemoryNetwork and one ManualClock."""

    def __init__(self, seed: int = 1, config: GossipConfig = CONFIG) -> None:
        self.clock = ManualClock()
        self.net = MemoryNetwork(rng=random.Random(seed))
        self.rng = random.Random(seed)
        self.config = config
        self.nodes: dict[str, Node] = {}

    async def add(self, name: int | str, peers: Iterable[str], *, store: Store | None = None,
                  recover_own: bool = False, config: GossipConfig | None = None) -> Node:
        """A node made by `init` (nothing to recover); `recover_own`: one that may have signed
        before (its store lost or restored), which checks its own log first; `config`: its
        own gossip settings (default: the cluster's)."""
        identity = ident(name)
        node = Node(
            identity, store if store is not None else Store(None),
            self.net.transport(url(name), identity, self.clock),
            clock=self.clock, rng=random.Random(f"{name}"), config=config or self.config,
            peers=list(peers), recover_own=recover_own,
        )
        await node.start()
        self.nodes[url(name)] = node
        return node

    async def ring(self, n: int, extra: int = 1) -> list[Node]:
        """n nodes, each knowing its two ring successors and `extra` random others."""
        nodes = []
        for i in range(n):
            peers = {url((i + 1) % n), url((i + 2) % n)}
            peers |= {url(j) for j in self.rng.sample(range(n), extra) if j != i}
            nodes.append(await self.add(i, sorted(peers)))
        return nodes

    async def idle(self) -> None:
        while any(n.busy for n in self.nodes.values()):
            for n in list(self.nodes.values()):
                await n.idle()

    async def round(self) -> None:
        self.clock.advance(1000)
        for n in list(self.nodes.values()):
            await n.tick()
        await self.idle()

    async def settle(self, cond: Callable[[], bool], max_rounds: int = 60) -> int:
        """Run rounds until `cond()` holds; the number of rounds it took."""
        await self.idle()
        for r in range(max_rounds):
            if cond():
                return r
            await self.round()
        raise AssertionError(f"not settled after {max_rounds} rounds")

    async def ready(self) -> None:
        """Every node past its own-log check (only restarted nodes have one)."""
        await self.settle(lambda: not any(n.protocol.catching_up for n in self.nodes.values()))

    def converged(self, nodes: Iterable[Node] | None = None) -> bool:
        group = list(self.nodes.values() if nodes is None else nodes)
        return len({n.protocol.digest() for n in group}) == 1

    def errors(self) -> list[BaseException]:
        return [e for n in self.nodes.values() for e in n.errors]

    async def close(self) -> None:
        for n in self.nodes.values():
            await n.stop()
