"""The node's Prometheus metrics (`GET /metrics`): one registry per node, never the global one.

`NodeMetrics` owns a `CollectorRegistry`, so many nodes fit in one process
(tests, the testbed) without their series mixing (STYLE: per-node objects are
instances). Two kinds of series live in it:

- state read at scrape time by `_NodeCollector`: store sizes, peers by state,
  the protocol's own counters (`GossipProtocol.stats`, exposed rather than
  counted twice), and, when the daemon registered its views, belief and
  suspicion gauges per party;
- counters and histograms the node updates as things happen: gossip requests
  sent and served by message type and outcome, their body sizes, the latency of
  outgoing requests, and rejected inputs by code.

Label values are bounded: message types come from `messages.PATHS` (anything
else is "unknown"), outcomes from stable error codes (a peer-chosen code is
"other"), parties from the authors this node holds. docs/metrics.md lists every
series.
"""

from __future__ import annotations

import heapq
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from trustnet import __version__
from trustnet.clock import Clock
from trustnet.feedback.estimator import Regime
from trustnet.protocol import messages as m
from trustnet.transport.base import STATUS as REFUSAL_STATUS

if TYPE_CHECKING:
    from trustnet.feedback.estimator import PartySuspicion
    from trustnet.trust.beliefs import Beliefs


# What a scrape reads of the node (trustnet/node/core.py's Node): described here, so that the
# metrics do not import the node that imports them.
class _PeerTable(Protocol):
    def to_json(self, now_ms: int, *, detail: bool = True) -> dict[str, Any]: ...


class _Gossip(Protocol):
    @property
    def stats(self) -> Mapping[str, int]: ...
    @property
    def peers(self) -> _PeerTable: ...
    def pending(self) -> int: ...


class MetricsNode(Protocol):
    """The node a `NodeMetrics` scrapes."""

    @property
    def node_id(self) -> str: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def log(self) -> logging.Logger: ...
    @property
    def protocol(self) -> _Gossip: ...
    def status(self) -> dict[str, Any]: ...

# Latency of outgoing gossip requests: loopback answers in ~1 ms, a request times out at
# 30 s (GossipConfig.request_timeout_ms).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
# Body sizes: a digest is ~40 bytes, a full fetch batch up to MAX_MESSAGE_BYTES (1 MiB).
BYTES_BUCKETS = (64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0)

PEER_KINDS = ("url", "node", "addr")
PEER_STATES = ("ok", "backoff", "graylisted")
REGIMES: tuple[str, ...] = get_args(Regime)
MAX_NAME = 64  # a profile name is the party's own choice: cut it for the label
DEFAULT_MAX_PARTIES = 1000  # as [http] metrics_max_parties' default

# Outcomes of a request this node sent: "ok", a transport code, a refusal code the peer
# gave, or a malformed reply. A peer can answer with any code: others count as "other".
_CLIENT_OUTCOMES = frozenset({
    "ok", "unreachable", "timeout", "dropped", "bad_reply", "unavailable", "internal",
    "partitioned", "private_address", *REFUSAL_STATUS,
})
_HTTP_CODE = re.compile(r"http_[1-5][0-9][0-9]")

# GossipProtocol.stats key -> (metric name without _total, help).
_PROTOCOL_STATS: dict[str, tuple[str, str]] = {
    "ticks": ("trustnet_gossip_ticks", "Protocol ticks (each may start an anti-entropy round)."),
    "rounds": ("trustnet_gossip_rounds", "Anti-entropy rounds started (a digest sent)."),
    "in_sync": ("trustnet_gossip_in_sync", "Digests answered 'in sync'."),
    "mismatch": ("trustnet_gossip_mismatch", "Digests answered with heads or a reconcile reply (stores differed)."),
    "requests": ("trustnet_gossip_requests_issued", "Requests the protocol issued, all types."),
    "failures": ("trustnet_gossip_request_failures",
                 "Requests that failed: transport error, refusal, bad reply or timeout."),
    "pushed": ("trustnet_gossip_pushed_entries", "Entries sent in eager pushes."),
    "learned": ("trustnet_gossip_learned_entries", "Entries learned from peers."),
    "rejected": ("trustnet_gossip_rejected_entries",
                 "Entries from peers rejected at ingest (codes: trustnet_rejected_inputs_total)."),
    "forks_learned": ("trustnet_gossip_forks_learned", "Equivocation proofs learned."),
    "sessions_ended": ("trustnet_gossip_sessions_ended",
                       "Anti-entropy sessions ended early (no progress, too many pages, deadline)."),
}

# The classic text format: every name here is a legacy name, so the output is valid 0.0.4,
# which Prometheus 2.x and 3.x both accept (newer clients label it 1.0.0, which 2.x does not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def message_type(path: str) -> str:
    """The `type` label of a gossip path: its last segment, or "unknown" for any other path."""
    return path.rsplit("/", 1)[-1] if path in m.PATHS else "unknown"


def client_outcome(code: str) -> str:
    """The `outcome` label of a request this node sent, from a bounded set."""
    return code if code in _CLIENT_OUTCOMES or _HTTP_CODE.fullmatch(code) else "other"


class NodeMetrics:
    """One node's metrics registry and the instruments the node updates."""

    def __init__(self, node: MetricsNode, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.node = node
        # Monotonic seconds for latencies (the protocol never reads it: it is not protocol time).
        self.timer = timer
        # The per-party gauges of the live analysis' published view, ranked and capped at
        # [http] metrics_max_parties by its worker (trustnet.analysis.live: a node may hold
        # 100,000 authors; a scrape must not rank them); None: no per-party gauges.
        self.gauges: Callable[[], PartyGauges] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests_sent = Counter(
            "trustnet_gossip_requests_sent", "Gossip requests this node sent, by outcome.",
            ["type", "outcome"], registry=r)
        self.requests_received = Counter(
            "trustnet_gossip_requests_received",
            "Gossip requests this node answered, by outcome (ok or the refusal code).",
            ["type", "outcome"], registry=r)
        self.bytes_sent = Histogram(
            "trustnet_gossip_sent_bytes",
            "Gossip bodies sent: requests (role=client) and replies (role=server).",
            ["type", "role"], buckets=BYTES_BUCKETS, registry=r)
        self.bytes_received = Histogram(
            "trustnet_gossip_received_bytes",
            "Gossip bodies received: replies (role=client) and requests (role=server).",
            ["type", "role"], buckets=BYTES_BUCKETS, registry=r)
        self.latency = Histogram(
            "trustnet_gossip_request_duration_seconds",
            "Time from sending a gossip request to its reply or failure.",
            ["type", "outcome"], buckets=LATENCY_BUCKETS, registry=r)
        self.rejected_inputs = Counter(
            "trustnet_rejected_inputs",
            "Inputs refused, by source (ingest, gossip, api) and stable error code.",
            ["source", "code"], registry=r)
        self.internal_errors = Counter(
            "trustnet_internal_errors",
            "Unexpected exceptions (bugs) met while serving or gossiping, by where: "
            "gossip_server, gossip_client, tick, api. Each is logged with its traceback.",
            ["where"], registry=r)
        self.scrape_errors = Counter(
            "trustnet_metrics_scrape_errors",
            "Scrapes whose belief or suspicion gauges could not be computed (see the log).",
            registry=r)
        r.register(_NodeCollector(self))

    # -- events (the node calls these) -----------------------------------------------------

    def request_done(self, path: str, outcome: str, seconds: float, sent: int,
                     received: int | None) -> None:
        """An outgoing gossip request finished (`received`: reply size, None without one)."""
        kind, outcome = message_type(path), client_outcome(outcome)
        self.requests_sent.labels(kind, outcome).inc()
        self.latency.labels(kind, outcome).observe(max(0.0, seconds))
        self.bytes_sent.labels(kind, "client").observe(sent)
        if received is not None:
            self.bytes_received.labels(kind, "client").observe(received)

    def request_served(self, path: str, outcome: str, received: int, sent: int) -> None:
        """An inbound gossip request was answered (`outcome`: "ok" or the refusal code)."""
        kind = message_type(path)
        self.requests_received.labels(kind, outcome).inc()
        self.bytes_received.labels(kind, "server").observe(received)
        self.bytes_sent.labels(kind, "server").observe(sent)

    def rejected(self, source: str, code: str, count: int = 1) -> None:
        """`count` inputs refused with a stable error `code` (source: ingest, gossip, api)."""
        self.rejected_inputs.labels(source, code).inc(count)

    def crashed(self, where: str) -> None:
        """An unexpected exception in `where` (gossip_server, gossip_client, tick, api)."""
        self.internal_errors.labels(where).inc()

    # -- scrape ------------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format, then the per-party families (rendered
        by the live analysis' worker: the text of 1,000 parties costs ~50 ms of CPU), and its
        content type."""
        return generate_latest(self.registry) + self._parties(), CONTENT_TYPE

    def _parties(self) -> bytes:
        source = self.gauges
        if source is None:
            return b""
        try:
            return source().text
        except Exception as exc:  # a scrape must not fail over the views; the log says why
            if getattr(exc, "code", None) == "analysis_pending":
                return b""  # the node's first analysis is still running: gauges when it is done
            self.node.log.exception("belief/suspicion gauges unavailable")
            self.scrape_errors.inc()
            return b""


class _NodeCollector:
    """Scrape-time gauges over the node's store, peers, protocol and views."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Every scrape-time family."""
        node = self.metrics.node
        now = node.clock.now_ms()
        status = node.status()
        info = GaugeMetricFamily("trustnet_node_info", "This node's id and version (always 1).",
                                 labels=["node_id", "version"])
        info.add_metric([node.node_id, __version__], 1)
        yield info
        for key, help_text in (
            ("entries", "Entries held."),
            ("authors", "Authors held."),
            ("forks", "Equivocations proven (fork proofs held)."),
            ("own_seq", "Highest seq of this node's own log."),
            ("quarantined", "Stored entries set aside as corrupted on disk (see the log)."),
        ):
            yield GaugeMetricFamily(f"trustnet_{key}", help_text, value=status[key])
        yield GaugeMetricFamily("trustnet_catching_up",
                                "1 while the node recovers its own log and refuses to sign.",
                                value=1 if status["catching_up"] else 0)
        yield self._peers(now)
        yield GaugeMetricFamily("trustnet_gossip_inflight_requests",
                                "Gossip requests sent and not yet answered.",
                                value=node.protocol.pending())
        for key, value in sorted(node.protocol.stats.items()):
            name, help_text = _PROTOCOL_STATS.get(
                key, (f"trustnet_gossip_{re.sub(r'[^a-zA-Z0-9_]', '_', key)}",
                      f"Gossip protocol counter {key!r}."))
            yield CounterMetricFamily(name, help_text, value=value)
        # the per-party families follow, rendered by the live analysis (NodeMetrics.render)

    def _peers(self, now: int) -> GaugeMetricFamily:
        counts = {(k, s): 0 for k in PEER_KINDS for s in PEER_STATES}
        for peer in self.metrics.node.protocol.peers.to_json(now)["peers"]:
            key = (peer["kind"], peer["state"])
            counts[key] = counts.get(key, 0) + 1
        family = GaugeMetricFamily(
            "trustnet_peers",
            "Peer records by kind (url: contactable; node, addr: inbound senders) and state.",
            labels=["kind", "state"])
        for (kind, state), count in sorted(counts.items()):
            family.add_metric([kind, state], count)
        return family


@dataclass(frozen=True, slots=True)
class BeliefGauge:
    """One party's belief gauges, as /metrics shows them."""

    party: str
    name: str  # the label: its profile's name, else the name beliefs know it by, cut
    reliability: float
    compliance: float
    raw: float


@dataclass(frozen=True, slots=True)
class SuspicionGauge:
    """One party's suspicion gauges, as /metrics shows them."""

    party: str
    name: str  # the label: its profile's name, cut ("" without one)
    level: float
    escalation_index: float
    regime: str


@dataclass(frozen=True, slots=True)
class PartyGauges:
    """The per-party gauges of one published analysis, ranked and capped: made by the live
    analysis' worker with each view it publishes (trustnet.analysis.live), so that a scrape
    only renders them (ranking 100,000 parties on the event loop took seconds)."""

    beliefs: tuple[BeliefGauge, ...]  # by party id
    suspicions: tuple[SuspicionGauge, ...]  # by party id
    omitted: int  # parties left out by the cap
    text: bytes  # their families in the exposition format (`party_families`), rendered

    @classmethod
    def of(cls, beliefs: Beliefs, reports: Mapping[str, PartySuspicion], cap: int,
           profile_name: Callable[[bytes], str | None]) -> PartyGauges:
        """The gauges of the parties shown: all of them up to `cap`, else the most suspected
        (then the most relied on, then by id); `profile_name` reads a party's profile name."""
        shown, omitted = shown_parties(beliefs, reports, cap)
        names: dict[str, str] = {}
        for pid in shown:
            name = profile_name(bytes.fromhex(pid))
            if name is not None:
                names[pid] = str(name)[:MAX_NAME]
        rows = []
        for pid in sorted(shown & beliefs.parties.keys()):
            belief = beliefs.parties[pid]
            rows.append(BeliefGauge(pid, names.get(pid) or (belief.name or "")[:MAX_NAME],
                                    belief.reliability.p, belief.verified.score,
                                    belief.raw.score))
        suspected = []
        for pid in sorted(shown & reports.keys()):
            report = reports[pid]
            suspected.append(SuspicionGauge(pid, names.get(pid) or "", report.level,
                                            report.escalation_index, report.regime))
        return cls.rendered(tuple(rows), tuple(suspected), omitted)

    @classmethod
    def rendered(cls, beliefs: tuple[BeliefGauge, ...], suspicions: tuple[SuspicionGauge, ...],
                 omitted: int) -> PartyGauges:
        """These rows, with their text rendered."""
        made = cls(beliefs, suspicions, omitted, b"")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(party_families(made)))
        return cls(beliefs, suspicions, omitted, generate_latest(registry))


class _Fixed:
    """A collector of families made already."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        """The families."""
        return self.families


def shown_parties(beliefs: Beliefs, reports: Mapping[str, PartySuspicion], cap: int
                  ) -> tuple[set[str], int]:
    """The parties given gauges, and how many were left out: all of them up to `cap`, else
    the most suspected (then the most relied on, then by id)."""
    parties = beliefs.parties.keys() | reports.keys()
    if len(parties) <= cap:
        return set(parties), 0

    def rank(pid: str) -> tuple[float, float, str]:
        report, belief = reports.get(pid), beliefs.parties.get(pid)
        return (-(report.level if report else 0.0),
                -(belief.reliability.p if belief else 0.0), pid)

    return set(heapq.nsmallest(cap, parties, key=rank)), len(parties) - cap


def party_families(gauges: PartyGauges) -> list[Metric]:
    """The belief and suspicion families of `gauges` (docs/metrics.md)."""
    labels = ["party", "name"]

    def family(name: str, help_text: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, help_text, labels=[*labels, *extra])

    reliability = family("trustnet_belief_reliability",
                         "How far this node relies on the party as a source (0..1).")
    compliance = family("trustnet_belief_compliance",
                        "Compliance score from verified evidence (0..1).")
    raw = family("trustnet_belief_compliance_raw",
                 "Compliance score from all claims, verified or not (0..1).")
    for b in gauges.beliefs:
        who = [b.party, b.name]
        reliability.add_metric(who, b.reliability)
        compliance.add_metric(who, b.compliance)
        raw.add_metric(who, b.raw)
    level = family("trustnet_suspicion_level", "Suspicion level of the party (0..1).")
    index = family("trustnet_suspicion_escalation_index",
                   "Escalation index: the largest eigenvalue's real part, per time unit.")
    regime = family("trustnet_suspicion_regime",
                    "1 for the party's current regime, 0 for the others.", ("regime",))
    for s in gauges.suspicions:
        who = [s.party, s.name]
        level.add_metric(who, s.level)
        index.add_metric(who, s.escalation_index)
        for name in REGIMES:
            regime.add_metric([*who, name], 1 if s.regime == name else 0)
    omitted = GaugeMetricFamily(
        "trustnet_metrics_parties_omitted",
        "Parties whose belief and suspicion gauges were left out ([http] metrics_max_parties).",
        value=gauges.omitted)
    return [reliability, compliance, raw, level, index, regime, omitted]
