"""A stranger's toolkit: fresh keys, signed gossip requests and a real node to aim them at.

Attacks on a node are measured and tested the way an adversary mounts them: a
`trustnet run` process (started with the testbed's machinery) and requests signed by
keys made a moment ago, with no trust and no configuration. Shared by the attack
scripts under `scripts/attacks/` and the tests that keep those attacks failing.

    with real_node(tmp) as node:
        stranger = Stranger.fresh()
        status, body = stranger.post(node.url, "/gossip/push", m.encode(m.Push(())))
        print(rss_kb(node.proc.pid))
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from trustnet.clock import SystemClock
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.testbed.cluster import Testbed, TestbedNode
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE

TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Stranger:
    """A party nobody knows: a key made on the spot, signing gossip requests."""

    identity: Identity

    @classmethod
    def fresh(cls) -> Stranger:
        """A new random key."""
        return cls(Identity.from_seed(os.urandom(32)))

    @property
    def node_id(self) -> str:
        """The stranger's id (hex public key)."""
        return self.identity.party_id

    def raw_entry(self, seq: int, prev: bytes | None, ts: int, kind: str,
                  body: Mapping[str, Any]) -> bytes:
        """A signed entry encoded by hand, so any field may break a rule the codec enforces
        (an overflowing ts, a seq of 2**63): what an attacker sends."""
        payload = msgpack.packb([1, self.identity.public_key, seq, prev, ts, kind, dict(body)],
                                use_bin_type=True)
        raw: bytes = msgpack.packb([payload, self.identity.sign(ENTRY_DOMAIN + payload)],
                                   use_bin_type=True)
        return raw

    def headers(self, path: str, body: bytes, *, now_ms: int | None = None) -> dict[str, str]:
        """Signed gossip headers for `body` at `path` (now, or a chosen time)."""
        when = SystemClock().now_ms() if now_ms is None else now_ms
        return dict(sign_request(self.identity, "POST", path, body, when),
                    **{"Content-Type": CONTENT_TYPE})

    def post(self, base_url: str, path: str, body: bytes, *,
             headers: Mapping[str, str] | None = None, timeout_s: float = TIMEOUT_S
             ) -> tuple[int, bytes]:
        """POST a signed gossip request; (HTTP status, reply body) whatever the status."""
        sent = dict(self.headers(path, body) if headers is None else headers)
        req = urllib.request.Request(base_url.rstrip("/") + path, data=body, method="POST",
                                     headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())


def get(base_url: str, path: str, *, token: str | None = None,
        timeout_s: float = TIMEOUT_S) -> tuple[int, bytes]:
    """GET an API path; (HTTP status, body) whatever the status."""
    req = urllib.request.Request(base_url.rstrip("/") + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def print_figure(figure: Mapping[str, Any], *, as_json: bool) -> None:
    """An attack script's result: one JSON line, or `key: value` lines for a person."""
    if as_json:
        print(json.dumps(figure))
    else:
        for key, value in figure.items():
            print(f"{key}: {value}")


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def peak_rss_kb(argv: list[str], *, interval_s: float = 0.05) -> tuple[int, int, str, str]:
    """Run a process to its end, sampling its peak resident memory (VmHWM, KiB): its exit
    code, that peak, and its stdout and stderr."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(interval_s)
    out, err = proc.communicate()
    return proc.returncode, peak, out, err


@contextlib.contextmanager
def real_nodes(base: Path, names: tuple[str, ...] = ("target",), **testbed: Any
               ) -> Iterator[list[TestbedNode]]:
    """`trustnet run` processes on free loopback ports under `base`, stopped on exit."""
    bed = Testbed(base, names, **testbed)
    bed.start()
    try:
        yield bed.nodes
    finally:
        bed.stop()


@contextlib.contextmanager
def real_node(base: Path, **testbed: Any) -> Iterator[TestbedNode]:
    """One `trustnet run` process (see `real_nodes`)."""
    with real_nodes(base, ("target",), **testbed) as nodes:
        yield nodes[0]
