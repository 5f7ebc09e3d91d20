"""The API's self-description and its event stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from tests.harness.nodes import init_node
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig


async def started(tmp_path: Path, capsys) -> Daemon:
    node_dir = init_node(tmp_path, "n")
    capsys.readouterr()
    daemon = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None))
    await daemon.start()
    await daemon.node.tick()  # no peers: nothing of its own to recover
    return daemon


async def test_openapi_describes_every_route(tmp_path: Path, capsys):
    daemon = await started(tmp_path, capsys)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{daemon.url}/openapi.yaml") as r:
            assert r.status == 200
            text = await r.text()
        paths = {line.strip().rstrip(":") for line in text.splitlines()
                 if line.startswith("  /")}
        routes = {res.canonical for res in daemon.app.router.resources()}
        assert routes == paths
    finally:
        await daemon.stop()


async def test_events_stream_new_entries(tmp_path: Path, capsys):
    daemon = await started(tmp_path, capsys)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{daemon.url}/events") as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            entry = await daemon.node.publish("trust", {"subject": "ab" * 32, "level": 5})
            event, data = None, None
            async with asyncio.timeout(20):
                while data is None:
                    line = (await r.content.readline()).decode().strip()
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event == "entry":
                        got = json.loads(line.split(":", 1)[1])
                        # The first is the next-key commitment (seq 1), then the statement.
                        data = got if got["id"] == entry.id_hex else None
            assert data == {"id": entry.id_hex, "author": daemon.identity.party_id, "seq": 2,
                            "kind": "trust", "ts": entry.ts}
    finally:
        await daemon.stop()


async def test_a_taken_port_is_a_clear_error_and_releases_the_directory(tmp_path: Path, capsys):
    from trustnet.errors import ConfigError
    from trustnet.store.sqlite import Store

    first = await started(tmp_path, capsys)
    try:
        other = init_node(tmp_path, "other", listen=first.url.removeprefix("http://"))
        second = Daemon(other, gossip=GossipConfig(tick_interval_s=None))
        try:
            await second.start()
            raise AssertionError("bound a port already in use")
        except ConfigError as exc:
            assert exc.code == "cannot_listen" and "node.toml" in exc.message
        finally:
            await second.stop()
        Store.open_dir(other).close()  # the writer lock was released
    finally:
        await first.stop()


async def test_a_write_acknowledged_just_before_stop_still_reaches_peers(tmp_path: Path, capsys):
    b = await started(tmp_path / "b", capsys)
    a_dir = init_node(tmp_path, "a", peers=[b.url])
    capsys.readouterr()
    a = Daemon(a_dir, gossip=GossipConfig(tick_interval_s=None, own_sync_quorum=0))
    await a.start()
    try:
        await a.node.tick()
        entry = await a.node.publish("trust", {"subject": "ab" * 32, "level": 7})
        await a.stop()  # at once: the eager push is still in flight
        assert b.store.get(entry.id) is not None
    finally:
        await a.stop()
        await b.stop()
