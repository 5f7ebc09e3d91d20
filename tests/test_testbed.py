"""The testbed commands with real processes: `testbed up` stops cleanly on Ctrl-C, and
`testbed run` plays a scenario, writes the report and exits 1 when an expectation fails."""

from __future__ import annotations

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


def test_testbed_run_reports_and_passes(tmp_path: Path):
    done = run_tiny(tmp_path, ">")
    assert done.returncode == 0, done.stderr
    assert "all expectations met" in done.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| ok | an unnotified activity raises suspicion" in report
    assert (tmp_path / "out" / "south-1.png").stat().st_size > 10_000
    assert "nodes stopped cleanly" in done.stderr


def test_testbed_run_exits_1_when_an_expectation_fails(tmp_path: Path):
    done = run_tiny(tmp_path, "<")
    assert done.returncode == 1
    assert "FAILED" in done.stdout and "SOME EXPECTATIONS FAILED" in done.stdout


def test_testbed_up_stops_every_node_on_ctrl_c(tmp_path: Path):
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
