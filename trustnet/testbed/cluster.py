"""A local multi-node testbed: N real node processes on loopback (DESIGN 10).

`Testbed` creates one node directory per party under a base folder, picks free
ports, wires every node to a few others as peers, starts `trustnet run` for
each, and waits until all answer `/status`. `stop()` sends SIGTERM to all and
waits for clean exits (SIGKILL after a grace period). Used by
`trustnet testbed up -n N` and by the end-to-end tests.

Faults for scenarios: `stop_node` (SIGTERM, or SIGKILL for a crash) and
`restart`; `partition(side)` cuts a set of nodes off from the rest in both
directions through every node's admin `POST /partition` (`heal()` lifts it);
`push` delivers entries as a signed gossip push from any identity (how an
equivocating party shows each side its own version).

With `tls=True` every node serves TLS with a certificate for 127.0.0.1 and localhost from
a throwaway CA made for the testbed (BASE/tls/ca.pem), and verifies its peers against that
CA (`[gossip] ca_file`): the same path an operator deploys. `state()` reads what
every live node holds (`GET /parties`), and `settle()` waits until the nodes
that can reach each other hold the same.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from trustnet.api.client import ClientError, NodeClient, tls_context
from trustnet.clock import SystemClock
from trustnet.config.loader import load_config, read_admin_token, write_config
from trustnet.config.nodedir import init_node_dir
from trustnet.errors import TrustnetError
from trustnet.identity import Identity, load_node_identity
from trustnet.log.entry import ChainHead, Entry
from trustnet.protocol import messages as m
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE, error_from_reply

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
SETTLE_TIMEOUT_S = 60.0


class TestbedError(TrustnetError):
    """A testbed node failed to start, or the testbed is misused."""

    code = "testbed"


@dataclass(frozen=True, slots=True)
class NodeState:
    """What one node holds: the heads of the chains it reconciles and the proven forks."""

    heads: tuple[tuple[str, int, str], ...]  # (party id, seq, head id) of unforked authors
    forked: frozenset[str]  # party ids proven to equivocate (their chains are not compared)
    entries: int

    @classmethod
    def from_parties(cls, parties: list[dict[str, Any]], entries: int) -> NodeState:
        """From `GET /parties` (and `/status` entries)."""
        heads = tuple(sorted((p["party"], int(p["seq"]), p["head"]) for p in parties
                             if not p["forked"]))
        return cls(heads, frozenset(p["party"] for p in parties if p["forked"]), entries)


@dataclass(frozen=True, slots=True)
class NetworkState:
    """Every live node's `NodeState`, by node name."""

    nodes: dict[str, NodeState]

    def converged(self, names: Collection[str] | None = None) -> bool:
        """True when these nodes (default: all) hold the same heads and forks.

        A proven equivocator's chain is left out, as gossip's digest leaves it out
        (DESIGN 6): its branches may differ from node to node for good.
        """
        states = {(s.heads, s.forked) for n, s in self.nodes.items() if names is None or n in names}
        return len(states) <= 1

    def differing(self) -> list[str]:
        """The nodes that do not hold what most nodes hold (empty when converged)."""
        counts: dict[tuple[Any, ...], int] = {}
        for s in self.nodes.values():
            counts[(s.heads, s.forked)] = counts.get((s.heads, s.forked), 0) + 1
        if len(counts) <= 1:
            return []
        common = max(counts, key=lambda k: counts[k])
        return sorted(n for n, s in self.nodes.items() if (s.heads, s.forked) != common)

    def to_json(self) -> dict[str, Any]:
        """JSON view: per node, entries held, chains reconciled and forks proven."""
        return {"converged": self.converged(), "nodes": {
            n: {"entries": s.entries, "authors": len(s.heads), "forked": sorted(s.forked)}
            for n, s in self.nodes.items()}}


def _limit_files(n: int) -> Callable[[], None]:
    """A child's pre-exec hook: at most `n` open file descriptors (RLIMIT_NOFILE)."""

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return limit


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class TestbedNode:
    """One node process of the testbed."""

    name: str
    dir: Path
    port: int
    node_id: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    ca_file: Path | None = None  # the testbed's CA when the node serves TLS

    @property
    def url(self) -> str:
        """The node's base URL."""
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    @property
    def client(self) -> NodeClient:
        """An API client with the admin token."""
        return NodeClient(self.url, read_admin_token(self.dir),
                          str(self.ca_file) if self.ca_file else None)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def to_json(self) -> dict[str, Any]:
        """Where to find this node."""
        return {"name": self.name, "node_id": self.node_id, "url": self.url, "dir": str(self.dir),
                "log": str(self.dir / "node.log")}


@dataclass(slots=True)
class Testbed:
    """N node processes on loopback, created under `base`."""

    base: Path
    names: Sequence[str]
    peers_per_node: int = 3
    seed: int = 1
    gossip: dict[str, Any] = field(default_factory=dict)
    # `[trust]` settings of every node; a scenario run sets `replay = true` (its nodes judge
    # statements by their signed, backdated ts: docs/beliefs.md, "Replay mode").
    trust: dict[str, Any] = field(default_factory=dict)
    # Further node.toml tables for every node, e.g. {"http": {"header_timeout_s": 1.0}}.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    # RLIMIT_NOFILE (soft and hard) of each node process; None: inherited.
    max_open_files: int | None = None
    nodes: list[TestbedNode] = field(default_factory=list)
    cut: frozenset[str] = frozenset()  # names of the nodes partitioned off from the rest
    tls: bool = False  # every node serves TLS, verified against a throwaway CA
    # Every node's clock runs this far ahead of the wall clock (a scenario's fixed origin).
    clock_offset_ms: int = 0
    # Witness receipts (docs/witnesses.md): node name -> the names of its witnesses and k
    # (0: a majority), written as its `[witness]` table with the witnesses' ids and URLs.
    witnesses: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)

    @property
    def ca_file(self) -> Path | None:
        """The testbed's CA certificate (with `tls`)."""
        return self.base / "tls" / "ca.pem" if self.tls else None

    def create(self) -> None:
        """Initialise every node directory (identity, token, node.toml with ports and peers)."""
        self.base.mkdir(parents=True, exist_ok=True)
        ports = _distinct_ports(len(self.names))
        self.nodes = [TestbedNode(n, self.base / n, p, ca_file=self.ca_file)
                      for n, p in zip(self.names, ports, strict=True)]
        ca = None
        if self.tls and not (self.base / "tls" / "ca.pem").exists():
            from trustnet.transport.testca import ThrowawayCA

            ca = ThrowawayCA.create(self.base / "tls", "trustnet testbed CA")
        rng = random.Random(self.seed)
        for i, node in enumerate(self.nodes):
            if (node.dir / "node.toml").exists():
                continue  # an existing testbed folder: reuse its identities and stores
            # A ring plus random chords: connected, and a few peers each.
            others = [j for j in range(len(self.nodes)) if j != i]
            chosen = {(i + 1) % len(self.nodes)} - {i}
            rng.shuffle(others)
            for j in others:
                if len(chosen) >= min(self.peers_per_node, len(others)):
                    break
                chosen.add(j)
            peers = [self.nodes[j].url for j in sorted(chosen)]
            # Every node of a testbed listens on 127.0.0.1, and learns its peers by
            # exchange too: loopback peers must be allowed (they are not by default).
            gossip = {"allow_private_peers": True, **self.gossip}
            sections = {k: dict(v) for k, v in self.sections.items()}
            sections["gossip"] = gossip
            if self.trust:
                sections["trust"] = dict(self.trust)
            if ca is not None:
                sections["http"] = {"tls_cert": "tls.pem", "tls_key": "tls.key"}
                gossip["ca_file"] = str(ca.ca_file)
            init_node_dir(node.dir, name=node.name, listen=f"127.0.0.1:{node.port}", peers=peers,
                          sections=sections)
            if ca is not None:
                ca.issue(node.dir / "tls.pem", node.dir / "tls.key")
        self._write_witnesses()

    def _write_witnesses(self) -> None:
        """Each node's `[witness]` table from `witnesses` (names resolved to ids and URLs)."""
        by_name = {n.name: n for n in self.nodes}
        for name, (names, needed) in self.witnesses.items():
            unknown = [w for w in (name, *names) if w not in by_name]
            if unknown:
                raise TestbedError(f"witnesses: no node named {', '.join(unknown)}")
            chosen = [by_name[w] for w in names]
            ids = [load_node_identity(w.dir).party_id for w in chosen]
            config = load_config(by_name[name].dir)
            table = {"witnesses": ids, "receipts_needed": needed,
                     "urls": {i: w.url for i, w in zip(ids, chosen, strict=True)}}
            write_config(by_name[name].dir, replace(
                config, sections={**config.sections, "witness": table}))

    def start(self, progress: Callable[[str], None] | None = None) -> None:
        """Start every node process and wait until all answer."""
        if not self.nodes:
            self.create()
        for node in self.nodes:
            self.start_node(node)
        deadline = time.monotonic() + START_TIMEOUT_S
        for node in self.nodes:
            self._wait_up(node, deadline)
            if progress:
                progress(f"{node.name} up at {node.url}")

    def start_node(self, node: TestbedNode, args: Sequence[str] = ()) -> None:
        """(Re)start one node's process (`trustnet run DIR *args`); its output goes to
        DIR/node.log."""
        if node.alive:
            return
        if node.log_file is not None:
            node.log_file.close()
        node.log_file = open(node.dir / "node.log", "ab")  # noqa: SIM115 - closed in stop()
        node.proc = subprocess.Popen(
            [sys.executable, "-m", "trustnet", "run", str(node.dir), *args,
             *(["--clock-offset-ms", str(self.clock_offset_ms)] if self.clock_offset_ms else [])],
            stdout=node.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=None if self.max_open_files is None else _limit_files(self.max_open_files),
        )

    def wait_up(self, node: TestbedNode, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until a (re)started node answers /status."""
        self._wait_up(node, time.monotonic() + timeout_s)

    def _wait_up(self, node: TestbedNode, deadline: float) -> None:
        while True:
            if not node.alive:
                raise TestbedError(f"{node.name} exited at start; see {node.dir / 'node.log'}:\n"
                                   + _tail(node.dir / "node.log"))
            try:
                status = node.client.get("/status")
                node.node_id = status["node_id"]
                # Ready once it knows from its peers that it has its own whole log.
                if not status.get("catching_up"):
                    return
            except ClientError:
                pass
            if time.monotonic() > deadline:
                raise TestbedError(f"{node.name} was not ready within {START_TIMEOUT_S} s; "
                                   f"see {node.dir / 'node.log'}")
            time.sleep(0.05)

    def node(self, name: str) -> TestbedNode:
        """The node of that name."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise TestbedError(f"no node {name!r} in this testbed")

    def stop_node(self, node: TestbedNode, *, crash: bool = False) -> int | None:
        """Stop one node: SIGTERM and wait for its clean exit, or SIGKILL (`crash`)."""
        if node.proc is None or not node.alive:
            return None if node.proc is None else node.proc.returncode
        if crash:
            self.kill(node)
            return node.proc.returncode
        node.proc.send_signal(signal.SIGTERM)
        try:
            return node.proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill(node)
            return node.proc.returncode

    def restart(self, node: TestbedNode, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start a stopped node again, back in its side of any partition, and wait until ready."""
        self.start_node(node)
        deadline = time.monotonic() + timeout_s
        if self.cut:
            # Its peers refuse it already (they hold its id); it must refuse them too.
            while True:
                try:
                    node.client.partition(self._across(node))
                    break
                except ClientError:
                    if not node.alive or time.monotonic() > deadline:
                        raise TestbedError(f"{node.name} did not answer after a restart; see "
                                           f"{node.dir / 'node.log'}") from None
                    time.sleep(0.05)
        self._wait_up(node, deadline)

    def partition(self, side: Collection[str]) -> None:
        """Cut the nodes named in `side` off from all others, both ways (empty: heal)."""
        unknown = set(side) - {n.name for n in self.nodes}
        if unknown:
            raise TestbedError(f"no node(s) {sorted(unknown)} in this testbed")
        self.cut = frozenset(side)
        for node in self.nodes:
            if node.alive:
                node.client.partition(self._across(node))

    def heal(self) -> None:
        """Lift the partition."""
        self.partition(())

    def _across(self, node: TestbedNode) -> list[str]:
        """Ids and URLs of the nodes on the other side of the partition from `node`."""
        if not self.cut:
            return []
        mine = node.name in self.cut
        out: list[str] = []
        for other in self.nodes:
            if (other.name in self.cut) != mine:
                out += [other.node_id, other.url] if other.node_id else [other.url]
        return out

    def groups(self) -> list[list[TestbedNode]]:
        """Live nodes by the side of the partition they are on (one group when none)."""
        live = [n for n in self.nodes if n.alive]
        sides = [[n for n in live if n.name in self.cut], [n for n in live if n.name not in self.cut]]
        return [g for g in sides if g]

    def state(self) -> NetworkState:
        """What every live node holds now."""
        out: dict[str, NodeState] = {}
        for node in self.nodes:
            if node.alive:
                parties = node.client.get("/parties")["parties"]
                entries = node.client.get("/status")["entries"]
                out[node.name] = NodeState.from_parties(parties, entries)
        return NetworkState(out)

    def settle(self, timeout_s: float = SETTLE_TIMEOUT_S) -> bool:
        """Wait until the live nodes of each side of any partition hold the same; False at
        the timeout."""

        def agreed() -> bool:
            state = self.state()
            return all(state.converged([n.name for n in g]) for g in self.groups())

        return self.wait_for(agreed, timeout_s, interval_s=0.1)

    def identity(self, node: TestbedNode) -> Identity:
        """The node's signing identity (its party's key)."""
        return load_node_identity(node.dir)

    def own_head(self, node: TestbedNode) -> ChainHead | None:
        """The head of the node's own chain, as the node holds it."""
        parties = node.client.get("/parties")["parties"]
        mine = next((p for p in parties if p["party"] == node.node_id), None)
        if mine is None:
            return None
        entry = node.client.get(f"/entries/{mine['head']}")
        return ChainHead(int(mine["seq"]), bytes.fromhex(mine["head"]), int(entry["ts"]))

    def push(self, node: TestbedNode, identity: Identity, entries: Sequence[Entry]) -> m.PushAck:
        """Deliver entries to a node as a gossip push signed by `identity`; the node's ack."""
        body = m.encode(m.Push(tuple(e.raw for e in entries)))
        headers = sign_request(identity, "POST", m.PUSH, body, SystemClock().now_ms())
        req = urllib.request.Request(node.url + m.PUSH, data=body, method="POST",
                                     headers=dict(headers, **{"Content-Type": CONTENT_TYPE}))
        context = tls_context(str(node.ca_file)) if node.ca_file else None
        try:
            with urllib.request.urlopen(req, timeout=30, context=context) as resp:
                reply = m.decode_reply(m.PUSH, resp.read())
        except urllib.error.HTTPError as exc:
            err = error_from_reply(exc.code, exc.read())
            raise ClientError(f"{node.name}: push refused: {err.message}", code=err.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ClientError(f"cannot reach {node.url}: {exc}") from None
        if not isinstance(reply, m.PushAck):  # decode_reply allows only PushAck on PUSH
            raise ClientError(f"{node.name}: unexpected reply to a push", code="bad_reply")
        return reply

    def kill(self, node: TestbedNode) -> None:
        """SIGKILL one node (a crash)."""
        if node.proc is not None and node.alive:
            node.proc.kill()
            node.proc.wait()

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every node, wait for clean exits; their exit codes."""
        for node in self.nodes:
            if node.alive and node.proc is not None:
                node.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + STOP_GRACE_S
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                codes[node.name] = node.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                codes[node.name] = node.proc.wait()
            if node.log_file is not None:
                node.log_file.close()
                node.log_file = None
        return codes

    def wait_for(self, check: Callable[[], bool], timeout_s: float = 30.0,
                 interval_s: float = 0.05) -> bool:
        """Poll `check` until it holds or the timeout passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if check():
                    return True
            except ClientError:
                pass
            if time.monotonic() > deadline:
                return False
            time.sleep(interval_s)

    def holding(self, entry_id: str) -> list[str]:
        """Names of the nodes that hold an entry."""
        out = []
        for node in self.nodes:
            if not node.alive:
                continue
            try:
                node.client.get(f"/entries/{entry_id}")
                out.append(node.name)
            except ClientError:
                pass
        return out


def _distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def describe(testbed: Testbed) -> str:
    """A table of the testbed's nodes for people."""
    rows = [f"{'name':<12} {'url':<25} {'node id':<18} dir"]
    for n in testbed.nodes:
        rows.append(f"{n.name:<12} {n.url:<25} {n.node_id[:16]:<18} {n.dir}")
    return "\n".join(rows)


def to_json(testbed: Testbed) -> str:
    """The testbed's nodes as JSON."""
    return json.dumps([n.to_json() for n in testbed.nodes], indent=2)
