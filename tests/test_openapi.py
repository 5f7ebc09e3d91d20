"""The API's description (trustnet/static/openapi.yaml) against real nodes on loopback.

The document must be valid OpenAPI 3.1, and every request these tests make to a running
node - every route and method, its success and each error status it can give - is checked
with openapi-core: the response must match the document; the request must match it too,
except where a test sends a bad request on purpose, and then the document must refuse it
as the node does. Paths and methods the document does not list (404, 405) are checked
against its shared `components/responses`. The last test asserts that every operation and
every status the document declares was exercised here, and that it describes every route
of the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
import yaml
from multidict import CIMultiDict, MultiDict
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from yarl import URL

import trustnet
from tests.harness.nodes import MANUAL, demo_daemon, init_node
from tests.world import World
from trustnet.clock import DAY_MS, SystemClock
from trustnet.config.ownlog import NEW_LOG_FILE
from trustnet.identity import KEY_FILE, Identity
from trustnet.log.entry import sign_entry
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.statements.kinds import KINDS
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE as MSGPACK, MAX_REQUEST_BYTES

from .conftest import ident

SPEC_FILE = Path(trustnet.__file__).parent / "static" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CLOCK = SystemClock()
TIMEOUT_S = 15.0


# -- openapi-core adapters for aiohttp's client side ---------------------------------------


def _sse(data: bytes, **_params: str) -> list[dict[str, Any]]:
    """text/event-stream framing -> the events (each `data:` parsed as JSON); comments dropped."""
    events = []
    for frame in data.decode().split("\n\n"):
        event: dict[str, Any] = {}
        for line in frame.splitlines():
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            event[name] = json.loads(value) if name == "data" else int(value) if name == "id" else value
        if event:
            events.append(event)
    return events


OPENAPI = OpenAPI.from_dict(SPEC, config=Config(extra_media_type_deserializers={
    "application/msgpack": lambda data, **_: msgpack.unpackb(data, raw=False),
    "application/yaml": lambda data, **_: yaml.safe_load(data),
    "text/event-stream": _sse,
}))


@dataclasses.dataclass
class SpecRequest:
    """openapi-core's Request protocol, for a request aiohttp sent."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


@dataclasses.dataclass
class SpecResponse:
    """openapi-core's Response protocol, for what came back."""

    status_code: int
    content_type: str
    headers: Mapping[str, str]
    data: bytes


def operation_of(path: str, method: str) -> str | None:
    """The document's path template for a concrete path, when it lists that method on it."""
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            return template
    return None


# (path template, method, status) of every response these tests validated against an operation
EXERCISED: set[tuple[str, str, str]] = set()
# the tests that exercise the document, as they complete (the final check needs them all)
EXERCISING = {"reads", "writes", "gossip", "read_token", "rotation", "rate_limit", "insecure_token",
              "internal", "capacity"}
COMPLETED: set[str] = set()


@dataclasses.dataclass
class Reply:
    """One exchange, after validation."""

    status: int
    headers: Mapping[str, str]
    raw: bytes
    data: Any

    @property
    def code(self) -> str:
        """The error code."""
        return str(self.data["error"]["code"])

    @property
    def message(self) -> str:
        """The error message."""
        return str(self.data["error"]["message"])


class Client:
    """Requests to one node, each validated against the document."""

    def __init__(self, session: aiohttp.ClientSession, daemon: Daemon) -> None:
        assert daemon.url is not None
        self.session = session
        self.base = URL(daemon.url)
        self.token = daemon.token

    async def call(self, method: str, path: str, *, query: Mapping[str, str] | None = None,
                   headers: Mapping[str, str] | None = None, body: Any = None,
                   raw: bytes | None = None, content_type: str | None = None, auth: bool = False,
                   valid: bool = True, stream: bool = False) -> Reply:
        """Send one request; validate the response, and the request (`valid`: spec-valid)."""
        url = self.base.with_path(path).with_query(query or {})
        sent = CIMultiDict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self.token}"
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", content_type or "application/json")
        # aiohttp warns when handed large bytes at once: give it a stream instead
        payload: Any = io.BytesIO(data) if data is not None and len(data) > 2**20 else data
        async with self.session.request(method, url, data=payload, headers=sent) as resp:
            if stream and resp.status == 200:
                got = b""
                while not got.endswith(b": stream open\n\n"):
                    line = await resp.content.readline()
                    assert line, "the event stream ended early"
                    got += line
            else:
                got = await resp.read()
            reply = Reply(resp.status, CIMultiDict(resp.headers), got, None)
        content = reply.headers.get("Content-Type", "").lower()
        if content.startswith("application/json"):
            reply.data = json.loads(got)
        elif content.startswith(MSGPACK):
            reply.data = msgpack.unpackb(got, raw=False)
        request = SpecRequest(
            host_url=f"{url.scheme}://{url.host}:{url.port}", path=url.path, method=method.lower(),
            parameters=RequestParameters(query=MultiDict(url.query), header=sent),
            body=data, content_type=sent.get("Content-Type", "").lower())
        response = SpecResponse(reply.status, content, reply.headers, got)
        template = operation_of(url.path, method.lower())
        if template is None:  # a path or method the document does not list: 404 or 405
            assert reply.status in (404, 405), (method, path, reply.status, reply.data)
            check_shared_response("NotFound" if reply.status == 404 else "MethodNotAllowed", reply)
            return reply
        OPENAPI.validate_response(request, response)  # raises on any mismatch
        errors = list(OPENAPI.iter_request_errors(request))
        if valid:
            assert not errors, (method, path, errors)
        else:  # a bad request on purpose: the document refuses it as the node did
            assert errors, (method, path, "the document accepts a request the test calls bad")
        EXERCISED.add((template, method.lower(), str(reply.status)))
        if reply.status >= 400 and content.startswith("application/json"):
            assert set(reply.data) == {"error"} and set(reply.data["error"]) == {"code", "message"}
        return reply

    async def error(self, status: int, code: str | None, method: str, path: str, *,
                    names: str | None = None, **kw: Any) -> Reply:
        """A request the node refuses with `status` (and `code`); the message names `names`."""
        reply = await self.call(method, path, **kw)
        assert reply.status == status, (method, path, reply.status, reply.data)
        if code is not None:
            assert reply.code == code, reply.data
        if names is not None:
            assert names in reply.message, (names, reply.message)
        return reply

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """A request the node answers with `status`; its parsed body."""
        reply = await self.call(method, path, **kw)
        assert reply.status == status, (method, path, reply.status, reply.data)
        return reply.data


def check_shared_response(name: str, reply: Reply) -> None:
    """A reply against `components/responses/{name}`: its body schema and required headers."""
    described = SPEC["components"]["responses"][name]
    for header, spec in described.get("headers", {}).items():
        spec = resolve(spec)
        assert not spec.get("required") or header in reply.headers, (name, header)
    schema = described["content"]["application/json"]["schema"]
    # A root that holds the components, so that the document's own $refs resolve.
    OAS31Validator({**schema, "components": SPEC["components"]}).validate(reply.data)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def declared() -> set[tuple[str, str, str]]:
    """(path, method, status) of every response the document declares."""
    return {(path, method, status) for path, item in SPEC["paths"].items()
            for method, op in item.items() if method in METHODS for status in op["responses"]}


# -- nodes ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Nodes:
    """north-1 holding the demo story and a forked party; observer, its peer; a client each."""

    a: Daemon
    b: Daemon
    ca: Client
    cb: Client
    ids: dict[str, Identity]
    origin: int
    forker: World


@contextlib.asynccontextmanager
async def small_node(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Client]]:
    """One node with nothing in it, and a client."""
    daemon = Daemon(init_node(tmp_path, "lone"), gossip=MANUAL)
    await daemon.start()
    await daemon.node.tick()  # no peers: nothing of its own to recover
    try:
        async with aiohttp.ClientSession() as session:
            yield daemon, Client(session, daemon)
    finally:
        await daemon.stop()


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[tuple[Daemon, Client]]:
    """`small_node`."""
    async with small_node(tmp_path) as got:
        yield got


@contextlib.asynccontextmanager
async def demo_nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    """The 6-party demo world (tests/test_views.py's north-1) plus a fork and a second node."""
    # A rate limit no quick test client reaches: these tests read every route in a burst
    # (on a quiet machine, faster than the default 50 reads a second); the rate limit
    # has its own test.
    unlimited = {"http": {"rate_per_s": 1_000_000.0, "rate_burst": 1_000_000}}
    demo = demo_daemon(tmp_path, gossip=MANUAL, sections=unlimited)
    a, ids, origin = demo.daemon, demo.ids, demo.origin
    # A party that signed two different entries at seq 1: a fork proof for /forks.
    forker, twin = World(), World()
    target = ids["south-1"].party_id
    first = forker.post("forker", "trust", {"subject": target, "level": 100}, origin)
    second = twin.post("forker", "trust", {"subject": target, "level": -100}, origin)
    b: Daemon | None = None
    try:
        await a.start()
        await a.node.tick()
        assert a.url is not None
        b = Daemon(init_node(tmp_path, "observer", peers=[a.url]), gossip=MANUAL)
        await b.start()
        async with aiohttp.ClientSession() as session:
            ca = Client(session, a)
            # the fork arrives as gossip would bring it: pushed by some node
            push = m.encode(m.Push((first.raw, second.raw)))
            headers = {"Content-Type": MSGPACK,
                       **sign_request(ident(40), "POST", m.PUSH, push, CLOCK.now_ms())}
            assert (await ca.call("POST", m.PUSH, raw=push, headers=headers)).status == 200
            yield Nodes(a, b, ca, Client(session, b), ids, origin, forker)
    finally:
        if b is not None:
            await b.stop()
        await a.stop()
    assert a.node.errors == [] and (b is None or b.node.errors == [])


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Nodes]:
    """`demo_nodes`."""
    async with demo_nodes(tmp_path) as got:
        yield got


async def settle(*daemons: Daemon) -> None:
    """Tick each node and wait until nothing is in flight."""
    for d in daemons:
        await d.node.tick()
    for d in daemons:
        await d.node.idle()


# -- the document --------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    validate_spec(SPEC)  # raises on any violation
    assert SPEC["openapi"] == "3.1.0"
    # A comma in an unquoted flow-style value silently makes a key without a value.
    nulls: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None:
                    nulls.append(f"{where}/{key}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(SPEC, "#")
    assert nulls == []
    # Every error status of the JSON API answers the one error shape.
    for path, method, status in declared():
        if int(status) >= 400:
            response = resolve(SPEC["paths"][path][method]["responses"][status])
            (media, content), = response["content"].items()
            assert media in ("application/json", MSGPACK), (path, method, status)
            name = content["schema"]["$ref"].rsplit("/", 1)[-1]
            assert name.startswith("Error"), (path, method, status)


def test_statement_and_gossip_schemas_follow_the_code() -> None:
    """The document's statement bodies are kinds.py's records; its gossip tags messages.py's."""
    schemas = SPEC["components"]["schemas"]
    assert schemas["Kind"]["enum"] == list(KINDS)
    by_kind = {rule["if"]["properties"]["kind"]["const"]: rule["then"]["properties"]["body"]["$ref"]
               for rule in schemas["StatementOfKind"]["allOf"]}
    assert set(by_kind) == set(KINDS)
    for kind, cls in KINDS.items():
        schema = resolve({"$ref": by_kind[kind]})
        fields = dataclasses.fields(cls)
        assert set(schema["properties"]) == {f.name for f in fields}, kind
        required = {f.name for f in fields if f.default is dataclasses.MISSING}
        assert set(schema["required"]) == required, kind
        assert schema["additionalProperties"] is False, kind
        for f in fields:  # optional fields may be null in the code: in the document too
            if f.default is None:
                assert "null" in resolve(schema["properties"][f.name])["type"], (kind, f.name)

    def tags(name: str) -> set[str]:
        return {resolve(variant)["properties"]["t"]["const"] for variant in schemas[name]["oneOf"]}

    assert tags("GossipRequest") == {t.T for types in m.REQUESTS.values() for t in types}
    assert tags("GossipReply") == {t.T for types in m.REPLIES.values() for t in types}
    names = SPEC["paths"]["/gossip/{name}"]["post"]["parameters"][0]["schema"]["enum"]
    assert {f"/gossip/{n}" for n in names} == set(m.PATHS)


# -- reads ---------------------------------------------------------------------------------


async def test_reads_of_a_node_holding_a_world(nodes: Nodes) -> None:
    a, ca, ids = nodes.a, nodes.ca, nodes.ids
    await settle(nodes.b)  # observer pulls the world from north-1 ...
    await settle(nodes.a, nodes.b)  # ... and north-1 learns of observer
    south1, north1 = ids["south-1"].party_id, ids["north-1"].party_id

    status = await ca.ok("GET", "/status")
    assert status["node_id"] == north1 and status["name"] == "north-1"
    assert status["entries"] == a.store.count() > 50 and status["forks"] == 1
    assert not status["catching_up"]
    peers = await ca.ok("GET", "/peers")
    assert peers["total"] >= 1 and peers["peers"][0]["log"]
    page = await ca.ok("GET", "/peers", query={"limit": "1", "offset": "0"})
    assert len(page["peers"]) == 1
    await ca.error(400, "bad_argument", "GET", "/peers", query={"limit": "0"}, names="limit",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/peers", query={"offset": "-1"}, names="offset",
                   valid=False)

    parties = await ca.ok("GET", "/parties")
    assert parties["total"] == 7 and {p["name"] for p in parties["parties"]} >= set(ids)
    first = await ca.ok("GET", "/parties", query={"limit": "3"})
    assert first["next"] == 3 and len(first["parties"]) == 3
    await ca.error(400, "bad_argument", "GET", "/parties", query={"limit": "x"}, names="limit",
                   valid=False)

    entries = await ca.ok("GET", "/entries", query={"limit": "20"})
    assert len(entries["entries"]) == 20 and entries["next"] is not None
    more = await ca.ok("GET", "/entries", query={"after": str(entries["next"]), "limit": "1000"})
    assert more["next"] is None
    assert len(entries["entries"]) + len(more["entries"]) == status["entries"]
    chain = await ca.ok("GET", "/entries", query={"author": south1, "kind": "notification"})
    assert chain["entries"] and {e["author"] for e in chain["entries"]} == {south1}
    await ca.error(400, "bad_argument", "GET", "/entries", query={"author": "zz"}, names="author",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/entries", query={"after": "-1"}, names="after",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/entries", query={"limit": "1001"},
                   names="limit", valid=False)

    one = chain["entries"][0]
    single = await ca.ok("GET", f"/entries/{one['id']}")
    assert {k: single[k] for k in one} == one and "standing" in single
    attestation = (await ca.ok("GET", "/entries", query={"kind": "attestation", "limit": "1"}))
    attested = await ca.ok("GET", f"/entries/{attestation['entries'][0]['body']['subject']}")
    assert attestation["entries"][0]["id"] in [a["id"] for a in attested["attestations"]]
    await ca.error(404, "not_found", "GET", f"/entries/{'ab' * 32}")
    await ca.error(400, "bad_argument", "GET", "/entries/xyz", names="id", valid=False)

    forks = await ca.ok("GET", "/forks")
    assert forks["total"] == 1 and forks["forks"][0]["author"] == nodes.forker.party("forker")
    await ca.error(400, "bad_argument", "GET", "/forks", query={"offset": "x"}, names="offset",
                   valid=False)

    beliefs = await ca.ok("GET", "/beliefs")
    assert beliefs["node"] == north1 and beliefs["total"] >= 6
    assert any(p["verified"]["evidence"] for p in beliefs["parties"])
    then = str(nodes.origin + 40 * DAY_MS)
    await ca.ok("GET", "/beliefs", query={"at": then, "limit": "2"})
    belief = await ca.ok("GET", f"/beliefs/{south1}")
    assert belief["party"] == south1 and "south-1" in belief["explanation"]
    await ca.ok("GET", f"/beliefs/{south1}", query={"at": then})
    await ca.error(400, "bad_argument", "GET", "/beliefs", query={"at": "yesterday"}, names="at",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/beliefs", query={"limit": "0"}, names="limit",
                   valid=False)
    await ca.error(404, "not_found", "GET", f"/beliefs/{'ab' * 32}")
    await ca.error(400, "bad_argument", "GET", "/beliefs/nothex", names="party", valid=False)
    await ca.error(400, "bad_argument", "GET", f"/beliefs/{south1}", query={"at": "x"},
                   names="at", valid=False)

    suspicion = await ca.ok("GET", "/suspicion")
    assert any(p["party"] == south1 and p["level"] > 0 for p in suspicion["parties"])
    await ca.ok("GET", "/suspicion", query={"at": then, "offset": "1"})
    one_s = await ca.ok("GET", f"/suspicion/{south1}")
    assert one_s["history"] and one_s["drivers"] and one_s["name"] == "south-1"
    await ca.ok("GET", f"/suspicion/{south1}", query={"at": then})
    await ca.error(400, "bad_argument", "GET", "/suspicion", query={"at": "-1"}, names="at",
                   valid=False)
    await ca.error(404, "not_found", "GET", f"/suspicion/{'ab' * 32}")
    await ca.error(400, "bad_argument", "GET", "/suspicion/NOTHEX", names="party", valid=False)

    week = {"from": str(nodes.origin + 40 * DAY_MS), "to": str(nodes.origin + 47 * DAY_MS),
            "step": str(DAY_MS)}
    series = await ca.ok("GET", f"/series/{south1}", query=week)
    assert len(series["samples"]) == 8
    await ca.ok("GET", f"/series/{'ab' * 32}", query=week)  # nothing known: the priors
    # from > to: each value fits the document, together they do not make sense
    await ca.error(400, "bad_argument", "GET", f"/series/{south1}", query={"from": "10", "to": "5"},
                   names="from")
    await ca.error(400, "bad_argument", "GET", f"/series/{south1}", query={"step": "x"},
                   names="step", valid=False)
    await ca.error(400, "bad_argument", "GET", "/series/x", names="party", valid=False)

    graph = await ca.ok("GET", "/graph")
    kinds = {e["kind"] for e in graph["edges"]}
    assert len(graph["nodes"]) == 7 and kinds == {"trust", "attestation"}
    await ca.ok("GET", "/graph", query={"at": then})
    await ca.error(400, "bad_argument", "GET", "/graph", query={"at": "x"}, names="at",
                   valid=False)

    bridges = await ca.ok("GET", "/bridges")
    assert bridges["node"] and isinstance(bridges["contacts"], list)
    await ca.ok("GET", "/bridges", query={"at": then})
    await ca.error(400, "bad_argument", "GET", "/bridges", query={"at": "x"}, names="at",
                   valid=False)

    compliance = await ca.ok("GET", "/compliance", query={"limit": "3"})
    assert compliance["rows"] and compliance["total"] >= len(compliance["rows"])
    await ca.ok("GET", "/compliance", query={"party": south1, "year": "2026", "status": "met",
                                              "obligation": "inspection_quota", "offset": "1",
                                              "at": then})
    await ca.error(400, "bad_argument", "GET", "/compliance", query={"year": "10000"},
                   names="year", valid=False)
    await ca.error(400, "unknown_obligation", "GET", "/compliance",
                   query={"obligation": "open_skies"}, names="open_skies", valid=False)
    await ca.error(404, "unknown_party", "GET", "/compliance", query={"party": "ab" * 32})

    calendar = await ca.ok("GET", "/calendar", query={"year": "2026", "limit": "5"})
    assert calendar["year"] == 2026 and calendar["total"] >= len(calendar["activities"])
    await ca.ok("GET", "/calendar")
    await ca.error(400, "bad_argument", "GET", "/calendar", query={"year": "1969"},
                   names="year", valid=False)

    metrics = await ca.call("GET", "/metrics")
    assert metrics.status == 200 and metrics.headers["Content-Type"].startswith("text/plain")
    assert "version=" in metrics.headers["Content-Type"]
    assert b"trustnet_" in metrics.raw

    # SSE: the replay after a cursor, then the live marker; each event matches its schema.
    replay = await ca.call("GET", "/events", query={"after": "0"}, stream=True)
    assert replay.status == 200 and replay.headers["Content-Type"] == "text/event-stream"
    events = _sse(replay.raw)
    assert len(events) == status["entries"] and {e["event"] for e in events} == {"entry"}
    tail = await ca.call("GET", "/events", headers={"Last-Event-ID": str(events[-3]["id"])},
                         stream=True)
    assert [e["id"] for e in _sse(tail.raw)] == [e["id"] for e in events[-2:]]
    live = await ca.call("GET", "/events", stream=True)
    assert live.status == 200 and _sse(live.raw) == []
    await ca.error(400, "bad_argument", "GET", "/events", query={"after": "x"}, names="after",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/events", query={"after": "-2"}, names="after",
                   valid=False)
    await ca.error(400, "bad_argument", "GET", "/events", headers={"Last-Event-ID": "x"},
                   names="Last-Event-ID", valid=False)

    served = await ca.call("GET", "/openapi.yaml")
    assert served.status == 200 and yaml.safe_load(served.raw) == SPEC
    page = await ca.call("GET", "/")
    assert page.status == 200 and b"<html" in page.raw.lower()
    async with ca.session.head(f"{a.url}/status") as head:  # HEAD wherever GET is
        assert head.status == 200 and await head.read() == b""

    # What the document does not list: 404 for a path, 405 (with Allow) for a method.
    for method in ("GET", "POST"):
        reply = await ca.error(404, "not_found", method, "/nope", names="/nope")
    for template, item in SPEC["paths"].items():
        path = template.replace("{party}", south1).replace("{id}", one["id"])
        path = path.replace("{name}", "digest")
        method = next(x for x in ("DELETE", "PUT", "GET") if x.lower() not in item)
        reply = await ca.error(405, "method_not_allowed", method, path, names=method)
        allowed = {x.strip() for x in reply.headers["Allow"].split(",")}
        assert {x.upper() for x in item if x in METHODS} <= allowed, (path, allowed)
    COMPLETED.add("reads")


# -- writes --------------------------------------------------------------------------------


async def test_writes_and_their_refusals(nodes: Nodes, tmp_path: Path) -> None:
    ca, cb, b = nodes.ca, nodes.cb, nodes.b
    south1 = nodes.ids["south-1"].party_id
    trust = {"kind": "trust", "body": {"subject": south1, "level": 250}}

    # a key that signed before, its store lost: it may not sign (own-log recovery)
    lost_dir = init_node(tmp_path / "lost", "lost")
    (lost_dir / NEW_LOG_FILE).unlink()
    lost = Daemon(lost_dir, gossip=MANUAL)
    await lost.start()
    try:
        async with aiohttp.ClientSession() as session:
            await Client(session, lost).error(503, "catching_up", "POST", "/entries", body=trust,
                                              auth=True)
    finally:
        await lost.stop()
    # observer was made by `init` a moment ago: it signs at once, before hearing from its peer
    assert not b.node.protocol.catching_up
    made = await cb.ok("POST", "/entries", 201, body=trust, auth=True)
    # seq 1 commits to the next key (pre-rotation)
    assert made["seq"] == 2 and (await cb.ok("GET", f"/entries/{made['id']}"))["seq"] == 2

    made = await ca.ok("POST", "/entries", 201, body=trust, auth=True)
    assert made["seq"] == nodes.a.store.head(nodes.a.identity.public_key).seq
    await ca.ok("POST", "/entries", 201, auth=True, body={**trust, "ts": CLOCK.now_ms()})
    await ca.error(401, "unauthorized", "POST", "/entries", body=trust, valid=False)
    reply = await ca.error(401, "unauthorized", "POST", "/entries", body=trust,
                           headers={"Authorization": "Bearer wrong"})
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    await ca.error(400, "bad_json", "POST", "/entries", raw=b"{not json", auth=True, valid=False)
    await ca.error(400, "bad_json", "POST", "/entries", body=[1, 2], auth=True, valid=False)
    await ca.error(400, "bad_request", "POST", "/entries", body={"body": {}}, auth=True,
                   names="kind", valid=False)
    await ca.error(400, "bad_request", "POST", "/entries", body={"kind": "trust"}, auth=True,
                   names="body", valid=False)
    await ca.error(400, "unknown_kind", "POST", "/entries", body={"kind": "rumour", "body": {}},
                   auth=True, names="kind", valid=False)
    await ca.error(400, "bad_timestamp", "POST", "/entries", body={**trust, "ts": "noon"},
                   auth=True, names="ts", valid=False)
    await ca.error(400, "bad_timestamp", "POST", "/entries", body={**trust, "ts": 2**62},
                   auth=True, names="ts")  # in the future: only the node knows its clock
    await ca.error(400, "bad_body", "POST", "/entries", auth=True, names="body.level",
                   body={"kind": "trust", "body": {"subject": south1}}, valid=False)
    notification = {"activity": "storm", "type": "exercise", "start": 1, "end": 2, "area": "x",
                    "troops": "many", "tanks": 0, "acv": 0, "artillery": 0, "amphibious": 0,
                    "sorties": 0, "observers_invited": False}
    await ca.error(400, "bad_body", "POST", "/entries", auth=True, names="body.troops",
                   body={"kind": "notification", "body": notification}, valid=False)
    await ca.error(400, "bad_body", "POST", "/entries", auth=True, names="body.colour",
                   body={"kind": "trust", "body": {**trust["body"], "colour": 1}}, valid=False)
    big = json.dumps({"kind": "trust", "body": {"pad": "x" * (300 * 1024)}}).encode()
    await ca.error(413, "too_large", "POST", "/entries", raw=big, auth=True, valid=False)

    assert b.url is not None
    elsewhere = "http://127.0.0.1:9"  # never contacted: north-1 does not tick here
    added = await ca.ok("POST", "/peers", 201, body={"url": elsewhere + "/"}, auth=True)
    assert added == {"url": elsewhere, "added": True}
    again = await ca.ok("POST", "/peers", 200, body={"url": elsewhere}, auth=True)
    assert again["added"] is False
    await ca.error(401, "unauthorized", "POST", "/peers", body={"url": b.url}, valid=False)
    await ca.error(400, "bad_argument", "POST", "/peers", body={}, auth=True, names="url",
                   valid=False)
    await ca.error(400, "bad_argument", "POST", "/peers", body={"url": "ftp://x"}, auth=True,
                   names="url", valid=False)
    await ca.error(400, "bad_json", "POST", "/peers", raw=b"peer", auth=True, valid=False)
    await ca.error(413, "too_large", "POST", "/peers", raw=big, auth=True, valid=False)

    cut = await ca.ok("POST", "/partition", body={"peers": [south1, b.url]}, auth=True)
    assert cut["partition"] == sorted([south1, b.url])
    assert (await ca.ok("POST", "/partition", body={"peers": []}, auth=True))["partition"] == []
    await ca.error(401, "unauthorized", "POST", "/partition", body={"peers": []}, valid=False)
    await ca.error(400, "bad_argument", "POST", "/partition", body={"peers": "all"}, auth=True,
                   names="peers", valid=False)
    await ca.error(400, None, "POST", "/partition", body={"peers": ["ftp://x"]}, auth=True,
                   names="peers", valid=False)
    await ca.error(400, "bad_json", "POST", "/partition", raw=b"[", auth=True, valid=False)
    await ca.error(413, "too_large", "POST", "/partition", raw=big, auth=True, valid=False)

    # observer's own identity equivocates (its key signed a second seq 1): it signs no more
    me = Identity.load(b.dir / KEY_FILE)
    twin = sign_entry(me, seq=1, prev=None, ts=CLOCK.now_ms(), kind="trust",
                      body={"subject": south1, "level": -250})
    b.store.ingest([twin.raw], CLOCK.now_ms())
    await cb.error(409, "forked", "POST", "/entries", body=trust, auth=True)
    COMPLETED.add("writes")


# -- gossip --------------------------------------------------------------------------------


async def test_the_gossip_route(nodes: Nodes) -> None:
    a, ca = nodes.a, nodes.ca
    peer, stranger, bad = ident(41), ident(42), ident(43)
    south1 = nodes.ids["south-1"]
    at = [CLOCK.now_ms()]

    async def gossip(name: str, message: Any, signer: Identity | None = peer, *,
                     body: bytes | None = None, **kw: Any) -> Reply:
        path = f"/gossip/{name}"
        raw = m.encode(message) if body is None else body
        headers = {"Content-Type": MSGPACK}
        if signer is not None:
            at[0] += 1  # every request signs a different time: none is a replay
            headers.update(sign_request(signer, "POST", path, raw, at[0]))
        return await ca.call("POST", path, raw=raw, headers=headers, **kw)

    new = nodes.forker.post("pusher", "trust", {"subject": south1.party_id, "level": 5},
                            CLOCK.now_ms())
    replies = {
        "digest": await gossip("digest", m.Digest(bytes(32))),
        "heads": await gossip("heads", m.HeadsRequest()),
        "fetch": await gossip("fetch", m.Fetch(((south1.public_key, 0, 5),))),
        "push": await gossip("push", m.Push((new.raw,))),
        "peers": await gossip("peers", m.PeersRequest(None)),
        "head": await gossip("head", m.HeadRequest(south1.public_key)),
        # Range reconciliation (issue 15): a digest that says so, then a prefix asked.
        "digest_recon": await gossip("digest", m.Digest(bytes(32), recon=True, recent=(
            (south1.public_key, 1, bytes(32)),))),
        "reconcile": await gossip("reconcile", m.Reconcile(nodes=(("", bytes(16), 0),))),
    }
    assert {r.status for r in replies.values()} == {200}
    assert [r.data["t"] for r in replies.values()] == [
        "heads", "heads", "entries", "push_ack", "peers", "head", "reconcile", "reconcile"]
    assert replies["reconcile"].data["items"][0][0] == ""  # we hold none: it lists them all
    assert len(replies["fetch"].data["entries"]) == 5 and replies["push"].data["accepted"] == 1
    assert replies["head"].data["seq"] == a.store.head(south1.public_key).seq

    def refused(reply: Reply, status: int, code: str) -> None:
        assert (reply.status, reply.data["error"]["code"]) == (status, code), reply.data

    refused(await gossip("digest", None, body=msgpack.packb({"t": "digest"}), valid=False),
            400, "bad_message")
    refused(await gossip("digest", m.Digest(bytes(32)), None, valid=False), 401, "unsigned")
    forged = await ca.call("POST", "/gossip/digest", raw=m.encode(m.Digest(bytes(32))), headers={
        "Content-Type": MSGPACK,
        **sign_request(bad, "POST", "/gossip/digest", b"something else", CLOCK.now_ms())})
    refused(forged, 401, "bad_signature")
    refused(await gossip("nope", m.Digest(bytes(32)), valid=False), 404, "unknown_path")
    huge = bytes(MAX_REQUEST_BYTES + 1)
    refused(await gossip("push", None, body=huge, valid=False), 413, "too_large")
    for _ in range(3):  # 3 forgeries by one signed node: graylisted (DESIGN 6)
        a.node.protocol.peers.penalize(stranger.party_id, "bad_signature", CLOCK.now_ms(),
                                       kind="node")
    refused(await gossip("digest", m.Digest(bytes(32)), stranger), 403, "graylisted")
    for _ in range(40):  # peer exchange allows a burst of 10, then 2 a second
        reply = await gossip("peers", m.PeersRequest(None))
        if reply.status != 200:
            break
    refused(reply, 429, "rate_limited")
    await ca.ok("POST", "/partition", body={"peers": [peer.party_id]}, auth=True)
    refused(await gossip("digest", m.Digest(bytes(32))), 503, "partitioned")
    await ca.ok("POST", "/partition", body={"peers": []}, auth=True)
    COMPLETED.add("gossip")


# -- access rules: read token, rate limit; internal errors -----------------------------------


def concrete(template: str) -> str:
    """A path for a template, with well-formed ids."""
    return (template.replace("{party}", "ab" * 32).replace("{id}", "cd" * 32)
            .replace("{name}", "digest"))


async def test_reads_need_the_token_when_configured(tmp_path: Path) -> None:
    daemon = Daemon(init_node(tmp_path, "guarded", sections={"http": {"read_token": True}}), gossip=MANUAL)
    await daemon.start()
    await daemon.node.tick()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, daemon)
            reads = [p for p, item in SPEC["paths"].items() if "get" in item]
            for template in reads:
                public = SPEC["paths"][template]["get"]["security"] == []
                reply = await client.call("GET", concrete(template))
                if public:
                    assert reply.status == 200, template
                else:
                    assert (reply.status, reply.code) == (401, "unauthorized"), template
                    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
            status = await client.ok("GET", "/status", auth=True)
            assert status["node_id"] == daemon.identity.party_id
            # EventSource cannot set headers: reads may carry the token in the query
            parties = await client.ok("GET", "/parties", query={"access_token": daemon.token})
            assert parties["total"] == 0
    finally:
        await daemon.stop()
    COMPLETED.add("read_token")


async def test_key_rotation_and_its_refusals(small: Any, tmp_path: Path) -> None:
    daemon, client = small
    seed = Identity.load(daemon.dir / "next.key").signing_key.encode().hex()
    fresh = Identity.from_seed(b"\x42" * 32)
    nxt = hashlib.sha256(fresh.public_key).hexdigest()
    await client.error(401, "unauthorized", "POST", "/keys/rotate", body={"key": seed, "next": nxt},
                       valid=False)
    await client.error(400, "bad_json", "POST", "/keys/rotate", raw=b"{", auth=True, valid=False)
    await client.error(400, "bad_request", "POST", "/keys/rotate", body={"key": "zz", "next": nxt},
                       auth=True, names="key", valid=False)
    # Not the committed key (the current one, or any other): bad_rotation, nothing stored.
    await client.error(400, "bad_rotation", "POST", "/keys/rotate", auth=True, names="committed",
                       body={"key": Identity.load(daemon.dir / KEY_FILE).signing_key.encode().hex(),
                             "next": nxt})
    await client.error(400, "bad_rotation", "POST", "/keys/rotate", auth=True, names="future",
                       body={"key": seed, "next": nxt, "compromised_since": 2**50})
    assert daemon.store.count() == 0
    done = await client.ok("POST", "/keys/rotate", 201, auth=True, body={"key": seed, "next": nxt})
    assert done["party"] == daemon.node.node_id and done["seq"] == 2  # after the commitment
    assert done["key"] == Identity.load(daemon.dir / KEY_FILE).key_id  # the files followed
    # Two rotations to one key: that key is not committed any more.
    await client.error(400, "bad_rotation", "POST", "/keys/rotate", auth=True,
                       body={"key": seed, "next": nxt})
    party = (await client.ok("GET", "/parties"))["parties"][0]
    assert [k["key"] for k in party["keys"]] == [daemon.node.node_id, done["key"]]

    lost_dir = init_node(tmp_path / "lost", "lost")
    (lost_dir / NEW_LOG_FILE).unlink()
    lost = Daemon(lost_dir, gossip=MANUAL)
    await lost.start()
    try:
        async with aiohttp.ClientSession() as session:
            await Client(session, lost).error(503, "catching_up", "POST", "/keys/rotate",
                                              auth=True, body={"key": seed, "next": nxt})
    finally:
        await lost.stop()
    COMPLETED.add("rotation")


async def test_a_client_over_its_rate_gets_429_on_every_route(tmp_path: Path) -> None:
    daemon = Daemon(init_node(tmp_path, "busy", sections={"http": {"rate_per_s": 0.001, "rate_burst": 2}}),
                    gossip=MANUAL)
    await daemon.start()
    await daemon.node.tick()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, daemon)
            assert [(await client.call("GET", "/status")).status for _ in range(2)] == [200, 200]
            for template, item in SPEC["paths"].items():
                if template.startswith("/gossip/"):
                    continue  # limited per peer by the node (test_the_gossip_route)
                for method in (x for x in item if x in METHODS):
                    body = {} if method == "post" else None
                    # Without the token: the operator's own requests are never throttled.
                    await client.error(429, "rate_limited", method.upper(), concrete(template),
                                       body=body, auth=False, valid=method == "get")
    finally:
        await daemon.stop()
    COMPLETED.add("rate_limit")


async def test_the_admin_token_in_the_clear_from_afar_gets_403_on_every_route(
        tmp_path: Path) -> None:
    # A proxy on loopback (trusted) forwards a client from another network over plain HTTP.
    daemon = Daemon(init_node(tmp_path, "exposed", sections={"http": {"trusted_proxies": ["127.0.0.1"]}}),
                    gossip=MANUAL)
    await daemon.start()
    await daemon.node.tick()
    afar = {"X-Forwarded-For": "203.0.113.9"}
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, daemon)
            for template, item in SPEC["paths"].items():
                if template.startswith("/gossip/"):
                    continue  # signed by nodes; never carries the admin token
                for method in (x for x in item if x in METHODS):
                    body = {} if method == "post" else None
                    await client.error(403, "insecure_token", method.upper(), concrete(template),
                                       body=body, auth=True, headers=afar,
                                       valid=method == "get")
            # The same client without the token, or through TLS at the proxy, is served.
            assert (await client.call("GET", "/status", headers=afar)).status == 200
            https = dict(afar, **{"X-Forwarded-Proto": "https"})
            await client.ok("GET", "/status", auth=True, headers=https)
    finally:
        await daemon.stop()
    COMPLETED.add("insecure_token")
async def test_capacity_refusals(tmp_path: Path, monkeypatch: Any) -> None:
    import trustnet.analysis.views

    monkeypatch.setattr(trustnet.analysis.views, "MAX_PENDING", 0)  # every heavy read is one too many
    # The live analysis held before its first view: the live views are pending.
    import threading

    from trustnet.analysis.live import LiveAnalysis

    release = threading.Event()
    refresh = LiveAnalysis._refresh

    def held(analysis: LiveAnalysis, *args: Any) -> Any:
        release.wait(30)
        return refresh(analysis, *args)

    monkeypatch.setattr(LiveAnalysis, "_refresh", held)
    daemon = Daemon(init_node(tmp_path, "full", sections={"http": {
        "max_event_streams": 1, "analysis_budget_s": 0.2}}), gossip=MANUAL)
    await daemon.start()
    await daemon.node.tick()
    try:
        assert daemon.url is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", URL(daemon.url).port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")  # the one stream allowed
        await writer.drain()
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
                ).startswith(b"HTTP/1.1 200")
        async with aiohttp.ClientSession() as session:
            client = Client(session, daemon)
            reply = await client.error(503, "too_many_streams", "GET", "/events")
            assert reply.headers["Retry-After"].isdigit()
            party = daemon.identity.party_id
            for path in ("/beliefs", f"/beliefs/{party}", "/suspicion", f"/suspicion/{party}",
                         "/graph", "/compliance", "/bridges"):
                await client.error(503, "busy", "GET", path, query={"at": "1"})
            await client.error(503, "busy", "GET", "/calendar")
            await client.error(503, "busy", "GET", f"/series/{party}")
            for path in ("/beliefs", f"/beliefs/{party}", "/suspicion", f"/suspicion/{party}"):
                reply = await client.error(503, "analysis_pending", "GET", path)
                assert reply.headers["Retry-After"].isdigit()
        writer.close()
    finally:
        release.set()
        await daemon.stop()
    COMPLETED.add("capacity")


async def test_a_bug_answers_500_in_the_error_shape(small: Any, monkeypatch: Any) -> None:
    daemon, client = small

    def broken() -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(daemon.node.store, "all_forks", broken)
    await client.error(500, "internal", "GET", "/forks")
    COMPLETED.add("internal")


# -- coverage ------------------------------------------------------------------------------


async def _with_nodes(test: Callable[..., Awaitable[None]], tmp_path: Path, *more: Any) -> None:
    async with demo_nodes(tmp_path / "world") as got:
        await test(got, *more)


async def _with_small(test: Callable[..., Awaitable[None]], tmp_path: Path, *more: Any) -> None:
    async with small_node(tmp_path / "small") as got:
        await test(got, *more)


async def _patched(test: Callable[..., Awaitable[None]], tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        await test(tmp_path, monkeypatch)


async def _small_patched(test: Callable[..., Awaitable[None]], tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        await _with_small(test, tmp_path, monkeypatch)


# Each test that exercises the document, and how to run it without pytest's fixtures: the
# check below runs those that did not run before it (a test run alone, or a -k selection).
EXERCISES: dict[str, Callable[[Path], Awaitable[None]]] = {
    "reads": partial(_with_nodes, test_reads_of_a_node_holding_a_world),
    "writes": lambda tmp: _with_nodes(test_writes_and_their_refusals, tmp, tmp),
    "gossip": partial(_with_nodes, test_the_gossip_route),
    "read_token": test_reads_need_the_token_when_configured,
    "rotation": lambda tmp: _with_small(test_key_rotation_and_its_refusals, tmp, tmp),
    "rate_limit": test_a_client_over_its_rate_gets_429_on_every_route,
    "insecure_token": test_the_admin_token_in_the_clear_from_afar_gets_403_on_every_route,
    "capacity": partial(_patched, test_capacity_refusals),
    "internal": partial(_small_patched, test_a_bug_answers_500_in_the_error_shape),
}


async def test_every_operation_and_status_was_exercised_and_every_route_is_described(
        small: Any, tmp_path: Path) -> None:
    daemon, _client = small
    operations = {(path, method) for path, item in SPEC["paths"].items()
                  for method in item if method in METHODS}
    routes = set()
    for route in daemon.app.router.routes():
        method = route.method.lower()
        canonical = route.resource.canonical if route.resource is not None else ""
        routes.add((canonical, "get" if method == "head" else method))  # HEAD comes with GET
    assert routes == operations
    assert set(EXERCISES) == EXERCISING
    for name in sorted(EXERCISING - COMPLETED):  # stand alone: run what did not run yet
        await EXERCISES[name](tmp_path / name)
    assert COMPLETED == EXERCISING
    assert {(p, m_) for p, m_, _ in EXERCISED} == operations
    # Every declared status was seen, but 500: one route's bug path is enough.
    missing = {d for d in declared() - EXERCISED if d[2] != "500"}
    assert missing == set()
