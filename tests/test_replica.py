"""`MemoryReplica` keeps the store's rules: the same batches give the same results as `Store`.

The simulator and protocol tests run on it, so a rule it missed would make them measure
a different protocol. Every check feeds one batch to both and compares what came back.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.log.keys import key_digest
from trustnet.protocol.replica import FORKS_KEPT, ForkMark, IngestResult, Replica
from trustnet.store.memory import MemoryReplica
from trustnet.store.sqlite import Store

T0 = 1_767_225_600_000
DAY = 86_400_000
KEYS_JSON = Path(__file__).parent / "vectors" / "keys.json"


def _seed(n: int) -> Identity:
    return Identity.from_seed(bytes([n]) * 32)


def _outcome(r: IngestResult) -> tuple[Any, ...]:
    return ([e.id for e in r.accepted], r.duplicates, [(x.index, x.id, x.code) for x in r.rejected],
            sorted((p.author, p.seq) for p in r.forks), dict(r.gaps))


def _state(replica: Replica) -> tuple[Any, ...]:
    heads = replica.heads()
    # Range reconciliation's fingerprints (issue 15): the whole set, and each first digit.
    fps = [replica.prefix_fingerprint(p) for p in ("", *"0123456789abcdef")]
    return (heads, replica.heads_digest(), sorted((p.author, p.seq) for p in replica.forks()),
            replica.forked_authors(), fps, replica.prefix_authors(""),
            {a: [e.id for e in replica.range(a, 0, 1000, verify=True)] for a in heads})


class Both:
    """A Store and a MemoryReplica fed the same batches; every result must agree."""

    def __init__(self) -> None:
        self.store = Store(None)
        self.memory = MemoryReplica()
        # The fork log each keeps for the gossip fork book (`Replica.fork_changes`).
        self.marks: dict[str, ForkMark] = {name: r.fork_changes(None)[0]
                                           for name, r in self.replicas()}

    def replicas(self) -> tuple[tuple[str, Replica], ...]:
        return (("store", self.store), ("memory", self.memory))

    def ingest(self, items: list[bytes | Entry], now: int) -> IngestResult:
        a = self.store.ingest(items, now)
        b = self.memory.ingest(items, now)
        assert _outcome(b) == _outcome(a)
        assert _state(self.memory) == _state(self.store)
        logged, standing = [], []
        for name, replica in self.replicas():
            self.marks[name], changed = replica.fork_changes(self.marks[name])
            assert changed is not None
            logged.append([(p.author, p.seq) for p, added in changed if added])
            standing.append({(p.author, p.seq) for p, added in changed if not added})
        assert logged[0] == logged[1] == [(p.author, p.seq) for p in a.forks]
        assert standing[0] == standing[1]  # a key event names its author's forks in both
        return a

    def append_own(self, who: Identity, kind: str, body: dict[str, Any], ts: int) -> Entry:
        entry = self.store.append_own(who, kind, body, ts)
        assert self.memory.ingest([entry], ts).accepted == (entry,)
        return entry


def _chain(who: Identity, n: int, ts: int = T0) -> list[Entry]:
    out: list[Entry] = []
    for seq in range(1, n + 1):
        out.append(sign_entry(who, seq=seq, prev=out[-1].id if out else None, ts=ts + seq,
                              kind="trust", body={"subject": "ab" * 32, "level": seq}))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_of_chains_gaps_forks_and_forgeries_agree(seed: int) -> None:
    rng = random.Random(seed)
    both = Both()
    pool: list[bytes] = []
    for a in range(4):
        who = _seed(10 + a)
        pool += [e.raw for e in _chain(who, 8)]
        # The other branch from seq 5 on: equivocation.
        base = _chain(who, 4)
        other = sign_entry(who, seq=5, prev=base[-1].id, ts=T0 + 50, kind="trust",
                           body={"subject": "cd" * 32, "level": -5})
        pool.append(other.raw)
    # Signed by another key in the name of author 0 (seq 4): bad_signature once it links.
    genuine = _chain(_seed(10), 3)
    forged = sign_entry(_seed(99).for_party(_seed(10).author), seq=4, prev=genuine[-1].id,
                        ts=T0 + 60, kind="trust", body={"subject": "ef" * 32, "level": 1})
    pool += [forged.raw, b"\x93not an entry", pool[0]]
    for _ in range(8):
        batch = rng.sample(pool, rng.randint(1, 12))
        both.ingest(list(batch), T0 + DAY)
    both.ingest(list(pool), T0 + DAY)  # everything: the rest fills in, forks found
    assert both.memory.count() == both.store.count()


def test_key_vectors_agree() -> None:
    for case in json.loads(KEYS_JSON.read_text())["cases"]:
        both = Both()
        for hex_entry in case["entries"]:
            both.ingest([bytes.fromhex(hex_entry)], case["now_ms"])


def test_a_recovery_rotation_takes_the_thiefs_branch_off_in_both() -> None:
    owner, nxt, fresh = _seed(7), _seed(8), _seed(9)
    home = Store(None)
    home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    home.append_own(owner, "trust", {"subject": "ab" * 32, "level": 1}, T0 + DAY)
    other = Both()
    other.ingest(list(home.export_raw()), T0 + DAY)
    head = home.head(owner.author)
    assert head is not None
    stolen = sign_entry(owner, seq=3, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                        body={"subject": "ab" * 32, "level": -1000})
    assert other.ingest([stolen.raw], T0 + 3 * DAY).accepted
    mine = home.append_own(owner, "trust", {"subject": "cd" * 32, "level": 5}, T0 + 3 * DAY)
    rot = home.append_own(nxt.for_party(owner.author), "rotation",
                          {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                           "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    first = other.ingest([mine.raw, rot.raw], T0 + 4 * DAY)
    assert first.forks and first.gaps == {owner.author: 2}
    other.ingest(list(home.range(owner.author, 2, 10)), T0 + 4 * DAY)
    assert other.memory.heads() == home.heads()
    # Both say the thief's fork is disowned (what gossip's fork book asks them), and not
    # a fork of two entries signed before the theft.
    assert [r.disowns(p) for r in (other.store, other.memory) for p in first.forks] == [True] * 2
    second = home.get_by_seq(owner.author, 2)
    assert second is not None
    twin = sign_entry(owner, seq=2, prev=second.prev, ts=T0 + DAY, kind="trust",
                      body={"subject": "ab" * 32, "level": 2})
    before = ForkProof.of(second, twin)
    assert [r.disowns(before) for r in (other.store, other.memory)] == [False] * 2
    assert owner.author not in other.memory.forked_authors()
    assert other.ingest([stolen.raw], T0 + 5 * DAY).forks == ()


def test_append_own_refuses_a_forked_identity_and_a_wrong_key() -> None:
    owner, nxt = _seed(1), _seed(2)
    replica = MemoryReplica()
    replica.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    first = replica.append_own(owner, "trust", {"subject": "ab" * 32, "level": 1}, T0)
    assert first.seq == 2 and replica.head(owner.author) is not None
    with pytest.raises(Exception, match="signing key") as info:
        replica.append_own(_seed(3).for_party(owner.author), "trust",
                           {"subject": "ab" * 32, "level": 1}, T0)
    assert getattr(info.value, "code", None) == "wrong_key"
    twin = sign_entry(owner, seq=2, prev=first.prev, ts=T0, kind="trust",
                      body={"subject": "ab" * 32, "level": 2})
    assert replica.ingest([twin.raw], T0).forks
    with pytest.raises(Exception, match="equivocated"):
        replica.append_own(owner, "trust", {"subject": "ab" * 32, "level": 3}, T0)


def test_the_store_serves_a_rotated_partys_entries_instead_of_quarantining_them() -> None:
    # Found by the comparison above: `range(verify=True)` checked every row under the
    # author's first key, so entries signed after a rotation were set aside as corrupted.
    owner, nxt, fresh = _seed(21), _seed(22), _seed(23)
    store = Store(None)
    store.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    store.append_own(nxt.for_party(owner.author), "rotation",
                     {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex()}, T0 + DAY)
    store.append_own(nxt.for_party(owner.author), "trust", {"subject": "ab" * 32, "level": 1},
                     T0 + DAY)
    assert [e.seq for e in store.range(owner.author, 0, 10, verify=True)] == [1, 2, 3]
    assert store.quarantined() == 0


def test_the_fork_log_names_what_was_added_and_says_when_it_lost_count() -> None:
    """`fork_changes`: the proofs added since a mark, in both replicas alike; past
    `FORKS_KEPT` of them, "not all known" (None), and from the mark of then on, exact again."""
    for replica in (Store(None), MemoryReplica()):
        mark, changed = replica.fork_changes(None)
        assert changed is None  # the first look starts the log
        assert replica.fork_changes(mark) == (mark, [])
        # Proofs are kept as given (`add_fork` checks nothing): seqs past 1 link to nothing.
        proofs = [ForkProof.of(*(sign_entry(_seed(n % 200 + 30), seq=n // 200 + 1,
                                            prev=None if n < 200 else bytes(32), ts=T0,
                                            kind="trust",
                                            body={"subject": "ab" * 32, "level": level})
                                 for level in (1, 2)))
                  for n in range(FORKS_KEPT + 4)]  # 3, then more than the log keeps
        for proof in proofs[:3]:
            assert replica.add_fork(proof)
        assert not replica.add_fork(proofs[0])  # held already: not a change
        mark, changed = replica.fork_changes(mark)
        assert changed == [(p, True) for p in proofs[:3]]
        for proof in proofs[3:]:
            replica.add_fork(proof)
        later, changed = replica.fork_changes(mark)
        assert changed is None
        assert replica.fork_changes(later) == (later, [])
        assert replica.fork_changes((-1, 0))[1] is None  # another log's mark
