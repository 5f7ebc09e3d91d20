"""Tests that look inside the analysis where it runs compiled (trustnet/_build.py): a
compiled module calls its own functions directly, so a test that replaces one of them to
watch it runs again in a process where the analysis is interpreted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trustnet._source import analysis_compiled

ROOT = Path(__file__).resolve().parents[2]


def ran_interpreted(request: pytest.FixtureRequest) -> bool:
    """Where the analysis runs compiled: run the calling test in a process where it runs as
    Python, assert it passed there, and say True (the caller returns). Else False."""
    if not analysis_compiled():
        return False
    env = {**os.environ, "TRUSTNET_PURE_PYTHON": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", request.node.nodeid],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-2000:]
    return True
