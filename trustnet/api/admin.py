"""The admin writes (they need the admin token): POST /entries (publish), /keys/rotate,
/peers (add one) and /partition (a testbed fault), and the bounded JSON body they read."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from trustnet.api.access import API_KEY, ApiBase
from trustnet.api.responses import json_response
from trustnet.config.loader import check_url
from trustnet.errors import ConfigError, EntryError, IdentityError, TrustnetError
from trustnet.identity import Identity, is_party_id
from trustnet.transport.http import read_bounded

log = logging.getLogger("trustnet.api")

MAX_JSON_BYTES = 256 * 1024


class AdminWrites(ApiBase):
    """POST routes that change the node: each needs `Authorization: Bearer <admin.token>`."""

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
