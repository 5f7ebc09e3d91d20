"""The two pages that hold no data: GET / (the dashboard, one static page reading the JSON
routes, under a strict Content-Security-Policy) and GET /openapi.yaml (the API's description)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from aiohttp import web

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


async def dashboard(request: web.Request) -> web.Response:
    """GET /: the dashboard (one static page reading the JSON routes)."""
    resp = web.Response(text=_DASHBOARD, content_type="text/html")
    resp.headers["Content-Security-Policy"] = DASHBOARD_CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


async def openapi(request: web.Request) -> web.Response:
    """GET /openapi.yaml: the API's description."""
    return web.Response(text=_OPENAPI, content_type="application/yaml")
