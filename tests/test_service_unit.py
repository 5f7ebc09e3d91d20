"""The systemd template unit in configs/systemd: valid, and its ExecStart runs a node that
SIGTERM stops cleanly (what systemctl stop does)."""

from __future__ import annotations

import configparser
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.nodes import init_node

UNIT = Path(__file__).resolve().parent.parent / "configs" / "systemd" / "trustnet@.service"
TRUSTNET = Path(sys.executable).with_name("trustnet")


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_the_instances_node_directory_and_stops_it_with_sigterm():
    service = unit()["Service"]
    assert service["ExecStart"].split()[1:] == ["run", "/var/lib/trustnet/%i"]
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "on-failure"
    assert "/var/lib/trustnet/%i" in service["ReadWritePaths"] and service["User"] == "trustnet"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
def test_systemd_accepts_the_unit(tmp_path: Path):
    text = UNIT.read_text().replace("/opt/trustnet/bin/trustnet", str(TRUSTNET))
    (tmp_path / "trustnet@north-1.service").write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "trustnet@north-1.service")],
                          capture_output=True, text=True, timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines()
                  if "trustnet@" in line]  # lines about other units are the host's business
    assert done.returncode == 0 and not complaints, complaints


def test_the_units_command_serves_and_exits_0_on_sigterm(tmp_path: Path, capsys):
    node_dir = init_node(tmp_path, "north-1")
    capsys.readouterr()
    argv = unit()["Service"]["ExecStart"].replace("%i", "north-1").split()
    argv = [str(TRUSTNET), *argv[1:-1], str(node_dir)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["url"].startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=int(unit()["Service"]["TimeoutStopSec"]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
