"""Protocols wired by a fake wire: every message through the msgpack codec and the one
admission policy, run to completion in process (no sockets, no clock: one instant T0).
Shared by the reconciliation tests (test_reconcile.py, test_recon_harden.py)."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from trustnet.identity import Identity
from trustnet.protocol import messages as m
from trustnet.protocol.admission import Refused, admit
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import Action, RequestFailed, Response, Send, Tick
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.replica import Replica

T0 = 1_767_225_600_000
CFG = GossipConfig(tick_interval_s=None, peer_exchange_every=0)


def ident(name: str) -> Identity:
    """A fixed identity per name."""
    return Identity.from_seed(hashlib.sha256(name.encode()).digest())


class Wire:
    """Protocols by URL; runs actions to completion, recording (path, request, reply) bytes."""

    def __init__(self) -> None:
        self.protos: dict[str, GossipProtocol] = {}
        self.sent: list[tuple[str, int, int]] = []
        self.bodies: list[tuple[str, bytes, bytes]] = []  # path, request, reply

    def add(self, name: str, peers: list[str], replica: Replica,
            config: GossipConfig = CFG, cls: type[GossipProtocol] = GossipProtocol
            ) -> GossipProtocol:
        p = cls(ident(name).public_key, replica, random.Random(name), config,
                own_url=f"http://{name}", peers=[f"http://{x}" for x in peers], now_ms=T0,
                recover_own=False)
        self.protos[f"http://{name}"] = p
        return p

    def run(self, src: GossipProtocol, actions: list[Action]) -> None:
        queue = [(src, a) for a in actions]
        while queue:
            sender, send = queue.pop(0)
            assert isinstance(send, Send)
            dst = self.protos[send.peer_url]
            src_id = next(u for u, p in self.protos.items() if p is sender)
            body = m.encode(send.message)
            outcome = admit(dst, send.path, body, T0, remote=src_id,
                            claimed=sender.node_id.hex(), authenticate=lambda s=sender: s.node_id.hex())
            if isinstance(outcome, Refused):
                self.sent.append((send.path, len(body), 0))
                queue += [(sender, a) for a in sender.handle(
                    RequestFailed(send.request_id, send.peer_url, outcome.code), T0)]
                continue
            self.sent.append((send.path, len(body), len(outcome.reply)))
            self.bodies.append((send.path, body, outcome.reply))
            queue += [(dst, a) for a in outcome.actions]
            reply = m.decode_reply(send.path, outcome.reply)
            queue += [(sender, a) for a in sender.handle(
                Response(send.request_id, send.peer_url, reply), T0)]

    def tick(self, p: GossipProtocol) -> None:
        self.run(p, p.handle(Tick(), T0))

    def paths(self) -> Counter[str]:
        return Counter(path for path, _, _ in self.sent)

    def bytes(self) -> int:
        return sum(a + b for _, a, b in self.sent)
