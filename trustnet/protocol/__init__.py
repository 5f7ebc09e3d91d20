"""The sans-IO gossip protocol: messages, the peer table and the state machine (DESIGN 6)."""

from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import Action, Event, LocalEntry, RequestFailed, Response, Send, Tick
from trustnet.protocol.gossip import GossipProtocol
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
