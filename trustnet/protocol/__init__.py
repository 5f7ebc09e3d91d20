"""The sans-IO gossip protocol: messages, the peer table and the state machine (DESIGN 6)."""

from trustnet.protocol.gossip import (
    Action,
    Event,
    GossipConfig,
    GossipProtocol,
    LocalEntry,
    RequestFailed,
    Response,
    Send,
    Tick,
)
from trustnet.protocol.messages import MessageError
from trustnet.protocol.peers import PeerPolicy, PeerTable

__all__ = [
    "Action",
    "Event",
    "GossipConfig",
    "GossipProtocol",
    "LocalEntry",
    "MessageError",
    "PeerPolicy",
    "PeerTable",
    "RequestFailed",
    "Response",
    "Send",
    "Tick",
]
