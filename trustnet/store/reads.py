"""The store's read side for the analysis, the API and bundles: entries by author or in
arrival order with their cursors, when each was received, profiles, and full scans.

`Store` inherits it; it reads the store's connection and keeps the profile cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trustnet.log.entry import Entry, decode_stored
from trustnet.store.schema import stored as _stored


@dataclass(frozen=True, slots=True)
class Profile:
    """An author's latest self-declared profile (DOMAIN: profile), as the views show it."""

    name: Any
    role: Any
    urls: Any
    order: tuple[int, int, bytes]  # (seq, ts, id) of its entry: the latest wins


class EntryReads:
    """Paged and scanning reads of the `entries` table (the part of `Store` the analysis,
    the API and bundles read through)."""

    _db: sqlite3.Connection
    _when: str  # the SQL for an entry's time: its witnessed time where it has one (Store)
    _profiles: dict[str, Profile]
    _profiles_cursor: int

    def query(
        self,
        *,
        author: bytes | None = None,
        kind: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Entry]:
        """Entries by author (after: a seq) or in arrival order (after: a cursor), by kind."""
        return [e for e, _ in self.page(author=author, kind=kind, after=after, limit=limit)]

    def page(
        self,
        *,
        author: bytes | None = None,
        kind: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[tuple[Entry, int]]:
        """Like `query`, with each entry's cursor (its seq when by author, else its row)."""
        where, args = [], []
        if author is not None:
            where.append("author=? AND seq>?")
            args += [author, after]
            cursor, order = "seq", "seq"
        else:
            where.append("rowid>?")
            args.append(after)
            cursor, order = "rowid", "rowid"
        if kind is not None:
            where.append("kind=?")
            args.append(kind)
        sql = f"SELECT raw, {cursor} FROM entries WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        return [(_stored(raw), c) for raw, c in self._db.execute(sql, (*args, limit))]

    def page_received(self, after: int = 0, limit: int = 100) -> list[tuple[Entry, int, int]]:
        """Entries in arrival order after a cursor, each with its cursor and when this node
        received it (ms; for its own entries, when it signed them) — or its witnessed time
        where it has one (the k-th witness receipt, docs/witnesses.md), which others can check."""
        rows = self._db.execute(
            f"SELECT raw, rowid, id, {self._when} FROM entries WHERE rowid>? ORDER BY rowid "
            "LIMIT ?",
            (after, limit),
        )
        # The analysis follows the store through here: rows it stored, checked on the way in
        # (and their ids, hashed on the way in).
        return [(decode_stored(raw, i), c, int(r)) for raw, c, i, r in rows]

    def received_of(self, ids: Sequence[bytes], *, witnessed: bool = True) -> dict[bytes, int]:
        """When this node received each of these entries (ms), for those it holds; with
        `witnessed`, an entry's witnessed time instead where it has one (docs/witnesses.md)."""
        out: dict[bytes, int] = {}
        when = self._when if witnessed else "received"
        for i in range(0, len(ids), 500):
            part = list(ids[i : i + 500])
            sql = f"SELECT id, {when} FROM entries WHERE id IN ({','.join('?' * len(part))})"
            out.update((bytes(k), int(v)) for k, v in self._db.execute(sql, part))
        return out

    def profiles(self) -> Mapping[str, Profile]:
        """author hex -> its latest profile: read once and followed as profiles arrive (the
        views and /parties would otherwise decode every profile on every request). Not a
        copy: read it, do not keep it across calls that may store entries."""
        while True:
            rows = self.page(kind="profile", after=self._profiles_cursor, limit=5000)
            for entry, cursor in rows:
                order = (entry.seq, entry.ts, entry.id)
                held = self._profiles.get(entry.author_hex)
                if held is None or order > held.order:
                    body = entry.body
                    self._profiles[entry.author_hex] = Profile(
                        body.get("name"), body.get("role"), body.get("urls", []), order)
                self._profiles_cursor = cursor
            if len(rows) < 5000:
                return self._profiles

    def last_cursor(self) -> int:
        """The arrival cursor of the newest entry (0 when empty): `page(after=...)` resumes there."""
        (last,) = self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM entries").fetchone()
        return int(last)

    def iter_all(self, batch: int = 5000) -> Iterator[Entry]:
        """Every entry in arrival order, read in batches (for recomputations)."""
        after = 0
        while True:
            rows = self._db.execute(
                "SELECT raw, rowid FROM entries WHERE rowid>? ORDER BY rowid LIMIT ?", (after, batch)
            ).fetchall()
            if not rows:
                return
            for raw, _ in rows:
                yield _stored(raw)
            after = rows[-1][1]

    def export_raw(self) -> Iterator[bytes]:
        """Every entry's wire bytes, each author's chain in order (for bundles)."""
        for (raw,) in self._db.execute("SELECT raw FROM entries ORDER BY author, seq"):
            yield bytes(raw)

    def kinds(self) -> dict[str, int]:
        """Entry counts by kind."""
        return {k: n for k, n in self._db.execute("SELECT kind, COUNT(*) FROM entries GROUP BY kind")}

    def displaced(self) -> list[Entry]:
        """Entries recovery rotations took off their chains (a stolen key's branch)."""
        rows = self._db.execute("SELECT raw FROM displaced ORDER BY author, seq")
        return [_stored(raw) for (raw,) in rows]
