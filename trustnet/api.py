"""The node's HTTP API: one aiohttp application serving inspection, admin writes and gossip.

JSON everywhere except `/gossip/` (msgpack); every error is
`{"error": {"code", "message"}}` with a fitting status. Writes need
`Authorization: Bearer <admin.token>`. Views that come from other layers
(beliefs, suspicion) are registered by the daemon through `ApiViews`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, ClassVar

from aiohttp import web

from trustnet import __version__
from trustnet.config import check_url, load_table
from trustnet.errors import ConfigError, EntryError, IdentityError, NotFound, TrustnetError
from trustnet.identity import Identity, is_party_id
from trustnet.keys import KeyState
from trustnet.log import Entry
from trustnet.node import Node, NodeEvent
from trustnet.store import Store
from trustnet.transport.http import gossip_route, read_bounded
from trustnet.transport.proxies import Client, TrustedProxies

log = logging.getLogger("trustnet.api")
_STATIC = resources.files("trustnet") / "static"
_DASHBOARD = (_STATIC / "dashboard.html").read_text(encoding="utf-8")
_OPENAPI = (_STATIC / "openapi.yaml").read_text(encoding="utf-8")


def _inline_hashes(html: str, tag: str) -> str:
    """CSP source expressions ('sha256-...') of the page's inline <script> or <style> blocks."""
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL))


# The dashboard's Content-Security-Policy: its one inline script and style block by hash,
# nothing from elsewhere, requests to this node only. Were a statement's text ever to slip
# past the page's escaping, no script it injected would run. Style attributes stay allowed
# (bars and swatches take their width and colour from the figures); they cannot run code.
DASHBOARD_CSP = "; ".join((
    "default-src 'none'",
    f"script-src {_inline_hashes(_DASHBOARD, 'script')}",
    f"style-src {_inline_hashes(_DASHBOARD, 'style')}",
    "style-src-attr 'unsafe-inline'",
    "img-src data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))
EVENTS_MIN_GAP_S = 0.05  # a burst of pushes is read in one go: at most 20 reads a second
# With no news from the node, the store is still read this often: a safety net for writes
# that bypass the node (in-process tools and tests); the node's own news come at once.
EVENTS_FALLBACK_S = 2.0
EVENTS_KEEPALIVE_S = 15.0
VIEWS_IDLE_S = 60.0  # with nothing new, beliefs and suspicion are re-read this often

RETRY_AFTER_S = 5  # what a 503 tells a client to wait before asking again
MAX_JSON_BYTES = 256 * 1024
MAX_PAGE = 1000

# HTTP status of each error code the API can answer with (default 400).
STATUS = {
    "unauthorized": 401,
    "insecure_token": 403,
    "not_found": 404,
    "unknown_party": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "rate_limited": 429,
    "catching_up": 503,
    "too_many_streams": 503,
    "busy": 503,
    "unavailable": 503,
    "request_timeout": 408,
    "forked": 409,
    "internal": 500,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonView = Callable[[Mapping[str, str]], Any]
PartyView = Callable[[str, Mapping[str, str]], Any]


Summary = Callable[[], Mapping[str, Mapping[str, Mapping[str, Any]]]]


@dataclass(slots=True)
class ApiViews:
    """Extra read-only views other layers contribute: name -> (collection view, per-party view).

    `summary`, when given, returns per party its headline `belief` and `suspicion` figures;
    `/events` tells subscribers when they change.
    """

    collections: dict[str, JsonView] = field(default_factory=dict)
    parties: dict[str, PartyView] = field(default_factory=dict)
    summary: Summary | None = None
    # Fields added to GET /status (e.g. the analysis' replay mode).
    status: Callable[[], Mapping[str, Any]] | None = None
    # Whether an entry received at a time is backdated (`ts` lags its receipt too far).
    backdated: Callable[[int, int], bool] | None = None
    # (route, query) -> whether that read is heavy: charged `[http] heavy_read_cost`. A view
    # may answer with an awaitable (computed elsewhere) rather than the data itself.
    is_heavy: Callable[[str, Mapping[str, str]], bool] | None = None
    # Fields added to GET /entries/{id} (who attested it, its standing: trustnet.desk).
    entry: Callable[[str], Mapping[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The `[http]` table of node.toml: who may read, from where, how fast."""

    BOUNDS: ClassVar[dict[str, str]] = {
        "rate_per_s": ">= 0", "rate_burst": ">= 1", "events_views_interval_s": "> 0",
        "header_timeout_s": "> 0", "keepalive_timeout_s": "> 0", "body_timeout_s": "> 0",
        "analysis_budget_s": "> 0", "heavy_read_cost": ">= 1", "max_connections": ">= 1",
        "max_connections_per_address": ">= 1", "max_event_streams": ">= 1",
    }

    # Reads (every GET but the dashboard page and the API description) need the admin token
    # too: for a node listening beyond loopback whose views are not for everyone.
    read_token: bool = False
    # Origins a browser may read this node's JSON from (CORS); empty: none, "*": any.
    cors_origins: tuple[str, ...] = ()
    # Inspection and admin requests per second from one client address (0: unlimited), and
    # the burst allowed above it. Gossip has its own per-peer limits ([gossip]).
    rate_per_s: float = 50.0
    rate_burst: int = 200
    # Seconds between two recomputations of beliefs and suspicion for /events subscribers.
    events_views_interval_s: float = 1.0
    # A new connection must send a whole request head within this many seconds, or it is
    # closed; a kept-alive connection idle (or holding half a request) this long between
    # requests is closed too. A request body must arrive within body_timeout_s.
    header_timeout_s: float = 10.0
    keepalive_timeout_s: float = 30.0
    body_timeout_s: float = 30.0
    # Open connections in all (lowered to fit the process's open-file limit) and from one
    # client address (loopback included: a local testbed's nodes and dashboards share it).
    max_connections: int = 1024
    max_connections_per_address: int = 256
    # /events subscribers at once; beyond, 503 `too_many_streams`.
    max_event_streams: int = 64
    # Seconds a heavy read (a series, a view `?at=` a past moment) may take before the
    # client is answered 503 `busy` (the work goes on off the event loop and its answer is
    # kept for the same request); requests a heavy read costs the client's rate bucket.
    analysis_budget_s: float = 5.0
    heavy_read_cost: int = 10
    # PEM certificate (chain) and private key: the node then listens with TLS (both or neither;
    # paths relative to the node directory). Checked and loaded by trustnet.transport.tls.
    tls_cert: str = ""
    tls_key: str = ""
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are
    # believed (trustnet.transport.proxies).
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rate_per_s < 0 or self.rate_burst < 1 or self.events_views_interval_s <= 0:
            raise ConfigError("[http]: rate_per_s >= 0, rate_burst >= 1, "
                              "events_views_interval_s > 0")
        if min(self.header_timeout_s, self.keepalive_timeout_s, self.body_timeout_s) <= 0:
            raise ConfigError("[http]: header_timeout_s, keepalive_timeout_s and "
                              "body_timeout_s must be > 0")
        if self.analysis_budget_s <= 0 or self.heavy_read_cost < 1:
            raise ConfigError("[http]: analysis_budget_s > 0, heavy_read_cost >= 1")
        if min(self.max_connections, self.max_connections_per_address, self.max_event_streams) < 1:
            raise ConfigError("[http]: max_connections, max_connections_per_address and "
                              "max_event_streams must be >= 1")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("[http]: tls_cert and tls_key go together (the certificate and its "
                              "private key)", code="tls_incomplete")
        TrustedProxies.parse(self.trusted_proxies)
        for origin in self.cors_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ConfigError(f"[http]: cors_origins: {origin!r} is not '*' or an origin "
                                  "such as https://example.org")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> HttpSettings:
        """The `[http]` table of node.toml as this record (trustnet.config.load_table)."""
        return load_table(cls, values, "http")


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


def _count_error(request: web.Request, code: str) -> None:
    """API errors by code, for GET /metrics (`trustnet_rejected_inputs_total{source="api"}`)."""
    api = request.app.get(API_KEY)
    if api is not None:
        api.node.metrics.rejected("api", code)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into the API's error shape; never a stack trace to the client."""
    try:
        return await handler(request)
    except TrustnetError as exc:
        _count_error(request, exc.code)
        resp = error_response(exc.code, exc.message)
        if resp.status == 401:  # RFC 9110 11.6.1, RFC 6750 3: a 401 names the scheme to use
            resp.headers["WWW-Authenticate"] = 'Bearer realm="trustnet"'
        elif resp.status == 503:  # RFC 9110 10.2.3: when to ask again
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        _count_error(request, code)
        allow = exc.headers.get("Allow")
        message = exc.reason
        if exc.status == 404:
            message = f"no route {request.method} {request.path[:200]} (see GET /openapi.yaml)"
        elif exc.status == 405:
            message = f"{request.method} is not allowed on {request.path[:200]} (allowed: {allow})"
        resp = error_response(code, message, exc.status)
        if allow is not None:  # RFC 9110 15.5.6: a 405 lists the methods the route takes
            resp.headers["Allow"] = allow
        return resp
    except Exception as exc:
        _count_error(request, "internal")
        api = request.app.get(API_KEY)
        if api is not None:  # counted, kept as one line of text, logged with its traceback
            api.node.crashed(exc, "api", f"{request.method} {request.path[:200]}")
        else:
            log.exception("internal error on %s %s", request.method, request.path)
        return error_response("internal", "internal error (see the node's log)")


# Routes anyone may read even when `[http] read_token` is on: the page and the API's
# description hold no data (the page asks for the token and sends it with its requests).
PUBLIC_PATHS = frozenset({"/", "/openapi.yaml"})
GOSSIP_PATH = "/gossip/"  # authenticated and rate-limited per peer by the node itself
MAX_CLIENTS = 10_000  # rate-limit buckets kept; the oldest is forgotten beyond


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-client rate limit, the read token when configured, and CORS when configured."""
    if request.path.startswith(GOSSIP_PATH):
        return await handler(request)
    api = request.app[API_KEY]
    settings = api.http
    client = api.client(request)
    origin = request.headers.get("Origin")
    allowed = origin is not None and ("*" in settings.cors_origins or origin in settings.cors_origins)
    if request.method == "OPTIONS" and allowed:  # a CORS preflight (reads only)
        resp: web.StreamResponse = web.Response(status=204)
    else:
        trusted_path = client.secure or client.loopback
        # The operator is never throttled by whoever shares its address (loopback, a proxy,
        # a NAT): a request with the admin token on a path it may take is not charged; a wrong
        # token, or the token refused in the clear, is.
        if not (trusted_path and api.has_token(request)):
            api.charge(client.address)
        if not trusted_path and carries_token(request):
            api.refuse_insecure(request, client)
        if settings.read_token and request.method == "GET" and request.path not in PUBLIC_PATHS:
            api.authorize(request)
        resp = await handler(request)
    if allowed and not resp.prepared:
        resp.headers["Access-Control-Allow-Origin"] = "*" if "*" in settings.cors_origins else origin or ""
        resp.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Authorization"
        resp.headers["Vary"] = "Origin"
    return resp


def carries_token(request: web.Request) -> bool:
    """True when a request carries a bearer token, right or wrong (header or `access_token`)."""
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    return scheme.lower() == "bearer" or "access_token" in request.query


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


def sse(event: str, data: Mapping[str, Any], event_id: int | None = None) -> bytes:
    """One server-sent event, framed."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


class EventHub:
    """The node's news for `/events`: one reader, however many subscribers.

    The node tells the hub when it takes in new entries or forks (`Node.subscribe`); the
    hub then reads them from the store after its cursor (so every `entry` event carries
    its store cursor, and a burst is read in one go, at most every `EVENTS_MIN_GAP_S`).
    Without news the store is read only every `EVENTS_FALLBACK_S` (writes that bypass
    the node), not every 0.25 s as the poller did. Beliefs and suspicion are recomputed at most
    every `views_interval_s` after something arrived, or when a minute passed (suspicion
    moves with time too), and only the parties whose figures changed are told. A
    subscriber that cannot keep up is dropped rather than buffered without bound.
    """

    QUEUE = 2000

    def __init__(self, node: Node, views: ApiViews, views_interval_s: float) -> None:
        self.node = node
        self.views = views
        self.views_interval_s = views_interval_s
        self.cursor = -1
        self.closed = False
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._forks = 0
        self._summary: dict[str, dict[str, Any]] = {}
        self._views_at = 0.0
        self._dirty = True
        self._wake = asyncio.Event()  # set by the node's news, or when a stream leaves

    def _on_news(self, event: NodeEvent) -> None:
        self._wake.set()

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A new subscriber's queue (None in it: the stream ends)."""
        if self._task is None or self._task.done():
            self.node.subscribe(self._on_news)
            store = self.node.store
            self.cursor = store.last_cursor()
            self._forks = len(store.forked_authors())
            self._summary = self._summarize()
            self._views_at = time.monotonic()
            self._dirty = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="events")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.QUEUE)
        self._queues.add(queue)
        return queue

    @property
    def subscribers(self) -> int:
        """Streams open now."""
        return len(self._queues)

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        """Forget a subscriber; the reader stops with the last one."""
        self._queues.discard(queue)
        if not self._queues:
            self._wake.set()

    async def close(self) -> None:
        """End every stream (the node is stopping)."""
        self.closed = True
        for queue in list(self._queues):
            self._drop(queue)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _drop(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)
        while True:  # make room for the end marker
            try:
                queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                queue.get_nowait()

    def _send(self, message: bytes) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("an /events subscriber fell %d events behind; dropped", self.QUEUE)
                self._drop(queue)

    async def _run(self) -> None:
        try:
            while self._queues and not self.closed and self.node.running:
                self._wake.clear()
                try:
                    self.poll()
                except Exception:  # a failing view must not end everyone's stream
                    log.exception("/events: computing news failed")
                # Until the node has news, or beliefs and suspicion are due.
                idle = self.views_interval_s if self._dirty else VIEWS_IDLE_S
                due_in = max(0.0, self._views_at + idle - time.monotonic())
                wait = min(max(due_in, EVENTS_MIN_GAP_S), EVENTS_FALLBACK_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                await asyncio.sleep(EVENTS_MIN_GAP_S)
        finally:
            self.node.unsubscribe(self._on_news)

    def poll(self) -> None:
        """Send what happened since the last poll."""
        store = self.node.store
        while True:
            rows = store.page(after=self.cursor, limit=500)
            for entry, cursor in rows:
                self._send(sse("entry", entry_event(entry), cursor))
                self.cursor = cursor
                self._dirty = True
            if len(rows) < 500:
                break
        forked = len(store.forked_authors())
        if forked != self._forks:
            for proof in store.forks()[self._forks:]:
                self._send(sse("fork", {k: v for k, v in proof.to_json().items() if k != "proof"}))
            self._forks = forked
            self._dirty = True
        now = time.monotonic()
        due = now - self._views_at >= (self.views_interval_s if self._dirty else VIEWS_IDLE_S)
        if self.views.summary is not None and due:
            self._views_at, self._dirty = now, False
            summary = self._summarize()
            for party, figures in summary.items():
                before = self._summary.get(party, {})
                for kind in ("belief", "suspicion"):
                    if kind in figures and figures[kind] != before.get(kind):
                        self._send(sse(kind, figures[kind]))
            self._summary = summary

    def _summarize(self) -> dict[str, dict[str, Any]]:
        if self.views.summary is None:
            return {}
        return {party: dict(figures) for party, figures in self.views.summary().items()}


def entry_event(entry: Any) -> dict[str, Any]:
    """The `entry` event's data: what a subscriber needs to decide whether to fetch it."""
    return {"id": entry.id_hex, "author": entry.author_hex, "seq": entry.seq,
            "kind": entry.kind, "ts": entry.ts}


def entry_json(store: Store, entry: Entry) -> dict[str, Any]:
    """An entry as GET /entries shows it: `revoked` when its party disowned it (keys.py)."""
    return {**entry.to_json(), "revoked": store.revoked(entry)}


def keys_json(store: Store, author: bytes) -> list[dict[str, Any]]:
    """The signing keys of a party and the seqs and times each was valid (GET /parties)."""
    state = store.key_state(author)
    if state is None:
        return [KeyState.inception(author).periods[0].to_json()]
    return state.to_json()


def parties_of(store: Store, self_id: str, offset: int = 0,
               limit: int | None = None) -> list[dict[str, Any]]:
    """Every author a store holds entries or a fork proof of, with its self-declared profile
    (GET /parties), in id order; `offset`/`limit`: only that page is made."""
    heads = store.heads()
    forked = store.forked_authors()
    # A proof of equivocation may arrive before (or instead of) any of the author's entries:
    # the author is known here, as forked, with nothing of its chain held.
    authors = sorted(heads.keys() | forked)  # byte order is the order of the hex ids
    page = authors[offset:] if limit is None else authors[offset:offset + limit]
    profiles = store.profiles()
    out: list[dict[str, Any]] = []
    for author in page:
        pid = author.hex()
        head = heads.get(author)
        if head is None:
            out.append({"party": pid, "name": None, "role": None, "urls": [], "seq": 0,
                        "head": None, "forked": True, "self": False,
                        "keys": keys_json(store, author)})
            continue
        prof = profiles.get(pid)
        out.append({
            "party": pid,
            "name": prof.name if prof else None,
            "role": prof.role if prof else None,
            "urls": prof.urls if prof else [],
            "seq": head[0],
            "head": head[1].hex(),
            "forked": author in forked,
            "self": pid == self_id,
            "keys": keys_json(store, author),
        })
    return out


def paginate(data: dict[str, Any], key: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Cut `data[key]` to the page `?offset=&limit=` asks for; `next` is the next offset or null."""
    items = data[key]
    limit = _query_int(query, "limit", MAX_PAGE, 1, MAX_PAGE)
    offset = _query_int(query, "offset", 0, 0, 2**62)
    data[key] = items[offset:offset + limit]
    data["total"] = len(items)
    data["next"] = offset + limit if offset + limit < len(items) else None
    return data


class Api:
    """Route handlers over one node."""

    def __init__(self, node: Node, *, name: str, token: str, views: ApiViews | None = None,
                 started: float | None = None, http: HttpSettings | None = None) -> None:
        self.node = node
        self.name = name
        self._token = token.encode()
        self.views = views or ApiViews()
        self.http = http or HttpSettings()
        self.started = time.monotonic() if started is None else started
        self.hub = EventHub(node, self.views, self.http.events_views_interval_s)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self.proxies = TrustedProxies.parse(self.http.trusted_proxies)

    def client(self, request: web.Request) -> Client:
        """The request's client address and whether its hop was TLS ([http] trusted_proxies)."""
        return self.proxies.client(request.remote or "", request.secure,
                                   request.headers.getall("X-Forwarded-For", ()),
                                   request.headers.getall("X-Forwarded-Proto", ()))

    def refuse_insecure(self, request: web.Request, client: Client) -> None:
        """403 `insecure_token`: the admin token came over plain HTTP from beyond loopback."""
        try:
            self.authorize(request)
        except TrustnetError:
            pass
        else:  # the real token crossed a network in the clear: the operator must know
            log.warning("the admin token arrived over plain HTTP from %s and was refused; treat it "
                        "as disclosed and replace admin.token (README: Exposing a node)",
                        client.address)
        raise TrustnetError(
            "the admin token must not cross the network in the clear: use https:// (or a "
            "TLS proxy listed in [http] trusted_proxies that sends X-Forwarded-Proto: https), "
            "or send it from this machine", code="insecure_token")

    # -- helpers -------------------------------------------------------------------------

    def authorize(self, request: web.Request) -> None:
        """Refuse (401) a request without the admin token (header, or `access_token` for reads)."""
        if not self.has_token(request):
            raise TrustnetError("this needs Authorization: Bearer <admin.token>", code="unauthorized")

    def has_token(self, request: web.Request) -> bool:
        """True when the request carries the admin token (header, or `access_token` for reads)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            # RFC 6750 2.3: EventSource cannot set headers, so reads may carry it in the query.
            token = request.query.get("access_token", "") if request.method == "GET" else ""
        return bool(token) and hmac.compare_digest(token.strip().encode(), self._token)

    def charge(self, client: str, cost: float = 1.0) -> None:
        """Take `cost` tokens from the client's bucket; 429 when it holds fewer
        (`[http] rate_per_s`)."""
        rate, burst = self.http.rate_per_s, float(self.http.rate_burst)
        if rate <= 0:
            return
        now = time.monotonic()
        tokens, at = self._buckets.pop(client, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if len(self._buckets) >= MAX_CLIENTS:
            self._buckets.pop(next(iter(self._buckets)))
        if tokens < cost:
            self._buckets[client] = (tokens, now)
            raise TrustnetError(f"over {rate:g} requests per second from {client or 'this client'}"
                                f"{f' (this read costs {cost:g})' if cost > 1 else ''}; slow down",
                                code="rate_limited")
        self._buckets[client] = (tokens - cost, now)

    @staticmethod
    async def _json_body(request: web.Request) -> dict[str, Any]:
        length = request.content_length
        timeout = request.app[API_KEY].http.body_timeout_s
        raw = b"" if length is not None and length > MAX_JSON_BYTES else (
            await read_bounded(request.content, MAX_JSON_BYTES, timeout))
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
        if self.views.status is not None:
            data.update(self.views.status())
        data.pop("uptime_ms", None)
        return json_response(data)

    async def peers(self, request: web.Request) -> web.Response:
        """GET /peers: every peer, its score, state and the reasons for it (the reasons, last
        errors and refused URLs only with the admin token: without it they would make the
        node a port-scan oracle for the URLs strangers hand it)."""
        view = self.node.peers_json(detail=self.has_token(request))
        return json_response(paginate(view, "peers", request.query))

    async def parties(self, request: web.Request) -> web.Response:
        """GET /parties: every author held, with its self-declared profile."""
        # Only the page asked for is made (a node may hold a great many authors).
        q = request.query
        limit = _query_int(q, "limit", MAX_PAGE, 1, MAX_PAGE)
        offset = _query_int(q, "offset", 0, 0, 2**62)
        store = self.node.store
        total = len(store.heads().keys() | store.forked_authors())
        out = parties_of(store, self.node.node_id, offset, limit)
        return json_response({"parties": out, "total": total,
                              "next": offset + limit if offset + limit < total else None})

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
            "entries": self._timed([e for e, _ in rows]),
            "next": rows[-1][1] if len(rows) == limit else None,
        })

    def _timed(self, entries: list[Entry]) -> list[dict[str, Any]]:
        """Entries as JSON, each with when this node received it and whether its `ts` is
        backdated (DESIGN 12: deadlines are judged by receipt)."""
        received = self.node.store.received_of([e.id for e in entries])
        receipts = self.node.receipts.brief([e.id for e in entries])
        out = []
        for e in entries:
            data = {**entry_json(self.node.store, e), **receipts[e.id]}
            got = received.get(e.id)
            if got is not None:
                data["received"] = got
                check = self.views.backdated
                data["backdated"] = bool(check(e.ts, got)) if check is not None else False
            out.append(data)
        return out

    async def entry(self, request: web.Request) -> web.Response:
        """GET /entries/{id}."""
        entry_id = request.match_info["id"]
        try:
            raw_id = bytes.fromhex(entry_id)
        except ValueError:
            raw_id = b""
        if len(raw_id) != 32:
            raise ConfigError(f"id {entry_id[:80]!r} is not an entry id (64 hex)", code="bad_argument")
        entry = self.node.store.get(raw_id)
        if entry is None:
            raise NotFound(f"no entry {entry_id} here")
        data = {**self._timed([entry])[0], **self.node.receipts.entry_json(entry)}
        if self.views.entry is not None:
            data.update(self.views.entry(entry.id_hex))
        return json_response(data)

    async def forks(self, request: web.Request) -> web.Response:
        """GET /forks: every equivocation proof held (`disowned`: by a recovery rotation)."""
        forks = [{**p.to_json(), "disowned": disowned} for p, disowned in self.node.store.all_forks()]
        return json_response(paginate({"forks": forks}, "forks", request.query))

    async def dashboard(self, request: web.Request) -> web.Response:
        """GET /: the dashboard (one static page reading the JSON routes)."""
        resp = web.Response(text=_DASHBOARD, content_type="text/html")
        resp.headers["Content-Security-Policy"] = DASHBOARD_CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    async def openapi(self, request: web.Request) -> web.Response:
        """GET /openapi.yaml: the API's description."""
        return web.Response(text=_OPENAPI, content_type="application/yaml")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET /events: server-sent events — `entry` per new entry (`id:` is its cursor;
        `?after=` or Last-Event-ID resumes from one), `fork` per new equivocation, `belief`
        and `suspicion` when a party's figures change."""
        header = request.headers.get("Last-Event-ID")
        name, resume = ("Last-Event-ID", header) if header else ("after", request.query.get("after", ""))
        after = _query_int({name: resume}, name, -1, -1, 2**62)  # a 400 names what was wrong
        # The operator's own stream (the admin token) is never refused: strangers holding
        # every stream must not blind the dashboard.
        if self.hub.subscribers >= self.http.max_event_streams and not self.has_token(request):
            raise TrustnetError(f"{self.hub.subscribers} event streams are open, the most this "
                                "node serves ([http] max_event_streams); try again later",
                                code="too_many_streams")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        if self.hub.closed or not self.node.running:
            return resp
        queue = self.hub.subscribe()
        try:
            # Replay what the subscriber missed, up to where the live feed starts.
            upto = self.hub.cursor
            while 0 <= after < upto:
                rows = self.node.store.page(after=after, limit=500)
                rows = [(e, c) for e, c in rows if c <= upto]
                if not rows:
                    break
                for entry, cursor in rows:
                    await resp.write(sse("entry", entry_event(entry), cursor))
                after = rows[-1][1]
            await resp.write(b": stream open\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), EVENTS_KEEPALIVE_S)
                except TimeoutError:  # a comment line keeps proxies from closing it
                    message = b": keep-alive\n\n"
                if message is None:
                    break
                await resp.write(message)
        except ConnectionResetError:  # the subscriber went away
            pass
        finally:
            self.hub.unsubscribe(queue)
        return resp

    async def metrics(self, request: web.Request) -> web.Response:
        """GET /metrics in the Prometheus text format, from this node's own registry."""
        body, content_type = self.node.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    def _charge_heavy(self, request: web.Request, name: str) -> None:
        """A heavy read costs `[http] heavy_read_cost` (the access middleware took 1) from the
        same client bucket (behind trusted proxies: the client they name); the operator's
        requests are not charged."""
        heavy = self.views.is_heavy
        client = self.client(request)
        if (heavy is not None and heavy(name, request.query) and self.http.heavy_read_cost > 1
                and not ((client.secure or client.loopback) and self.has_token(request))):
            self.charge(client.address, self.http.heavy_read_cost - 1)

    def collection(self, name: str, view: JsonView) -> Handler:
        """A GET handler for a contributed collection view."""

        async def handler(request: web.Request) -> web.Response:
            self._charge_heavy(request, name)
            data = view(request.query)
            if inspect.isawaitable(data):
                data = await data
            if isinstance(data, dict) and isinstance(data.get("parties"), list):
                data = paginate(data, "parties", request.query)
            return json_response(data)

        return handler

    def party_view(self, name: str, view: PartyView) -> Handler:
        """A GET handler for a contributed per-party view."""

        async def handler(request: web.Request) -> web.Response:
            party = _party_param(request.match_info["party"])
            self._charge_heavy(request, name)
            data = view(party, request.query)
            if inspect.isawaitable(data):
                data = await data
            return json_response(data)

        return handler

    # -- admin writes --------------------------------------------------------------------

    async def publish(self, request: web.Request) -> web.Response:
        """POST /entries {"kind", "body", "ts"?} -> 201 {"id", "seq"} (ts: backdate, for replays)."""
        self.authorize(request)
        data = await self._json_body(request)
        kind, body, ts = data.get("kind"), data.get("body"), data.get("ts")
        # Every refusal names the field at fault, as the request spells it.
        if not isinstance(kind, str):
            raise EntryError("kind: expected a string (the statement kind)", code="bad_request")
        if not isinstance(body, dict):
            raise EntryError("body: expected an object (the statement)", code="bad_request")
        if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
            raise EntryError("ts: expected an integer (ms since the epoch)", code="bad_timestamp")
        try:
            entry = await self.node.publish(kind, body, ts)
        except EntryError as exc:
            # The rules name a field from the statement's side ("notification.troops");
            # this route's client sent it as "body.troops".
            if exc.code != "bad_body" or not exc.message.startswith(kind + "."):
                raise
            raise EntryError(f"body{exc.message[len(kind):]} ({kind})", code="bad_body") from None
        log.info("published %s seq %d (%s)", kind, entry.seq, entry.id_hex[:12])
        return json_response({"id": entry.id_hex, "seq": entry.seq}, status=201)

    async def rotate_keys(self, request: web.Request) -> web.Response:
        """POST /keys/rotate {"key": seed hex of the committed next key, "next": sha256 hex of
        a fresh next key, "compromised_since"?: ms, "ts"?: ms (backdate, for replays)}
        -> 201 {"id", "seq", "key", "party"}."""
        self.authorize(request)
        data = await self._json_body(request)
        seed, nxt, since, ts = (data.get(k) for k in ("key", "next", "compromised_since", "ts"))
        try:
            revealed = Identity.from_seed(bytes.fromhex(seed) if isinstance(seed, str) else b"")
        except (ValueError, IdentityError):
            raise EntryError("key: expected the next key's 32-byte seed as hex", code="bad_request") from None
        try:
            digest = bytes.fromhex(nxt) if isinstance(nxt, str) else b""
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise EntryError("next: expected the fresh next key's sha256 as 64 hex characters",
                             code="bad_rotation")
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            raise EntryError("compromised_since: expected ms since the epoch", code="bad_rotation")
        if ts is not None and (not isinstance(ts, int) or isinstance(ts, bool)):
            raise EntryError("ts: expected an integer (ms since the epoch)", code="bad_timestamp")
        entry = await self.node.rotate(revealed, digest, since, ts)
        log.warning("rotated keys at seq %d (%s)", entry.seq, entry.id_hex[:12])
        return json_response({"id": entry.id_hex, "seq": entry.seq, "key": revealed.key_id,
                              "party": self.node.node_id}, status=201)

    async def add_peer(self, request: web.Request) -> web.Response:
        """POST /peers {"url"}."""
        self.authorize(request)
        data = await self._json_body(request)
        try:
            url = check_url(data.get("url"), "url")
        except ConfigError as exc:  # a bad request, not a bad node.toml
            raise ConfigError(exc.message, code="bad_argument") from None
        added = self.node.add_peer(url)
        return json_response({"url": url, "added": added}, status=201 if added else 200)

    async def partition(self, request: web.Request) -> web.Response:
        """POST /partition {"peers": [party id or URL]}: cut the node off from them, both ways
        (replaces the set; [] heals). A testbed fault (DESIGN 10)."""
        self.authorize(request)
        peers = (await self._json_body(request)).get("peers")
        if not isinstance(peers, list) or len(peers) > 4096:
            raise ConfigError('expected {"peers": [party id or URL, ...]}', code="bad_argument")
        cut = [p if is_party_id(p) else check_url(p, "peers[]") for p in peers]
        return json_response({"partition": self.node.set_partition(cut)})


# A typed application key: string keys warn in aiohttp >= 3.9 (NotAppKeyWarning).
API_KEY = web.AppKey("api", Api)


def build_app(node: Node, *, name: str, token: str, views: ApiViews | None = None,
              http: HttpSettings | None = None) -> web.Application:
    """The node's aiohttp application."""
    api = Api(node, name=name, token=token, views=views, http=http)
    app = web.Application(middlewares=[errors_middleware, access_middleware],
                          client_max_size=MAX_JSON_BYTES)
    app[API_KEY] = api
    routes = [
        web.get("/", api.dashboard),
        web.get("/status", api.status),
        web.get("/peers", api.peers),
        web.post("/peers", api.add_peer),
        web.post("/partition", api.partition),
        web.get("/parties", api.parties),
        web.get("/entries", api.entries),
        web.post("/entries", api.publish),
        web.get("/entries/{id}", api.entry),
        web.get("/forks", api.forks),
        web.post("/keys/rotate", api.rotate_keys),
        web.get("/metrics", api.metrics),
        web.get("/events", api.events),
        web.get("/openapi.yaml", api.openapi),
        gossip_route(lambda: node if node.running else None, api.http.body_timeout_s,
                     address=lambda request: api.client(request).address),
    ]
    for view_name, view in api.views.collections.items():
        routes.append(web.get(f"/{view_name}", api.collection(view_name, view)))
    for view_name, pview in api.views.parties.items():
        routes.append(web.get(f"/{view_name}/{{party}}", api.party_view(view_name, pview)))
    app.add_routes(routes)
    return app
