"""Range reconciliation: what anti-entropy costs grows with what differs (issue 15 item 1).

The digest exchange stays first (`Digest`, constant size: in-sync rounds cost what they
did). On a mismatch, two nodes that both speak it compare the heads they hold prefix by
prefix instead of sending the whole heads map:

    A -> B  /gossip/digest     Digest(digest, recon=True)
    B -> A                     Reconcile: the answer for "" (every author) + B's fork keys
    A -> B  /gossip/reconcile  Reconcile(nodes=[(prefix, A's fp, A's count), ...])
    B -> A                     Reconcile(items=[...], splits=[...])   ... until nothing differs

B answers each prefix A names: nothing when its fingerprint is equal, its heads under
the prefix (`items`) when it holds at most `recon_items` of them (or A holds none, within
a budget of `MAX_ITEMS` heads per reply), else the fingerprints of the 16 children
(`splits`). A compares each child with its own and names the ones that differ in its
next request; item lists it compares head by head, and the result feeds the session's
fetch and push queues (author, after, target) as the heads pages did. One changed head
among N costs about log16(N / recon_items) round trips of ~300 bytes each.

Fingerprints (`protocol.recon_index`): the sum of the 128-bit item hashes of the heads
(author, seq, id) mod 2**128, and their count, kept incrementally by the replica.
Forked authors are left out on both sides (their fork keys stand for them, as in the
digest); the first reply carries the responder's fork keys.

Bounds an attacker could drive: requests per session (`max_session_pages`, then
`endless_session`), prefixes per request (`max_ranges`; more are ignored), heads per
reply (`MAX_ITEMS`), depth (every prefix asked is one digit longer than the one it came
from; a split deeper than `MAX_DEPTH` digits ends the session), breadth (a split's
children must add up to the count the peer gave for the prefix, or the reconciliation
stops, uncharged: its store may have moved), queues (`_queue_cap`). A reply about a
prefix that was not asked, or a split too deep, ends the session (`bad_reconcile`). Interop (DESIGN 9: extend, never break): a node
answers `/gossip/heads` for nodes of the previous format, which never set `recon`; one
that does not speak reconciliation answers a `recon` digest with heads pages, and the
session goes on that way. `[gossip] reconcile = false` makes a node the previous format
exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from trustnet.protocol import messages as m
from trustnet.protocol.anti_entropy import AntiEntropy
from trustnet.protocol.events import Action, PeerDecision
from trustnet.protocol.recon_index import HEX, MOD, fp_bytes, item_hash
from trustnet.protocol.sessions import Session

MAX_ITEMS = 1024  # heads listed in one reply (a prefix over it is split instead)
# Deepest prefix worth asking about: more than `recon_items` authors sharing 24 hex digits
# (96 bits) means keys ground for it; a peer splitting that deep is stalling us.
MAX_DEPTH = 24
# Reconciliations in a row with one peer whose digest still differed at the next session
# (no "in sync" between): the next is heads pages. Churn alone resets nothing (each session
# finds something), so a difference hidden by a fingerprint collision is found within this
# many sessions however busy the network; an honest pair is in sync between bursts.
FALLBACK_AFTER = 8
_Head = tuple[bytes, int, bytes]


class Reconciling(AntiEntropy):
    """Gossip with range reconciliation on top of the heads-page anti-entropy."""

    _no_recon: frozenset[str] = frozenset()  # peers that refused /gossip/reconcile
    # Peers whose last reconciliation found nothing while the digests differed: their next
    # session uses heads pages (the previous format), which compare every head exactly.
    _heads_next: frozenset[str] = frozenset()
    _nothing_once: frozenset[str] = frozenset()  # ... and those whose last one did, once
    # Peers -> reconciliations in a row whose digests differed (reset by "in sync"); a new
    # mapping on each change, as the sets above (the class default is shared).
    _differed: dict[str, int] = {}  # noqa: RUF012

    # -- fingerprints without forked authors ---------------------------------------------

    def fingerprint(self, prefix: str) -> tuple[int, int]:
        """(fp sum, count) of our unforked heads under `prefix`: the replica's less the
        forked authors' (`protocol.forks.ForkBook`), O(1) for a short prefix."""
        value, count = self.replica.prefix_fingerprint(prefix)
        forked, n = self._forks.fingerprint(prefix)
        return (value - forked) % MOD, count - n

    def _heads_under(self, prefix: str) -> tuple[_Head, ...]:
        forked = self._forks.authors
        out = []
        for author in self.replica.prefix_authors(prefix):
            if author not in forked:
                seq, ident = self._head(author)
                out.append((author, seq, ident))
        return tuple(out)

    # -- responder -------------------------------------------------------------------------

    def _recent_heads(self, *groups: Iterable[bytes]) -> tuple[_Head, ...]:
        """Our heads of these authors (held, unforked), ascending."""
        forked = self._forks.authors
        out = []
        for author in sorted(set().union(*groups)):
            head = self.replica.head(author)
            if head is not None and author not in forked:
                out.append((author, head.seq, head.id))
        return tuple(out)

    def _forks_fp(self) -> tuple[bytes, int] | None:
        """The fingerprint of our fork keys as sent (None: we know none)."""
        value, count = self._forks.shared_fp()
        return (fp_bytes(value), count) if count else None

    def _fork_listing(self, theirs: tuple[bytes, int] | None) -> tuple[tuple[bytes, int], ...]:
        """Our fork keys for a first reply: none when the asker's fingerprint of its own
        (`theirs`, None: it knows none) equals ours, else the first `max_forks_listed`."""
        if (theirs or (bytes(16), 0)) == (self._forks_fp() or (bytes(16), 0)):
            return ()
        return tuple(self._forks.shared_keys()[: self.config.max_forks_listed])

    def _recon_answer(self, nodes: list[tuple[str, bytes | None, int]], *,
                      first: bool, their_forks: tuple[bytes, int] | None = None
                      ) -> m.Reconcile:
        """Answer prefixes (with the asker's fp and count; None, -1: unknown)."""
        splits: list[tuple[str, bytes, tuple[int, ...]]] = []
        items: list[tuple[str, tuple[_Head, ...]]] = []
        budget = MAX_ITEMS
        for prefix, fp, count in nodes[: self.config.max_ranges]:
            value, mine = self.fingerprint(prefix)
            if fp is not None and fp == fp_bytes(value) and count == mine:
                continue
            small = mine <= self.config.recon_items or count == 0
            if (small or len(prefix) == m.MAX_PREFIX) and mine <= budget:
                heads = self._heads_under(prefix)
                items.append((prefix, heads))
                budget -= len(heads)
            elif len(prefix) < m.MAX_PREFIX:
                children = [self.fingerprint(prefix + c) for c in HEX]
                splits.append((prefix, b"".join(fp_bytes(v) for v, _ in children),
                               tuple(c for _, c in children)))
        if not first:
            return m.Reconcile(splits=tuple(splits), items=tuple(items))
        return m.Reconcile(splits=tuple(splits), items=tuple(items),
                           forks=self._fork_listing(their_forks), forks_fp=self._forks_fp())

    def _serve_reconcile(self, req: m.Reconcile) -> m.Reconcile:
        nodes: list[tuple[str, bytes | None, int]] = [(p, fp, c) for p, fp, c in req.nodes]
        return self._recon_answer(nodes, first=False)

    def _on_digest(self, msg: m.Digest) -> m.Message:
        """Answer an anti-entropy digest: in sync, the first reconcile reply, or heads."""
        if msg.digest == self.digest():
            return m.InSync()
        if msg.recon and self.config.reconcile:
            value, count = self.fingerprint("")
            recent: tuple[_Head, ...] = ()
            if count > self.config.recon_items:
                recent = self._recent_heads(self._recent, [a for a, _, _ in msg.recent])
            if count <= self.config.recon_items or not (recent or msg.recent):
                return self._recon_answer([("", None, -1)], first=True,
                                          their_forks=msg.forks_fp)
            return m.Reconcile(forks=self._fork_listing(msg.forks_fp),
                               fp=(fp_bytes(value), count), recent=recent,
                               forks_fp=self._forks_fp())
        return self._heads_page(None, with_forks=True)

    # -- initiator -------------------------------------------------------------------------

    def _opener(self, peer: str, s: Session) -> m.Digest:
        """The digest that opens session `s` with `peer` (`recon` unless it refused it)."""
        if not self.config.reconcile or peer in self._no_recon:
            return m.Digest(self.digest())
        if peer in self._heads_next:  # once: reconciliation is tried again after
            self._heads_next = self._heads_next - {peer}
            return m.Digest(self.digest())
        tick = self.stats["ticks"]
        moved = [a for a, t in self._recent.items() if tick - t <= 1]
        # A peer holding about what we hold lists all its heads at once when there are
        # few of them: then our recent heads would tell it nothing.
        few = self.fingerprint("")[1] <= self.config.recon_items
        recent = () if few else self._recent_heads(moved)
        s.sent_recent = tuple(a for a, _, _ in recent)
        return m.Digest(self.digest(), recon=True, recent=recent, forks_fp=self._forks_fp())

    def _recon_refused(self, peer: str, code: str, now: int) -> None:
        """`peer` answered a reconcile digest, then refused /gossip/reconcile (`code`): it
        gets heads pages from now on (logged once as a peer decision, shown in /peers as
        its last error)."""
        if peer in self._no_recon or len(self._no_recon) >= 4096:
            return
        self._no_recon = self._no_recon | {peer}
        self.peers.failed(peer, f"reconcile_refused:{code}", now)
        self._happened.append(PeerDecision(
            peer, f"refused /gossip/reconcile ({code}): it gets heads pages from now on"))

    def _found_nothing(self, s: Session) -> None:
        """A reconciliation with `s.peer` ended: if it found nothing to fetch or push and no
        fork key differing, yet the peer's digest differed from ours, two different sets of
        heads had equal fingerprints somewhere (sums of 128-bit hashes: an attacker grinding
        its own heads can make them collide, Wagner's generalised birthday). When that
        happens twice in a row with one peer, its next session uses heads pages, which
        compare every head exactly."""
        if (s.found or s.rounds or s.fetch or s.push or s.fork_fetch or s.fork_push
                or s.fetching or s.pushing):
            if s.peer in self._nothing_once:
                self._nothing_once = self._nothing_once - {s.peer}
            return
        # Once may be a race (what differed arrived by push while the replies were on their
        # way); twice in a row with the same peer is not.
        if s.peer not in self._nothing_once:
            if len(self._nothing_once) < 4096:
                self._nothing_once = self._nothing_once | {s.peer}
            return
        self._nothing_once = self._nothing_once - {s.peer}
        self.stats["recon_fallbacks"] += 1
        if s.peer in self._heads_next or len(self._heads_next) >= 4096:
            return
        self._heads_next = self._heads_next | {s.peer}
        self._happened.append(PeerDecision(
            s.peer, "reconciliation found nothing while the digests differ (fingerprints "
            "collided?): heads pages with it next session"))

    def _differed_again(self, peer: str) -> None:
        """A reconciliation with `peer` opened on differing digests: the `FALLBACK_AFTER`th
        in a row (no "in sync" between) makes its next session heads pages."""
        streak = self._differed.get(peer, 0) + 1
        if streak < FALLBACK_AFTER:
            if peer in self._differed or len(self._differed) < 4096:
                self._differed = {**self._differed, peer: streak}
            return
        self._differed = {k: v for k, v in self._differed.items() if k != peer}
        self.stats["recon_fallbacks"] += 1
        if peer in self._heads_next or len(self._heads_next) >= 4096:
            return
        self._heads_next = self._heads_next | {peer}
        self._happened.append(PeerDecision(
            peer, f"{FALLBACK_AFTER} reconciliations in a row and the digests still differ: "
            "heads pages with it next session"))

    def _on_reconcile(self, s: Session, msg: m.Reconcile, now: int, *, first: bool
                      ) -> list[Action]:
        if s.ended:
            return []
        if first:
            self._differed_again(s.peer)
        s.paging = False
        s.pages += 1
        asked = frozenset({""}) if first else s.asked
        s.asked = frozenset()
        named = [p for p, _, _ in msg.splits] + [p for p, _ in msg.items]
        stray = [p for p in named if p not in asked]
        repeated = len(set(named)) != len(named)  # each copy would cost a split's work again
        if stray or repeated or msg.nodes or (not first and (
                msg.recent or msg.fp is not None or msg.forks_fp is not None)):
            what = (f"prefix {stray[0]!r}" if stray else "one prefix twice" if repeated
                    else "what only a first reply holds")
            self._end_session(s, "bad_reconcile", now, f"reconcile reply about {what}, not asked")
            return []
        forked = set(self._forks.authors) | {a for a, _ in msg.forks}
        cap = self._queue_cap()
        for prefix, heads in msg.items:
            s.claimed.pop(prefix, None)
            self._compare(s, prefix, heads, forked, cap)
        if msg.recent or s.sent_recent:
            self._compare(s, None, msg.recent, forked, cap, ours=s.sent_recent)
        if msg.fp is not None and not self._rest_agrees(msg.fp, msg.recent, s.sent_recent,
                                                        forked):
            value, count = self.fingerprint("")
            s.recon.append(("", fp_bytes(value), count))
            s.claimed[""] = msg.fp[1]
        for prefix, fps, counts in msg.splits:
            if len(prefix) >= MAX_DEPTH:
                self._end_session(s, "bad_reconcile", now,
                                  f"reconcile split at depth {len(prefix) + 1}")
                return []
            claimed = s.claimed.pop(prefix, None)
            if claimed is not None and sum(counts) != claimed:
                # Its children do not add up to what it said the prefix holds: a liar
                # fanning out, or (rarely) its store moved since: stop, and charge it a
                # little (a liar could otherwise run a session to its last page for free).
                self._end_session(s, "reconcile_mismatch", now,
                                  f"children of {prefix!r} hold {sum(counts)}, not {claimed}")
                return []
            for k, digit in enumerate(HEX):
                child = prefix + digit
                value, count = self.fingerprint(child)
                fp = fp_bytes(value)
                if (fp, count) != (fps[16 * k: 16 * k + 16], counts[k]) and len(s.recon) < cap:
                    s.recon.append((child, fp, count))
                    s.claimed[child] = counts[k]
        old_listing = msg.forks_fp is None and bool(msg.forks)
        if first and (old_listing or (msg.forks_fp or (bytes(16), 0))
                      != (self._forks_fp() or (bytes(16), 0))):
            # Fork keys differ: the digests differ there at least. A node of before
            # forks_fp sends none and lists its keys always: an absent fingerprint with
            # keys listed is read as "different", never as "none" (it would equal ours
            # when we know none, and the fork would never be learned from it).
            s.found = True
            self._take_fork_listing(s, msg.forks, now, cap)
        if s.fetch or s.push:
            s.found = True
        if not s.recon:
            self._found_nothing(s)
            return []
        if s.pages >= self.config.max_session_pages:
            self._end_session(s, "endless_session", now,
                              f"{s.pages} reconcile replies and still differing")
            return []
        nodes: list[tuple[str, bytes, int]] = []
        while s.recon and len(nodes) < self.config.max_ranges:
            nodes.append(s.recon.popleft())
        s.asked = frozenset(p for p, _, _ in nodes)
        s.paging = True
        return [self._send(s.peer, m.RECONCILE, m.Reconcile(nodes=tuple(nodes)), now, s)]

    def _quit_session(self, s: Session) -> None:
        """End a reconciliation that cannot go on, without charging its peer (what was
        compared so far is still fetched and pushed)."""
        s.recon.clear()
        s.claimed.clear()

    def _rest_agrees(self, fp: tuple[bytes, int], recent: tuple[_Head, ...],
                     sent: tuple[bytes, ...], forked: set[bytes]) -> bool:
        """Whether our whole set and the peer's (`fp`) agree outside the `recent` authors
        (its heads of them, `recent`; of ours, `sent`, those it lacks are left out)."""
        value, count = self.fingerprint("")
        theirs, their_count = int.from_bytes(fp[0], "big"), fp[1]
        mine = self._forks.authors
        if any(a in forked and a not in mine for a, _, _ in recent):
            return False  # a fork only they know of: compare the long way
        for author, seq, ident in recent:
            theirs -= item_hash(author, seq, ident)
            their_count -= 1
        for author in {a for a, _, _ in recent}.union(sent):
            head = self.replica.head(author)
            if head is not None and author not in mine:
                value -= item_hash(author, head.seq, head.id)
                count -= 1
        return (value - theirs) % MOD == 0 and count == their_count

    def _compare(self, s: Session, prefix: str | None, theirs: tuple[_Head, ...],
                 forked: set[bytes], cap: int, ours: Iterable[bytes] = ()) -> None:
        """Queue fetches and pushes for one prefix whose heads the peer listed (None: the
        heads of some authors only, `recent`; of ours, those of `ours` it lacks)."""
        listed = {author for author, _, _ in theirs}
        held = ours if prefix is None else self.replica.prefix_authors(prefix)
        for author in held:
            if author in forked or author in listed:
                continue
            if len(s.push) >= cap:
                break
            s.push.append((author, 0, self._head(author)[0]))  # they lack this author
        self._compare_heads(s, theirs, forked, cap)
