"""The gossip settings record: the `[gossip]` table of node.toml and its bounds (DESIGN 6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from trustnet.errors import ConfigError
from trustnet.protocol import messages as m
from trustnet.protocol.peers import PeerPolicy


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """Gossip settings (the `[gossip]` table of node.toml); every limit is a bound of DESIGN 6.

    Loaded by trustnet.config.loader.load_table: the policy's keys sit in the same table, and
    `BOUNDS` names the ranges (each error then names the key).
    """

    FLATTEN: ClassVar[str] = "policy"
    BOUNDS: ClassVar[dict[str, str]] = {
        "fanout": ">= 1", "fetch_batch_entries": ">= 1", "max_push_entries": ">= 1",
        "tick_interval_s": "> 0", "replay_cache": ">= 1", "own_sync_quorum": ">= 0",
        "heads_page": ">= 1", "max_ranges": ">= 1", "own_recovery_deadline_ms": ">= 0",
        "max_session_pages": ">= 1", "session_timeout_ms": ">= 1",
        "new_authors_per_peer": ">= 0", "new_authors_total": ">= 0",
        "new_authors_interval_s": ">= 1", "recon_items": ">= 1", "recon_recent": ">= 0",
        "max_unheld_forks": ">= 0",
    }

    fanout: int = 3
    tick_interval_s: float | None = 1.0  # None: no tick loop (tests drive `Node.tick`)
    max_message_bytes: int = m.MAX_MESSAGE_BYTES
    fetch_batch_entries: int = 256
    fetch_batch_bytes: int = 512 * 1024
    max_ranges: int = 64
    max_push_entries: int = 64
    heads_page: int = 2048
    max_forks_listed: int = 1024
    seen_cache: int = 65_536
    # Signatures of requests seen inside the freshness window (replay protection); when it is
    # full, new requests are refused (503 busy) until old ones leave the window: never a replay.
    replay_cache: int = 65_536
    push_max_age_ms: int = 10 * 60_000  # older entries learned by fetch spread by anti-entropy only
    peer_exchange_every: int = 10  # ticks
    peers_shared: int = 16
    request_timeout_ms: int = 30_000
    max_inflight: int = 64
    max_sessions: int = 4
    max_session_rounds: int = 64
    max_session_pages: int = 256  # heads pages, or reconcile requests, per session
    # Range reconciliation (issue 15; docs/protocol.md): on a digest mismatch, compare
    # fingerprints of author-id prefixes and exchange only the heads that differ. False:
    # speak exactly the previous wire format (heads pages; /gossip/reconcile unknown).
    reconcile: bool = True
    recon_items: int = 8  # a prefix holding at most this many heads is listed, not split
    recon_recent: int = 8  # heads taken in last, sent with the first reply (0: none)
    session_timeout_ms: int = 120_000  # a session's deadline; then it ends, slow peer charged
    own_sync_quorum: int = 2  # peers that must report our own head before we sign again
    own_recovery_deadline_ms: int = 180_000  # after it, sign unless a proven higher head is missing
    # Authors not held yet that one peer may bring in per interval (0: no limit); entries of
    # further new authors are refused (`author_limit`, no penalty) and come later by
    # anti-entropy. Authors this node or its anchors trust are always taken.
    new_authors_per_peer: int = 1000
    new_authors_interval_s: int = 60
    # The same, from all peers together: a key costs nothing to make, so a limit per peer key
    # alone is no limit (one stranger signs each push with a fresh key).
    new_authors_total: int = 4000
    # Fork proofs about authors this node holds no entry of, kept at most (more are refused,
    # `fork_limit`, no penalty). Each also counts as a new author from its sender (above):
    # anyone can make a key and prove it forked; such a proof protects nothing held here.
    max_unheld_forks: int = 1024
    policy: PeerPolicy = field(default_factory=PeerPolicy)

    def __post_init__(self) -> None:
        if self.fanout < 1 or self.fetch_batch_entries < 1 or self.max_push_entries < 1:
            raise ConfigError("[gossip]: fanout, fetch_batch_entries, max_push_entries must be >= 1")
        if self.fetch_batch_bytes > self.max_message_bytes // 2:
            raise ConfigError("[gossip]: fetch_batch_bytes must leave room in max_message_bytes")
        if self.tick_interval_s is not None and self.tick_interval_s <= 0:
            raise ConfigError("[gossip]: tick_interval_s must be > 0")
        if self.replay_cache < 1:
            raise ConfigError("[gossip]: replay_cache must be >= 1")
        if self.own_sync_quorum < 0 or self.heads_page < 1 or self.max_ranges < 1:
            raise ConfigError("[gossip]: own_sync_quorum >= 0, heads_page >= 1, max_ranges >= 1")
        if self.own_recovery_deadline_ms < 0:
            raise ConfigError("[gossip]: own_recovery_deadline_ms must be >= 0")
        if self.recon_items < 1 or self.recon_recent < 0 or self.max_unheld_forks < 0:
            raise ConfigError("[gossip]: recon_items must be >= 1, recon_recent >= 0, "
                              "max_unheld_forks >= 0")
        if self.max_session_pages < 1 or self.session_timeout_ms < 1:
            raise ConfigError("[gossip]: max_session_pages and session_timeout_ms must be >= 1")
        if (self.new_authors_per_peer < 0 or self.new_authors_total < 0
                or self.new_authors_interval_s < 1):
            raise ConfigError("[gossip]: new_authors_per_peer >= 0, new_authors_total >= 0, "
                              "new_authors_interval_s >= 1")

