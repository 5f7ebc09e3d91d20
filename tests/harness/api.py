"""A lone started node with `[http]` settings, and a one-shot HTTP fetch (API access and load tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.harness.nodes import LOOPBACK
from trustnet.config.nodedir import init_node_dir
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig


async def start(tmp_path: Path, http: str = "") -> Daemon:
    """north-1 started in `tmp_path/n`, `http` appended as its `[http]` table (TOML lines)."""
    node_dir = init_node_dir(tmp_path / "n", name="north-1", listen=LOOPBACK).dir
    if http:
        with (node_dir / "node.toml").open("a") as f:
            f.write("\n[http]\n" + http + "\n")
    daemon = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None))
    await daemon.start()
    await daemon.node.tick()  # no peers: nothing of its own to recover
    return daemon


async def fetch(url: str, method: str = "GET", **kw: Any) -> tuple[int, dict[str, str], Any]:
    """One request in its own session: (status, headers, JSON or bytes)."""
    async with aiohttp.ClientSession() as s, s.request(method, url, **kw) as r:
        raw = await r.read()
        body = json.loads(raw) if r.content_type == "application/json" else raw
        return r.status, dict(r.headers), body
