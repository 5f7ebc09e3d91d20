"""The API's middleware: every failure in the one error shape (errors_middleware), and the
rate limit, read token and CORS in front of every route but gossip (access_middleware)."""

from __future__ import annotations

import logging

from aiohttp import web

from trustnet.api.access import API_KEY
from trustnet.api.responses import RETRY_AFTER_S, Handler, error_response
from trustnet.errors import TrustnetError

log = logging.getLogger("trustnet.api")


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
