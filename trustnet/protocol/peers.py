"""The peer table: decaying scores, graylisting, rate limits and a reason log (DESIGN section 6).

Pure: every method takes `now_ms` from the caller's injected clock.

Records are keyed by an opaque string and have a kind:
- `url`: a peer we can contact (from the config, `profile` statements, peer exchange);
- `node`: an authenticated node id (hex) that sent us requests;
- `addr`: a transport address whose requests failed authentication, so the claimed
  node id cannot be blamed (on the in-memory transport the address is the caller's URL,
  so it is the same record as that peer's `url` record).

Each record has a score that decays exponentially towards 0 (half-life on the injected
clock). Invalid signatures, malformed or oversize requests, rejected entries and
rate-limit breaches lower it; useful new data raises it. At or below the threshold the
record is graylisted for a cool-down: its requests are refused and it is not contacted.
Contact failures (unreachable, timeouts) are not misbehaviour: they only back off the
next contact. Every decision and its reason is kept in a bounded log shown by `to_json`:
nothing that stops replication is hidden.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from trustnet.errors import ConfigError

PeerKind = Literal["url", "node", "addr"]

# What each kind of misbehaviour costs (score points). Entry rejection codes
# (bad_signature, bad_prev, ...) use the same table; unknown codes cost DEFAULT_PENALTY.
PENALTIES: dict[str, float] = {
    "bad_signature": 25.0,  # forged data: never an accident of an honest peer
    "bad_fork_proof": 25.0,
    "false_head": 25.0,  # reported more of our own chain than it can deliver
    "unsigned": 10.0,
    "stale": 5.0,  # clock skew happens; cheaper
    "replayed": 10.0,
    "too_large": 20.0,
    "bad_message": 10.0,
    "bad_encoding": 10.0,
    "unknown_path": 5.0,
    "rate_limited": 5.0,
    "bad_timestamp": 2.0,  # an honest peer with a fast clock can relay these
}
DEFAULT_PENALTY = 10.0

# Token buckets per endpoint: (tokens per second, burst). Sized so an honest peer's
# eager pushes and anti-entropy never come near them; a flood does.
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "/gossip/digest": (5.0, 30.0),
    "/gossip/heads": (20.0, 100.0),
    "/gossip/fetch": (20.0, 100.0),
    "/gossip/push": (50.0, 300.0),
    "/gossip/peers": (2.0, 10.0),
    "/gossip/head": (5.0, 30.0),
}


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """Scoring, graylisting, back-off, rate-limit and table-size settings."""

    half_life_ms: int = 10 * 60_000
    graylist_threshold: float = -50.0
    cooldown_ms: int = 10 * 60_000
    max_score: float = 100.0
    reward_per_entry: float = 1.0
    reward_per_fork: float = 5.0
    max_peers: int = 512
    reasons_kept: int = 16
    backoff_base_ms: int = 1_000
    backoff_max_ms: int = 30_000
    rates: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RATES))
    penalties: Mapping[str, float] = field(default_factory=lambda: dict(PENALTIES))

    def penalty(self, code: str) -> float:
        """The score cost of a misbehaviour code."""
        return self.penalties.get(code, DEFAULT_PENALTY)

    def __post_init__(self) -> None:
        if self.half_life_ms <= 0 or self.cooldown_ms < 0 or self.max_peers < 1:
            raise ConfigError("peer policy: half_life_ms > 0, cooldown_ms >= 0, max_peers >= 1")
        if self.graylist_threshold >= 0:
            raise ConfigError("peer policy: graylist_threshold must be negative")


@dataclass(slots=True)
class Peer:
    """One record of the table (mutable, owned by the table; read it via `to_json`)."""

    key: str
    kind: PeerKind
    source: str
    url: str | None
    node_id: str | None = None
    score_value: float = 0.0
    score_ms: int = 0
    graylisted_until: int = 0
    state_reason: str = ""
    failures: int = 0
    next_try_ms: int = 0
    last_error: str | None = None
    last_seen_ms: int = 0
    accepted: int = 0
    rejected: int = 0
    buckets: dict[str, tuple[float, int]] = field(default_factory=dict)
    log: deque[dict[str, Any]] = field(default_factory=deque)


class PeerTable:
    """Peers by key, with scores, graylist, back-off and per-endpoint token buckets."""

    def __init__(self, policy: PeerPolicy | None = None, *, own_url: str | None = None) -> None:
        self.policy = policy or PeerPolicy()
        self.own_url = own_url
        self._peers: dict[str, Peer] = {}
        self.dropped = 0  # candidates refused because the table was full
        # Graylisting decisions (key, reason) not yet reported: the node drains this and
        # logs them for the operator (this module does no I/O). Bounded.
        self.decisions: deque[tuple[str, str]] = deque(maxlen=64)

    # -- records ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, key: object) -> bool:
        return key in self._peers

    def get(self, key: str) -> Peer | None:
        """The record under `key`, if any."""
        return self._peers.get(key)

    def add(self, url: str, source: str, now_ms: int) -> bool:
        """Add a contactable peer (a candidate); True when it is new."""
        url = url.rstrip("/")
        if url == self.own_url or url in self._peers:
            return False
        return self._create(url, "url", source, url, now_ms) is not None

    def record(self, key: str, kind: PeerKind, now_ms: int) -> Peer | None:
        """The record for a node id or address, created when new (None: table full)."""
        peer = self._peers.get(key)
        if peer is None:
            peer = self._create(key, kind, "inbound", key if kind == "url" else None, now_ms)
        if peer is not None:
            peer.last_seen_ms = now_ms
        return peer

    def _create(self, key: str, kind: PeerKind, source: str, url: str | None, now_ms: int) -> Peer | None:
        if len(self._peers) >= self.policy.max_peers and not self._evict(now_ms):
            self.dropped += 1
            return None
        peer = Peer(key, kind, source, url, score_ms=now_ms, last_seen_ms=now_ms)
        peer.log = deque(maxlen=self.policy.reasons_kept)
        self._peers[key] = peer
        self._note(peer, now_ms, "added", f"from {source}", 0.0)
        return peer

    def _evict(self, now_ms: int) -> bool:
        # Bounded table (DESIGN 6): drop the least recently seen record that is neither
        # configured nor graylisted (a graylisted one must sit out its cool-down).
        victims = [
            p for p in self._peers.values()
            if p.source != "config" and not self.is_ignored(p.key, now_ms) and self.score(p.key, now_ms) >= 0
        ]
        if not victims:
            return False
        victim = min(victims, key=lambda p: (p.last_seen_ms, p.key))
        del self._peers[victim.key]
        return True

    # -- scores ----------------------------------------------------------------------

    def score(self, key: str, now_ms: int) -> float:
        """The decayed score of `key` now (0 when unknown)."""
        peer = self._peers.get(key)
        return 0.0 if peer is None else self._decayed(peer, now_ms)

    def _decayed(self, peer: Peer, now_ms: int) -> float:
        dt = max(0, now_ms - peer.score_ms)
        return float(peer.score_value * 0.5 ** (dt / self.policy.half_life_ms))

    def _add_score(self, peer: Peer, delta: float, now_ms: int) -> float:
        value = self._decayed(peer, now_ms) + delta
        peer.score_value = min(value, self.policy.max_score)
        peer.score_ms = max(now_ms, peer.score_ms)
        return peer.score_value

    def penalize(self, key: str, reason: str, now_ms: int, *, kind: PeerKind = "url",
                 weight: float | None = None, detail: str = "") -> None:
        """Lower a peer's score for misbehaviour `reason` (a stable code); graylist it at the
        threshold."""
        peer = self.record(key, kind, now_ms)
        if peer is None:
            return
        cost = self.policy.penalty(reason) if weight is None else weight
        score = self._add_score(peer, -cost, now_ms)
        text = reason if not detail else f"{reason}: {detail}"
        self._note(peer, now_ms, "penalty", text, -cost)
        if score <= self.policy.graylist_threshold and not self.is_ignored(key, now_ms):
            peer.graylisted_until = now_ms + self.policy.cooldown_ms
            peer.state_reason = (
                f"graylisted until {peer.graylisted_until} after {reason} "
                f"(score {score:.1f} <= {self.policy.graylist_threshold:.1f})"
            )
            self._note(peer, now_ms, "graylisted", peer.state_reason, 0.0)
            self.decisions.append((key, peer.state_reason))

    def reward(self, key: str, reason: str, amount: float, now_ms: int, *,
               kind: PeerKind = "url") -> None:
        """Raise a peer's score for useful new data."""
        peer = self.record(key, kind, now_ms)
        if peer is None or amount <= 0:
            return
        self._add_score(peer, amount, now_ms)
        # Rewards are frequent: log them only when the last log line is not a reward
        # already, so the bounded log keeps the penalties that explain a decision.
        if not peer.log or peer.log[-1]["event"] != "reward":
            self._note(peer, now_ms, "reward", reason, amount)
        else:
            last = peer.log[-1]
            last["delta"] = round(last["delta"] + amount, 3)
            last["score"] = round(peer.score_value, 3)
            last["at_ms"] = now_ms

    def count(self, key: str, *, accepted: int = 0, rejected: int = 0) -> None:
        """Add to a peer's accepted/rejected entry counters (shown in `to_json`)."""
        peer = self._peers.get(key)
        if peer is not None:
            peer.accepted += accepted
            peer.rejected += rejected

    def is_ignored(self, key: str, now_ms: int) -> bool:
        """True while `key` is graylisted (its cool-down has not ended)."""
        peer = self._peers.get(key)
        return peer is not None and now_ms < peer.graylisted_until

    def _note(self, peer: Peer, now_ms: int, event: str, reason: str, delta: float) -> None:
        peer.log.append({
            "at_ms": now_ms, "event": event, "reason": reason,
            "delta": round(delta, 3), "score": round(peer.score_value, 3),
        })

    # -- rate limits -----------------------------------------------------------------

    def allow(self, key: str, endpoint: str, now_ms: int, *, kind: PeerKind = "node") -> bool:
        """Take a token from `key`'s bucket for `endpoint`; on a breach, penalize and refuse."""
        rate, burst = self.policy.rates.get(endpoint, (10.0, 50.0))
        peer = self.record(key, kind, now_ms)
        if peer is None:
            return False  # table full of graylisted peers: refuse strangers
        tokens, last = peer.buckets.get(endpoint, (burst, now_ms))
        tokens = min(burst, tokens + max(0, now_ms - last) * rate / 1000.0)
        if tokens < 1.0:
            peer.buckets[endpoint] = (tokens, now_ms)
            self.penalize(key, "rate_limited", now_ms, kind=kind, detail=endpoint)
            return False
        peer.buckets[endpoint] = (tokens - 1.0, now_ms)
        return True

    # -- contact back-off --------------------------------------------------------------

    def failed(self, url: str, code: str, now_ms: int) -> None:
        """A request to `url` failed at the transport: back off exponentially (no penalty)."""
        peer = self._peers.get(url)
        if peer is None:
            return
        peer.failures += 1
        peer.last_error = code
        delay = min(self.policy.backoff_max_ms,
                    self.policy.backoff_base_ms * 2 ** min(peer.failures - 1, 30))
        peer.next_try_ms = now_ms + delay
        if peer.failures == 1 or peer.failures % 10 == 0:
            self._note(peer, now_ms, "unreachable", f"{code} ({peer.failures} in a row)", 0.0)

    def succeeded(self, url: str, now_ms: int) -> None:
        """A request to `url` got a well-formed reply: clear its back-off."""
        peer = self._peers.get(url)
        if peer is None:
            return
        if peer.failures:
            self._note(peer, now_ms, "reachable", f"after {peer.failures} failures", 0.0)
        peer.failures = 0
        peer.next_try_ms = 0
        peer.last_seen_ms = now_ms

    def set_node_id(self, url: str, node_id: str) -> None:
        """Record the node id a URL's peer claims (display only: URLs are not authenticated)."""
        peer = self._peers.get(url)
        if peer is not None:
            peer.node_id = node_id

    # -- choosing peers ----------------------------------------------------------------

    def usable(self, now_ms: int, exclude: Iterable[str] = ()) -> list[str]:
        """Contactable URLs not graylisted and not backing off, sorted."""
        skip = set(exclude)
        return sorted(
            p.key for p in self._peers.values()
            if p.kind == "url" and p.key not in skip and now_ms >= p.next_try_ms
            and now_ms >= p.graylisted_until
        )

    def urls(self) -> list[str]:
        """Every contactable URL known, sorted (peer exchange hands these out)."""
        return sorted(p.key for p in self._peers.values() if p.kind == "url")

    def sample(self, rng: random.Random, k: int, now_ms: int,
               exclude: Iterable[str] = ()) -> list[str]:
        """Up to `k` distinct usable URLs chosen with `rng`."""
        pool = self.usable(now_ms, exclude)
        return pool if len(pool) <= k else rng.sample(pool, k)

    # -- view ------------------------------------------------------------------------

    def state(self, key: str, now_ms: int) -> str:
        """ok, graylisted or backoff."""
        peer = self._peers[key]
        if now_ms < peer.graylisted_until:
            return "graylisted"
        if now_ms < peer.next_try_ms:
            return "backoff"
        return "ok"

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """Every record with its state, score and reasons (GET /peers)."""
        peers = []
        for key in sorted(self._peers):
            p = self._peers[key]
            peers.append({
                "key": p.key,
                "kind": p.kind,
                "url": p.url,
                "node_id": p.node_id,
                "source": p.source,
                "state": self.state(key, now_ms),
                "reason": p.state_reason if now_ms < p.graylisted_until else (
                    f"backing off after {p.last_error}" if now_ms < p.next_try_ms else ""),
                "score": round(self._decayed(p, now_ms), 3),
                "graylisted_until_ms": p.graylisted_until or None,
                "failures": p.failures,
                "last_error": p.last_error,
                "last_seen_ms": p.last_seen_ms,
                "accepted": p.accepted,
                "rejected": p.rejected,
                "log": list(p.log),
            })
        return {
            "count": len(peers),
            "graylisted": sum(1 for p in peers if p["state"] == "graylisted"),
            "dropped": self.dropped,
            "policy": {
                "graylist_threshold": self.policy.graylist_threshold,
                "cooldown_ms": self.policy.cooldown_ms,
                "half_life_ms": self.policy.half_life_ms,
            },
            "peers": peers,
        }
