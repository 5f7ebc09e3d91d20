"""The anti-entropy tier of gossip (DESIGN 6): digests, heads pages and bounded sessions.

Every tick one random peer gets our 32-byte digest of heads and fork keys. Equal digests
cost one constant-size exchange; on a mismatch the peer returns its heads map in pages,
and a `Session` fetches what it has beyond us in bounded batches and pushes what it lacks.
A session is bounded in pages, rounds and time and must make progress, or it ends and
its peer is charged. This module also answers a peer's fetch.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections import deque

from trustnet.protocol import messages as m
from trustnet.protocol.events import Action
from trustnet.protocol.push import PushGossip
from trustnet.protocol.sessions import Pending, Session

_Q = struct.Struct(">Q").pack


class AntiEntropy(PushGossip):
    """Gossip with the anti-entropy tier: digest, heads pages, fetch and push sessions."""

    def digest(self) -> bytes:
        """Our 32-byte anti-entropy digest: heads of unforked authors and fork keys.

        Forked authors are left out of the heads part: two honest nodes may hold
        different branches of an equivocator forever; the fork keys stand for them.
        sha256("trustnet/v1/gossip-digest" | per unforked author, ascending: "H" | author |
        seq (8 bytes big-endian) | head id | per fork key, ascending: "F" | author | seq).
        Made lazily: when asked, and only if a head or a fork key changed since (at most
        once per batch taken in, whatever asks between), in one pass over the heads.
        """
        mirror = self._heads_mirror()
        heads_key = (mirror.version, 0, -1) if mirror is not None else self._heads_key()
        self._forks.refresh()
        key = (heads_key, self._forks.shared_fp())
        if key != self._digest_key:
            forks = [b"F" + author + _Q(seq) for author, seq in self._forks.shared_keys()]
            h = hashlib.sha256(b"trustnet/v1/gossip-digest")
            if mirror is not None:  # the records kept ready (protocol.digest): one C pass
                mirror.hash_into(h, sorted(self._forks.authors))
            else:
                # Sorted here, not kept: a simulator runs thousands of nodes in one process.
                forked = self._forks.authors
                heads = self.replica.heads()
                h.update(b"".join([b"H" + author + _Q(seq) + ident
                                   for author, (seq, ident) in sorted(heads.items())
                                   if author not in forked]))
            h.update(b"".join(forks))
            self._digest_key, self._digest = key, h.digest()
        return self._digest

    def _heads_page(self, after: bytes | None, *, with_forks: bool) -> m.Heads:
        authors = self._sorted_authors()
        forked = self._forks.authors
        start = 0 if after is None else bisect.bisect_right(authors, after)
        page: list[tuple[bytes, int, bytes]] = []
        i = start
        while i < len(authors) and len(page) < self.config.heads_page:
            if authors[i] not in forked:
                seq, ident = self._head(authors[i])
                page.append((authors[i], seq, ident))
            i += 1
        forks = tuple(self._forks.shared_keys()[: self.config.max_forks_listed]) if with_forks else ()
        return m.Heads(tuple(page), more=i < len(authors), after=after, forks=forks)

    def _serve_fetch(self, req: m.Fetch) -> m.Entries:
        raws: list[bytes] = []
        size = 0
        more = False
        cap = self.config.fetch_batch_entries
        for author, after, limit in req.ranges[: self.config.max_ranges]:
            if len(raws) >= cap:
                more = True
                break
            for e in self.replica.range(author, after, min(limit, cap - len(raws)), verify=True):
                if size + len(e.raw) > self.config.fetch_batch_bytes:
                    more = True
                    break
                raws.append(e.raw)
                size += len(e.raw)
            if more:
                break
        forks = []
        for key in req.forks[: self.config.max_ranges]:
            proof = self._forks.get(key)
            if proof is not None and size < self.config.fetch_batch_bytes:
                raw = proof.encode()
                forks.append(raw)
                size += len(raw)
        return m.Entries(tuple(raws), tuple(forks), more)

    def _end_session(self, s: Session, reason: str, now: int, detail: str) -> None:
        """End a session early and charge its peer (`reason`: a penalty code)."""
        s.ended = True
        s.paging = False
        s.fetch.clear()
        s.push.clear()
        s.fork_fetch.clear()
        s.fork_push.clear()
        if self._sessions.get(s.peer) is s:
            del self._sessions[s.peer]
        self.stats["sessions_ended"] += 1
        self.peers.penalize(s.peer, reason, now, detail=detail)

    def _queue_cap(self) -> int:
        # A session sends at most max_session_rounds requests of max_ranges ranges each:
        # ranges queued beyond that would never be sent.
        return self.config.max_ranges * self.config.max_session_rounds

    def _on_heads(self, s: Session, page: m.Heads, now: int) -> list[Action]:
        if s.ended:
            return []
        s.paging = False
        s.pages += 1
        if page.after != s.after or (s.after is not None and page.heads
                                     and page.heads[0][0] <= s.after):
            asked = "the start" if s.after is None else s.after.hex()[:16]
            self._end_session(s, "no_progress", now,
                              f"heads page {s.pages} does not start after {asked}")
            return []
        if page.more and s.pages >= self.config.max_session_pages:
            self._end_session(s, "endless_session", now,
                              f"{s.pages} heads pages and still more")
            return []
        cap = self._queue_cap()
        forked = set(self._forks.authors) | {a for a, _ in page.forks}
        theirs = {author: (seq, ident) for author, seq, ident in page.heads}
        # Authors this page covers: (after, last] or (after, end) on the last page.
        authors = self._sorted_authors()
        lo = 0 if page.after is None else bisect.bisect_right(authors, page.after)
        hi = bisect.bisect_right(authors, page.heads[-1][0]) if page.more and page.heads else len(authors)
        for author in authors[lo:hi]:
            if author in forked or author in theirs:
                continue
            if len(s.push) >= cap:
                break
            s.push.append((author, 0, self._head(author)[0]))  # they lack this author
        self._compare_heads(s, page.heads, forked, cap)
        if page.forks or page.after is None:
            self._take_fork_listing(s, page.forks, now, cap)
        if page.more and page.heads:
            s.paging = True
            s.after = page.heads[-1][0]
            return [self._send(s.peer, m.HEADS, m.HeadsRequest(s.after), now, s)]
        return []

    def _take_fork_listing(self, s: Session, listed: tuple[tuple[bytes, int], ...], now: int,
                           cap: int) -> None:
        """Queue what a peer's fork keys say (heads pages and reconciliation alike): fetch
        the proofs we want, push ours it lacks (not those of an author it lists at a lower
        seq: one proof per author is kept), and fetch the chain of a forked author it
        holds and we do not, up to its fork: only then is the key shared here too (a proof
        about an author not held is local state: `ForkBook.shared_keys`)."""
        first: dict[bytes, int] = {}
        for author, seq in listed:
            first[author] = min(seq, first.get(author, seq))
        s.fork_fetch += [k for k in listed if self._fork_wanted(k, now)]
        s.fork_push += [self._forks[k].encode() for k in self._forks.shared_keys()
                        if first.get(k[0], k[1] + 1) > k[1]][:16]
        for author, seq in first.items():
            if len(s.fetch) >= cap:
                break
            if self.replica.head(author) is None:
                s.fetch.append((author, 0, seq))

    def _compare_heads(self, s: Session, theirs: tuple[tuple[bytes, int, bytes], ...],
                       forked: set[bytes], cap: int) -> None:
        """Queue what a peer's heads say: fetch what it has beyond us, push what it lacks
        (heads pages and reconciliation alike), at most `cap` ranges each way."""
        for author, seq, ident in theirs:
            if author in forked or len(s.fetch) >= cap or len(s.push) >= cap:
                continue
            mine, my_id = self._head(author)
            if seq > mine:
                # From one before our head: if their entry at our head's seq differs, ingest
                # turns it into a fork proof (hash chaining makes any divergence show there).
                s.fetch.append((author, max(0, mine - 1), seq))
            elif seq == mine and ident != my_id:
                s.fetch.append((author, seq - 1, seq))
            elif seq < mine:
                s.push.append((author, seq - 1, mine))

    def _pump(self, s: Session, now: int) -> list[Action]:
        """Send the session's next fetch and next push, one of each in flight at a time."""
        actions: list[Action] = []
        if s.ended:
            return actions
        if s.rounds >= self.config.max_session_rounds:
            s.fetch.clear()
            s.push.clear()
            s.fork_fetch.clear()
            s.fork_push.clear()
        if not s.fetching and (s.fetch or s.fork_fetch):
            # Each range asks for at most the batch budget left; whatever it does not get
            # is re-queued by _on_entries when the reply made progress.
            ranges: list[tuple[bytes, int, int, int]] = []  # author, after, target, head now
            limits: list[tuple[bytes, int, int]] = []
            budget = self.config.fetch_batch_entries
            while s.fetch and len(ranges) < self.config.max_ranges and budget > 0:
                author, after, target = s.fetch.popleft()
                limit = max(1, min(target - after, budget))
                budget -= limit
                ranges.append((author, after, target, self._head(author)[0]))
                limits.append((author, after, limit))
            forks = tuple(s.fork_fetch[: self.config.max_ranges])
            del s.fork_fetch[: self.config.max_ranges]
            msg = m.Fetch(tuple(limits), forks)
            s.fetching = True
            s.rounds += 1
            actions.append(self._send(s.peer, m.FETCH, msg, now, s, tuple(ranges)))
        if not s.pushing and (s.push or s.fork_push):
            raws = self._take(s.push)
            forks_raw = tuple(s.fork_push[:16])
            del s.fork_push[:16]
            if raws or forks_raw:
                s.pushing = True
                s.rounds += 1
                actions.append(self._send(s.peer, m.PUSH, m.Push(tuple(raws), forks_raw), now, s))
        if s.done():
            self._sessions.pop(s.peer, None)
        return actions

    def _take(self, queue: deque[tuple[bytes, int, int]]) -> list[bytes]:
        """Raw entries for the next push from a queue of ranges, within the push bounds."""
        raws: list[bytes] = []
        size = 0
        while queue and len(raws) < self.config.max_push_entries:
            author, after, target = queue.popleft()
            room = self.config.max_push_entries - len(raws)
            batch = self.replica.range(author, after, min(room, target - after), verify=True)
            for e in batch:
                if size + len(e.raw) > self.config.fetch_batch_bytes and raws:
                    queue.appendleft((author, e.seq - 1, target))
                    return raws
                raws.append(e.raw)
                size += len(e.raw)
            if batch and batch[-1].seq < target:
                queue.appendleft((author, batch[-1].seq, target))
        return raws

    def _on_entries(self, p: Pending, msg: m.Entries, now: int) -> list[Action]:
        s = p.session
        actions: list[Action] = []
        if msg.entries:
            result = self._ingest(msg.entries, p.peer, now)
            actions += self._absorb(result, p.peer, "url", now, exclude=(p.peer,))
        for raw in msg.forks:
            actions += self._fork_in(raw, p.peer, "url", now, exclude=(p.peer,))
        if s is not None and not s.ended:
            s.fetching = False
            for author, _after, target, before in p.ranges:
                got = self._head(author)[0]
                if before < got < target:
                    s.fetch.append((author, got, target))  # progress: continue the range
                elif got <= before and author == self.node_id:
                    claimed = max(self._own_claims.get(p.peer, 0),
                                  self._own_unproven.get(p.peer, 0))
                    if claimed > got:
                        # It claimed more of our chain than it delivers: drop its claim. With
                        # `more: false` that is a lie (honest peers hold every entry they
                        # report); with `more: true` it may be a full batch, or a stall.
                        self._drop_own_claim(p.peer, got)
                        if not msg.more:
                            self.peers.penalize(p.peer, "false_head", now,
                                                detail=f"claimed our seq {claimed}, sent none")
        return actions

    def _on_push_ack(self, p: Pending, msg: m.PushAck, now: int) -> list[Action]:
        s = p.session
        if s is None:
            # An eager push hit a gap at the receiver: send the missing range once (bounded).
            if not msg.wants:
                return []
            s = self._sessions.get(p.peer)
            if s is None:
                if len(self._sessions) >= self.config.max_sessions * 2:
                    return []
                s = self._sessions[p.peer] = Session(p.peer, paging=False)
            self._queue_wants(s, msg)
            return self._pump(s, now)
        if s.ended:
            return []
        s.pushing = False
        self._queue_wants(s, msg)
        return []

    def _queue_wants(self, s: Session, msg: m.PushAck) -> None:
        forked = self._forks.authors
        for author, seq in msg.wants[: self.config.max_ranges]:
            mine = self._head(author)[0]
            if mine > seq and author not in forked:
                s.push.append((author, seq, mine))
