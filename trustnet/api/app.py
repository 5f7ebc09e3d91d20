"""The node's HTTP API: one aiohttp application serving inspection, admin writes and gossip.

JSON everywhere except `/gossip/` (msgpack); every error is
`{"error": {"code", "message"}}` with a fitting status. Writes need
`Authorization: Bearer <admin.token>`. Views that come from other layers
(beliefs, suspicion) are registered by the daemon through `ApiViews`.

This module assembles the parts: `inspection` (GET routes over the node's state),
`admin` (the token-guarded writes), `contributed` (the ApiViews routes), `dashboard`
(the page and the API description), `events` (GET /events), `middleware` (errors,
rate limits, the read token, CORS) over `access` (the shared state and its checks),
`responses` (the JSON and error shapes), `settings` ([http]); the gossip route is
trustnet.transport.http's.
"""

from __future__ import annotations

from aiohttp import web

from trustnet.api import dashboard
from trustnet.api.access import API_KEY
from trustnet.api.admin import MAX_JSON_BYTES, AdminWrites
from trustnet.api.contributed import ContributedViews
from trustnet.api.inspection import Inspection
from trustnet.api.middleware import access_middleware, errors_middleware
from trustnet.api.settings import HttpSettings
from trustnet.api.views import ApiViews
from trustnet.node.core import Node
from trustnet.transport.http import gossip_route


class Api(Inspection, AdminWrites, ContributedViews):
    """Route handlers over one node: the inspection routes, the admin writes and the
    contributed views, over one shared state and its access checks (trustnet.api.access)."""


def build_app(node: Node, *, name: str, token: str, views: ApiViews | None = None,
              http: HttpSettings | None = None) -> web.Application:
    """The node's aiohttp application."""
    api = Api(node, name=name, token=token, views=views, http=http)
    app = web.Application(middlewares=[errors_middleware, access_middleware],
                          client_max_size=MAX_JSON_BYTES)
    app[API_KEY] = api
    routes = [
        web.get("/", dashboard.dashboard),
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
        web.get("/openapi.yaml", dashboard.openapi),
        gossip_route(lambda: node if node.running else None, api.http.body_timeout_s,
                     address=lambda request: api.client(request).address),
    ]
    for view_name, view in api.views.collections.items():
        routes.append(web.get(f"/{view_name}", api.collection(view_name, view)))
    for view_name, pview in api.views.parties.items():
        routes.append(web.get(f"/{view_name}/{{party}}", api.party_view(view_name, pview)))
    app.add_routes(routes)
    return app
