"""Ingest on worker processes (issue 15 item 2): the pool's results are the in-process ones,
and nothing sent to a node crashes or wedges it.

The same random batches (chains, gaps, forks, forgeries, bad bodies, garbage, encodings that
are not minimal, key rotations) go to a store checking in process and to one checking on an
`IngestPool`; every result and the state after it must agree, messages included. Then the
pool loses workers (killed, stopped, or dying on every chunk), and a real `trustnet run`
process takes a stranger's large pushes through its workers, garbage and all.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.log.keys import key_digest
from trustnet.protocol import messages as m
from trustnet.protocol.replica import IngestResult
from trustnet.store.sqlite import Store, _slices
from trustnet.store.workers import STOPPED, IngestPool

T0 = 1_767_225_600_000
DAY = 86_400_000
KEYS_JSON = Path(__file__).parent / "vectors" / "keys.json"


def _seed(n: int) -> Identity:
    return Identity.from_seed(bytes([n]) * 32)


def _outcome(r: IngestResult) -> tuple[Any, ...]:
    return ([e.raw for e in r.accepted], r.duplicates,
            [(x.index, x.id, x.code, x.message) for x in r.rejected],
            sorted((p.author, p.seq, p.encode()) for p in r.forks), dict(r.gaps))


def _state(store: Store) -> tuple[Any, ...]:
    heads = store.heads()
    return (heads, store.heads_digest(), sorted((p.author, p.seq) for p in store.forks()),
            store.forked_authors(), store.key_states(),
            {a: [e.id for e in store.range(a, 0, 1000, verify=True)] for a in heads})


@pytest.fixture
def pool() -> Iterator[IngestPool]:
    # Tiny chunks and no minimum batch: every path of the pool runs on small batches.
    p = IngestPool(2, min_batch=1, chunk=3, deadline_s=10.0)
    p.start()
    try:
        yield p
    finally:
        p.stop()


class Both:
    """A store checking in process and one checking on the pool, fed the same batches."""

    def __init__(self, pool: IngestPool) -> None:
        self.inline = Store(None)
        self.pooled = Store(None)
        self.pooled.use_pool(pool)
        # Batches of more than 4 entries that came in seq order commit in slices of whole
        # chunks (of 3 here): every result and state below must still be the inline ones.
        self.pooled._slice_entries = 4

    def ingest(self, items: list[bytes | Entry], now: int) -> IngestResult:
        a = self.inline.ingest(items, now)
        b = self.pooled.ingest(items, now)
        assert _outcome(b) == _outcome(a)
        assert _state(self.pooled) == _state(self.inline)
        return a


def _chain(who: Identity, n: int, ts: int = T0, start: int = 1, prev: bytes | None = None,
           level: int = 0) -> list[Entry]:
    out: list[Entry] = []
    for seq in range(start, start + n):
        link = out[-1].id if out else prev
        out.append(sign_entry(who, seq=seq, prev=link, ts=ts + seq, kind="trust",
                              body={"subject": "ab" * 32, "level": seq + level}))
    return out


def _hand(payload: list[Any], sig: bytes = b"\0" * 64) -> bytes:
    return bytes(msgpack.packb([msgpack.packb(payload, use_bin_type=True), sig],
                               use_bin_type=True))


def _odd_items() -> list[bytes]:
    """What a stranger may send besides honest entries."""
    who = _seed(40)
    good = _chain(who, 2)
    payload = good[0].payload
    non_minimal = b"\x92\xc5" + len(payload).to_bytes(2, "big") + payload + b"\xc4\x40" + good[0].sig
    bad_body = sign_entry(who, seq=3, prev=good[1].id, ts=T0 + 3, kind="trust",
                          body={"subject": "not hex", "level": 1})
    unknown = sign_entry(_seed(41), seq=1, prev=None, ts=T0, kind="gossip-bomb", body={})
    floats = _hand([1, who.author, 4, bad_body.id, T0 + 4, "trust", {"subject": "ab" * 32,
                                                                     "level": 1.5}])
    return [non_minimal, good[0].raw, good[1].raw, bad_body.raw, unknown.raw, floats,
            b"", b"\x93not an entry", b"\xc1" * 40, msgpack.packb([b"x", b"y"]),
            _hand([2, who.author, 1, None, T0, "trust", {}]),
            _hand([1, b"short", 1, None, T0, "trust", {}]),
            _hand([1, who.author, 2**60, None, T0, "trust", {}]),
            bytes(70_000)]


@pytest.mark.parametrize("seed", range(5))
def test_random_batches_give_the_in_process_results(pool: IngestPool, seed: int) -> None:
    rng = random.Random(seed)
    both = Both(pool)
    items: list[bytes] = []
    for a in range(4):
        who = _seed(10 + a)
        items += [e.raw for e in _chain(who, 10)]
        base = _chain(who, 4)
        # The other branch from seq 5 on: equivocation.
        items += [e.raw for e in _chain(who, 3, start=5, prev=base[-1].id, level=100)]
    genuine = _chain(_seed(10), 3)
    forged = sign_entry(_seed(99).for_party(_seed(10).author), seq=4, prev=genuine[-1].id,
                        ts=T0 + 60, kind="trust", body={"subject": "ef" * 32, "level": 1})
    future = sign_entry(_seed(42), seq=1, prev=None, ts=T0 + 3 * DAY, kind="trust",
                        body={"subject": "ab" * 32, "level": 1})
    items += [forged.raw, future.raw, *_odd_items()]
    for _ in range(10):
        batch = rng.sample(items, rng.randint(1, 30))
        both.ingest(list(batch), T0 + DAY)
    rng.shuffle(items)
    both.ingest(items, T0 + DAY)  # everything: the rest fills in, forks found
    both.ingest(items, T0 + DAY)  # and again: duplicates, the non-minimal one refused
    assert pool.stats["entries"] > 0 and pool.stats["restarts"] == 0


def _interleaved(chains: list[list[Entry]]) -> list[bytes]:
    """Chains round-robin, each in seq order: a bulk push as anti-entropy sends one."""
    out: list[bytes] = []
    for k in range(max(len(c) for c in chains)):
        out += [c[k].raw for c in chains if k < len(c)]
    return out


@pytest.mark.parametrize("seed", range(3))
def test_a_push_in_seq_order_commits_in_slices_with_the_whole_batchs_results(
        pool: IngestPool, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    commits: list[int] = []
    real = Store._commit

    def counted(self: Store, batch: Any, now_ms: int) -> IngestResult:
        commits.append(len(batch.fresh))
        return real(self, batch, now_ms)

    monkeypatch.setattr(Store, "_commit", counted)
    both = Both(pool)
    chains = [_chain(_seed(10 + a), rng.randint(5, 12)) for a in range(4)]
    # What depends on earlier slices must come out as in one pass: a fork (another entry at
    # a chain's last seq), a gap (a chain whose start is not sent yet), a forgery and a body
    # the schema refuses, each after what it depends on.
    other = chains[3]
    branch = sign_entry(_seed(13), seq=len(other), prev=other[-2].id, ts=T0 + 50,
                        kind="trust", body={"subject": "cd" * 32, "level": 7})
    late = _chain(_seed(20), 6)
    forged = sign_entry(_seed(99).for_party(_seed(11).author), seq=len(chains[1]) + 1,
                        prev=chains[1][-1].id, ts=T0 + 60, kind="trust",
                        body={"subject": "ef" * 32, "level": 1})
    bad_body = sign_entry(_seed(12), seq=len(chains[2]) + 1, prev=chains[2][-1].id,
                          ts=T0 + 60, kind="trust", body={"subject": "not hex", "level": 1})
    batch = [*_interleaved(chains), *(e.raw for e in late[3:]), branch.raw, forged.raw,
             bad_body.raw]
    commits.clear()
    first = both.ingest(batch, T0 + DAY)
    assert len([n for n in commits if n]) > 2  # the pooled store's slices (and the inline one)
    assert first.forks and first.gaps and {r.code for r in first.rejected} == {
        "bad_signature", "bad_body"}
    commits.clear()
    again = both.ingest([*(e.raw for e in late[:3]), *batch], T0 + DAY)  # the gap filled
    assert len(commits) > 2 and again.duplicates and not again.gaps
    assert both.pooled.count() == both.inline.count()


def test_the_last_chunk_of_a_sliced_batch_commits_alone(pool: IngestPool) -> None:
    """The workers wait while the last slice is stored: it is one chunk; the slices before it
    hold at least `size` entries (the one before the last may hold fewer), all in order."""
    store = Store(None)
    store.use_pool(pool)
    raws = _interleaved([_chain(_seed(30 + a), 7) for a in range(3)])  # 21 entries
    batch = store.prepare(raws)
    assert [len(j.raws) for j in batch.jobs] == pool.plan(21) == [1, 2, 3, 3, 3, 3, 2, 1, 1, 1, 1]
    parts = _slices(batch, 5)
    assert parts is not None
    # At least 5 entries (the one before the last may hold fewer), and the last chunk alone.
    assert [len(p.pooled) for p in parts] == [6, 6, 5, 3, 1]
    assert [x for p in parts for x in p.pooled] == batch.pooled
    assert [j for p in parts for j in p.jobs] == batch.jobs
    assert len(parts[-1].pooled) == len(batch.jobs[-1].raws)
    result = store.commit(batch, T0 + DAY)
    assert len(result.accepted) == 21 and store.count() == 21


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_batch_is_cut_in_chunks_that_get_smaller_towards_its_end(workers: int) -> None:
    pool = IngestPool(workers)
    for items in (1, 7, 31, 32, 64, 65, 300, 2857, 4096, 10_000):
        sizes = pool.plan(items)
        assert sum(sizes) == items and all(0 < s <= 256 for s in sizes)
        top = sizes.index(max(sizes))
        assert sizes[:top + 1] == sorted(sizes[:top + 1])  # doubling up to the largest,
        assert sizes[top:] == sorted(sizes[top:], reverse=True)  # then never larger again
        assert all(s >= 32 for s in sizes[:-1])  # an eighth of a full chunk, but the last
        if items >= 256 * 2 * workers:
            assert sizes[:3] == [32, 64, 128] and 256 in sizes and sizes[-1] <= 32
    assert pool.plan(0) == []


def test_chunks_go_to_the_worker_that_is_free(pool: IngestPool) -> None:
    # One worker stops answering for a while: it holds what it was dealt, and every other
    # chunk goes to the worker that answers (dealt in turn, half would wait for the slow one).
    pool.spawn()
    slow = pool.pids()[0]
    raws = [e.raw for e in _chain(_seed(60), 12)]
    os.kill(slow, signal.SIGSTOP)
    try:
        jobs = [pool.submit([raw], [None]) for raw in raws]
        held = [j for w in pool._workers if w is not None and w.proc.pid == slow for j in w.jobs]
        # It holds `depth` chunks, or `chunk` entries (3 here) when the chunks are smaller.
        assert 0 < len(held) <= max(pool.depth, pool.chunk) < len(jobs) // 2
        for job in jobs:
            if job not in held:
                assert pool.result(job) == b"\0"
        assert all(j.statuses is None for j in held)
    finally:
        os.kill(slow, signal.SIGCONT)
    assert [pool.result(j) for j in jobs] == [b"\0"] * 12
    assert pool.stats["restarts"] == 0 and pool.pids()[0] == slow


def test_an_answer_that_waited_while_the_writer_stored_is_not_late() -> None:
    # The writer stores a slice (here: sleeps) for longer than the deadline while the
    # worker's answer waits in the pipe: the answer is taken, the worker kept.
    pool = IngestPool(1, min_batch=1, deadline_s=1.0)
    pool.start()
    try:
        pool.spawn()
        (pid,) = pool.pids()
        job = pool.submit([_chain(_seed(61), 1)[0].raw], [None])
        time.sleep(2.0)
        assert pool.result(job) == b"\0"
        assert pool.stats["restarts"] == 0 and pool.pids() == [pid]
    finally:
        pool.stop()


_POISONED = """
import os, sys
import msgpack
from trustnet.store import workers as w
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
stdout.write(w.READY)
stdout.flush()
while (head := w._read_exact(stdin, 4)) is not None:
    raws, _keys = msgpack.unpackb(w._read_exact(stdin, w._LEN.unpack(head)[0]), raw=False)
    if b"POISON" in raws:
        os._exit(1)
    stdout.write(w._LEN.pack(len(raws)) + bytes(len(raws)))
    stdout.flush()
"""


def test_the_chunk_a_worker_died_on_is_blamed_not_the_one_it_answered(tmp_path: Path) -> None:
    # A worker answers an honest chunk, then dies on the next (what an entry crashing the
    # decoder does). The writer finds it dead by writing to it: the answer still in the pipe
    # is taken, and the poisoned chunk (not the answered one) counts the try.
    script = tmp_path / "poisoned.py"
    script.write_text(_POISONED)
    pool = IngestPool(1, min_batch=1, command=[sys.executable, str(script)])
    pool.start()
    try:
        honest = pool.submit([b"honest"], [None])
        poison = pool.submit([b"POISON"], [None])
        worker = pool._workers[0]
        assert worker is not None
        worker.proc.wait()  # it answered `honest` and died on `poison`
        later = pool.submit([b"later"], [None])  # written to the dead worker: EPIPE
        assert honest.statuses == b"\0" and honest.tries == 0
        assert poison.tries == 1 and pool.stats["restarts"] == 1
        assert pool.result(later) == b"\0"
        assert pool.result(poison) == bytes([0xFF])  # took down a second worker: rejected
        assert pool.stats["failed_chunks"] == 1 and honest.tries == 0
    finally:
        pool.stop()


def test_a_stopped_pool_starts_no_worker_and_checks_nothing() -> None:
    pool = IngestPool(1, min_batch=1)
    pool.start()
    job = pool.submit([_chain(_seed(62), 1)[0].raw], [None])
    pool.stop()
    late = pool.submit([_chain(_seed(63), 1)[0].raw], [None])
    assert pool.result(job) == pool.result(late) == bytes([STOPPED])
    assert pool.pids() == []
    store = Store(None)
    store.use_pool(pool)
    pool.running = True  # as if stopped between `prepare` and `commit`
    batch = store.prepare([_chain(_seed(64), 1)[0].raw])
    pool.stop()
    result = store.commit(batch, T0 + DAY)
    assert [r.code for r in result.rejected] == ["worker_failed"] and store.count() == 0
    assert "stopped before checking it" in result.rejected[0].message
    assert pool.pids() == []


def _owner_and_thief(pool: IngestPool) -> tuple[Identity, Identity, Identity, Store, Both, Entry]:
    """A party whose key commits to a next one (then to `fresh`), three statements on, held
    by a `Both`; and the thief's entry at seq 5 (signed with the party's stolen key)."""
    owner, nxt, fresh = _seed(7), _seed(8), _seed(9)
    home = Store(None)
    home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    for k in range(3):
        home.append_own(owner, "trust", {"subject": "ab" * 32, "level": k}, T0 + DAY)
    both = Both(pool)
    both.ingest(list(home.export_raw()), T0 + DAY)
    head = home.head(owner.author)
    assert head is not None
    stolen = sign_entry(owner, seq=5, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                        body={"subject": "ab" * 32, "level": -1000})
    return owner, nxt, fresh, home, both, stolen


def test_a_recovery_rotation_in_a_large_batch_commits_it_whole(pool: IngestPool) -> None:
    # A recovery rotation's checks look at what the same pass accepted of its author before
    # it: sliced, the thief's seq 5 would be stored by an earlier slice and taken off the
    # chain, where one pass refuses the rotation (the adversarial review's case).
    owner, nxt, fresh, home, both, stolen = _owner_and_thief(pool)
    own = home.append_own(owner, "trust", {"subject": "cd" * 32, "level": 5}, T0 + 3 * DAY)
    rotation = home.append_own(nxt.for_party(owner.author), "rotation",
                               {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                                "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    batch = [*(e.raw for e in _chain(_seed(50), 5)), stolen.raw, own.raw, rotation.raw]
    result = both.ingest(batch, T0 + 6 * DAY)  # in seq order per author: sliceable but for it
    assert [r.code for r in result.rejected] == ["bad_prev"]


def test_key_vectors_and_a_recovery_rotation_agree(pool: IngestPool) -> None:
    for case in json.loads(KEYS_JSON.read_text())["cases"]:
        both = Both(pool)
        both.ingest([bytes.fromhex(h) for h in case["entries"]], case["now_ms"])
        for hex_entry in case["entries"]:
            both.ingest([bytes.fromhex(hex_entry)], case["now_ms"])
    owner, nxt, fresh, home, other, stolen = _owner_and_thief(pool)
    other.ingest([stolen.raw], T0 + 3 * DAY)
    home.append_own(owner, "trust", {"subject": "cd" * 32, "level": 5}, T0 + 3 * DAY)
    home.append_own(nxt.for_party(owner.author), "rotation",
                    {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                     "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    # After the rotation, the new key signs: entries the pool checks under a key not the
    # author's, and ones signed by the old key that must fail under the new one.
    later = [home.append_own(nxt.for_party(owner.author), "trust",
                             {"subject": "ef" * 32, "level": k}, T0 + 5 * DAY) for k in range(4)]
    old_key = sign_entry(owner, seq=later[-1].seq + 1, prev=later[-1].id, ts=T0 + 6 * DAY,
                         kind="trust", body={"subject": "ab" * 32, "level": 9})
    everything = list(home.export_raw())
    other.ingest(everything[:6], T0 + 6 * DAY)
    other.ingest([*everything[6:], old_key.raw, stolen.raw], T0 + 6 * DAY)
    other.ingest([*everything, old_key.raw], T0 + 6 * DAY)
    assert other.pooled.key_states() and other.pooled.count() == other.inline.count()


def test_a_killed_or_stalled_worker_is_replaced_and_its_chunk_redone(pool: IngestPool) -> None:
    store = Store(None)
    store.use_pool(pool)
    chains = [_chain(_seed(20 + a), 12) for a in range(3)]
    assert len(store.ingest([e.raw for e in chains[0]], T0 + DAY).accepted) == 12
    assert len(pool.pids()) == 2
    os.kill(pool.pids()[0], signal.SIGKILL)
    assert len(store.ingest([e.raw for e in chains[1]], T0 + DAY).accepted) == 12
    assert pool.stats["restarts"] >= 1
    stalled = IngestPool(1, min_batch=1, chunk=4, deadline_s=1.0)
    stalled.start()
    store.use_pool(stalled)
    try:
        store.ingest([chains[2][0].raw], T0 + DAY)  # spawns the worker
        (pid,) = stalled.pids()
        os.kill(pid, signal.SIGSTOP)  # wedged: it answers nothing
        result = store.ingest([e.raw for e in chains[2][1:]], T0 + DAY)
        assert len(result.accepted) == 11 and not result.rejected
        assert stalled.stats["restarts"] == 1 and stalled.pids() != [pid]
    finally:
        stalled.stop()
    assert store.count() == 36


def test_a_chunk_that_takes_down_two_workers_is_rejected_not_checked_in_process() -> None:
    # Workers that die on every chunk they are given (what an entry crashing the decoder
    # would do): the node neither hangs nor checks the chunk itself.
    dying = IngestPool(2, min_batch=1, chunk=5,
                       command=[sys.executable, "-c", "import sys; sys.stdin.buffer.read(4)"])
    dying.start()
    store = Store(None)
    store.use_pool(dying)
    try:
        result = store.ingest([e.raw for e in _chain(_seed(30), 8)], T0 + DAY)
    finally:
        dying.stop()
    assert not result.accepted and store.count() == 0
    assert [r.code for r in result.rejected] == ["worker_failed"] * 8
    assert dying.stats["failed_chunks"] == len(dying.plan(8)) == dying.stats["chunks"]


def _workers_of(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children
            if b"trustnet.store.workers" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _push(stranger: Stranger, url: str, raws: list[bytes]) -> m.PushAck:
    status, reply = stranger.post(url, m.PUSH, m.encode(m.Push(tuple(raws))))
    assert status == 200, reply
    ack = m.decode_reply(m.PUSH, reply)
    assert isinstance(ack, m.PushAck)
    return ack


@pytest.mark.slow
def test_a_real_node_ingests_a_strangers_bulk_push_on_its_workers(tmp_path: Path) -> None:
    with real_node(tmp_path) as node:
        assert node.proc is not None
        stranger = Stranger.fresh()
        now = SystemClock().now_ms()
        chain = _chain(stranger.identity, 600, ts=now - DAY)
        raws = [e.raw for e in chain]
        # 256 entries (the most a push carries at the default limits): the workers check them.
        ack = _push(stranger, node.url, raws[:256])
        assert (ack.accepted, ack.rejected) == (256, 0)
        workers = _workers_of(node.proc.pid)
        assert len(workers) == (os.cpu_count() or 1)
        # Forgeries and garbage in bulk, from another stranger (the first stays in good
        # standing): refused, the workers and the node unharmed.
        forged = [sign_entry(_seed(77).for_party(stranger.identity.author), seq=257,
                             prev=chain[255].id, ts=chain[256].ts, kind="trust",
                             body={"subject": "cd" * 32, "level": k}).raw for k in range(100)]
        junk = [os.urandom(random.Random(k).randint(1, 400)) for k in range(100)]
        ack = _push(Stranger.fresh(), node.url, [*forged, *junk, *[bytes(60_000)] * 8])
        assert ack.accepted == 0 and ack.rejected == 208
        assert _workers_of(node.proc.pid) == workers
        # A worker killed: replaced, the next bulk push is ingested all the same.
        os.kill(workers[0], signal.SIGKILL)
        ack = _push(stranger, node.url, raws[256:512])
        assert (ack.accepted, ack.rejected) == (256, 0)
        assert workers[0] not in _workers_of(node.proc.pid)
        status, body = get(node.url, "/status")
        assert status == 200 and json.loads(body)["entries"] >= 512


@pytest.mark.slow
def test_a_real_node_takes_a_strangers_push_of_thousands_in_slices_as_one_pass(
        tmp_path: Path) -> None:
    # Pushes of up to 4 x 1,024 entries (as `bench gossip` runs): more than a slice.
    with real_node(tmp_path, gossip={"max_push_entries": 1024}) as node:
        stranger = Stranger.fresh()
        now = SystemClock().now_ms()
        chain = []
        for seq in range(1, 3001):
            chain.append(sign_entry(stranger.identity, seq=seq, prev=chain[-1].id if chain
                                    else None, ts=now - DAY + seq, kind="trust",
                                    body={"subject": "ab" * 32, "level": seq % 1000}))
        # In seq order, with what depends on earlier slices at the end: a second entry at
        # the last seq (equivocation), a forgery after it, one beyond a gap.
        other = sign_entry(stranger.identity, seq=3000, prev=chain[-2].id, ts=now - DAY + 5000,
                           kind="trust", body={"subject": "cd" * 32, "level": 1})
        forged = sign_entry(_seed(78).for_party(stranger.identity.author), seq=3001,
                            prev=chain[-1].id, ts=now - DAY + 6000, kind="trust",
                            body={"subject": "cd" * 32, "level": 2})
        beyond = sign_entry(stranger.identity, seq=3005, prev=chain[-1].id, ts=now - DAY + 7000,
                            kind="trust", body={"subject": "cd" * 32, "level": 3})
        batch = [*(e.raw for e in chain), other.raw, forged.raw, beyond.raw]
        expected = Store(None).ingest(batch, now)
        ack = _push(stranger, node.url, batch)
        assert (ack.accepted, ack.rejected) == (len(expected.accepted), len(expected.rejected))
        assert ack.accepted == 3000 and ack.rejected == 1
        status, body = get(node.url, "/status")
        assert status == 200 and json.loads(body)["entries"] == 3000
        status, body = get(node.url, "/forks")
        assert status == 200 and stranger.identity.party_id in body.decode()


def _signed_payload(who: Identity, payload: bytes) -> bytes:
    """An entry of these payload bytes, whatever they hold, signed by `who`."""
    sig = who.sign(ENTRY_DOMAIN + payload)
    return bytes(msgpack.packb([payload, sig], use_bin_type=True))


@pytest.mark.slow
def test_a_real_node_refuses_entries_whose_header_reads_but_body_does_not(
        tmp_path: Path) -> None:
    """The writer reads a pushed entry's header in C and leaves its body to the workers: a
    stranger's entries with a well-formed header and a body that does not decode (or is no
    statement) are refused as in process, signed or not, beside good ones, and the node and
    its workers go on."""
    with real_node(tmp_path) as node:
        assert node.proc is not None
        stranger = Stranger.fresh()
        now = SystemClock().now_ms()
        good = _chain(stranger.identity, 150, ts=now - DAY)
        ok = msgpack.packb([1, b"\0" * 32, 1, None, now - DAY, "trust",
                            {"subject": "ab" * 32, "level": 1, "note": "xx"}], use_bin_type=True)
        broken = [
            ok.replace(b"\xa2xx", b"\xa2\xff\xfe"),  # a str in the body not UTF-8
            ok[:-3],  # the body cut short
            ok + b"\x00",  # bytes after the body
            ok.replace(b"\xa2xx", b"\xcb" + bytes(8)),  # a float in the body
            ok.replace(b"\xa2xx", b"\xd4\x01\x00"),  # an ext type
            ok.replace(b"\xa5trust", b"\xda\x04\x00" + b"k" * 1024),  # a fresh 1 KB kind
            ok.replace(b"\xa5trust", b"\xa9no-schema"),  # a kind nobody knows
        ]
        bad: list[bytes] = []
        for k, payload in enumerate(broken * 10):
            who = Identity.from_seed(k.to_bytes(32, "big"))  # a fresh author each: seq 1
            payload = payload.replace(b"\0" * 32, who.author, 1)
            bad.append(_signed_payload(who, payload))
            if k % 7 == 0:  # and some with a signature that does not verify
                bad.append(_signed_payload(Identity.from_seed(bytes([7]) * 32), payload))
        batch = [*(e.raw for e in good[:100]), *bad, *(e.raw for e in good[100:])]
        assert 64 <= len(batch) <= 256  # the workers check it (and a push carries it)
        expected = Store(None).ingest(batch, now)
        assert len(expected.accepted) == 150 and len(expected.rejected) == len(bad)
        ack = _push(Stranger.fresh(), node.url, batch)
        assert (ack.accepted, ack.rejected) == (150, len(bad))
        workers = _workers_of(node.proc.pid)
        assert len(workers) == (os.cpu_count() or 1)
        status, body = get(node.url, "/status")
        assert status == 200 and json.loads(body)["entries"] == 150
        # The same again: held entries are duplicates, the broken ones refused again.
        again = _push(Stranger.fresh(), node.url, batch)
        assert (again.accepted, again.duplicates, again.rejected) == (0, 150, len(bad))
        assert _workers_of(node.proc.pid) == workers


def test_the_worker_count_is_a_setting(tmp_path: Path) -> None:
    from trustnet.config.loader import NodeConfig
    from trustnet.errors import ConfigError
    from trustnet.node.settings import load_settings

    def workers(table: dict[str, Any]) -> int:
        config = NodeConfig.from_mapping({"ingest": table})
        return load_settings(config).ingest.worker_count()

    assert workers({}) == (os.cpu_count() or 1)
    assert workers({"workers": 0}) == 0 and workers({"workers": 3}) == 3
    with pytest.raises(ConfigError, match=r"\[ingest\] workers"):
        workers({"workers": -2})
    in_process = IngestPool(0)
    in_process.start()
    assert not in_process.running  # 0: the store checks everything in process
