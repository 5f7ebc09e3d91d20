"""The API's JSON: responses, the one error shape and the status of each error code, and
the query arguments every route reads the same way (integers, party ids, pages)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from trustnet.errors import ConfigError
from trustnet.identity import is_party_id

RETRY_AFTER_S = 5  # what a 503 tells a client to wait before asking again
MAX_PAGE = 1000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

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
    "analysis_pending": 503,  # the node's first analysis is being computed (analysis.live)
    "unavailable": 503,
    "request_timeout": 408,
    "forked": 409,
    "internal": 500,
}


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


def query_int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """The integer query argument `name` (`default` when absent), refused (400) outside lo..hi."""
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


def party_param(value: str, name: str = "party") -> str:
    """A party id from the request, refused (400) unless it is one."""
    if not is_party_id(value):
        raise ConfigError(f"{name} {value!r} is not a party id (64 lowercase hex)", code="bad_argument")
    return value


def page_args(query: Mapping[str, str]) -> tuple[int, int]:
    """The page `?offset=&limit=` asks for: (offset, limit), at most MAX_PAGE items."""
    limit = query_int(query, "limit", MAX_PAGE, 1, MAX_PAGE)
    offset = query_int(query, "offset", 0, 0, 2**62)
    return offset, limit


def paginate(data: dict[str, Any], key: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Cut `data[key]` to the page `?offset=&limit=` asks for; `next` is the next offset or null."""
    items = data[key]
    offset, limit = page_args(query)
    data[key] = items[offset:offset + limit]
    data["total"] = len(items)
    data["next"] = offset + limit if offset + limit < len(items) else None
    return data
