"""The dashboard in a real browser: headless Chromium, driven over the DevTools protocol.

Three daemons on loopback peer with each other; Chromium opens the first one's page. The
page must load without console errors, show the parties of all three nodes (table and
trust graph), and show a statement published on another node once gossip brings it, without
reloading (the page follows `/events`). A screenshot is kept as an artefact:
`artifacts/dashboard.png` under the repository, or under `$TRUSTNET_ARTIFACTS`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cdp import Browser, Page
from tests.harness.nodes import demo_daemon, init_node
from tests.harness.wait import wait_until
from trustnet.clock import SystemClock
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(scripts/test installs it with apt-get when run as root)")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--mute-audio"]
FAST = GossipConfig(tick_interval_s=0.05)
NAMES = ("north-1", "south-1", "north-2")
TIMEOUT_S = 20.0
DAY_MS = 86_400_000
REPO = Path(__file__).resolve().parents[1]


def artifacts() -> Path:
    """Where the screenshot goes (created)."""
    out = Path(os.environ.get("TRUSTNET_ARTIFACTS") or REPO / "artifacts")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
async def cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[list[Daemon]]:
    """Three daemons peering with each other, each with its profile; south-1 has notified an
    exercise just under the observation threshold, without observers, and north-1 trusts it
    a little."""
    daemons: list[Daemon] = []
    try:
        for name in NAMES:
            daemons.append(Daemon(init_node(tmp_path, name), gossip=FAST))
            await daemons[-1].start()
        capsys.readouterr()
        for d in daemons:
            for other in daemons:
                if other is not d:
                    assert other.url is not None
                    d.node.add_peer(other.url)
        await wait_until(lambda: not any(d.node.status()["catching_up"] for d in daemons),
                     "every node past its own-log check")
        for d, name in zip(daemons, NAMES, strict=True):
            await d.node.publish("profile", {"name": name, "role": "state", "urls": [d.url]})
        north, south, _ = daemons
        now = SystemClock().now_ms()
        await south.node.publish("notification", {
            "activity": "south-storm", "type": "exercise", "start": now + 50 * DAY_MS,
            "end": now + 55 * DAY_MS, "area": "southern range", "troops": 12_500, "tanks": 250,
            "acv": 0, "artillery": 0, "amphibious": 0, "sorties": 0, "observers_invited": False})
        await north.node.publish("trust", {"subject": south.identity.party_id, "level": 300})
        # Five statements, and each party's next-key commitment before its first.
        await wait_until(lambda: all(d.store.count() == 8 for d in daemons), "gossip spread every entry")
        yield daemons
    finally:
        for d in daemons:
            await d.stop()
    for d in daemons:
        assert d.node.errors == [], d.node.errors


async def shows(page: Page, expression: str, what: str) -> Any:
    return await page.wait_for(expression, what, timeout_s=TIMEOUT_S)


def js(value: Any) -> str:
    return json.dumps(value)


async def test_the_dashboard_shows_the_cluster_and_follows_new_statements(
        cluster: list[Daemon], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    north, _south, north2 = cluster
    ids = {name: d.identity.party_id for name, d in zip(NAMES, cluster, strict=True)}
    browser = await Browser.launch(CHROMIUM, tmp_path / "chrome", FLAGS)
    try:
        page = await browser.new_page(1440, 900)
        await page.goto(f"{north.url}/")
        # Every party of the cluster: in the graph (this node too), in the table (the others).
        graph_parties = "[...document.querySelectorAll('#graph g.node')].map(g => g.dataset.party)"
        await shows(page, f"{js(sorted(ids.values()))}.every(p => {graph_parties}.includes(p))",
                    "the three parties in the trust graph")
        rows = "[...document.querySelectorAll('#parties tr.party')]"
        await shows(page, f"{rows}.length === 2 && {rows}.every(tr => "
                    f"{js([ids['south-1'], ids['north-2']])}.includes(tr.dataset.party))",
                    "the two other parties in the table")
        text = await page.evaluate("document.body.innerText")
        assert north.config.name in await page.evaluate("document.getElementById('name').textContent")
        assert ids["north-1"] in text  # the header shows this node's id
        assert "south-1" in text and "north-2" in text
        assert await page.evaluate("document.getElementById('error').textContent") == ""
        south_row = await page.evaluate(
            f"document.querySelector('#parties tr.party[data-party=\"{ids['south-1']}\"]').innerText")
        assert any(regime in south_row for regime in ("escalating", "stable", "de-escalating"))
        assert "notification" in await page.evaluate("document.getElementById('entryrows').innerText")
        # the trust statement north-1 made is an edge of the graph, with its level
        edge = (f"document.querySelector('#graph path.edge.trust[data-from=\"{ids['north-1']}\"]"
                f"[data-to=\"{ids['south-1']}\"]')")
        assert await page.evaluate(f"{edge} && {edge}.dataset.level") == "300"
        # Compliance by obligation: south-1 notified its exercise 50 days ahead (met, by its
        # own signature); a click on the cell shows the entries behind it.
        cell = (f"document.querySelector('#compliance tr[data-party=\"{ids['south-1']}\"] "
                f"td.cell[data-key$=\"/prior_notification\"]')")
        await shows(page, f"{cell} && {cell}.dataset.status === 'met'",
                    "south-1's prior notification met in the compliance table")
        await page.evaluate(f"{cell}.click()")
        await shows(page, "document.getElementById('compliance-detail').innerText.includes('south-storm')",
                    "the compliance cell's entries")
        assert "verified, by south-1" in await page.evaluate(
            "document.getElementById('compliance-detail').innerText")
        await shows(page, "document.querySelector('#live').classList.contains('on')",
                    "the live feed connected")

        # A statement published on another node reaches this page by gossip and /events.
        await page.evaluate("window.notReloaded = true")
        events_before = await page.evaluate("window.trustnet.stats.events")
        statement = {"kind": "trust", "body": {"subject": ids["south-1"], "level": -600}}
        async with aiohttp.ClientSession() as session, session.post(
                f"{north2.url}/entries", json=statement,
                headers={"Authorization": f"Bearer {north2.token}"}) as resp:
            assert resp.status == 201, await resp.text()
            published = (await resp.json())["id"]
        await shows(page, f"!!document.querySelector('#entryrows tr[data-id=\"{published}\"]')",
                    "the new statement among the latest statements")
        new_edge = (f"document.querySelector('#graph path.edge.trust[data-from=\"{ids['north-2']}\"]"
                    f"[data-to=\"{ids['south-1']}\"]')")
        await shows(page, f"{new_edge} && {new_edge}.dataset.level === '-600'",
                    "the new trust edge in the graph")
        assert await page.evaluate("window.notReloaded === true")  # updated in place
        assert await page.evaluate("window.trustnet.stats.events") > events_before
        row = await page.evaluate(f"document.querySelector('#entryrows tr[data-id=\"{published}\"]')"
                                  ".innerText")
        assert "north-2" in row and "distrusts" in row and "south-1" in row

        # A statement opens to its attestation view (GET /entries/{id}): north-2 confirms
        # south-1's notification; clicking the notification shows who attested it.
        notification = await page.evaluate(
            "[...document.querySelectorAll('#entryrows tr')].find(tr => "
            "tr.innerText.includes('south-storm')).dataset.id")
        attestation = {"kind": "attestation", "body": {
            "subject": notification, "verdict": "confirm", "method": "technical",
            "confidence": 800, "evidence": [], "note": "seen by satellite"}}
        async with aiohttp.ClientSession() as session, session.post(
                f"{north2.url}/entries", json=attestation,
                headers={"Authorization": f"Bearer {north2.token}"}) as resp:
            assert resp.status == 201, await resp.text()
            attested = bytes.fromhex((await resp.json())["id"])
        await wait_until(lambda: north.store.get(attested) is not None,
                         "the attestation reached north-1")
        await page.evaluate(f"document.querySelector('#entryrows tr[data-id=\"{notification}\"]').click()")
        view = "document.getElementById('entry-detail').innerText"
        await shows(page, f"{view}.includes('confirm') && {view}.includes('by north-2')",
                    "the notification's attestation view")
        text = await page.evaluate(view)
        assert "technical, confidence 800" in text and "reliability as a source" in text
        assert "south-storm" in text and "verified view" in text

        png = await page.screenshot(artifacts() / "dashboard.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        assert page.errors == [], page.errors
    finally:
        await browser.close()


async def test_the_compliance_table_of_a_node_holding_the_demo_story(
        tmp_path: Path) -> None:
    """States x obligations on the demo story's six parties; the figure of README's desk
    section (written to docs/ when TRUSTNET_DOCS_FIGURES=1, else among the artefacts)."""
    assert CHROMIUM is not None
    demo = demo_daemon(tmp_path)
    daemon, ids = demo.daemon, demo.ids
    url = await daemon.start()
    browser = await Browser.launch(CHROMIUM, tmp_path / "chrome", FLAGS)
    try:
        page = await browser.new_page(1440, 900)
        await page.goto(f"{url}/")
        async with aiohttp.ClientSession() as session, session.get(f"{url}/compliance") as resp:
            rows = (await resp.json())["rows"]
        cells = "document.querySelectorAll('#compliance td.cell')"
        await shows(page, f"{cells}.length === {len(rows)}", "one cell per compliance row")
        south1 = ids["south-1"].party_id
        breach = (f"document.querySelector('#compliance tr[data-party=\"{south1}\"] "
                  f"td.cell[data-key$=\"/prior_notification\"]')")
        assert await page.evaluate(f"{breach}.dataset.status") == "breached"
        # Verified: the inspection south-1 accepted, its report confirmed by attesters.
        assert not await page.evaluate(f"{breach}.querySelector('.st').classList.contains('unv')")
        await page.evaluate(f"{breach}.click()")
        await shows(page, "document.getElementById('compliance-detail').innerText"
                    ".includes('verified, by')", "the breach's findings")
        figure = (REPO / "docs" if os.environ.get("TRUSTNET_DOCS_FIGURES") else artifacts())
        png = await page.screenshot_element("#compliance-section", figure / "desk-compliance.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert page.errors == [], page.errors
    finally:
        await browser.close()
        await daemon.stop()
    assert daemon.node.errors == [], daemon.node.errors
