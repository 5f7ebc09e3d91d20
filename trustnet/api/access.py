"""Who may ask the API what, and how often: the admin token (401, and 403 when it comes in
the clear), the client's address behind trusted proxies, and per-client rate buckets (429).

ApiBase holds what every route family shares (the node, its settings, its event hub) and
these checks; the application carries it under API_KEY for the middleware.
"""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web

from trustnet.api.events import EventHub
from trustnet.api.settings import HttpSettings
from trustnet.api.views import ApiViews
from trustnet.errors import TrustnetError
from trustnet.node.core import Node
from trustnet.transport.proxies import Client, TrustedProxies

log = logging.getLogger("trustnet.api")

MAX_CLIENTS = 10_000  # rate-limit buckets kept; the oldest is forgotten beyond


class ApiBase:
    """One node's API: its state and the access checks every route family uses."""

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


# A typed application key: string keys warn in aiohttp >= 3.9 (NotAppKeyWarning).
API_KEY = web.AppKey("api", ApiBase)
