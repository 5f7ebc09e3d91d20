"""Attacks on a node's capacity, mounted for real: idle connections ([http] header timeout,
connection caps, /events cap, body timeout)."""

from __future__ import annotations

import asyncio
import json
import resource
import select
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness.api import fetch, start
from trustnet.bench.stranger import get, real_node

SHED_DEADLINE_S = 25.0


@pytest.mark.slow
def test_600_half_open_connections_under_512_files_are_shed_and_the_node_serves(
        tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 900:
        pytest.skip(f"this test opens 600 sockets; the hard open-file limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2048)), hard))
    try:
        with real_node(tmp_path, max_open_files=512,
                       sections={"http": {"header_timeout_s": 2.0}}) as node:
            socks: list[socket.socket] = []
            try:
                for _ in range(600):
                    s = socket.create_connection(("127.0.0.1", node.port), timeout=5.0)
                    s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # never finished
                    s.setblocking(False)
                    socks.append(s)
                waiting = set(socks)
                refused = 0
                deadline = time.monotonic() + SHED_DEADLINE_S
                while waiting and time.monotonic() < deadline:
                    ready, _, _ = select.select(list(waiting), [], [], 0.2)
                    for s in ready:
                        try:
                            data = s.recv(65536)
                        except OSError:
                            data = b""
                        if data.startswith(b"HTTP/1.1 503"):  # over the per-address cap
                            assert b"too_many_connections" in data
                            refused += 1
                        if not data or data.startswith(b"HTTP/1.1 503"):
                            waiting.discard(s)
                assert not waiting, f"{len(waiting)} half-open connections still open"
                assert refused > 0  # the cap of 256 per address answered the rest at once
            finally:
                for s in socks:
                    s.close()
            status, raw = get(node.url, "/status", timeout_s=10.0)
            assert status == 200 and json.loads(raw)["node_id"] == node.node_id
            assert node.alive
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_event_streams_are_capped(tmp_path: Path, capsys: Any) -> None:
    daemon = await start(tmp_path, "max_event_streams = 1")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", int(daemon.url.rsplit(":", 1)[1]))
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
        assert head.startswith(b"HTTP/1.1 200")
        status, headers, body = await fetch(daemon.url + "/events")
        assert status == 503 and body["error"]["code"] == "too_many_streams"
        assert headers["Retry-After"].isdigit()
        writer.close()
    finally:
        await daemon.stop()


async def test_a_body_that_never_arrives_times_out(tmp_path: Path, capsys: Any) -> None:
    daemon = await start(tmp_path, "body_timeout_s = 0.5")
    try:
        port = int(daemon.url.rsplit(":", 1)[1])
        for path in (b"/gossip/push", b"/peers"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                         b"Authorization: Bearer " + daemon.token.encode() + b"\r\n\r\n{")
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(65536), 10.0)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
            assert b"request_timeout" in reply
            writer.close()
    finally:
        await daemon.stop()


async def test_a_connection_that_never_sends_its_head_is_closed(tmp_path: Path,
                                                                 capsys: Any) -> None:
    daemon = await start(tmp_path, "header_timeout_s = 0.5")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1",
                                                       int(daemon.url.rsplit(":", 1)[1]))
        writer.write(b"GET /sta")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10.0) == b""  # closed by the node
        writer.close()
        status, _, _ = await fetch(daemon.url + "/status")
        assert status == 200 and daemon.guard.timed_out == 1
    finally:
        await daemon.stop()


# -- heavy reads: a series or a view of a past moment ---------------------------------------

DAY_MS = 86_400_000
SERIES_2000 = {"from": "0", "to": str(2000 * DAY_MS), "step": str(DAY_MS)}  # 2,000 steps


async def test_status_answers_while_a_2000_sample_series_is_computed(
        tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    import threading

    from trustnet.analysis.views import NodeViews

    release = threading.Event()
    started = threading.Event()
    calls: list[threading.Thread] = []
    series = NodeViews.series

    def held(self: NodeViews, *args: Any, **kw: Any) -> Any:
        calls.append(threading.current_thread())
        started.set()
        assert release.wait(30.0), "the test never released the series"
        return series(self, *args, **kw)

    monkeypatch.setattr(NodeViews, "series", held)
    daemon = await start(tmp_path, "analysis_budget_s = 0.5")
    try:
        party = daemon.identity.party_id
        url = daemon.url + f"/series/{party}"
        asked = asyncio.ensure_future(fetch(url, params=SERIES_2000))
        while not started.is_set():  # the series is being computed...
            assert not asked.done(), asked.result()
            await asyncio.sleep(0.01)
        for _ in range(3):  # ...and the node answers meanwhile
            status, _, body = await fetch(daemon.url + "/status")
            assert status == 200 and body["node_id"] == party
        assert not release.is_set() and calls[0] is not threading.main_thread()
        # Over its budget the series request is answered 503 `busy`, with Retry-After...
        status, headers, body = await asyncio.wait_for(asked, 30.0)
        assert status == 503 and body["error"]["code"] == "busy"
        assert headers["Retry-After"].isdigit()
        # ...while the work goes on; asked again once done, the kept answer comes back.
        release.set()
        deadline = time.monotonic() + 30.0
        while True:
            status, _, body = await fetch(url, params=SERIES_2000)
            if status == 200 or time.monotonic() > deadline:
                break
            assert body["error"]["code"] == "busy"
            await asyncio.sleep(0.1)
        assert status == 200 and len(body["samples"]) == 2001
        assert len(calls) == 1  # computed once
        # Beyond 2,000 steps: refused at once, with the stable code.
        too_many = dict(SERIES_2000, to=str(2001 * DAY_MS))
        status, _, body = await fetch(url, params=too_many)
        assert status == 400 and body["error"]["code"] == "bad_argument"
        assert len(calls) == 1
    finally:
        release.set()
        await daemon.stop()


async def test_heavy_reads_cost_the_client_more(tmp_path: Path, capsys: Any) -> None:
    daemon = await start(tmp_path,
                         "rate_per_s = 0.001\nrate_burst = 15\nheavy_read_cost = 10")
    try:
        status, _, _ = await fetch(daemon.url + "/beliefs", params={"at": "1"})
        assert status == 200  # 10 of 15
        status, _, body = await fetch(daemon.url + "/suspicion", params={"at": "1"})
        assert status == 429 and body["error"]["code"] == "rate_limited"
        status, _, _ = await fetch(daemon.url + "/status")  # light reads still pass
        assert status == 200
    finally:
        await daemon.stop()


async def test_heavy_reads_beyond_the_pending_cap_are_busy(tmp_path: Path, capsys: Any,
                                                           monkeypatch: Any) -> None:
    import trustnet.analysis.views

    monkeypatch.setattr(trustnet.analysis.views, "MAX_PENDING", 0)
    daemon = await start(tmp_path)
    try:
        status, headers, body = await fetch(daemon.url + "/graph", params={"at": "1"})
        assert status == 503 and body["error"]["code"] == "busy" and "Retry-After" in headers
        status, _, _ = await fetch(daemon.url + "/graph")  # the live view is not heavy
        assert status == 200
    finally:
        await daemon.stop()


# -- author flood -------------------------------------------------------------------------


@pytest.mark.slow
def test_an_author_flood_is_limited_per_peer_and_the_node_keeps_answering(
        tmp_path: Path) -> None:
    import os
    import threading

    from trustnet.bench.stranger import Stranger
    from trustnet.clock import SystemClock
    from trustnet.identity import Identity
    from trustnet.log.entry import sign_entry
    from trustnet.protocol import messages as m

    now = SystemClock().now_ms()
    flood = [Identity.from_seed(os.urandom(32)) for _ in range(3000)]
    raws = [sign_entry(ident, seq=1, prev=None, ts=now, kind="profile",
                       body={"name": f"flood-{i}", "role": "state", "urls": []}).raw
            for i, ident in enumerate(flood)]
    with real_node(tmp_path, gossip={"new_authors_per_peer": 500,
                                     "new_authors_interval_s": 3600}) as node:
        # The node vouches for the last identity: that one is taken whatever the limit.
        node.client.publish("trust", {"subject": flood[-1].party_id, "level": 500})
        stranger = Stranger.fresh()
        acks: list[m.PushAck] = []
        statuses: list[int] = []

        def push() -> None:
            for i in range(0, len(raws), 250):
                status, body = stranger.post(node.url, m.PUSH, m.encode(m.Push(tuple(raws[i:i + 250]))))
                statuses.append(status)
                if status == 200:
                    ack = m.decode_reply(m.PUSH, body)
                    assert isinstance(ack, m.PushAck)
                    acks.append(ack)

        pusher = threading.Thread(target=push)
        pusher.start()
        answered_during = 0
        while pusher.is_alive():
            status, _ = get(node.url, "/status", timeout_s=30.0)
            assert status == 200
            answered_during += pusher.is_alive()
        pusher.join()
        assert answered_during > 0  # /status was answered while the flood was in flight
        assert statuses == [200] * 12  # refused entries cost the relayer nothing
        assert sum(a.accepted for a in acks) == 501  # 500 new authors, and the vouched one
        assert sum(a.rejected for a in acks) == 2499
        _, metrics = get(node.url, "/metrics")
        assert 'code="author_limit"' in metrics.decode()
        # The views page: at most `limit` parties, with the total.
        for path in ("/beliefs?limit=100", "/parties?limit=100", "/suspicion?limit=100"):
            status, raw = get(node.url, path, timeout_s=60.0)
            data = json.loads(raw)
            assert status == 200 and len(data["parties"]) <= 100, path
        status, raw = get(node.url, "/parties?limit=100")
        assert json.loads(raw)["total"] == 502  # the flood's 501 and the node itself
        assert get(node.url, "/graph", timeout_s=60.0)[0] == 200


@pytest.mark.slow
def test_an_author_flood_signed_by_fresh_keys_meets_the_limit_over_all_peers(
        tmp_path: Path) -> None:
    import os

    from trustnet.bench.stranger import Stranger
    from trustnet.clock import SystemClock
    from trustnet.identity import Identity
    from trustnet.log.entry import sign_entry
    from trustnet.protocol import messages as m

    now = SystemClock().now_ms()
    raws = [sign_entry(Identity.from_seed(os.urandom(32)), seq=1, prev=None, ts=now,
                       kind="profile", body={"name": f"flood-{i}", "role": "state", "urls": []}).raw
            for i in range(1000)]
    with real_node(tmp_path, gossip={"new_authors_per_peer": 100, "new_authors_total": 300,
                                     "new_authors_interval_s": 3600}) as node:
        accepted = rejected = 0
        for i in range(0, len(raws), 100):  # each push signed by a key made for it
            status, body = Stranger.fresh().post(node.url, m.PUSH,
                                                 m.encode(m.Push(tuple(raws[i:i + 100]))))
            assert status == 200, body
            ack = m.decode_reply(m.PUSH, body)
            assert isinstance(ack, m.PushAck)
            accepted, rejected = accepted + ack.accepted, rejected + ack.rejected
        assert (accepted, rejected) == (300, 700)  # before: 1000 taken, 100 per fresh key
        status, raw = get(node.url, "/parties?limit=10")
        assert status == 200 and json.loads(raw)["total"] == 300
        assert node.alive


@pytest.mark.slow
def test_a_stranger_holding_every_event_stream_does_not_lock_out_the_operator(
        tmp_path: Path) -> None:
    from trustnet.config.loader import read_admin_token

    def open_events(port: int, token: str | None = None) -> tuple[socket.socket, bytes]:
        s = socket.create_connection(("127.0.0.1", port), timeout=10.0)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        s.sendall(f"GET /events HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        return s, head

    with real_node(tmp_path, sections={"http": {"max_event_streams": 4}}) as node:
        held: list[socket.socket] = []
        try:
            for _ in range(4):  # a stranger takes every stream, and keeps them
                s, head = open_events(node.port)
                assert head.startswith(b"HTTP/1.1 200"), head
                held.append(s)
            s, head = open_events(node.port)
            s.close()
            assert head.startswith(b"HTTP/1.1 503") and b"too_many_streams" in head
            # The operator's dashboard (the admin token) still gets its live feed.
            s, head = open_events(node.port, read_admin_token(node.dir))
            held.append(s)
            assert head.startswith(b"HTTP/1.1 200"), head
        finally:
            for s in held:
                s.close()
        assert node.alive
