"""A local multi-node testbed: N real node processes on loopback (DESIGN 10).

`Testbed` creates one node directory per party under a base folder, picks free
ports, wires every node to a few others as peers, starts `trustnet run` for
each, and waits until all answer `/status`. `stop()` sends SIGTERM to all and
waits for clean exits (SIGKILL after a grace period). Used by
`trustnet testbed up -n N` and by the end-to-end tests.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from trustnet.client import ClientError, NodeClient
from trustnet.config import NodeConfig, read_admin_token, write_config
from trustnet.errors import TrustnetError

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


class TestbedError(TrustnetError):
    """A testbed node failed to start, or the testbed is misused."""

    code = "testbed"


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

    @property
    def url(self) -> str:
        """The node's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> NodeClient:
        """An API client with the admin token."""
        return NodeClient(self.url, read_admin_token(self.dir))

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
    nodes: list[TestbedNode] = field(default_factory=list)

    def create(self) -> None:
        """Initialise every node directory (identity, token, node.toml with ports and peers)."""
        from trustnet.cli import main as cli_main

        self.base.mkdir(parents=True, exist_ok=True)
        ports = _distinct_ports(len(self.names))
        self.nodes = [TestbedNode(n, self.base / n, p) for n, p in zip(self.names, ports, strict=True)]
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
            argv = ["init", str(node.dir), "--name", node.name, "--listen", f"127.0.0.1:{node.port}"]
            for url in peers:
                argv += ["--peer", url]
            with open(os.devnull, "w") as devnull:
                saved = sys.stdout, sys.stderr
                sys.stdout = sys.stderr = devnull
                try:
                    code = cli_main(argv)
                finally:
                    sys.stdout, sys.stderr = saved
            if code != 0:
                raise TestbedError(f"could not create {node.dir}")
            if self.gossip:
                from trustnet.config import load_config

                config = load_config(node.dir)
                sections = dict(config.sections, gossip=dict(self.gossip))
                write_config(node.dir, NodeConfig(config.name, config.listen, config.peers,
                                                  config.anchors, config.log_format,
                                                  config.log_level, sections))

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

    def start_node(self, node: TestbedNode) -> None:
        """(Re)start one node's process; its output goes to DIR/node.log."""
        if node.alive:
            return
        if node.log_file is not None:
            node.log_file.close()
        node.log_file = open(node.dir / "node.log", "ab")  # noqa: SIM115 - closed in stop()
        node.proc = subprocess.Popen(
            [sys.executable, "-m", "trustnet", "run", str(node.dir)],
            stdout=node.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
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
    rows = [f"{'name':<12} {'url':<24} {'node id':<18} dir"]
    for n in testbed.nodes:
        rows.append(f"{n.name:<12} {n.url:<24} {n.node_id[:16]:<18} {n.dir}")
    return "\n".join(rows)


def to_json(testbed: Testbed) -> str:
    """The testbed's nodes as JSON."""
    return json.dumps([n.to_json() for n in testbed.nodes], indent=2)
