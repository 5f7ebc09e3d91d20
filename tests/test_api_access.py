"""The inspection API's access rules ([http]): pagination, read token, CORS, rate limit, and
the live event stream's belief and suspicion news."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import T0
from tests.harness.api import fetch, start
from trustnet.api.settings import HttpSettings
from trustnet.cli.main import main as cli_main
from trustnet.config.loader import read_admin_token
from trustnet.errors import ConfigError
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry

DAY = 86_400_000




def south_story(south: Identity) -> list[bytes]:
    """A profile and a notification from another party, as gossip would bring them."""
    p = sign_entry(south, seq=1, prev=None, ts=T0, kind="profile",
                   body={"name": "south-1", "role": "state", "urls": []})
    n = sign_entry(south, seq=2, prev=p.id, ts=T0 + 1, kind="notification", body={
        "activity": "storm", "type": "exercise", "start": T0 + 50 * DAY, "end": T0 + 55 * DAY,
        "area": "range", "troops": 12_500, "tanks": 250, "acv": 0, "artillery": 0,
        "amphibious": 0, "sorties": 0, "observers_invited": False})
    return [p.raw, n.raw]




async def test_lists_are_paginated_with_offset_limit_total_and_next(tmp_path, capsys):
    daemon = await start(tmp_path)
    try:
        for seed in range(3):
            daemon.store.ingest(south_story(Identity.from_seed(bytes([seed + 1]) * 32)), T0 + DAY)
        _, _, whole = await fetch(f"{daemon.url}/parties")
        assert whole["total"] == 3 and whole["next"] is None and len(whole["parties"]) == 3
        _, _, first = await fetch(f"{daemon.url}/parties?limit=2")
        assert len(first["parties"]) == 2 and first["next"] == 2 and first["total"] == 3
        _, _, rest = await fetch(f"{daemon.url}/parties?limit=2&offset={first['next']}")
        assert [p["party"] for p in first["parties"] + rest["parties"]] == \
            [p["party"] for p in whole["parties"]]
        assert rest["next"] is None
        for route in ("beliefs", "suspicion"):
            _, _, page = await fetch(f"{daemon.url}/{route}?limit=1")
            assert len(page["parties"]) == 1 and page["next"] == 1 and page["total"] >= 3
        for route in ("peers", "forks"):
            status, _, page = await fetch(f"{daemon.url}/{route}?limit=1")
            assert status == 200 and page["total"] == 0 and page["next"] is None
        status, _, body = await fetch(f"{daemon.url}/parties?offset=-1")
        assert status == 400 and body["error"]["code"] == "bad_argument"
        assert "offset" in body["error"]["message"]
    finally:
        await daemon.stop()


async def test_reads_need_the_token_when_configured(tmp_path, capsys):
    daemon = await start(tmp_path, "read_token = true")
    token = read_admin_token(daemon.dir)
    try:
        status, _, body = await fetch(f"{daemon.url}/status")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, _, body = await fetch(f"{daemon.url}/status",
                                      headers={"Authorization": "Bearer wrong"})
        assert status == 401
        status, _, body = await fetch(f"{daemon.url}/status",
                                      headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and body["node_id"] == daemon.identity.party_id
        # EventSource cannot send headers: reads may carry the token in the query (RFC 6750)
        status, _, body = await fetch(f"{daemon.url}/parties?access_token={token}")
        assert status == 200 and body["total"] == 0
        # ... but writes may not
        status, _, body = await fetch(f"{daemon.url}/entries?access_token={token}", "POST",
                                      json={"kind": "trust", "body": {}})
        assert status == 401
        for public in ("/", "/openapi.yaml"):
            status, _, _ = await fetch(daemon.url + public)
            assert status == 200
    finally:
        await daemon.stop()


async def test_reads_are_open_by_default_and_cors_is_off(tmp_path, capsys):
    daemon = await start(tmp_path)
    try:
        status, headers, _ = await fetch(f"{daemon.url}/status",
                                         headers={"Origin": "https://example.org"})
        assert status == 200
        assert "Access-Control-Allow-Origin" not in headers
        status, _, body = await fetch(f"{daemon.url}/status", "OPTIONS",
                                      headers={"Origin": "https://example.org"})
        assert status == 405 and body["error"]["code"] == "method_not_allowed"
    finally:
        await daemon.stop()


async def test_cors_answers_listed_origins_only(tmp_path, capsys):
    daemon = await start(tmp_path, 'cors_origins = ["https://analyst.example"]')
    try:
        good = {"Origin": "https://analyst.example"}
        status, headers, _ = await fetch(f"{daemon.url}/status", headers=good)
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == "https://analyst.example"
        status, headers, _ = await fetch(f"{daemon.url}/beliefs", "OPTIONS", headers=good)
        assert status == 204 and "GET" in headers["Access-Control-Allow-Methods"]
        status, headers, _ = await fetch(f"{daemon.url}/status",
                                         headers={"Origin": "https://elsewhere.example"})
        assert status == 200 and "Access-Control-Allow-Origin" not in headers
    finally:
        await daemon.stop()


async def test_a_client_over_its_rate_gets_429_and_others_do_not_pay(tmp_path, capsys):
    daemon = await start(tmp_path, "rate_per_s = 0.001\nrate_burst = 3")
    try:
        answers = [(await fetch(f"{daemon.url}/status"))[0] for _ in range(3)]
        assert answers == [200, 200, 200]
        status, _, body = await fetch(f"{daemon.url}/status")
        assert status == 429 and body["error"]["code"] == "rate_limited"
        # gossip is limited per peer by the node, not by this limit
        status, _, _ = await fetch(f"{daemon.url}/gossip/digest", "POST", data=b"")
        assert status == 401  # unsigned: refused for that reason, not for the rate
    finally:
        await daemon.stop()


async def test_a_stranger_sharing_the_operators_address_cannot_throttle_the_operator(
        tmp_path, capsys):
    # Everyone on this machine (or behind one proxy, or one NAT) shares one client address.
    daemon = await start(tmp_path, "rate_per_s = 0.001\nrate_burst = 3")
    try:
        answers = [(await fetch(f"{daemon.url}/status"))[0] for _ in range(4)]
        assert answers == [200, 200, 200, 429]  # the stranger drained the address's bucket
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await fetch(f"{daemon.url}/status", headers=wrong))[0] == 429
        operator = {"Authorization": f"Bearer {daemon.token}"}
        for _ in range(5):
            assert (await fetch(f"{daemon.url}/status", headers=operator))[0] == 200
        status, _, body = await fetch(f"{daemon.url}/peers", "POST", headers=operator,
                                      json={"url": "http://127.0.0.1:9"})
        assert status in (200, 201) and body["added"] is True
    finally:
        await daemon.stop()


@pytest.mark.parametrize("table", [
    {"read_token": "yes"}, {"cors_origins": "*"}, {"cors_origins": ["example.org"]},
    {"rate_per_s": -1}, {"rate_burst": 0}, {"rate_burst": 1.5}, {"nope": 1},
])
def test_bad_http_settings_are_named(table):
    with pytest.raises(ConfigError) as err:
        HttpSettings.from_mapping(table)
    assert "[http]" in err.value.message


async def read_events(resp: aiohttp.ClientResponse, want: set[str]) -> dict[str, list[Any]]:
    """Events from an open stream until one of each kind in `want` arrived."""
    got: dict[str, list[Any]] = {}
    event = None
    async with asyncio.timeout(30):
        while not want <= set(got):
            line = (await resp.content.readline()).decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                got.setdefault(event, []).append(json.loads(line.split(":", 1)[1]))
    return got


async def test_events_tell_belief_and_suspicion_changes(tmp_path, capsys):
    daemon = await start(tmp_path, "events_views_interval_s = 0.05")
    south = Identity.from_seed(b"\x07" * 32)
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{daemon.url}/events") as r:
            assert (await r.content.readline()).startswith(b": stream open")
            daemon.store.ingest(south_story(south), T0 + DAY)
            got = await read_events(r, {"entry", "belief", "suspicion"})
        assert [e["seq"] for e in got["entry"]] == [1, 2]
        belief = got["belief"][-1]
        assert belief["party"] == south.party_id and belief["name"] == "south-1"
        assert 0 <= belief["reliability"] <= 1 and 0 <= belief["compliance"] <= 1
        suspicion = got["suspicion"][-1]
        assert suspicion["party"] == south.party_id
        assert suspicion["regime"] in ("escalating", "stable", "de-escalating")
    finally:
        await daemon.stop()


async def test_events_resume_after_a_cursor_without_gaps_or_repeats(tmp_path, capsys):
    daemon = await start(tmp_path)
    try:
        for level in range(3):
            await daemon.node.publish("trust", {"subject": "ab" * 32, "level": level})
        async with aiohttp.ClientSession() as s, s.get(f"{daemon.url}/events?after=0") as r:
            got = await read_events(r, {"entry"})
            while len(got["entry"]) < 3:
                more = await read_events(r, {"entry"})
                got["entry"] += more["entry"]
            await daemon.node.publish("trust", {"subject": "ab" * 32, "level": 9})
            live = await read_events(r, {"entry"})
        assert [e["seq"] for e in got["entry"]] == [1, 2, 3]
        assert [e["seq"] for e in live["entry"]] == [4]
    finally:
        await daemon.stop()


async def test_stopping_the_node_ends_open_streams(tmp_path, capsys):
    daemon = await start(tmp_path)
    stopped = False
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{daemon.url}/events") as r:
            await r.content.readline()
            await daemon.stop()
            stopped = True
            async with asyncio.timeout(10):
                rest = await r.content.read()
            assert b"event:" not in rest
    finally:
        if not stopped:
            await daemon.stop()


async def test_the_cli_reads_a_guarded_node_with_trustnet_token(tmp_path, capsys, monkeypatch):
    daemon = await start(tmp_path, "read_token = true")
    try:
        code = await asyncio.to_thread(cli_main, ["status", daemon.url or ""])
        assert code == 1 and "[unauthorized]" in capsys.readouterr().err
        monkeypatch.setenv("TRUSTNET_TOKEN", read_admin_token(daemon.dir))
        code = await asyncio.to_thread(cli_main, ["status", daemon.url or "", "--json"])
        assert code == 0 and json.loads(capsys.readouterr().out)["name"] == "north-1"
    finally:
        await daemon.stop()


async def test_a_party_known_only_by_a_fork_proof_is_listed_as_forked(tmp_path, capsys):
    """Gossip skips a proven equivocator's chain: a node may hold the proof and no entry."""
    from trustnet.log.entry import ForkProof

    daemon = await start(tmp_path)
    liar = Identity.from_seed(b"\x09" * 32)
    try:
        a = sign_entry(liar, seq=1, prev=None, ts=T0, kind="trust",
                       body={"subject": "ab" * 32, "level": 5})
        b = sign_entry(liar, seq=1, prev=None, ts=T0, kind="trust",
                       body={"subject": "ab" * 32, "level": -5})
        assert daemon.store.add_fork(ForkProof.of(a, b))
        _, _, page = await fetch(f"{daemon.url}/parties")
        assert page["parties"] == [{"party": liar.party_id, "name": None, "role": None,
                                    "urls": [], "seq": 0, "head": None, "forked": True,
                                    "self": False, "keys": [{
                                        "key": liar.party_id, "from_seq": 1, "from_ts": 0,
                                        "until_seq": None, "until_ts": None,
                                        "compromised_since": None, "next": None}]}]
        code = await asyncio.to_thread(cli_main, ["parties", daemon.url or ""])
        out = capsys.readouterr().out
        assert code == 0 and "forked" in out and liar.party_id[:16] in out
    finally:
        await daemon.stop()


async def test_the_cli_reads_every_page_of_a_list(tmp_path, capsys, monkeypatch):
    import trustnet.api.responses

    daemon = await start(tmp_path)
    try:
        for seed in range(5):
            daemon.store.ingest(south_story(Identity.from_seed(bytes([seed + 1]) * 32)), T0 + DAY)
        monkeypatch.setattr(trustnet.api.responses, "MAX_PAGE", 2)  # pages of two: the CLI must follow
        _, _, first = await fetch(f"{daemon.url}/parties")
        assert len(first["parties"]) == 2 and first["next"] == 2
        code = await asyncio.to_thread(cli_main, ["parties", daemon.url or "", "--json"])
        assert code == 0 and len(json.loads(capsys.readouterr().out)) == 5
        code = await asyncio.to_thread(cli_main, ["beliefs", daemon.url or "", "--json"])
        beliefs = json.loads(capsys.readouterr().out)
        parties = {b["party"] for b in beliefs["parties"]}
        assert code == 0 and len(parties) == 6 and "next" not in beliefs  # the five and itself
        assert daemon.identity.party_id in parties
    finally:
        await daemon.stop()


async def test_a_view_at_a_far_future_moment_is_refused_before_any_work(tmp_path, capsys):
    # `?at=` is a past moment: the estimator walks day by day up to it, so the year 287396
    # (2**53 - 1 ms) would hold the heavy-views worker for hours. The daemon's clock is T0's.
    daemon = await start(tmp_path)
    try:
        south = Identity.from_seed(b"\x07" * 32)
        daemon.store.ingest(south_story(south), T0 + DAY)
        now = daemon.node.clock.now_ms()
        far = 2**53 - 1
        for path in (f"/beliefs?at={far}", f"/suspicion?at={far}",
                     f"/suspicion/{south.party_id}?at={far}", f"/graph?at={now + DAY}",
                     f"/series/{south.party_id}?to={far}",
                     f"/series/{south.party_id}?from={far - DAY}&to={far}"):
            status, _, body = await fetch(f"{daemon.url}{path}")
            assert status == 400 and body["error"]["code"] == "bad_argument", (path, body)
            assert "past moment" in body["error"]["message"]
        status, _, _ = await fetch(f"{daemon.url}/beliefs?at={now}")
        assert status == 200
    finally:
        await daemon.stop()
