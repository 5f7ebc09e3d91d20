"""Review of issue 16 item 5 part A, mounted against a real node the way a stranger would.

A stranger declares a zone of a fixed offset twelve hours behind UTC (`Etc/GMT+12`), then
sends its calendar at 06:00 UTC on 16 November: at UTC-12 that is still 15 November, in
time. A zone names a place (Area/Location) or it reads as UTC, so the calendar is late.
The node runs in a testbed with its clock shifted (`--clock-offset-ms`, loopback only) to
16 November, so the deadline is real to it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.log.entry import sign_entry
from trustnet.protocol import messages as m

pytestmark = pytest.mark.slow

DEADLINE_S = 20.0


def test_a_fixed_offset_zone_buys_no_hours_on_the_calendar_deadline(tmp_path: Path) -> None:
    year = datetime.now(UTC).year + 1
    story = int(datetime(year - 1, 11, 16, 6, tzinfo=UTC).timestamp() * 1000)
    offset = story - SystemClock().now_ms()
    with real_node(tmp_path, clock_offset_ms=offset) as node:
        stranger = Stranger.fresh()
        now = SystemClock().now_ms() + offset
        profile = sign_entry(stranger.identity, seq=1, prev=None, ts=now, kind="profile",
                             body={"name": "westward", "role": "state", "urls": [],
                                   "zone": "Etc/GMT+12"})
        calendar = sign_entry(stranger.identity, seq=2, prev=profile.id, ts=now + 1,
                              kind="calendar", body={"year": year, "activities": []})
        body = m.encode(m.Push((profile.raw, calendar.raw)))
        status, _ = stranger.post(node.url, m.PUSH, body,
                                  headers=stranger.headers(m.PUSH, body, now_ms=now))
        assert status == 200
        deadline = time.monotonic() + DEADLINE_S
        while True:
            status, raw = get(node.url, f"/beliefs/{stranger.node_id}")
            rules = ([c["rule"] for c in json.loads(raw)["raw"]["evidence"]]
                     if status == 200 else [])
            if "calendar_late" in rules or "calendar_on_time" in rules:
                break
            assert time.monotonic() < deadline, (status, raw[:300])
            time.sleep(0.1)
        assert "calendar_late" in rules and "calendar_on_time" not in rules
        note = next(c["note"] for c in json.loads(raw)["raw"]["evidence"]
                    if c["rule"] == "calendar_late")
        assert f"{year - 1}-11-15 23:59 UTC" in note
