"""Issue 17: the people-to-people scenarios played on real nodes (`trustnet testbed run`).

people-to-people.toml plays people-apart.toml first and then the same incident with a dense
web of confirmed contacts and an embassy's clarification that an observer confirms;
people-false-clarification.toml the clarification refuted by an inspection. Each run's
expectations (and the compared run's) must all be met by real node processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).resolve().parent.parent / "configs" / "scenarios"


@pytest.mark.parametrize("name", ["people-to-people.toml", "people-false-clarification.toml"])
def test_the_people_scenarios_on_real_nodes(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run", str(SCENARIOS / name),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "all expectations met" in done.stdout
    data = json.loads((out / "series.json").read_text())
    assert data["end"]["converged"] is True
    assert (out / "compare-south-1.png").exists()
