"""The HTTP API and gossip-over-HTTP of real daemons on loopback, in one event loop.

Two or three `Daemon`s bound to port 0 with a fast tick loop; every route, its status
codes and the `{"error": {"code", "message"}}` shape; admin auth; signed gossip
refusals (unsigned, stale, replayed, bad signature, oversize); `trustnet publish`
through the running node; and clean SIGINT/SIGTERM stops of real `trustnet run`
processes. Settling is by polling a condition with a timeout, never by sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from prometheus_client.parser import text_string_to_metric_families

from tests.daemons import init_node, running_daemons
from tests.harness.http import CLOCK, Api, api_of, assert_error, gossip, gossip_error
from tests.harness.wait import wait_until
from trustnet.cli.main import main as cli_main
from trustnet.config.loader import load_config, read_admin_token, write_config
from trustnet.config.ownlog import NEW_LOG_FILE
from trustnet.identity import KEY_FILE, Identity
from trustnet.log.entry import sign_entry
from trustnet.node.daemon import PORT_FILE, Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.transport.auth import HEADER_SIGNATURE, HEADER_TIME, sign_request
from trustnet.transport.base import CONTENT_TYPE, MAX_REQUEST_BYTES, TransportError
from trustnet.transport.http import HttpTransport, PrivateAddressError, PublicResolver

from .conftest import ident, trust_body

FAST = GossipConfig(tick_interval_s=0.05)
TIMEOUT_S = 15.0


# -- helpers -------------------------------------------------------------------------------












# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.fixture
async def daemons(tmp_path: Path) -> AsyncIterator[list[Daemon]]:
    """Three daemons on free ports, not yet peers of each other."""
    async with running_daemons(tmp_path, ("alpha", "beta", "gamma"), gossip=FAST) as started:
        yield started
    for d in started:
        assert not (d.dir / PORT_FILE).exists()




# -- the inspection routes and admin writes ------------------------------------------------


async def test_status_has_the_contracted_fields(daemons: list[Daemon],
                                                session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    status = await a.get("/status")
    for key in ("node_id", "name", "version", "uptime_s", "entries", "authors", "peers", "forks",
                "own_seq"):
        assert key in status, key
    assert status["node_id"] == daemons[0].identity.party_id
    assert status["name"] == "alpha"
    assert (status["entries"], status["authors"], status["forks"], status["own_seq"]) == (0, 0, 0, 0)
    assert isinstance(status["uptime_s"], float | int) and status["uptime_s"] >= 0
    assert status["url"] == daemons[0].url
    port = int((daemons[0].dir / PORT_FILE).read_text())
    assert daemons[0].url == f"http://127.0.0.1:{port}"


async def test_publish_needs_the_admin_token(daemons: list[Daemon],
                                             session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    body = {"kind": "trust", "body": trust_body(ident(9))}
    assert_error(*await a.call("POST", "/entries", body=body), 401, "unauthorized")
    assert_error(*await a.call("POST", "/entries", body=body, auth="not-the-token"), 401,
                 "unauthorized")
    assert_error(*await a.call("POST", "/peers", body={"url": "http://127.0.0.1:1"}), 401,
                 "unauthorized")
    # The right secret under another scheme is not a bearer token.
    async with session.post(a.url + "/entries", json=body,
                            headers={"Authorization": f"Basic {a.token}"}) as resp:
        assert resp.status == 401
    assert (await a.get("/status"))["entries"] == 0

    status, data = await a.call("POST", "/entries", body=body, auth=True)
    assert status == 201, data
    # seq 1 commits to the next key (pre-rotation)
    assert set(data) == {"id", "seq"} and data["seq"] == 2 and len(data["id"]) == 64
    status, again = await a.call("POST", "/entries", body=body, auth=True)
    assert status == 201 and again["seq"] == 3
    status_doc = await a.get("/status")
    assert (status_doc["entries"], status_doc["own_seq"], status_doc["authors"]) == (3, 3, 1)


async def test_publish_refuses_bad_requests(daemons: list[Daemon],
                                            session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    assert_error(*await a.call("POST", "/entries", raw=b"{not json", auth=True), 400, "bad_json")
    assert_error(*await a.call("POST", "/entries", body=[1, 2], auth=True), 400, "bad_json")
    assert_error(*await a.call("POST", "/entries", body={"kind": "trust"}, auth=True), 400,
                 "bad_request")
    status, data = await a.call("POST", "/entries", auth=True,
                                body={"kind": "trust", "body": {"subject": "nobody"}})
    assert_error(status, data, 400)
    status, data = await a.call("POST", "/entries", auth=True,
                                body={"kind": "no-such-kind", "body": {}})
    assert_error(status, data, 400)
    big = json.dumps({"kind": "trust", "body": {"pad": "x" * (300 * 1024)}}).encode()
    assert_error(*await a.call("POST", "/entries", raw=big, auth=True), 413, "too_large")
    assert (await a.get("/status"))["entries"] == 0


async def test_entries_routes_and_errors(daemons: list[Daemon],
                                         session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    ids = []
    for level in range(5):
        status, data = await a.call("POST", "/entries", auth=True,
                                    body={"kind": "trust", "body": trust_body(ident(9), level)})
        assert status == 201
        ids.append(data["id"])
    one = await a.get(f"/entries/{ids[2]}")
    assert one["id"] == ids[2] and one["seq"] == 4 and one["kind"] == "trust"
    assert one["author"] == daemons[0].identity.party_id
    assert one["body"] == trust_body(ident(9), 2)

    assert_error(*await a.call("GET", "/entries/" + "ab" * 32), 404, "not_found")
    assert_error(*await a.call("GET", "/entries/nothex"), 400, "bad_argument")

    me = daemons[0].identity.party_id
    page = await a.get(f"/entries?author={me}&kind=trust&limit=2")
    assert [e["seq"] for e in page["entries"]] == [2, 3] and page["next"] is not None
    rest = await a.get(f"/entries?author={me}&limit=10&after={page['next']}")
    assert [e["seq"] for e in rest["entries"]] == [4, 5, 6] and rest["next"] is None
    assert (await a.get("/entries?kind=profile"))["entries"] == []
    assert len((await a.get("/entries"))["entries"]) == 6  # and the next-key commitment
    assert_error(*await a.call("GET", "/entries?limit=abc"), 400, "bad_argument")
    assert_error(*await a.call("GET", "/entries?limit=0"), 400, "bad_argument")
    assert_error(*await a.call("GET", "/entries?author=me"), 400, "bad_argument")

    parties = (await a.get("/parties"))["parties"]
    assert parties == [{
        "party": me, "name": None, "role": None, "urls": [], "seq": 6, "head": ids[-1],
        "forked": False, "self": True, "keys": parties[0]["keys"],
    }]
    assert [k["key"] for k in parties[0]["keys"]] == [me]  # one key: it never rotated
    assert await a.get("/forks") == {"forks": [], "total": 0, "next": None}
    status, metrics = await a.call("GET", "/metrics")
    assert status == 200 and isinstance(metrics, str)
    samples = {s.name: s.value for f in text_string_to_metric_families(metrics)
               for s in f.samples if not s.labels}
    assert samples["trustnet_entries"] == 6 and samples["trustnet_own_seq"] == 6

    assert_error(*await a.call("GET", "/no-such-route"), 404, "not_found")
    assert_error(*await a.call("DELETE", "/status"), 405, "method_not_allowed")


async def test_add_peer_then_gossip_between_daemons(daemons: list[Daemon],
                                                    session: aiohttp.ClientSession) -> None:
    a, b, c = (api_of(d, session) for d in daemons)
    for x in (a, b, c):
        await x.ready()
    assert_error(*await a.call("POST", "/peers", body={"url": b.url}), 401, "unauthorized")
    assert_error(*await a.call("POST", "/peers", body={"url": "ftp://x"}, auth=True), 400)
    assert_error(*await a.call("POST", "/peers", body={}, auth=True), 400)
    status, data = await a.call("POST", "/peers", body={"url": b.url}, auth=True)
    assert (status, data) == (201, {"url": b.url, "added": True})
    status, data = await a.call("POST", "/peers", body={"url": b.url + "/"}, auth=True)
    assert status == 200 and data["added"] is False
    assert (await b.call("POST", "/peers", body={"url": c.url}, auth=True))[0] == 201

    peers = await a.get("/peers")
    by_key = {p["key"]: p for p in peers["peers"]}
    assert by_key[b.url]["source"] == "admin" and by_key[b.url]["state"] == "ok"
    assert {"count", "graylisted", "peers", "recovery", "gossip"} <= set(peers)
    assert peers["recovery"]["catching_up"] is False

    status, data = await a.call("POST", "/entries", auth=True,
                                body={"kind": "trust", "body": trust_body(ident(7))})
    assert status == 201
    entry_id = data["id"]

    async def everywhere() -> bool:
        return all([await x.holds(entry_id) for x in (a, b, c)])

    await wait_until(everywhere)
    got = await c.get(f"/entries/{entry_id}")
    assert got["author"] == daemons[0].identity.party_id
    parties = (await c.get("/parties"))["parties"]
    assert [(p["party"], p["seq"], p["self"]) for p in parties] == [
        (daemons[0].identity.party_id, 2, False)]
    # Peer exchange and inbound requests made the nodes known to each other.

    async def b_knows_a() -> bool:
        view = await b.get("/peers")
        return any(p["node_id"] == daemons[0].identity.party_id or p["key"] == a.url
                   for p in view["peers"])

    await wait_until(b_knows_a)


async def test_fork_proof_over_signed_gossip(daemons: list[Daemon],
                                             session: aiohttp.ClientSession) -> None:
    a, b, _ = (api_of(d, session) for d in daemons)
    for api in (a, b):
        await api.ready()
    assert (await a.call("POST", "/peers", body={"url": b.url}, auth=True))[0] == 201
    liar = ident(66)
    now = CLOCK.now_ms()
    x = sign_entry(liar, seq=1, prev=None, ts=now, kind="trust", body=trust_body(ident(1), 1))
    y = sign_entry(liar, seq=1, prev=None, ts=now, kind="trust", body=trust_body(ident(1), -1))
    for e in (x, y):
        status, ack = await gossip(session, a.url, m.PUSH, m.encode(m.Push((e.raw,))),
                                   identity=liar)
        assert status == 200 and ack["t"] == "push_ack", ack
    forks = (await a.get("/forks"))["forks"]
    assert len(forks) == 1 and forks[0]["author"] == liar.party_id and forks[0]["seq"] == 1
    assert sorted(forks[0]["ids"]) == sorted([x.id_hex, y.id_hex])
    assert (await a.get("/status"))["forks"] == 1
    assert [p["forked"] for p in (await a.get("/parties"))["parties"]] == [True]

    async def b_has_it() -> bool:
        return len((await b.get("/forks"))["forks"]) == 1

    await wait_until(b_has_it)


async def test_catching_up_node_refuses_to_sign(tmp_path: Path,
                                                session: aiohttp.ClientSession) -> None:
    # A key that has signed before (no `identity.new`) and a store without its entries:
    # its log was lost, and nobody can deliver it here, so the node must keep refusing.
    node_dir = init_node(tmp_path, "slow")
    (node_dir / NEW_LOG_FILE).unlink()
    d = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None))
    await d.start()
    try:
        a = api_of(d, session)
        await d.node.tick()
        assert (await a.get("/status"))["catching_up"] is True
        status, data = await a.call("POST", "/entries", auth=True,
                                    body={"kind": "trust", "body": trust_body(ident(2))})
        assert_error(status, data, 503, "catching_up")
        assert "--recovered-from" in data["error"]["message"]
        assert (await a.get("/status"))["own_seq"] == 0
        assert (await a.get("/peers"))["recovery"]["store_lost"] is True
    finally:
        await d.stop()


# -- gossip over HTTP: signed requests ------------------------------------------------------


async def test_gossip_refuses_unsigned_stale_replayed_and_forged(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    peer = ident(40)
    body = m.encode(m.Digest(bytes(32)))

    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=None), 401, "unsigned")
    stale_at = CLOCK.now_ms() - 5 * 60_000
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, at_ms=stale_at),
                 401, "stale")
    future_at = CLOCK.now_ms() + 5 * 60_000
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, at_ms=future_at),
                 401, "stale")

    headers = sign_request(peer, "POST", m.DIGEST, body, CLOCK.now_ms())
    status, reply = await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=headers)
    assert status == 200 and reply["t"] in ("in_sync", "heads"), reply
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=headers),
                 401, "replayed")

    forged = dict(sign_request(peer, "POST", m.DIGEST, body, CLOCK.now_ms()))
    forged[HEADER_SIGNATURE] = "00" * 64
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=forged),
                 401, "bad_signature")
    # A valid signature over a different body, path or time does not carry over.
    other = sign_request(peer, "POST", m.DIGEST, b"other", CLOCK.now_ms())
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=other),
                 401, "bad_signature")
    wrong_path = sign_request(peer, "POST", m.FETCH, body, CLOCK.now_ms())
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=wrong_path),
                 401, "bad_signature")
    moved = dict(sign_request(peer, "POST", m.DIGEST, body, CLOCK.now_ms()))
    moved[HEADER_TIME] = str(int(moved[HEADER_TIME]) + 1)
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=moved),
                 401, "bad_signature")
    malformed = dict(sign_request(peer, "POST", m.DIGEST, body, CLOCK.now_ms()))
    malformed[HEADER_SIGNATURE] = "zz"
    gossip_error(await gossip(session, a.url, m.DIGEST, body, identity=peer, headers=malformed),
                 401, "unsigned")


async def test_gossip_refuses_garbage_unknown_paths_and_oversize(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a = api_of(daemons[0], session)
    await a.ready()
    peer = ident(41)
    gossip_error(await gossip(session, a.url, m.PUSH, b"\xc1\x93garbage", identity=peer),
                 400, "bad_message")
    gossip_error(await gossip(session, a.url, m.FETCH, m.encode(m.Digest(bytes(32))),
                              identity=peer), 400, "bad_message")
    gossip_error(await gossip(session, a.url, "/gossip/nope", b"", identity=peer),
                 404, "unknown_path")
    # Refused from Content-Length, before the body is read.
    huge = io.BytesIO(bytes(MAX_REQUEST_BYTES + 1))  # (aiohttp warns on raw bytes this big)
    gossip_error(await gossip(session, a.url, m.PUSH, huge, identity=peer), 413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield bytes(MAX_REQUEST_BYTES // 2)

    # Chunked, without Content-Length: read up to the bound, then refused.
    headers = dict(sign_request(peer, "POST", m.PUSH, b"", CLOCK.now_ms()),
                   **{"Content-Type": CONTENT_TYPE})
    async with session.post(a.url + m.PUSH, data=chunks(), headers=headers) as resp:
        assert resp.status == 413
        assert msgpack.unpackb(await resp.read())["error"]["code"] == "too_large"

    # Authenticated misbehaviour is on the record of the node id that signed it (the
    # reasons are the operator's: shown with the token).
    view = await a.get("/peers", auth=True)
    record = next(p for p in view["peers"] if p["key"] == peer.party_id)
    reasons = " ".join(e["reason"] for e in record["log"])
    assert "bad_message" in reasons and "unknown_path" in reasons
    assert record["score"] < 0
    # The honest API is unaffected.
    assert (await a.get("/status"))["entries"] == 0


def observation(i: int, now: int) -> dict[str, Any]:
    """A valid observation body of about 2.5 KB (32 evidence digests)."""
    return {
        "subject": ident(1).party_id, "area": f"sector {i}", "at": now - 1000, "troops": i,
        "tanks": 1, "acv": 2, "artillery": 3, "method": "aerial", "confidence": 700,
        "evidence": [f"{(i * 64 + k):064x}" for k in range(32)],
    }


async def test_large_gossip_bodies_arrive_whole(daemons: list[Daemon],
                                                session: aiohttp.ClientSession) -> None:
    # Bodies of many network chunks: the server must read to the end before verifying the
    # request signature, and the client must read whole replies (a big fetch batch).
    a, b, _ = (api_of(d, session) for d in daemons)
    await a.ready()
    author = ident(50)
    now = CLOCK.now_ms()
    entries = []
    prev = None
    for i in range(200):
        e = sign_entry(author, seq=i + 1, prev=prev, ts=now, kind="observation",
                       body=observation(i, now))
        entries.append(e.raw)
        prev = e.id
    body = m.encode(m.Push(tuple(entries)))
    assert len(body) > 400_000
    status, ack = await gossip(session, a.url, m.PUSH, body, identity=author)
    assert status == 200, ack
    assert (ack["t"], ack["accepted"], ack["rejected"]) == ("push_ack", 200, 0)
    # Anti-entropy fetches them from alpha in replies of hundreds of KB.
    assert (await b.call("POST", "/peers", body={"url": a.url}, auth=True))[0] == 201

    async def b_has_all() -> bool:
        return int((await b.get("/status"))["entries"]) == 200

    await wait_until(b_has_all)


# -- the CLI against a running node -------------------------------------------------------


async def test_cli_publish_goes_through_the_running_node(
        daemons: list[Daemon], session: aiohttp.ClientSession,
        capsys: pytest.CaptureFixture[str]) -> None:
    d = daemons[0]
    a = api_of(d, session)
    await a.ready()
    capsys.readouterr()
    body = json.dumps(trust_body(ident(5), 42))
    # The daemon holds the store's lock: the CLI must talk to it over HTTP. It is
    # synchronous (urllib), so it runs in a thread while this loop serves it.
    code = await asyncio.to_thread(cli_main, ["publish", str(d.dir), "trust", "--body", body])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    result = json.loads(out[-1])
    assert result["seq"] == 2  # seq 1 commits to the next key (pre-rotation)
    entry = await a.get(f"/entries/{result['id']}")
    assert entry["body"] == trust_body(ident(5), 42)
    assert d.node.protocol.own_seq() == 2

    code = await asyncio.to_thread(cli_main, ["status", d.url or "", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and status["own_seq"] == 2 and status["name"] == "alpha"


# -- a real `trustnet run` process ---------------------------------------------------------


async def _start_run(node_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trustnet", "run", str(node_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        info = json.loads(line)
    except BaseException:
        proc.kill()
        await proc.communicate()
        raise
    assert info["node_id"] == Identity.load(node_dir / KEY_FILE).party_id
    return proc, str(info["url"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_stops_cleanly_on_signal_and_resumes(
        tmp_path: Path, session: aiohttp.ClientSession, sig: signal.Signals) -> None:
    node_dir = init_node(tmp_path, "runner")
    config = load_config(node_dir)
    write_config(node_dir, dataclasses.replace(
        config, log_format="json",
        sections=dict(config.sections, gossip={"tick_interval_s": 0.05})))
    token = read_admin_token(node_dir)
    proc, url = await _start_run(node_dir)
    a = Api(session, url, token)
    try:
        await a.ready()
        status, first = await a.call("POST", "/entries", auth=True,
                                     body={"kind": "trust", "body": trust_body(ident(3), 0)})
        assert status == 201

        # Writes in flight when the signal arrives: every one acknowledged is durable.
        async def publish(level: int) -> str | None:
            try:
                status, data = await a.call("POST", "/entries", auth=True,
                                            body={"kind": "trust",
                                                  "body": trust_body(ident(3), level)})
            except aiohttp.ClientError:
                return None
            return str(data["id"]) if status == 201 else None

        writes = [asyncio.create_task(publish(level)) for level in range(1, 21)]
        await asyncio.wait(writes, return_when=asyncio.FIRST_COMPLETED)
        proc.send_signal(sig)
        acked = {first["id"]} | {i for i in await asyncio.gather(*writes) if i is not None}
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")

    # Logs in JSON mode: one object per line, for an operator's log shipper.
    lines = err.decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert records and all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    text = [r["msg"] for r in records]
    assert any("listening on " + url in t for t in text)
    assert any("signal received" in t for t in text)
    assert text[-1] == "stopped cleanly"
    assert not (node_dir / PORT_FILE).exists()

    # The lock was released and every acknowledged entry is there.
    with Store.open_dir(node_dir) as store:
        held = {e.id_hex for e in store.iter_all()}
        own = store.head(Identity.load(node_dir / KEY_FILE).public_key)
    assert acked <= held
    assert own is not None and own.seq == len(held)

    # A restart resumes from the store.
    proc, url = await _start_run(node_dir)
    try:
        b = Api(session, url, token)
        await b.ready()
        status_doc = await b.get("/status")
        assert (status_doc["entries"], status_doc["own_seq"]) == (len(held), len(held))
        status, data = await b.call("POST", "/entries", auth=True,
                                    body={"kind": "trust", "body": trust_body(ident(3), 99)})
        assert status == 201 and data["seq"] == len(held) + 1
        proc.send_signal(sig)
        await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert proc.returncode == 0


async def test_run_refuses_a_second_process_on_the_same_dir(tmp_path: Path) -> None:
    node_dir = init_node(tmp_path, "single")
    proc, _ = await _start_run(node_dir)
    try:
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "trustnet", "run", str(node_dir),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1
        assert b"[locked]" in err and str(proc.pid).encode() in err
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert os.path.exists(node_dir / "store.sqlite")


class _FixedResolver(AbstractResolver):
    """Resolves every name to the given addresses (no DNS in tests)."""

    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=h, port=port, family=family, proto=0,
                              flags=0) for h in self.hosts]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("hosts", [("10.0.0.7",), ("93.184.215.14", "127.0.0.1"),
                                   ("169.254.169.254",), ("fd00::1",)])
async def test_a_guarded_host_name_resolving_to_a_private_address_is_refused(hosts) -> None:
    with pytest.raises(PrivateAddressError):
        await PublicResolver(_FixedResolver(*hosts)).resolve("peer.example", 80)


async def test_a_guarded_host_name_resolving_to_public_addresses_passes() -> None:
    got = await PublicResolver(_FixedResolver("93.184.215.14")).resolve("peer.example", 80)
    assert [r["host"] for r in got] == ["93.184.215.14"]


async def test_guarded_requests_to_private_literals_fail_with_a_stable_code() -> None:
    t = HttpTransport(ident(9), CLOCK)
    await t.start(None)  # type: ignore[arg-type]
    try:
        with pytest.raises(TransportError) as err:
            await t.request("http://127.0.0.1:9", m.DIGEST, b"", guard=True)
        assert err.value.code == "private_address"
        with pytest.raises(TransportError) as err:  # unguarded: dialled (nothing listens)
            await t.request("http://127.0.0.1:9", m.DIGEST, b"")
        assert err.value.code == "unreachable"
    finally:
        await t.stop()
