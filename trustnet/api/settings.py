"""The `[http]` table of node.toml: who may read the API, from where, how fast (HttpSettings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trustnet.config.loader import load_table
from trustnet.errors import ConfigError
from trustnet.transport.proxies import TrustedProxies


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The `[http]` table of node.toml: who may read, from where, how fast."""

    BOUNDS: ClassVar[dict[str, str]] = {
        "rate_per_s": ">= 0", "rate_burst": ">= 1", "events_views_interval_s": "> 0",
        "header_timeout_s": "> 0", "keepalive_timeout_s": "> 0", "body_timeout_s": "> 0",
        "analysis_budget_s": "> 0", "heavy_read_cost": ">= 1", "max_connections": ">= 1",
        "max_connections_per_address": ">= 1", "max_event_streams": ">= 1",
        "metrics_max_parties": ">= 0",
    }

    # Reads (every GET but the dashboard page and the API description) need the admin token
    # too: for a node listening beyond loopback whose views are not for everyone.
    read_token: bool = False
    # Origins a browser may read this node's JSON from (CORS); empty: none, "*": any.
    cors_origins: tuple[str, ...] = ()
    # Inspection and admin requests per second from one client address (0: unlimited), and
    # the burst allowed above it. Gossip has its own per-peer limits ([gossip]).
    rate_per_s: float = 50.0
    rate_burst: int = 200
    # Seconds between two recomputations of beliefs and suspicion for /events subscribers.
    events_views_interval_s: float = 1.0
    # A new connection must send a whole request head within this many seconds, or it is
    # closed; a kept-alive connection idle (or holding half a request) this long between
    # requests is closed too. A request body must arrive within body_timeout_s.
    header_timeout_s: float = 10.0
    keepalive_timeout_s: float = 30.0
    body_timeout_s: float = 30.0
    # Open connections in all (lowered to fit the process's open-file limit) and from one
    # client address (loopback included: a local testbed's nodes and dashboards share it).
    max_connections: int = 1024
    max_connections_per_address: int = 256
    # /events subscribers at once; beyond, 503 `too_many_streams`.
    max_event_streams: int = 64
    # Seconds a heavy read (a series, a view `?at=` a past moment) may take before the
    # client is answered 503 `busy` (the work goes on off the event loop and its answer is
    # kept for the same request); and that a live view (/beliefs, /suspicion...) waits for
    # the analysis worker to take in what arrived before it is served the last complete
    # view (503 `analysis_pending` before the first). Requests a heavy read costs the
    # client's rate bucket.
    analysis_budget_s: float = 5.0
    heavy_read_cost: int = 10
    # GET /metrics has belief and suspicion gauges for at most this many parties, the most
    # suspected first (a node holding 100,000 authors would otherwise serve a million series).
    metrics_max_parties: int = 1000
    # PEM certificate (chain) and private key: the node then listens with TLS (both or neither;
    # paths relative to the node directory). Checked and loaded by trustnet.transport.tls.
    tls_cert: str = ""
    tls_key: str = ""
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are
    # believed (trustnet.transport.proxies).
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rate_per_s < 0 or self.rate_burst < 1 or self.events_views_interval_s <= 0:
            raise ConfigError("[http]: rate_per_s >= 0, rate_burst >= 1, "
                              "events_views_interval_s > 0")
        if min(self.header_timeout_s, self.keepalive_timeout_s, self.body_timeout_s) <= 0:
            raise ConfigError("[http]: header_timeout_s, keepalive_timeout_s and "
                              "body_timeout_s must be > 0")
        if self.analysis_budget_s <= 0 or self.heavy_read_cost < 1:
            raise ConfigError("[http]: analysis_budget_s > 0, heavy_read_cost >= 1")
        if self.metrics_max_parties < 0:
            raise ConfigError("[http]: metrics_max_parties must be >= 0")
        if min(self.max_connections, self.max_connections_per_address, self.max_event_streams) < 1:
            raise ConfigError("[http]: max_connections, max_connections_per_address and "
                              "max_event_streams must be >= 1")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("[http]: tls_cert and tls_key go together (the certificate and its "
                              "private key)", code="tls_incomplete")
        TrustedProxies.parse(self.trusted_proxies)
        for origin in self.cors_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ConfigError(f"[http]: cors_origins: {origin!r} is not '*' or an origin "
                                  "such as https://example.org")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> HttpSettings:
        """The `[http]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "http")
