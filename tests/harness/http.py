"""Clients of a node in tests: its JSON API (`Api`), signed gossip requests, the error shapes."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import msgpack

from tests.harness.wait import wait_until
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.node.daemon import Daemon
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE

CLOCK = SystemClock()


class Api:
    """A JSON client of one node's API."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session = session
        self.url = url
        self.token = token

    async def call(self, method: str, path: str, *, body: Any = None, auth: bool | str = False,
                   raw: bytes | None = None) -> tuple[int, Any]:
        headers = {}
        if auth:
            headers["Authorization"] = f"Bearer {self.token if auth is True else auth}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.url + path, data=data,
                                        headers=headers) as resp:
            text = await resp.text()
            if resp.content_type == "application/json":
                return resp.status, json.loads(text)
            return resp.status, text

    async def get(self, path: str, *, auth: bool = False) -> Any:
        status, data = await self.call("GET", path, auth=auth)
        assert status == 200, (path, status, data)
        return data

    async def ready(self) -> None:
        """Wait until the node is past its own-log check."""

        async def check() -> bool:
            return not (await self.get("/status"))["catching_up"]

        await wait_until(check)

    async def holds(self, entry_id: str) -> bool:
        status, _ = await self.call("GET", f"/entries/{entry_id}")
        return status == 200


def assert_error(status: int, data: Any, want_status: int, code: str | None = None) -> None:
    """The API's error shape, with the expected status (and code)."""
    assert status == want_status, data
    assert isinstance(data, dict) and set(data) == {"error"}, data
    assert set(data["error"]) == {"code", "message"}, data
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    if code is not None:
        assert data["error"]["code"] == code, data


async def gossip(session: aiohttp.ClientSession, url: str, path: str, body: bytes | io.BytesIO, *,
                 identity: Identity | None, headers: dict[str, str] | None = None,
                 at_ms: int | None = None) -> tuple[int, Any]:
    """POST one gossip request (signed by `identity` unless headers are given)."""
    if headers is None:
        raw = body.getvalue() if isinstance(body, io.BytesIO) else body
        headers = {} if identity is None else sign_request(
            identity, "POST", path, raw, CLOCK.now_ms() if at_ms is None else at_ms)
    headers = dict(headers, **{"Content-Type": CONTENT_TYPE})
    async with session.post(url + path, data=body, headers=headers) as resp:
        raw = await resp.read()
        assert resp.content_type == CONTENT_TYPE
        return resp.status, msgpack.unpackb(raw, raw=False)


def gossip_error(reply: tuple[int, Any], status: int, code: str) -> None:
    """A msgpack refusal `{"error": {"code", "message"}}` with this status and code."""
    got_status, data = reply
    assert got_status == status, reply
    assert data["error"]["code"] == code, reply
    assert isinstance(data["error"]["message"], str)


def api_of(d: Daemon, session: aiohttp.ClientSession) -> Api:
    assert d.url is not None
    return Api(session, d.url, d.token)


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET a JSON route: (status, the parsed body)."""
    async with session.get(url) as r:
        return r.status, await r.json()
