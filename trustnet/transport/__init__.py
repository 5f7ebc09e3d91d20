"""Transports for gossip: the interface, request signing, the in-memory network; TLS contexts
and certificate checks (`tls`), and clients behind trusted reverse proxies (`proxies`)."""

from trustnet.transport.auth import AuthError, RequestSigner, RequestVerifier, sign_request
from trustnet.transport.base import GossipHandler, Transport, TransportError
from trustnet.transport.memory import MemoryNetwork, MemoryTransport

__all__ = [
    "AuthError",
    "GossipHandler",
    "MemoryNetwork",
    "MemoryTransport",
    "RequestSigner",
    "RequestVerifier",
    "Transport",
    "TransportError",
    "sign_request",
]
