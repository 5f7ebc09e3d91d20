"""Suspicion that only credible evidence and abuse can move (issue 12, findings 1-3).

The scenarios stranger-noise.toml, verification-cycle.toml and quiet-year.toml are played
offline by tests/test_scenario.py; here: what a node shows agrees with its beliefs (every
driver is a fact that still counts), a stranger's flood moves nothing in a node's own
views, and one of the new scenarios on real `trustnet run` processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.nodes import SCENARIOS
from tests.harness.scenarios import offline
from trustnet.analysis.views import NodeViews, Settings
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store


def views_of(store: Store, party_id: str, now: int) -> NodeViews:
    return NodeViews(store, party_id, (), Settings.from_config(NodeConfig()), ManualClock(now))


def assert_drivers_count(views: NodeViews, now: int) -> int:
    """Every driver named is a fact that still counts: a threat or cooperation driver is a
    contribution to the party's beliefs with credibility > 0 (rule and first entry), a
    hostility driver is the party's own statement held here."""
    beliefs, suspicion = views.current(now)
    checked = 0
    for pid, report in suspicion.reports(now).items():
        belief = beliefs.parties.get(pid)
        counting = set()
        if belief is not None:
            for c in belief.raw.evidence:
                if c.credibility > 0.0:
                    counting.add((c.rule, c.entries[0] if c.entries else c.rule))
        for d in report.drivers:
            if d.kind == "hostility":
                entry = views.store.get(bytes.fromhex(d.ref))
                assert entry is not None and entry.author_hex == pid, d
            else:
                assert (d.rule, d.ref) in counting, (d, sorted(counting))
            assert d.contribution != 0.0
            checked += 1
    return checked


def test_suspicion_and_beliefs_agree_on_the_demo() -> None:
    _scenario, store, ids, origin, _ = offline(SCENARIOS / "demo.toml")
    checked = 0
    for name in ("north-1", "south-2", "south-1"):
        for d in (46, 50, 120):
            checked += assert_drivers_count(views_of(store, ids[name].party_id, origin + d * DAY_MS),
                                            origin + d * DAY_MS)
    assert checked > 10


def test_a_strangers_flood_moves_no_view_and_names_no_driver() -> None:
    _scenario, store, ids, origin, entries = offline(SCENARIOS / "stranger-noise.toml")
    s1 = ids["south-1"].party_id
    strangers = {ids["stranger-1"].party_id, ids["stranger-2"].party_id}
    now = origin + 130 * DAY_MS
    for name in ("north-1", "north-2", "south-2"):
        views = views_of(store, ids[name].party_id, now)
        beliefs, suspicion = views.current(now)
        assert all(beliefs.parties[s].reliability.p == 0.0 for s in strangers)
        reports = suspicion.reports(now)
        assert s1 not in reports or reports[s1].level < 0.02
        noise = {entries[k] for k in entries if k.startswith(("noise-", "ask-"))}
        assert not any(d.ref in noise for r in reports.values() for d in r.drivers)
        assert_drivers_count(views, now)


@pytest.mark.slow
def test_a_rule_abiding_verification_cycle_on_real_nodes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run",
         str(SCENARIOS / "verification-cycle.toml"), "--out", str(out)],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all expectations met" in done.stdout
    data = json.loads((out / "series.json").read_text())
    assert data["end"]["converged"] is True
