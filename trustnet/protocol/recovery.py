"""Own-log recovery (DESIGN 5 and 12): a node that may have signed before asks its peers
for its own head, and refuses to sign until it holds every seq of its own a peer proved.

See the `protocol.gossip` module docstring for the rules: a head claim counts only with
the signed head entry; the check ends at `own_sync_quorum` answers or at
`own_recovery_deadline_ms`, and a node whose store was lost waits for its own entries.
"""

from __future__ import annotations

from typing import Any

from trustnet.errors import EntryError
from trustnet.log.entry import decode_entry, verify_signature
from trustnet.protocol import messages as m
from trustnet.protocol.events import Action
from trustnet.protocol.reconcile import Reconciling
from trustnet.protocol.sessions import Session

# While own-log recovery is stuck (a proven head not fetched yet, or a lost store nobody
# has delivered back), each peer is asked for our head again at most this often.
_REASK_MS = 10_000


class OwnRecovery(Reconciling):
    """Gossip with own-log recovery: head requests, proofs of our own head, refetching."""

    @property
    def own_max_seen(self) -> int:
        """The highest seq of our own chain known to exist: held here, or proven by a peer
        with the signed head entry (unproven claims do not count, DESIGN 12)."""
        return max(self._own_proven, self.own_seq())

    def recovery_json(self) -> dict[str, Any]:
        """Own-log recovery state, for status and /peers."""
        return {
            "catching_up": self.catching_up,
            "own_seq": self.own_seq(),
            "own_max_seen": self.own_max_seen,
            "answers": len(self._own_claims),
            "quorum": self._quorum(),
            "unproven": len(self._own_unproven),
            "store_lost": self.own_log_lost,
            "deadline_ms": self.recovery_deadline_ms,
        }

    def recovery_reason(self, now_ms: int) -> str:
        """Why signing is refused now, for people (empty when it is not)."""
        if not self.catching_up:
            return ""
        mine, seen = self.own_seq(), self.own_max_seen
        if seen > mine:
            return (f"a peer proved this node's own log reaches seq {seen} and it holds only "
                    f"{mine}: fetching the rest before signing")
        if self.own_log_lost and mine == 0:
            return ("this node's key has signed before but its store holds none of its own "
                    f"entries; waiting for a peer to deliver them ({len(self._own_claims)} "
                    f"peer(s) of {len(self.peers.urls())} answered, none proved any) — or "
                    "restart with --recovered-from BUNDLE or --i-know-the-log-is-lost")
        return (f"checking this node's own log with its peers ({len(self._own_claims)}/"
                f"{self._quorum()} answered, own seq {mine}); at the latest at "
                f"{self.recovery_deadline_ms} ms")

    def recovered(self, now: int) -> bool:
        """True when signing can no longer fork our own log (as far as can be known)."""
        mine = self.own_seq()
        if mine < self._own_proven:
            return False  # a signed entry of ours beyond our head exists: never sign below it
        if self.own_log_lost and (mine == 0 or max(self._own_claims.values(), default=0) < mine):
            # A key with no store: only its own entries back (or the operator) end it, and
            # then only once a peer answered that our head is where we now are; entries
            # pushed to us by a peer we cannot ask may be only the start of our chain.
            return False
        if self._own_fetching():
            # Entries of ours are on their way (perhaps from an older peer whose claim came
            # without proof): wait for them. A staller holds us one request timeout at most.
            return False
        return len(self._own_claims) >= self._quorum() or now >= self.recovery_deadline_ms

    def _quorum(self) -> int:
        return min(self.config.own_sync_quorum, len(self.peers.urls()))

    def _recover(self, now: int) -> list[Action]:
        if self.recovered(now):
            self.catching_up = False
            return []
        actions: list[Action] = []
        mine = self.own_seq()
        usable = set(self.peers.usable(now))
        if self._own_proven > mine and not self._own_fetching():
            # Fetch towards the highest proven head from a peer that proved it.
            provers = sorted((seq, p) for p, seq in self._own_claims.items()
                             if seq > mine and p in usable)
            if provers:
                seq, peer = provers[-1]
                actions += self._fetch_own(peer, mine, seq, now)
        asking = {p.peer for p in self._pending.values() if p.path == m.HEAD}
        for peer, when in list(self._own_asked.items()):
            if now - when >= _REASK_MS:
                del self._own_asked[peer]
        want = self._quorum() - len(self._own_claims) - len(asking)
        if want <= 0 and not asking:
            want = 1  # stuck after a quorum answered: keep asking, one peer at a time
        if want > 0:
            exclude = asking | set(self._own_asked) | set(self._own_claims)
            targets = self.peers.sample(self.rng, want, now, exclude=exclude)
            if not targets:  # everyone answered already: ask again those asked longest ago
                targets = self.peers.sample(self.rng, 1, now, exclude=asking | set(self._own_asked))
            for t in targets:
                self._own_asked[t] = now
                actions.append(self._send(t, m.HEAD, m.HeadRequest(self.node_id), now))
        return actions

    def _own_fetching(self) -> bool:
        """True while a fetch of our own chain is in flight or queued."""
        return any(r[0] == self.node_id for p in self._pending.values() for r in p.ranges) or any(
            f[0] == self.node_id for s in self._sessions.values() for f in s.fetch)

    def _fetch_own(self, peer: str, mine: int, target: int, now: int) -> list[Action]:
        """Fetch our own chain from `peer`, from our head on (it proceeds while it progresses)."""
        session = self._sessions.get(peer)
        if session is None:
            session = self._sessions[peer] = Session(peer, paging=False)
        session.fetch.append((self.node_id, mine, target))
        return self._pump(session, now)

    def _head_proof(self, peer: str, reply: m.HeadReply, now: int) -> bool:
        """True when `reply.entry` is our own entry at `reply.seq`, validly signed."""
        if reply.entry is None:
            return False
        try:
            entry = decode_entry(reply.entry, verify=False)
            verify_signature(self.replica.evidence_key(entry), entry.payload, entry.sig)
        except EntryError as exc:
            self.peers.penalize(peer, exc.code, now, detail=f"head proof: {exc.message}"[:200])
            return False
        if entry.author != self.node_id or entry.seq != reply.seq or entry.id != reply.id:
            self.peers.penalize(peer, "false_head", now,
                                detail=f"head proof is not our entry at seq {reply.seq}")
            return False
        return True

    def _on_own_head(self, peer: str, reply: m.HeadReply, now: int) -> list[Action]:
        if reply.author != self.node_id:
            self.peers.penalize(peer, "bad_message", now, detail="head reply for another author")
            return []
        mine = self.own_seq()
        actions: list[Action] = []
        self._own_unproven.pop(peer, None)
        if reply.seq <= mine:
            self._own_claims[peer] = reply.seq
        elif self._head_proof(peer, reply, now):
            # Proven: our signature at that seq exists. We may not sign at or below it.
            self._own_claims[peer] = reply.seq
            self._own_proven = max(self._own_proven, reply.seq)
        else:
            # A claim that proves nothing counts as an answer of nothing (DESIGN 12). Older
            # nodes send no proof: fetching from it still recovers what it really holds
            # (the entries prove themselves); a liar delivers nothing and its claim falls.
            self._own_claims[peer] = 0
            self._own_unproven[peer] = reply.seq
            if not self._own_fetching():
                actions += self._fetch_own(peer, mine, reply.seq, now)
        return actions + self._recover(now)
