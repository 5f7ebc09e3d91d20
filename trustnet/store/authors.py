"""The authors a store holds, in id order, and their profiles one at a time: what paging
`GET /parties` needs without making every party on every request (issue 15 item 5).

A node may hold 100,000 authors. Sorting them all, copying the heads map and decoding every
profile for a page of 100 grew with the authors; here the sorted list is made once (on the
first page asked for) and kept in order as authors arrive (an insertion each, into a list
of references), and a page reads only its own authors' profiles, by an index over the few
profile entries (`entries_profile` in store.schema).

`Store` inherits it; `_author_added` is called by its write path for each new author.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from trustnet.log.entry import ChainHead
from trustnet.store.reads import Profile
from trustnet.store.schema import stored as _stored


class AuthorIndex:
    """Authors in id order and per-author profile reads (the part of `Store` /parties uses)."""

    _db: sqlite3.Connection
    _heads: dict[bytes, ChainHead]
    _sorted_authors: list[bytes] | None

    def authors_sorted(self) -> Sequence[bytes]:
        """Every author with entries here, in id (byte) order. Not a copy: read it, do not
        keep it across calls that may store entries."""
        if self._sorted_authors is None:
            self._sorted_authors = sorted(self._heads)
        return self._sorted_authors

    def _author_added(self, author: bytes) -> None:
        if self._sorted_authors is not None:
            bisect.insort(self._sorted_authors, author)

    def profile_of(self, author: bytes) -> Profile | None:
        """The author's latest profile (its highest seq), read from the store."""
        row = self._db.execute(
            "SELECT raw FROM entries WHERE author=? AND kind='profile' ORDER BY seq DESC LIMIT 1",
            (author,)).fetchone()
        if row is None:
            return None
        entry = _stored(row[0])
        body = entry.body
        return Profile(body.get("name"), body.get("role"), body.get("urls", []),
                       (entry.seq, entry.ts, entry.id))

    def profiles_of(self, authors: Iterable[bytes]) -> Mapping[bytes, Profile]:
        """The latest profile of each of these authors that declared one."""
        out: dict[bytes, Profile] = {}
        for author in authors:
            profile = self.profile_of(author)
            if profile is not None:
                out[author] = profile
        return out


def page_of_union(held: Sequence[bytes], extra: Sequence[bytes], offset: int, limit: int
                  ) -> list[bytes]:
    """`sorted(held + extra)[offset:offset + limit]` for two disjoint sorted sequences, in
    time that grows with `len(extra)` and `limit`, not with `len(held)`."""
    if offset >= len(held) + len(extra) or limit <= 0:
        return []
    # The union's first `offset` items are held[:i] and extra[:j] for the one split (i, j)
    # with i + j = offset where everything before it is below everything after it.
    i = j = 0
    for j in range(min(len(extra), offset) + 1):
        i = offset - j
        if i > len(held):
            continue
        if ((i == 0 or j == len(extra) or held[i - 1] < extra[j])
                and (j == 0 or i == len(held) or extra[j - 1] < held[i])):
            break
    out: list[bytes] = []
    while len(out) < limit and (i < len(held) or j < len(extra)):
        if j == len(extra) or (i < len(held) and held[i] < extra[j]):
            out.append(held[i])
            i += 1
        else:
            out.append(extra[j])
            j += 1
    return out
