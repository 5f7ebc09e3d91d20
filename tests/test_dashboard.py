"""The dashboard in a real browser: headless Chromium renders a node's page from its JSON routes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.conftest import T0
from trustnet.cli import main as cli_main
from trustnet.daemon import Daemon
from trustnet.identity import KEY_FILE, Identity
from trustnet.protocol.gossip import GossipConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(scripts/test installs it with apt-get when run as root)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


async def render(url: str, profile: Path, *extra: str) -> str:
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *extra, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    return out.decode()


async def test_the_dashboard_shows_parties_beliefs_and_suspicion(tmp_path: Path, capsys):
    node_dir = tmp_path / "north-1"
    assert cli_main(["init", str(node_dir), "--name", "north-1", "--listen", "127.0.0.1:0"]) == 0
    capsys.readouterr()
    daemon = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None))
    url = await daemon.start()
    try:
        me = Identity.load(node_dir / KEY_FILE)
        south = Identity.from_seed(b"\x07" * 32)
        # a party this node watches: its profile and a notification, imported as foreign entries
        from trustnet.log import sign_entry

        p = sign_entry(south, seq=1, prev=None, ts=T0, kind="profile",
                       body={"name": "south-1", "role": "state", "urls": []})
        n = sign_entry(south, seq=2, prev=p.id, ts=T0 + 1, kind="notification", body={
            "activity": "storm", "type": "exercise", "start": T0 + 50 * 86_400_000,
            "end": T0 + 55 * 86_400_000, "area": "range", "troops": 12_500, "tanks": 250,
            "acv": 0, "artillery": 0, "amphibious": 0, "sorties": 0, "observers_invited": False})
        daemon.store.ingest([p.raw, n.raw], T0 + 10**6)
        await daemon.node.tick()  # no peers: nothing of its own to recover
        await daemon.node.publish("trust", {"subject": south.party_id, "level": 300})
        dom = await render(url + "/", tmp_path / "chrome", "--dump-dom")
        assert 'id="error"></span>' in dom  # no fetch failed
        assert me.party_id in dom  # the header shows this node's id
        assert '<tr class="party" data-party="' + south.party_id in dom
        assert "south-1" in dom
        assert any(regime in dom for regime in ("escalating", "stable", "de-escalating"))
        assert "notification" in dom  # the latest entries table
        shot = tmp_path / "dashboard.png"
        await render(url + "/", tmp_path / "chrome2", f"--screenshot={shot}", "--window-size=1300,900")
        assert shot.stat().st_size > 10_000
    finally:
        await daemon.stop()
