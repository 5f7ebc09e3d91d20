"""The testbed commands with real processes: `testbed up` stops cleanly on Ctrl-C, and
`testbed run` plays a scenario, writes the report and exits 1 when an expectation fails."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TINY = """
name = "tiny"
title = "Two parties"
parties = ["north-1", "south-1"]
days = 10
sample_hours = 24
focus = "south-1"
baseline_day = 1

[[step]]
id = "profile"
day = 0
party = "*"
kind = "profile"
body = { name = "{name}", role = "state", urls = ["{url:self}"] }

[[step]]
id = "observation"
day = 2
party = "north-1"
kind = "observation"
body = { subject = "{party:south-1}", area = "range", at = "{time:2}", troops = 20000, tanks = 10, acv = 0, artillery = 0, method = "aerial", confidence = 700, evidence = [] }

[[expect]]
what = "an unnotified activity raises suspicion"
check = "suspicion.level(north-1, south-1) @ end %s 0"
"""


def run_tiny(tmp_path: Path, op: str) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY % op)
    return subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run", str(scenario), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120)


def test_testbed_run_reports_and_passes(tmp_path: Path) -> None:
    done = run_tiny(tmp_path, ">")
    assert done.returncode == 0, done.stderr
    assert "all expectations met" in done.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| ok | an unnotified activity raises suspicion" in report
    assert (tmp_path / "out" / "south-1.png").stat().st_size > 10_000
    assert "nodes stopped cleanly" in done.stderr


def test_testbed_run_exits_1_when_an_expectation_fails(tmp_path: Path) -> None:
    done = run_tiny(tmp_path, "<")
    assert done.returncode == 1
    assert "FAILED" in done.stdout and "SOME EXPECTATIONS FAILED" in done.stdout


def test_testbed_up_stops_every_node_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustnet", "testbed", "up", "-n", "2", "--dir", str(tmp_path / "tb")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if "Ctrl-C stops them all" in line or not line:
            break
    assert "Ctrl-C stops them all" in lines[-1], "".join(lines)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "node-1 exit 0" in err and "node-2 exit 0" in err
    assert "node-1" in out and "http://127.0.0.1:" in out
    for name in ("node-1", "node-2"):  # every store lock was released
        assert not (tmp_path / "tb" / name / "node.port").exists()


SCENARIOS = Path(__file__).resolve().parent.parent / "configs" / "scenarios"


def run_scenario_file(name: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run", str(SCENARIOS / name), "--out", str(out)],
        capture_output=True, text=True, timeout=180)


def test_an_equivocating_party_is_exposed_on_every_real_node(tmp_path: Path) -> None:
    done = run_scenario_file("equivocation.toml", tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all expectations met" in done.stdout
    data = json.loads((tmp_path / "out" / "series.json").read_text())
    south_2 = next(n["node_id"] for n in data["nodes"] if n["name"] == "south-2")
    assert data["end"]["converged"] is True
    assert {name: n["forked"] for name, n in data["end"]["nodes"].items()} == {
        name: [south_2] for name in ("north-1", "north-2", "north-3", "south-1", "south-2", "south-3")}
    # The two versions went to the two blocs: both ids are recorded, one proof holds both.
    first, second = data["entries"]["two-notifications"], data["entries"]["two-notifications:alt"]
    for node in data["nodes"]:
        assert stored_forks(Path(node["dir"])) == [sorted([first, second])]
    assert "| ok | every node holds the proof of south-2's fork | `forks(*) has south-2` | 6/6 nodes |" \
        in (tmp_path / "out" / "report.md").read_text()
    # Not a terminal: the progress is plain lines, counting the statements and the fault.
    assert "  [46/46 " in done.stderr and "fault equivocate" in done.stderr
    assert "nodes stopped cleanly" in done.stderr


def test_a_partition_and_a_crash_heal_and_the_real_nodes_converge(tmp_path: Path) -> None:
    done = run_scenario_file("partition.toml", tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| ok | the partition held: just before the heal the two sides held different " \
           "entries | `not converged @ heal` | diverged (north-3, south-3 differ) |" in report
    assert "| ok | after the heal every node holds the same | `converged` | converged |" in report
    data = json.loads((tmp_path / "out" / "series.json").read_text())
    before = data["before_faults"]
    assert before["cut"]["converged"] is True
    entries = {n: s["entries"] for n, s in before["heal"]["nodes"].items()}
    # Cut off, the observers missed the other side's five statements, and it missed theirs.
    # (Each party's next-key commitment, seq 1, came with its day-0 profile.)
    assert entries["north-3"] == entries["south-3"] == 50
    assert {entries[n] for n in ("north-1", "north-2", "south-1", "south-2")} == {55}
    assert {s["entries"] for s in data["end"]["nodes"].values()} == {58}
    log = (tmp_path / "out" / "nodes" / "north-3" / "node.log").read_text()
    assert "partitioned from" in log and "partition healed" in log
    assert "fault crash          south-2" in done.stderr
    assert "fault restart        south-2" in done.stderr
    assert "nodes stopped cleanly" in done.stderr  # the restarted node too


def stored_forks(node_dir: Path) -> list[list[str]]:
    """The fork proofs (as sorted id pairs) in a stopped node's store."""
    from trustnet.store.sqlite import Store

    store = Store.open_dir(node_dir)
    try:
        return [sorted(p.to_json()["ids"]) for p in store.forks()]
    finally:
        store.close()
