"""Real daemons in the test's own event loop: started on free loopback ports, stopped and
checked for unexpected errors afterwards (shared by the HTTP-level tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from tests.harness.nodes import init_node
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig


@asynccontextmanager
async def running_daemons(base: Path, names: Sequence[str], *, gossip: GossipConfig,
                          peered: bool = False, ready: bool = False,
                          allow_private: bool = True) -> AsyncIterator[list[Daemon]]:
    """Daemons named `names` under `base`; `peered`: each a peer of all others; `ready`: one
    tick each first (no longer needed to sign: a node made by `init` signs at once);
    `allow_private`: they learn each other's 127.0.0.1 URLs by exchange (a test cluster)."""
    if allow_private:
        gossip = replace(gossip, policy=replace(gossip.policy, allow_private_peers=True))
    started: list[Daemon] = []
    try:
        for name in names:
            d = Daemon(init_node(base, name), gossip=gossip)
            started.append(d)
            await d.start()
            if ready:
                await d.node.tick()
        if peered:
            for d in started:
                for other in started:
                    if other is not d and other.url is not None:
                        d.node.add_peer(other.url)
        yield started
    finally:
        for d in started:
            await d.stop()
    for d in started:
        assert d.node.errors == [], d.node.errors
