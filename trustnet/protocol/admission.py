"""Request admission: the one policy for an inbound gossip request (DESIGN 6 and 12).

The node (`Node.serve_gossip`, over HTTP or the in-memory network) and the simulator
(`trustnet sim`) call `admit` and nothing else, so a request is checked the same way
wherever it arrives; a node answering a large push over HTTP calls its two halves,
`gate` and `respond`, itself, with the push's entries checked on its ingest workers
between them (`Node.handle_gossip`). Order matters: cheap refusals first (graylisted address, size),
then the signature, then the partition, unknown path, per-node graylist and rate limit,
and only then decoding. Failures before authentication are charged to the transport
address, never to the node id the request merely claims.

Sans-IO like the rest of the package: the caller passes the time, and the signature
check as a function (`authenticate`: the node's `RequestVerifier`; the simulator trusts
the claimed id, since an Ed25519 check per request would change nothing it measures).
The result is a record: `Admitted` (the encoded reply and the requests it triggers) or
`Refused` (a stable code, a message for people, and the HTTP status when it is not the
code's usual one). Exceptions other than refusals (bugs) propagate to the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trustnet.errors import TrustnetError
from trustnet.protocol import messages as m
from trustnet.protocol.events import Action
from trustnet.protocol.gossip import GossipProtocol
from trustnet.protocol.peers import PeerKind


@dataclass(frozen=True, slots=True)
class Admitted:
    """The request passed every check and was answered."""

    node_id: str  # the authenticated sender (hex)
    reply: bytes  # the encoded reply message
    actions: tuple[Action, ...]  # requests the answer triggers (pushing new data on)


@dataclass(frozen=True, slots=True)
class Refused:
    """The request was refused: `code` is stable (transport.base.STATUS maps it to HTTP)."""

    code: str
    message: str
    status: int | None = None  # set when it differs from the code's usual status


# (node id, path, decoded request, now_ms) -> (reply, actions); MessageError refuses it.
Answer = Callable[[str, str, m.Message, int], tuple[m.Message, list[Action]]]


def _no_partition(node_id: str) -> bool:
    return False


def admit(
    protocol: GossipProtocol,
    path: str,
    body: bytes,
    now_ms: int,
    *,
    remote: str,
    claimed: str,
    authenticate: Callable[[], str],
    cut_off: Callable[[str], bool] = _no_partition,
    answer: Answer | None = None,
) -> Admitted | Refused:
    """Check and answer one gossip request: `gate`, then `respond`.

    `remote`: the transport address (a URL on the in-memory network, "addr:..." over
    TCP; empty when unknown). `claimed`: the node id the request's header claims, before
    any check. `authenticate()`: the proven node id, or a `TrustnetError` whose code says
    why not (`busy`: the replay cache is full, nobody's fault). `cut_off(node_id)`: the
    node is across a testbed partition (refused with 503, nobody charged).
    `answer(node_id, path, message, now_ms)`: who answers the decoded request
    (`protocol.on_request` unless given; the node adds the witness paths this way).
    """
    node = gate(protocol, path, body, now_ms, remote=remote, claimed=claimed,
                authenticate=authenticate, cut_off=cut_off)
    if isinstance(node, Refused):
        return node
    return respond(protocol, node, path, body, now_ms, answer=answer)


def gate(
    protocol: GossipProtocol,
    path: str,
    body: bytes,
    now_ms: int,
    *,
    remote: str,
    claimed: str,
    authenticate: Callable[[], str],
    cut_off: Callable[[str], bool] = _no_partition,
) -> str | Refused:
    """Every check of `admit` before decoding: the authenticated node id, or why not. A
    caller that does work of its own between the two halves (the node checking a large
    push's entries on its ingest workers) does it only for a request that passed here."""
    peers = protocol.peers
    max_bytes = protocol.config.max_message_bytes
    addr_kind: PeerKind = "url" if remote.startswith(("http://", "https://")) else "addr"
    if remote and peers.is_ignored(remote, now_ms):
        return Refused("graylisted", f"{remote} is graylisted")
    if len(body) > max_bytes:
        if remote:
            peers.penalize(remote, "too_large", now_ms, kind=addr_kind, detail=f"{len(body)} bytes")
        return Refused("too_large", f"body is {len(body)} bytes; the limit is {max_bytes}")
    if claimed and peers.is_ignored(claimed, now_ms):
        # Refused before spending a signature check; whoever sent it, nobody is blamed.
        return Refused("graylisted", f"node {claimed[:16]} is graylisted")
    try:
        node = authenticate()
    except TrustnetError as exc:
        if remote and exc.code != "busy":  # a full replay cache is nobody's fault
            peers.penalize(remote, exc.code, now_ms, kind=addr_kind, detail=path[:64])
        return Refused(exc.code, exc.message)
    if cut_off(node):  # a testbed fault, not misbehaviour: nobody is charged
        return Refused("partitioned", f"node {node[:16]} is across a partition", 503)
    if path not in m.PATHS or (path == m.RECONCILE and not protocol.config.reconcile):
        # Before the rate limiter, so unknown paths cannot grow its per-endpoint buckets.
        # A node with `[gossip] reconcile = false` is the previous wire format exactly.
        peers.penalize(node, "unknown_path", now_ms, kind="node", detail=path[:64])
        return Refused("unknown_path", f"no gossip endpoint {path[:64]!r}")
    if not peers.allow(node, path, now_ms, kind="node"):
        return Refused("rate_limited", f"too many {path[:64]} requests")
    return node


def respond(
    protocol: GossipProtocol,
    node: str,
    path: str,
    body: bytes,
    now_ms: int,
    *,
    answer: Answer | None = None,
    message: m.Message | None = None,
) -> Admitted | Refused:
    """The second half of `admit`, for a request `gate` let through from `node`: decode
    it (unless `message` is the request already decoded) and answer it."""
    max_bytes = protocol.config.max_message_bytes
    try:
        if message is None:
            message = m.decode_request(path, body, max_bytes)
        reply, actions = (answer or protocol.on_request)(node, path, message, now_ms)
        data = m.encode(reply, max_bytes)
    except m.MessageError as exc:
        protocol.peers.penalize(node, exc.code, now_ms, kind="node", detail=exc.message[:200])
        return Refused(exc.code, exc.message)
    return Admitted(node, data, tuple(actions))
