"""configs/scenarios/desk-year.toml (issue 16 item 5, part A): a year of calendars, exchanges
and activities from a fixed origin; the desk's compliance rows show each state's failure, the
same offline and on real nodes, whatever the date the story is played on."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.harness.nodes import SCENARIOS
from tests.harness.scenarios import offline_run
from trustnet.analysis.views import NodeViews, Settings, compliance_all, local_views
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.testbed.loader import load_scenario, with_origin
from trustnet.testbed.model import ScenarioError
from trustnet.testbed.player import clock_offset, origin_for

ORIGIN = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
END = ORIGIN + 380 * DAY_MS

# (party, obligation, year) -> status, as every node sees it at the end of the story.
EXPECTED = {
    ("north-1", "calendar", 2025): "late",
    ("north-1", "calendar", 2026): "missing",
    ("north-1", "annual_exchange", 2026): "met",
    ("north-2", "constraints", 2025): "breached",
    ("north-2", "calendar", 2026): "met",
    ("south-1", "prior_notification", 2025): "breached",  # the split exercise
    ("south-1", "calendar", 2026): "breached",  # Thaw-26 left out
    ("south-1", "annual_exchange", 2026): "late",
    ("south-2", "calendar", 2026): "late",
    ("south-2", "annual_exchange", 2027): "pending",
}


def statuses(doc: dict[str, object], names: dict[str, str]) -> dict[tuple[str, str, int], str]:
    rows = doc["rows"]
    assert isinstance(rows, list)
    return {(names[r["party"]], r["obligation"], r["year"]): r["status"] for r in rows}


def test_origin_is_read_and_fixes_the_story_in_time(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "desk-year.toml")
    assert scenario.origin_ms == ORIGIN
    assert origin_for(scenario, 0) == origin_for(scenario, 10**13) == ORIGIN
    assert clock_offset(scenario, END + 5_000) == -5_000  # the nodes run in the story's time
    other = with_origin(scenario, "2031-03-01")
    assert other.origin_ms == int(datetime(2031, 3, 1, tzinfo=UTC).timestamp() * 1000)
    # A TOML date works as well as a string; anything else is a clear error.
    text = (SCENARIOS / "desk-year.toml").read_text()
    (tmp_path / "date.toml").write_text(text.replace('origin = "2025-01-01"', "origin = 2025-01-01"))
    assert load_scenario(tmp_path / "date.toml").origin_ms == ORIGIN
    for bad in ('"2025-13-01"', '"yesterday"', "12"):
        (tmp_path / "bad.toml").write_text(text.replace('"2025-01-01"', bad))
        with pytest.raises(ScenarioError, match="origin: expected a date YYYY-MM-DD"):
            load_scenario(tmp_path / "bad.toml")
    with pytest.raises(ScenarioError, match="--origin"):
        with_origin(scenario, "1.1.2025", "--origin")
    without = load_scenario(SCENARIOS / "demo.toml")
    assert without.origin_ms is None and clock_offset(without, END) == 0


def test_the_desk_shows_each_failure_offline() -> None:
    scenario, store, ids, origin, _entries, _faults = offline_run(SCENARIOS / "desk-year.toml")
    assert origin == ORIGIN
    names = {i.party_id: p for p, i in ids.items()}
    settings = Settings.from_config(NodeConfig())
    for viewer in scenario.parties:
        views = NodeViews(store, ids[viewer].party_id, (), settings, ManualClock(END))
        got = statuses(compliance_all(views, {}), names)
        assert {k: got.get(k) for k in EXPECTED} == EXPECTED, viewer


@pytest.mark.slow
def test_the_desk_year_on_real_nodes_from_a_fixed_origin(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run", str(SCENARIOS / "desk-year.toml"),
         "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "origin 2025-01-01, fixed" in done.stderr
    data = json.loads((out / "series.json").read_text())
    assert data["origin_ms"] == ORIGIN
    names = {n["node_id"]: n["name"] for n in data["nodes"]}
    for node in data["nodes"]:
        views = local_views(Path(node["dir"]))
        got = statuses(compliance_all(views, {"at": str(END)}), names)
        assert {k: got.get(k) for k in EXPECTED} == EXPECTED, node["name"]


def test_origin_on_the_command_line(tmp_path: Path) -> None:
    from trustnet.cli.main import build_parser, main

    args = build_parser().parse_args(["testbed", "run", "x.toml", "--origin", "2031-03-01"])
    assert args.origin == "2031-03-01"
    assert build_parser().parse_args(["run", "dir", "--clock-offset-ms", "-5"]).clock_offset_ms == -5
    # A bad --origin is refused before any node starts, with the scenario error's code.
    code = main(["testbed", "run", str(SCENARIOS / "desk-year.toml"), "--origin", "soon",
                 "--out", str(tmp_path / "out")])
    assert code == 1 and not (tmp_path / "out" / "nodes").exists()


def test_a_clock_offset_is_refused_on_a_node_that_does_not_listen_on_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review of issue 16 part A: --clock-offset-ms is testbed-only. A production node (one
    listening beyond loopback) refuses it before opening anything, with a code; a testbed
    node (loopback) is told loudly."""
    from trustnet.cli.main import main

    node = tmp_path / "prod"
    assert main(["init", str(node), "--name", "prod", "--listen", "0.0.0.0:0"]) == 0
    capsys.readouterr()
    assert main(["run", str(node), "--clock-offset-ms", str(-400 * DAY_MS)]) == 1
    err = capsys.readouterr().err
    assert "[testbed_only]" in err and "'0.0.0.0'" in err
    # --year 0 is refused with the view's code, not read as "this year".
    for cmd in ("calendar", "compliance"):
        assert main([cmd, str(node), "--year", "0"]) == 1, cmd
        assert "[bad_argument]" in capsys.readouterr().err
