"""The GET routes of views other layers contribute (ApiViews: beliefs, suspicion, the desk's
compliance and calendar, ...): `/{name}` and `/{name}/{party}`, a heavy read charged more."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from aiohttp import web

from trustnet.api.access import ApiBase
from trustnet.api.responses import Handler, json_response, paginate, party_param
from trustnet.api.views import JsonView, PartyView


class ContributedViews(ApiBase):
    """Handlers for the views registered in `ApiViews`."""

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
            # `parties` may be a list or a sequence that makes rows only for the page cut.
            if isinstance(data, dict) and isinstance(data.get("parties"), Sequence):
                data = paginate(data, "parties", request.query)
            return json_response(data)

        return handler

    def party_view(self, name: str, view: PartyView) -> Handler:
        """A GET handler for a contributed per-party view."""

        async def handler(request: web.Request) -> web.Response:
            party = party_param(request.match_info["party"])
            self._charge_heavy(request, name)
            data = view(party, request.query)
            if inspect.isawaitable(data):
                data = await data
            return json_response(data)

        return handler
