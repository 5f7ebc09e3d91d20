"""Deadlines run on receipt, not on the ts an author signs (DESIGN 12; issue 12, finding 4).

A stranger pushes a real node a notification signed 50 days before the node receives it,
for an activity 8 days after receipt: by its signed ts it is 58 days ahead (on time), by
its receipt only 8 (late). The node must judge it late, and show it as backdated. The same
push to a node in replay mode (`[trust] replay = true`, what `trustnet testbed run` sets)
is judged by its signed ts, and /status says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.log.entry import sign_entry
from trustnet.protocol import messages as m
from trustnet.statements.figures import DAY_MS

pytestmark = pytest.mark.slow

DEADLINE_S = 20.0


def _notification(now: int) -> dict[str, Any]:
    start = now + 8 * DAY_MS
    return {
        "activity": "Backdated Shield", "type": "exercise", "start": start,
        "end": start + 5 * DAY_MS, "area": "Border District", "troops": 12_000, "tanks": 100,
        "acv": 0, "artillery": 0, "amphibious": 0, "sorties": 0, "observers_invited": False,
    }


def _push_backdated(url: str) -> tuple[Stranger, str]:
    stranger = Stranger.fresh()
    now = SystemClock().now_ms()
    entry = sign_entry(stranger.identity, seq=1, prev=None, ts=now - 50 * DAY_MS,
                       kind="notification", body=_notification(now))
    status, _reply = stranger.post(url, m.PUSH, m.encode(m.Push((entry.raw,))))
    assert status == 200
    return stranger, entry.id_hex


def _rules_about(url: str, party: str) -> dict[str, list[str]]:
    """The rules of each view of the node's belief about `party` (waits until it has one)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status, raw = get(url, f"/beliefs/{party}")
        if status == 200:
            data = json.loads(raw)
            views = {v: [c["rule"] for c in data[v]["evidence"]] for v in ("raw", "verified")}
            if views["raw"]:
                return views
        assert time.monotonic() < deadline, (status, raw[:200])
        time.sleep(0.1)


def test_a_backdated_notification_is_judged_by_its_receipt(tmp_path: Path) -> None:
    with real_node(tmp_path) as node:
        stranger, entry_id = _push_backdated(node.url)
        views = _rules_about(node.url, stranger.node_id)
        assert views["verified"] == ["unnotified_activity"]  # 8 days' notice: late
        assert "notification_on_time" not in views["raw"]
        status, raw = get(node.url, f"/beliefs/{stranger.node_id}")
        explanation = json.loads(raw)["explanation"]
        assert "backdated, judged by receipt" in explanation
        status, raw = get(node.url, f"/entries/{entry_id}")
        shown = json.loads(raw)
        assert status == 200 and shown["backdated"] is True
        assert shown["received"] - shown["ts"] >= 50 * DAY_MS
        status, raw = get(node.url, "/status")
        assert json.loads(raw)["replay"] is False


def test_a_node_in_replay_mode_judges_by_the_signed_ts(tmp_path: Path) -> None:
    with real_node(tmp_path, trust={"replay": True}) as node:
        status, raw = get(node.url, "/status")
        assert status == 200 and json.loads(raw)["replay"] is True
        stranger, entry_id = _push_backdated(node.url)
        views = _rules_about(node.url, stranger.node_id)
        assert views["verified"] == ["notification_on_time"]  # 58 days by its signed ts
        status, raw = get(node.url, f"/entries/{entry_id}")
        assert json.loads(raw)["backdated"] is True  # still shown for what it is
