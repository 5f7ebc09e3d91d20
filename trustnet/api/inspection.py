"""The inspection routes: GET /status, /peers, /parties, /entries, /entries/{id}, /forks,
/metrics and /events, and the JSON of parties, entries and keys they answer with."""

from __future__ import annotations

import inspect
import time
from typing import Any

from aiohttp import web

from trustnet import __version__
from trustnet.api.access import ApiBase
from trustnet.api.responses import (
    MAX_PAGE,
    json_response,
    page_args,
    paginate,
    party_param,
    query_int,
)
from trustnet.errors import ConfigError, NotFound, TrustnetError
from trustnet.log.entry import Entry
from trustnet.log.keys import KeyState
from trustnet.store.authors import page_of_union
from trustnet.store.sqlite import Store


def entry_json(store: Store, entry: Entry) -> dict[str, Any]:
    """An entry as GET /entries shows it: `revoked` when its party disowned it (keys.py)."""
    return {**entry.to_json(), "revoked": store.revoked(entry)}


def keys_json(store: Store, author: bytes) -> list[dict[str, Any]]:
    """The signing keys of a party and the seqs and times each was valid (GET /parties)."""
    state = store.key_state(author)
    if state is None:
        return [KeyState.inception(author).periods[0].to_json()]
    return state.to_json()


def _unheld_forked(store: Store) -> list[bytes]:
    """Authors known only by a fork proof, none of their chain held, in id order."""
    return sorted(a for a in store.forked_authors() if store.head(a) is None)


def parties_total(store: Store) -> int:
    """How many parties GET /parties lists: authors held and authors known by a fork proof."""
    return store.author_count() + len(_unheld_forked(store))


def parties_of(store: Store, self_id: str, offset: int = 0,
               limit: int | None = None) -> list[dict[str, Any]]:
    """Every author a store holds entries or a fork proof of, with its self-declared profile
    (GET /parties), in id order; `offset`/`limit`: only that page is made (its profiles read,
    its rows built: a page costs the same with 100 authors held or 100,000)."""
    forked = store.forked_authors()
    # A proof of equivocation may arrive before (or instead of) any of the author's entries:
    # the author is known here, as forked, with nothing of its chain held.
    held = store.authors_sorted()  # byte order is the order of the hex ids
    extra = _unheld_forked(store)
    page = page_of_union(held, extra, offset, len(held) + len(extra) if limit is None else limit)
    profiles = store.profiles_of(page)
    out: list[dict[str, Any]] = []
    for author in page:
        pid = author.hex()
        head = store.head(author)
        if head is None:
            out.append({"party": pid, "name": None, "role": None, "urls": [], "seq": 0,
                        "head": None, "forked": True, "self": False,
                        "keys": keys_json(store, author)})
            continue
        prof = profiles.get(author)
        out.append({
            "party": pid,
            "name": prof.name if prof else None,
            "role": prof.role if prof else None,
            "urls": prof.urls if prof else [],
            "seq": head.seq,
            "head": head.id.hex(),
            "forked": author in forked,
            "self": pid == self_id,
            "keys": keys_json(store, author),
        })
    return out


class Inspection(ApiBase):
    """GET routes over the node's own state: status, peers, parties, entries, forks, news."""

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
        offset, limit = page_args(q)
        store = self.node.store
        total = parties_total(store)
        out = parties_of(store, self.node.node_id, offset, limit)
        return json_response({"parties": out, "total": total,
                              "next": offset + limit if offset + limit < total else None})

    async def entries(self, request: web.Request) -> web.Response:
        """GET /entries?author=&kind=&after=&limit=."""
        q = request.query
        author = q.get("author") or None
        if author is not None:
            party_param(author, "author")
        limit = query_int(q, "limit", 100, 1, MAX_PAGE)
        after = query_int(q, "after", 0, 0, 2**62)
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
            extra = self.views.entry(entry.id_hex)
            data.update(await extra if inspect.isawaitable(extra) else extra)
        return json_response(data)

    async def forks(self, request: web.Request) -> web.Response:
        """GET /forks: every equivocation proof held (`disowned`: by a recovery rotation)."""
        forks = [{**p.to_json(), "disowned": disowned} for p, disowned in self.node.store.all_forks()]
        return json_response(paginate({"forks": forks}, "forks", request.query))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET /events: server-sent events — `entry` per new entry (`id:` is its cursor;
        `?after=` or Last-Event-ID resumes from one), `fork` per new equivocation, `belief`
        and `suspicion` when a party's figures change."""
        header = request.headers.get("Last-Event-ID")
        name, resume = ("Last-Event-ID", header) if header else ("after", request.query.get("after", ""))
        after = query_int({name: resume}, name, -1, -1, 2**62)  # a 400 names what was wrong
        # The operator's own stream (the admin token) is never refused: strangers holding
        # every stream must not blind the dashboard.
        if self.hub.subscribers >= self.http.max_event_streams and not self.has_token(request):
            raise TrustnetError(f"{self.hub.subscribers} event streams are open, the most this "
                                "node serves ([http] max_event_streams); try again later",
                                code="too_many_streams")
        return await self.hub.stream(request, after)

    async def metrics(self, request: web.Request) -> web.Response:
        """GET /metrics in the Prometheus text format, from this node's own registry."""
        if self.views.ready is not None:  # the gauges read the analysis' published view
            await self.views.ready()
        body, content_type = self.node.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})
