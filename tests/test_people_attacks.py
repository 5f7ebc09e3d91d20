"""Issue 17: a thousand fabricated persons buy no bridge, mounted against a real node.

The target is a `trustnet run` process speaking for the state north, which relies on the
state south. Its person ann and south's person bo met (confirmed): one bridge. Then a
stranger pushes, signed by keys made on the spot, 1,000 persons who say they are south's
(south never confirmed them), each with a contact to the next that the next confirms, and
one contact to ann that ann confirms. The bridge, south's suspicion and the reliabilities
of ann, bo and south do not move; every fabricated contact counts for nothing, by code.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.statements.figures import DAY_MS

pytestmark = pytest.mark.slow

DEADLINE_S = 60.0
SYBILS = 1000
DIGEST = "ab" * 32


class Chain:
    """One party's chain of signed entries (a key made here)."""

    def __init__(self) -> None:
        self.identity = Stranger.fresh().identity
        self.seq = 0
        self.prev: bytes | None = None
        self.entries: list[Entry] = []

    @property
    def id(self) -> str:
        return self.identity.party_id

    def post(self, kind: str, body: dict[str, Any], ts: int) -> Entry:
        self.seq += 1
        e = sign_entry(self.identity, seq=self.seq, prev=self.prev, ts=ts, kind=kind, body=body)
        self.prev = e.id
        self.entries.append(e)
        return e

    def attest(self, subject: str, ts: int, verdict: str = "confirm") -> Entry:
        return self.post("attestation", {"subject": subject, "verdict": verdict,
                                         "method": "liaison", "confidence": 900,
                                         "evidence": [DIGEST], "note": ""}, ts)


def _person(c: Chain, name: str, state: str, ts: int) -> Entry:
    return c.post("profile", {"name": name, "role": "person", "urls": [], "state": state}, ts)


def _contact(c: Chain, other: str, ts: int) -> Entry:
    return c.post("contact", {"counterpart": other, "type": "exchange", "at": ts,
                              "place": "Riverside", "people": 20}, ts)


def _push(url: str, entries: list[Entry]) -> None:
    # Each pusher is a fresh gossip key: one peer may bring in 1,000 new authors a minute.
    for i in range(0, len(entries), 240):  # a push takes at most 256 entries
        status, reply = Stranger.fresh().post(url, m.PUSH, m.encode(m.Push(
            tuple(e.raw for e in entries[i:i + 240]))))
        assert status == 200, reply[:200]
        ack = m.decode_reply(m.PUSH, reply)
        assert isinstance(ack, m.PushAck) and ack.accepted == len(entries[i:i + 240]), ack


def _bridges(url: str, contacts: int) -> dict[str, Any]:
    """GET /bridges once the node holds `contacts` contacts (waits with a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status, raw = get(url, "/bridges")
        if status == 200:
            data: dict[str, Any] = json.loads(raw)
            if len(data["contacts"]) >= contacts:
                return data
        assert time.monotonic() < deadline, (status, raw[:200])
        time.sleep(0.2)


def _json(url: str, path: str) -> Any:
    status, raw = get(url, path)
    assert status == 200, raw[:200]
    return json.loads(raw)


def test_a_thousand_fabricated_persons_move_no_bridge_on_a_real_node(tmp_path: Path) -> None:
    now = SystemClock().now_ms()
    t0 = now - 2 * DAY_MS
    with real_node(tmp_path) as node:
        north = node.node_id
        south, ann, bo = Chain(), Chain(), Chain()
        south.post("profile", {"name": "south", "role": "state", "urls": []}, t0)
        ann_profile = _person(ann, "ann", north, t0)
        bo_profile = _person(bo, "bo", south.id, t0)
        south.attest(bo_profile.id_hex, t0 + 1000)
        met = _contact(ann, bo.id, t0 + 2000)
        bo.attest(met.id_hex, t0 + 3000)
        client = node.client
        client.publish("profile", {"name": "north", "role": "state", "urls": []})
        client.publish("trust", {"subject": south.id, "level": 600})
        client.publish("attestation", {"subject": ann_profile.id_hex, "verdict": "confirm",
                                       "method": "liaison", "confidence": 1000,
                                       "evidence": [DIGEST], "note": "our national"})
        _push(node.url, [*south.entries, *ann.entries, *bo.entries])
        before = _bridges(node.url, 1)
        assert [c["status"] for c in before["contacts"]] == ["counted"]
        (bridge,) = before["bridges"]
        # Each party's own route: /beliefs pages hold 1,000 parties by id, and after the
        # attack these three may sort past the sybils' first page.
        rel = {p: _json(node.url, f"/beliefs/{p}")["reliability"] for p in (ann.id, bo.id, south.id)}
        suspicion = _json(node.url, f"/suspicion/{south.id}")

        # The attack: fresh keys, south's people by their own word, meeting each other.
        t1 = now - DAY_MS
        sybils = [Chain() for _ in range(SYBILS)]
        contacts = []
        for i, s in enumerate(sybils):
            _person(s, f"sybil-{i}", south.id, t1)
            contacts.append(_contact(s, sybils[(i + 1) % SYBILS].id, t1 + 1000))
        for i, s in enumerate(sybils):
            s.attest(contacts[i - 1].id_hex, t1 + 2000)  # the next one confirms each
        to_ann = _contact(sybils[0], ann.id, t1 + 3000)
        ann.attest(to_ann.id_hex, t1 + 4000)  # even ann confirms meeting one of them
        _push(node.url, [e for s in sybils for e in s.entries] + ann.entries[-1:])
        after = _bridges(node.url, SYBILS + 2)

        (same,) = after["bridges"]
        # The same bridge: only the clock has moved (its weight fades by the hour).
        assert {k: same[k] for k in ("states", "contacts", "people", "last")} == {
            k: bridge[k] for k in ("states", "contacts", "people", "last")}
        assert same["evidence"] == pytest.approx(bridge["evidence"], rel=1e-6)
        fabricated = [c for c in after["contacts"] if c["id"] != met.id_hex]
        assert len(fabricated) == SYBILS + 1
        assert {c["status"] for c in fabricated} == {"no_side"}
        now_rel = {p: _json(node.url, f"/beliefs/{p}")["reliability"] for p in rel}
        for party in (ann.id, bo.id, south.id):
            assert now_rel[party]["p"] == pytest.approx(rel[party]["p"], abs=1e-9)
        for s in sybils[:: SYBILS // 10]:  # confirming a meeting vouches for no source
            status, raw = get(node.url, f"/beliefs/{s.id}")
            assert status == 404 or json.loads(raw)["reliability"]["p"] == 0.0
        late = _json(node.url, f"/suspicion/{south.id}")
        # South's suspicion: the restraint of ann and bo's meeting, as before, nothing more.
        assert suspicion["restraint"] > 0.08  # a0, the restraint with no goodwill
        assert late["restraint"] == pytest.approx(suspicion["restraint"], rel=1e-5)
        assert late["x"] == suspicion["x"] == 0.0

