"""A stranger cannot start a party's answer clock early (DESIGN 12), mounted against a real node.

Fresh keys the node's operator trusts push a real `trustnet run` node an incident report
about a victim, an evaluation request and an Open Skies notice to it, all signed ten days
before the node receives them.
Judged by receipt, none of their answer deadlines has passed: the victim has no unanswered
incident, refused visit or refused flight, and no compliance row. The same pushes to a
node in replay mode (judged by the signed ts) escalate the incident to an all-states
meeting: the rules do run on a real node, only the backdated clock is refused.
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
from trustnet.testbed import cluster as testbed

pytestmark = pytest.mark.slow

DEADLINE_S = 20.0


def _push(stranger: Stranger, url: str, kind: str, body: dict[str, Any], ts: int) -> str:
    entry = sign_entry(stranger.identity, seq=1, prev=None, ts=ts, kind=kind, body=body)
    status, _reply = stranger.post(url, m.PUSH, m.encode(m.Push((entry.raw,))))
    assert status == 200
    return entry.id_hex


def _attack(node: testbed.TestbedNode) -> tuple[str, list[str]]:
    """Three requesters, each trusted by the node's operator (so that what they say counts),
    each with one backdated request to the victim."""
    url = node.url
    victim = Stranger.fresh()
    now = SystemClock().now_ms()
    then = now - 10 * DAY_MS
    _push(victim, url, "profile", {"name": "victim", "role": "state", "urls": []}, now)
    requesters = [Stranger.fresh() for _ in range(3)]
    for r in requesters:
        node.client.publish("trust", {"subject": r.node_id, "level": 800})
    ids = [
        _push(requesters[0], url, "incident_report", {
            "subject": victim.node_id, "at": then, "area": "strait",
            "description": "a close pass"}, then),
        _push(requesters[1], url, "evaluation_request", {
            "host": victim.node_id, "unit": "1st Brigade", "area": "south",
            "grounds": "quota"}, then),
        _push(requesters[2], url, "openskies_notice", {
            "observed": victim.node_id, "arrival": then + 4 * DAY_MS,
            "entry_point": "airbase"}, then),
    ]
    return victim.node_id, ids


def _held(url: str, ids: list[str]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not all(get(url, f"/entries/{i}")[0] == 200 for i in ids):
        assert time.monotonic() < deadline, "the node never held the pushed entries"
        time.sleep(0.1)


def _rules(url: str, party: str) -> list[str]:
    status, raw = get(url, f"/beliefs/{party}")
    assert status == 200, raw[:200]
    return sorted(c["rule"] for c in json.loads(raw)["raw"]["evidence"])


def test_backdated_requests_do_not_start_the_answer_clock(tmp_path: Path) -> None:
    with real_node(tmp_path) as node:
        victim, ids = _attack(node)
        _held(node.url, ids)
        assert json.loads(get(node.url, f"/entries/{ids[0]}")[1])["backdated"] is True
        assert _rules(node.url, victim) == []
        status, raw = get(node.url, f"/compliance?party={victim}")
        assert status == 200 and json.loads(raw)["rows"] == []


def test_in_replay_mode_the_unanswered_incident_escalates(tmp_path: Path) -> None:
    with real_node(tmp_path, trust={"replay": True}) as node:
        victim, ids = _attack(node)
        _held(node.url, ids)
        # Fresh keys with no profile count as states; the victim answered none of them.
        assert _rules(node.url, victim) == [
            "evaluation_refused_beyond_quota", "incident_escalated", "incident_unanswered",
            "openskies_refused"]
        status, raw = get(node.url, f"/compliance?party={victim}&obligation=incident_consultation")
        rows = json.loads(raw)["rows"]
        assert status == 200 and [r["status"] for r in rows] == ["missing"]
        assert not rows[0]["verified"]  # resting on an answer that did not come
