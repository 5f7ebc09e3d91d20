"""The stranger's toolkit reaches a real `trustnet run` process the way an attacker would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustnet.bench.stranger import Stranger, get, real_node, rss_kb
from trustnet.protocol import messages as m

pytestmark = pytest.mark.slow


def test_a_fresh_key_is_served_and_a_bad_signature_refused(tmp_path: Path) -> None:
    with real_node(tmp_path) as node:
        stranger = Stranger.fresh()
        body = m.encode(m.Push(()))
        status, reply = stranger.post(node.url, m.PUSH, body)
        assert status == 200
        assert isinstance(m.decode_reply(m.PUSH, reply), m.PushAck)
        forged = dict(stranger.headers(m.PUSH, body), **{"X-Trustnet-Signature": "00" * 64})
        status, reply = stranger.post(node.url, m.PUSH, body, headers=forged)
        assert status == 401
        status, raw = get(node.url, "/status")
        assert status == 200 and json.loads(raw)["node_id"] == node.node_id
        assert node.proc is not None and rss_kb(node.proc.pid) > 0
