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

The table is bounded (`max_peers`) and never locks anyone out (DESIGN 12): when it is
full, a new record evicts the least recently seen one whatever its score. Peers the
operator chose (`config`, `admin`) are never evicted and never refused room; peers that
delivered new data keep a reserved share (`data_peers_reserved`) that strangers cannot
take. An evicted record that was penalised leaves its score and cool-down in a bounded
penalty memory (`penalties_kept`), so a penalty outlives its record.

URLs learned from gossip (`profile`, `exchange`, `inbound`) that name a private,
loopback, link-local or other special-purpose address are refused unless
`allow_private_peers` is set: every node that learns a URL dials it, so a stranger could
otherwise aim all of them at their own internal networks. The table classifies literal
addresses (`address_class`); host names are checked by the I/O shell when it resolves
them (a `Send` to a learned URL is marked `guard`), which reports `private_address`.
"""

from __future__ import annotations

import functools
import ipaddress
import random
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from trustnet.errors import ConfigError

PeerKind = Literal["url", "node", "addr"]

# Sources of peers the operator chose: never evicted, never refused room, and dialled
# whatever their address.
OPERATOR_SOURCES = frozenset({"config", "admin"})
REFUSED_KEPT = 64  # refused URLs shown to the operator in GET /peers
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

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
    # Sessions that would never end: graylisted after the second.
    "no_progress": 30.0,  # a heads page that does not start after the last one
    "endless_session": 30.0,  # more heads pages (or reconcile requests) than max_session_pages
    "bad_reconcile": 30.0,  # a reconcile reply about prefixes it was not asked
    "reconcile_mismatch": 5.0,  # a split whose counts do not add up (a store may move: cheap)
    "session_timeout": 5.0,  # a session past its deadline (slow links happen; cheaper)
}
DEFAULT_PENALTY = 10.0

# Token buckets per endpoint: (tokens per second, burst). Sized so an honest peer's
# eager pushes and anti-entropy never come near them; a flood does.
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "/gossip/digest": (5.0, 30.0),
    "/gossip/heads": (20.0, 100.0),
    "/gossip/reconcile": (20.0, 100.0),
    "/gossip/fetch": (20.0, 100.0),
    "/gossip/push": (50.0, 300.0),
    "/gossip/peers": (2.0, 10.0),
    "/gossip/head": (5.0, 30.0),
}


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """Scoring, graylisting, back-off, rate-limit and table-size settings."""

    BOUNDS: ClassVar[dict[str, str]] = {
        "half_life_ms": "> 0", "cooldown_ms": ">= 0", "max_peers": ">= 1",
        "data_peers_reserved": ">= 0", "penalties_kept": ">= 0", "graylist_threshold": "< 0",
    }

    half_life_ms: int = 10 * 60_000
    graylist_threshold: float = -50.0
    cooldown_ms: int = 10 * 60_000
    max_score: float = 100.0
    reward_per_entry: float = 1.0
    reward_per_fork: float = 5.0
    max_peers: int = 512
    data_peers_reserved: int = 128
    penalties_kept: int = 4096
    allow_private_peers: bool = False
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
        if self.data_peers_reserved < 0 or self.penalties_kept < 0:
            raise ConfigError("peer policy: data_peers_reserved and penalties_kept must be >= 0")
        if self.graylist_threshold >= 0:
            raise ConfigError("peer policy: graylist_threshold must be negative")


@functools.lru_cache(maxsize=1 << 17)
def address_class(url: str) -> str | None:
    """Why `url`'s host may not be dialled when learned from gossip (None: it may).

    Only literal addresses are classified here (and the `localhost` names); a host
    name is checked on the addresses it resolves to, when it is dialled (`ip_class`).
    A pure function of the URL, cached for the process: every table of a simulation
    (and every peer exchange of a node) classifies the same URLs again and again.
    """
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "bad_url"
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return ip_class(ip)


def ip_class(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The special-purpose class of an address (None: a global unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped or ip.sixtofour or ip.teredo):
        return "ipv4_embedded"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared_cgnat"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "special_purpose"
    return None


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
    # The reason log, newest last, at most `reasons_kept` lines. A list, not a deque: a
    # deque costs 600 bytes even with one line, and a simulation holds 10**6 records.
    log: list[dict[str, Any]] = field(default_factory=list)


class PeerTable:
    """Peers by key, with scores, graylist, back-off and per-endpoint token buckets."""

    def __init__(self, policy: PeerPolicy | None = None, *, own_url: str | None = None) -> None:
        self.policy = policy or PeerPolicy()
        self.own_url = own_url
        self._peers: dict[str, Peer] = {}
        self.dropped = 0  # candidates refused because the table was full
        self.evicted = 0  # records evicted to make room
        # Evicted records that were penalised: key -> (score, score_ms, graylisted_until,
        # state_reason), oldest first; restored if the key comes back.
        self._penalised: OrderedDict[str, tuple[float, int, int, str]] = OrderedDict()
        # URLs learned from gossip and refused (private addresses): url -> decision.
        self.refused: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.refused_total = 0
        self.refused_urls = 0  # distinct (as far as `refused` remembers): paces the log
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
        """Add a contactable peer (a candidate); True when it is new.

        The operator's peers (`config`, `admin`) always get a record: a known URL is
        promoted to the operator's. A URL learned from gossip that names a private
        address is refused (see `refuse`) unless the policy allows private peers.
        """
        url = url.rstrip("/")
        if url == self.own_url:
            return False
        known = self._peers.get(url)
        if known is not None:
            if source in OPERATOR_SOURCES and known.source not in OPERATOR_SOURCES:
                known.source = source
                self._note(known, now_ms, "promoted", f"added by the operator ({source})", 0.0)
            return False
        if source not in OPERATOR_SOURCES and not self.policy.allow_private_peers:
            why = address_class(url)
            if why is not None:
                self.refuse(url, source, why, now_ms)
                return False
        return self._create(url, "url", source, url, now_ms) is not None

    def guarded(self, url: str) -> bool:
        """True when a request to `url` must refuse private addresses once resolved: it was
        learned from gossip (not chosen by the operator) and the policy does not allow them."""
        if self.policy.allow_private_peers:
            return False
        peer = self._peers.get(url)
        return peer is None or peer.source not in OPERATOR_SOURCES

    def refuse(self, url: str, source: str, why: str, now_ms: int) -> None:
        """Refuse a URL learned from `source` that resolves to a private address (`why`: its
        class): drop its record and keep the decision (code `private_address`) for the
        operator; the first 16 URLs refused and every 1000th are logged."""
        peer = self._peers.get(url)
        if peer is not None and peer.source not in OPERATOR_SOURCES:
            del self._peers[url]
        self.refused_total += 1
        seen = self.refused.pop(url, None)
        if seen is None:
            self.refused_urls += 1
        self.refused[url] = {
            "url": url, "source": source, "reason": "private_address", "detail": why,
            "at_ms": now_ms, "count": 1 if seen is None else seen["count"] + 1,
        }
        while len(self.refused) > REFUSED_KEPT:
            self.refused.popitem(last=False)
        if seen is None and (self.refused_urls <= 16 or self.refused_urls % 1000 == 0):
            self.decisions.append((url, (
                f"refused (private_address: {why}, learned from {source}; "
                f"{self.refused_urls} URLs refused so far; [gossip] allow_private_peers = true "
                "allows them)")))

    def record(self, key: str, kind: PeerKind, now_ms: int) -> Peer | None:
        """The record for a node id or address, created when new (None: table full)."""
        peer = self._peers.get(key)
        if peer is None:
            peer = self._create(key, kind, "inbound", key if kind == "url" else None, now_ms)
        if peer is not None:
            peer.last_seen_ms = now_ms
        return peer

    def _create(self, key: str, kind: PeerKind, source: str, url: str | None, now_ms: int) -> Peer | None:
        if (len(self._peers) >= self.policy.max_peers and not self._evict(now_ms)
                and source not in OPERATOR_SOURCES):
            self.dropped += 1
            return None
        peer = Peer(key, kind, source, url, score_ms=now_ms, last_seen_ms=now_ms)
        self._peers[key] = peer
        self._note(peer, now_ms, "added", f"from {source}", 0.0)
        remembered = self._penalised.pop(key, None)
        if remembered is not None:
            peer.score_value, peer.score_ms, peer.graylisted_until, peer.state_reason = remembered
            self._note(peer, now_ms, "remembered", "penalty kept from an evicted record", 0.0)
        return peer

    def _evict(self, now_ms: int) -> bool:
        """Make room (bounded table, DESIGN 6): evict the least recently seen record, whatever
        its score, that the operator did not choose; peers that delivered data are evicted
        only by each other while they hold no more than their reserved share."""
        strangers: list[Peer] = []
        suppliers: list[Peer] = []
        for p in self._peers.values():
            if p.source not in OPERATOR_SOURCES:
                (suppliers if p.accepted > 0 else strangers).append(p)
        if len(suppliers) > self.policy.data_peers_reserved or not strangers:
            pool = suppliers
        else:
            pool = strangers
        if not pool:
            return False
        victim = min(pool, key=lambda p: (p.last_seen_ms, p.key))
        del self._peers[victim.key]
        self.evicted += 1
        score = self._decayed(victim, now_ms)
        if (score < 0 or now_ms < victim.graylisted_until) and self.policy.penalties_kept > 0:
            # The penalty outlives the record: a key cannot wash it off by being evicted.
            self._penalised[victim.key] = (score, now_ms, victim.graylisted_until,
                                           victim.state_reason)
            while len(self._penalised) > self.policy.penalties_kept:
                self._penalised.popitem(last=False)
        return True

    # -- scores ----------------------------------------------------------------------

    def score(self, key: str, now_ms: int) -> float:
        """The decayed score of `key` now (0 when unknown)."""
        peer = self._peers.get(key)
        if peer is None:
            remembered = self._penalised.get(key)
            if remembered is None:
                return 0.0
            value, at = remembered[0], remembered[1]
            return float(value * 0.5 ** (max(0, now_ms - at) / self.policy.half_life_ms))
        return self._decayed(peer, now_ms)

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
        if peer is None:
            remembered = self._penalised.get(key)
            return remembered is not None and now_ms < remembered[2]
        return now_ms < peer.graylisted_until

    def _note(self, peer: Peer, now_ms: int, event: str, reason: str, delta: float) -> None:
        if self.policy.reasons_kept <= 0:
            return  # no reason log (the simulator: 100,000 tables, nobody reads them)
        peer.log.append({
            "at_ms": now_ms, "event": event, "reason": reason,
            "delta": round(delta, 3), "score": round(peer.score_value, 3),
        })
        if len(peer.log) > self.policy.reasons_kept:
            del peer.log[: len(peer.log) - self.policy.reasons_kept]

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

    def to_json(self, now_ms: int, *, detail: bool = True) -> dict[str, Any]:
        """Every record with its state, score and reasons (GET /peers).

        Without `detail` (a caller without the admin token), the free-text reasons, the
        last error and the refused URLs are hidden (`"hidden"`, `null`): they would tell
        anyone which learned URL answers what, a port-scan oracle.
        """
        peers = []
        for key in sorted(self._peers):
            p = self._peers[key]
            reason = p.state_reason if now_ms < p.graylisted_until else (
                f"backing off after {p.last_error}" if now_ms < p.next_try_ms else "")
            log = list(p.log) if detail else [dict(e, reason="hidden") for e in p.log]
            peers.append({
                "key": p.key,
                "kind": p.kind,
                "url": p.url,
                "node_id": p.node_id,
                "source": p.source,
                "state": self.state(key, now_ms),
                "reason": reason if detail or not reason else "hidden",
                "score": round(self._decayed(p, now_ms), 3),
                "graylisted_until_ms": p.graylisted_until or None,
                "failures": p.failures,
                "last_error": p.last_error if detail or p.last_error is None else "hidden",
                "last_seen_ms": p.last_seen_ms,
                "accepted": p.accepted,
                "rejected": p.rejected,
                "log": log,
            })
        return {
            "count": len(peers),
            "graylisted": sum(1 for p in peers if p["state"] == "graylisted"),
            "dropped": self.dropped,
            "evicted": self.evicted,
            "penalties_remembered": len(self._penalised),
            "refused_total": self.refused_total,
            "refused": [dict(r) for r in reversed(self.refused.values())] if detail else None,
            "detail": detail,
            "policy": {
                "graylist_threshold": self.policy.graylist_threshold,
                "cooldown_ms": self.policy.cooldown_ms,
                "half_life_ms": self.policy.half_life_ms,
                "max_peers": self.policy.max_peers,
                "allow_private_peers": self.policy.allow_private_peers,
            },
            "peers": peers,
        }
