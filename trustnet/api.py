"""The node's HTTP API: one aiohttp application serving inspection, admin writes and gossip.

JSON everywhere except `/gossip/` (msgpack); every error is
`{"error": {"code", "message"}}` with a fitting status. Writes need
`Authorization: Bearer <admin.token>`. Views that come from other layers
(beliefs, suspicion) are registered by the daemon through `ApiViews`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from trustnet import __version__
from trustnet.config import check_url
from trustnet.errors import ConfigError, EntryError, NotFound, TrustnetError
from trustnet.identity import is_party_id
from trustnet.node import Node
from trustnet.transport.http import gossip_route, read_bounded

log = logging.getLogger("trustnet.api")
_STATIC = resources.files("trustnet") / "static"
_DASHBOARD = (_STATIC / "dashboard.html").read_text(encoding="utf-8")
_OPENAPI = (_STATIC / "openapi.yaml").read_text(encoding="utf-8")
EVENTS_POLL_S = 0.25
EVENTS_KEEPALIVE_S = 15.0

MAX_JSON_BYTES = 256 * 1024
MAX_PAGE = 1000

# HTTP status of each error code the API can answer with (default 400).
STATUS = {
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "catching_up": 503,
    "forked": 409,
    "internal": 500,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonView = Callable[[Mapping[str, str]], Any]
PartyView = Callable[[str, Mapping[str, str]], Any]


@dataclass(slots=True)
class ApiViews:
    """Extra read-only views other layers contribute: name -> (collection view, per-party view)."""

    collections: dict[str, JsonView] = field(default_factory=dict)
    parties: dict[str, PartyView] = field(default_factory=dict)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response (UTF-8, compact)."""
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def error_response(code: str, message: str, status: int | None = None) -> web.Response:
    """The error shape of the whole API."""
    return json_response({"error": {"code": code, "message": message}}, status or STATUS.get(code, 400))


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the API's error shape; never a stack trace to the client."""
    try:
        return await handler(request)
    except TrustnetError as exc:
        return error_response(exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        return error_response(code, exc.reason, exc.status)
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response("internal", "internal error (see the node's log)")


def _query_int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}", code="bad_argument") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}", code="bad_argument")
    return value


def _party_param(value: str, name: str = "party") -> str:
    if not is_party_id(value):
        raise ConfigError(f"{name} {value!r} is not a party id (64 lowercase hex)", code="bad_argument")
    return value


class Api:
    """Route handlers over one node."""

    def __init__(self, node: Node, *, name: str, token: str, views: ApiViews | None = None,
                 started: float | None = None) -> None:
        self.node = node
        self.name = name
        self._token = token.encode()
        self.views = views or ApiViews()
        self.started = time.monotonic() if started is None else started
        self.stopping = False

    # -- helpers -------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._token):
            raise TrustnetError("this needs Authorization: Bearer <admin.token>", code="unauthorized")

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        length = request.content_length
        raw = b"" if length is not None and length > MAX_JSON_BYTES else (
            await read_bounded(request.content, MAX_JSON_BYTES))
        if (length is not None and length > MAX_JSON_BYTES) or len(raw) > MAX_JSON_BYTES:
            raise TrustnetError(f"request body over {MAX_JSON_BYTES} bytes", code="too_large")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrustnetError(f"request body is not JSON: {exc}", code="bad_json") from None
        if not isinstance(body, dict):
            raise TrustnetError("request body must be a JSON object", code="bad_json")
        return body

    # -- inspection ----------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        """GET /status."""
        data = self.node.status()
        data.update(name=self.name, version=__version__,
                    uptime_s=round(time.monotonic() - self.started, 3))
        data.pop("uptime_ms", None)
        return json_response(data)

    async def peers(self, request: web.Request) -> web.Response:
        """GET /peers: every peer, its score, state and the reasons for it."""
        return json_response(self.node.peers_json())

    async def parties(self, request: web.Request) -> web.Response:
        """GET /parties: every author held, with its self-declared profile."""
        store = self.node.store
        profiles = {e.author_hex: e for e in store.query(kind="profile", limit=10**6)}
        forked = {a.hex() for a in store.forked_authors()}
        out = []
        for author, (seq, head_id) in sorted(store.heads().items()):
            pid = author.hex()
            prof = profiles.get(pid)
            out.append({
                "party": pid,
                "name": prof.body.get("name") if prof else None,
                "role": prof.body.get("role") if prof else None,
                "urls": prof.body.get("urls", []) if prof else [],
                "seq": seq,
                "head": head_id.hex(),
                "forked": pid in forked,
                "self": pid == self.node.node_id,
            })
        return json_response({"parties": out})

    async def entries(self, request: web.Request) -> web.Response:
        """GET /entries?author=&kind=&after=&limit=."""
        q = request.query
        author = q.get("author") or None
        if author is not None:
            _party_param(author, "author")
        limit = _query_int(q, "limit", 100, 1, MAX_PAGE)
        after = _query_int(q, "after", 0, 0, 2**62)
        rows = self.node.store.page(
            author=bytes.fromhex(author) if author else None,
            kind=q.get("kind") or None,
            after=after,
            limit=limit,
        )
        return json_response({
            "entries": [e.to_json() for e, _ in rows],
            "next": rows[-1][1] if len(rows) == limit else None,
        })

    async def entry(self, request: web.Request) -> web.Response:
        """GET /entries/{id}."""
        entry_id = request.match_info["id"]
        try:
            raw_id = bytes.fromhex(entry_id)
        except ValueError:
            raw_id = b""
        if len(raw_id) != 32:
            raise ConfigError(f"{entry_id!r} is not an entry id (64 hex)", code="bad_argument")
        entry = self.node.store.get(raw_id)
        if entry is None:
            raise NotFound(f"no entry {entry_id} here")
        return json_response(entry.to_json())

    async def forks(self, request: web.Request) -> web.Response:
        """GET /forks: every equivocation proof held."""
        return json_response({"forks": [p.to_json() for p in self.node.store.forks()]})

    async def dashboard(self, request: web.Request) -> web.Response:
        """GET /: the dashboard (one static page reading the JSON routes)."""
        return web.Response(text=_DASHBOARD, content_type="text/html")

    async def openapi(self, request: web.Request) -> web.Response:
        """GET /openapi.yaml: the API's description."""
        return web.Response(text=_OPENAPI, content_type="application/yaml")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET /events: server-sent events, one `entry` per new entry and one `fork` per
        new equivocation, as the store takes them in (`?after=` resumes from a cursor)."""
        after = _query_int(request.query, "after", -1, -1, 2**62)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        store = self.node.store
        if after < 0:  # from now on
            after = store.last_cursor()
        forks = len(store.forked_authors())
        idle = 0.0
        while self.node.running and not self.stopping:
            rows = store.page(after=after, limit=500)
            for entry, cursor in rows:
                data = json.dumps({"id": entry.id_hex, "author": entry.author_hex, "seq": entry.seq,
                                   "kind": entry.kind, "ts": entry.ts}, separators=(",", ":"))
                await resp.write(f"id: {cursor}\nevent: entry\ndata: {data}\n\n".encode())
                after = cursor
            if len(store.forked_authors()) != forks:
                for proof in store.forks()[forks:]:
                    data = json.dumps({k: v for k, v in proof.to_json().items() if k != "proof"})
                    await resp.write(f"event: fork\ndata: {data}\n\n".encode())
                forks = len(store.forked_authors())
            if rows:
                idle = 0.0
                continue
            await asyncio.sleep(EVENTS_POLL_S)
            idle += EVENTS_POLL_S
            if idle >= EVENTS_KEEPALIVE_S:  # a comment line keeps proxies from closing it
                await resp.write(b": keep-alive\n\n")
                idle = 0.0
        return resp

    async def metrics(self, request: web.Request) -> web.Response:
        """GET /metrics in the Prometheus text format."""
        status = self.node.status()
        stats = self.node.peers_json().get("gossip", {})
        lines = [
            "# HELP trustnet_entries Entries held.", "# TYPE trustnet_entries gauge",
            f"trustnet_entries {status['entries']}",
            "# HELP trustnet_authors Authors held.", "# TYPE trustnet_authors gauge",
            f"trustnet_authors {status['authors']}",
            "# HELP trustnet_peers Usable peers.", "# TYPE trustnet_peers gauge",
            f"trustnet_peers {status['peers']}",
            "# HELP trustnet_forks Equivocations proven.", "# TYPE trustnet_forks gauge",
            f"trustnet_forks {status['forks']}",
            "# HELP trustnet_own_seq Highest seq of this node's own log.",
            "# TYPE trustnet_own_seq gauge",
            f"trustnet_own_seq {status['own_seq']}",
        ]
        for key, value in sorted(stats.items()):
            if isinstance(value, int | float):
                metric = "trustnet_gossip_" + "".join(c if c.isalnum() else "_" for c in key)
                lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    def collection(self, name: str, view: JsonView) -> Handler:
        """A GET handler for a contributed collection view."""

        async def handler(request: web.Request) -> web.Response:
            return json_response(view(request.query))

        return handler

    def party_view(self, name: str, view: PartyView) -> Handler:
        """A GET handler for a contributed per-party view."""

        async def handler(request: web.Request) -> web.Response:
            party = _party_param(request.match_info["party"])
            return json_response(view(party, request.query))

        return handler

    # -- admin writes --------------------------------------------------------------------

    async def publish(self, request: web.Request) -> web.Response:
        """POST /entries {"kind", "body", "ts"?} -> 201 {"id", "seq"} (ts: backdate, for replays)."""
        self._authorize(request)
        data = await self._json_body(request)
        kind, body, ts = data.get("kind"), data.get("body"), data.get("ts")
        if not isinstance(kind, str) or not isinstance(body, dict):
            raise EntryError('expected {"kind": str, "body": object}', code="bad_request")
        if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
            raise EntryError("ts, when given, is an integer of ms", code="bad_timestamp")
        entry = await self.node.publish(kind, body, ts)
        log.info("published %s seq %d (%s)", kind, entry.seq, entry.id_hex[:12])
        return json_response({"id": entry.id_hex, "seq": entry.seq}, status=201)

    async def add_peer(self, request: web.Request) -> web.Response:
        """POST /peers {"url"}."""
        self._authorize(request)
        data = await self._json_body(request)
        url = check_url(data.get("url"), "url")
        added = self.node.add_peer(url)
        return json_response({"url": url, "added": added}, status=201 if added else 200)


# A typed application key: string keys warn in aiohttp >= 3.9 (NotAppKeyWarning).
API_KEY = web.AppKey("api", Api)


def build_app(node: Node, *, name: str, token: str, views: ApiViews | None = None,
              extra_routes: list[web.RouteDef] | None = None) -> web.Application:
    """The node's aiohttp application."""
    api = Api(node, name=name, token=token, views=views)
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_JSON_BYTES)
    app[API_KEY] = api
    routes = [
        web.get("/", api.dashboard),
        web.get("/status", api.status),
        web.get("/peers", api.peers),
        web.post("/peers", api.add_peer),
        web.get("/parties", api.parties),
        web.get("/entries", api.entries),
        web.post("/entries", api.publish),
        web.get("/entries/{id}", api.entry),
        web.get("/forks", api.forks),
        web.get("/metrics", api.metrics),
        web.get("/events", api.events),
        web.get("/openapi.yaml", api.openapi),
        gossip_route(lambda: node if node.running else None),
    ]
    for view_name, view in api.views.collections.items():
        routes.append(web.get(f"/{view_name}", api.collection(view_name, view)))
    for view_name, pview in api.views.parties.items():
        routes.append(web.get(f"/{view_name}/{{party}}", api.party_view(view_name, pview)))
    routes += extra_routes or []
    app.add_routes(routes)
    return app
