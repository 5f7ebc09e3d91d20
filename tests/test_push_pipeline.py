"""Two pushes in flight (issue 15 item 2): a node checks a large push's entries on its ingest
workers before the push's turn, without blocking its event loop, and answers pushes in the
order it took them in.

The pool's asynchronous wait settles chunks as its blocking `result` does (two waits at
once, a worker wedged or stopped under them); `Store.checked_ahead` gives `prepare` the
statuses of the entries it would send the workers, and nothing else: results are the
in-process ones, and an entry checked under its author's key is checked again when the key
changed before its turn. Then a real daemon over HTTP, with fresh keys as a stranger's: two
large pushes at once, a forged request that costs no check, held entries and a flood of new
authors that reach no worker, and `/status` answered while a push waits on wedged workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemons import running_daemons
from trustnet.bench.stranger import Stranger
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.log.keys import key_digest
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.store.workers import OK, SIG_BAD, STOPPED, IngestPool, check

T0 = 1_767_225_600_000
DAY = 86_400_000


def _seed(n: int) -> Identity:
    return Identity.from_seed(bytes([n]) * 32)


def _chain(who: Identity, n: int, ts: int = T0, start: int = 1, prev: bytes | None = None
           ) -> list[Entry]:
    out: list[Entry] = []
    for seq in range(start, start + n):
        link = out[-1].id if out else prev
        out.append(sign_entry(who, seq=seq, prev=link, ts=ts + seq, kind="trust",
                              body={"subject": "ab" * 32, "level": seq % 100}))
    return out


@pytest.fixture
def pool() -> Iterator[IngestPool]:
    p = IngestPool(2, min_batch=8, chunk=16, deadline_s=10.0)
    p.start()
    try:
        yield p
    finally:
        p.stop()


# -- the pool's wait ------------------------------------------------------------------------


async def test_two_waits_at_once_settle_their_chunks_as_a_check_in_process(
        pool: IngestPool) -> None:
    good = [e.raw for e in _chain(_seed(1), 60)]
    forged = [sign_entry(_seed(2).for_party(_seed(3).author), seq=1, prev=None, ts=T0,
                         kind="trust", body={"subject": "ab" * 32, "level": k}).raw
              for k in range(29)]
    first = [pool.submit(good[k:k + 16], [None] * len(good[k:k + 16])) for k in range(0, 60, 16)]
    second = [pool.submit(forged[k:k + 10], [None] * len(forged[k:k + 10]))
              for k in range(0, 29, 10)]
    await asyncio.gather(pool.wait(first), pool.wait(second))
    assert b"".join(j.statuses or b"" for j in first) == bytes([OK]) * 60
    assert (b"".join(j.statuses or b"" for j in second)
            == bytes(check(raw, None) for raw in forged) == bytes([SIG_BAD]) * 29)
    assert pool._waiters == [] and pool._watched == {}  # nothing left registered on the loop


async def test_a_wait_outlives_a_wedged_worker_and_settles_when_the_pool_stops() -> None:
    wedged = IngestPool(1, min_batch=1, chunk=8, deadline_s=1.0)
    wedged.start()
    try:
        wedged.spawn()
        (pid,) = wedged.pids()
        os.kill(pid, signal.SIGSTOP)  # answers nothing: replaced after its deadline
        job = wedged.submit([e.raw for e in _chain(_seed(4), 8)], [None] * 8)
        await wedged.wait([job])
        assert job.statuses == bytes([OK]) * 8
        assert wedged.stats["restarts"] == 1 and wedged.pids() != [pid]
    finally:
        wedged.stop()
    # A worker that says it is ready and then never answers: the pool stops under the wait.
    silent = IngestPool(1, min_batch=1, chunk=8, command=[
        sys.executable, "-c",
        "import sys; sys.stdout.buffer.write(b'TNW1'); sys.stdout.flush(); sys.stdin.buffer.read()"])
    silent.start()
    job = silent.submit([e.raw for e in _chain(_seed(5), 4)], [None] * 4)
    waiting = asyncio.create_task(silent.wait([job]))
    while not silent.pids() or not silent._waiters:
        await asyncio.sleep(0.01)
    silent.stop()
    await waiting
    assert job.statuses == bytes([STOPPED]) * 4 and silent._watched == {}


async def test_a_wait_wakes_when_the_blocking_path_took_its_answers() -> None:
    """Another writer on the loop (the push before, a fetch, an import) collects answers
    with the blocking `result`; a `wait` whose chunk it read is woken at once, not left to
    sleep until the worker's deadline (the adversarial review's case)."""
    pool = IngestPool(1, min_batch=1, chunk=8, deadline_s=600.0)
    pool.start()
    try:
        pool.spawn()
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGSTOP)  # nothing answered before the wait is registered
        mine = pool.submit([e.raw for e in _chain(_seed(6), 8)], [None] * 8)
        other = pool.submit([e.raw for e in _chain(_seed(7), 8)], [None] * 8)
        waiting = asyncio.create_task(pool.wait([mine]))
        while not pool._waiters:
            await asyncio.sleep(0)
        os.kill(pid, signal.SIGCONT)
        pool.result(other)  # the blocking path: it reads both answers
        assert mine.statuses == bytes([OK]) * 8
        for _ in range(10):
            await asyncio.sleep(0)
        assert waiting.done() and pool._watched == {}
    finally:
        pool.stop()


# -- the store: checked ahead ---------------------------------------------------------------


@pytest.mark.parametrize("whole", [True, False])
async def test_entries_checked_ahead_are_not_sent_again_and_give_the_in_process_result(
        pool: IngestPool, whole: bool) -> None:
    """`whole`: the block starts once every status is in, or once the first slice's are
    (then `prepare`'s chunks read the rest from the chunks sent ahead, and the batch
    commits in slices as they come in)."""
    pooled, inline = Store(None), Store(None)
    pooled.use_pool(pool)
    pooled._slice_entries = 20
    a, b, c = _chain(_seed(10), 100), _chain(_seed(11), 50), _chain(_seed(12), 40)
    forged = sign_entry(_seed(13).for_party(_seed(10).author), seq=61, prev=a[59].id,
                        ts=T0 + 61, kind="trust", body={"subject": "cd" * 32, "level": 1})
    for store in (pooled, inline):
        store.ingest([e.raw for e in [*a[:20], *b[:10]]], T0 + DAY)
    # Held entries (duplicates), new ones of held authors, a forgery among them, and an
    # author not held yet (its entries wait for the new-author admission: never ahead).
    batch = [e.raw for e in [*a[:20], *a[20:60], forged, *a[60:], *b[10:], *c]]
    async with pooled.checked_ahead(batch, whole=whole) as ahead:
        assert ahead == 80 + 1 + 40
        sent = pool.stats["entries"]
        result = pooled.ingest(batch, T0 + DAY)
        # Only the new author's went to the workers (and those sharing its first chunk).
        assert 40 <= pool.stats["entries"] - sent < 40 + pool.chunk
    expected = inline.ingest(batch, T0 + DAY)
    assert ([e.raw for e in result.accepted], result.duplicates) == (
        [e.raw for e in expected.accepted], expected.duplicates)
    assert ([(r.index, r.code) for r in result.rejected]
            == [(r.index, r.code) for r in expected.rejected])
    assert [r.code for r in result.rejected] == ["bad_signature"]
    assert pooled.heads() == inline.heads() and pooled._checked == {}
    # Too few to be worth the workers: nothing is checked ahead.
    more = _chain(_seed(10), 5, start=101, prev=a[-1].id)
    async with pooled.checked_ahead([e.raw for e in more]) as ahead:
        assert ahead == 0


@pytest.mark.parametrize("alone", [True, False])
async def test_a_push_whose_turn_comes_alone_stops_waiting_for_its_last_checks(
        alone: bool) -> None:
    """`until` (a push behind another): once its turn comes with no push behind it, the
    block starts when the first slice's statuses are in, not every one (its slices are
    stored as the rest is checked: the inserts overlap the workers); with a push behind
    it, every status first (the event loop stays free to take that one in). The result
    is the in-process one either way."""
    pool = IngestPool(1, min_batch=8, chunk=16, deadline_s=10.0)
    pool.start()
    try:
        pool.spawn()
        (pid,) = pool.pids()
        pooled, inline = Store(None), Store(None)
        pooled.use_pool(pool)
        pooled._slice_entries = 16
        chain = _chain(_seed(14), 200)
        for store in (pooled, inline):
            store.ingest([chain[0].raw], T0 + DAY)
        batch = [e.raw for e in chain[1:]]
        waited: list[int] = []
        wait = pool.wait

        async def counted(jobs: list[Any]) -> None:
            waited.append(sum(len(j.raws) for j in jobs))
            await wait(jobs)

        pool.wait = counted  # type: ignore[method-assign]

        async def turn() -> bool:
            # The worker was stopped before the chunks went out: nothing is answered when
            # the turn comes, whatever the machine's speed.
            os.kill(pid, signal.SIGCONT)
            return alone

        os.kill(pid, signal.SIGSTOP)
        async with pooled.checked_ahead(batch, until=turn) as ahead:
            assert ahead == 199
            result = pooled.ingest(batch, T0 + DAY)
        # Every chunk waited for first; then, alone, only the first slice's (its chunks up
        # to the slice's 16 entries).
        assert waited[0] == 199 and len(waited) == 2
        assert 0 < waited[1] <= 16 if alone else waited[1] == 199
        expected = inline.ingest(batch, T0 + DAY)
        assert [e.raw for e in result.accepted] == [e.raw for e in expected.accepted]
        assert pooled.heads() == inline.heads() and pooled._checked == {}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        pool.stop()


async def test_an_entry_checked_under_its_authors_key_is_checked_again_once_the_key_changed(
        pool: IngestPool) -> None:
    """The statuses kept are the ones under the author's own key: an author that rotates
    before the push's turn has the entries signed by its old key checked under the new one
    (a thief holding the old key gains nothing from the wait)."""
    owner, nxt, fresh = _seed(20), _seed(21), _seed(22)
    home = Store(None)
    for k in range(3):
        home.append_own(owner, "trust", {"subject": "ab" * 32, "level": k}, T0 + k)
    store = Store(None)
    store.use_pool(pool)
    store.ingest(list(home.export_raw()), T0 + DAY)
    head = home.head(owner.author)
    assert head is not None
    keys = home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0 + 4)
    rotation = home.append_own(nxt.for_party(owner.author), "rotation",
                               {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex()},
                               T0 + 5)
    # Seq 6..45 signed with the old key and linked to the rotation, as a thief would.
    stolen = _chain(owner, 40, ts=T0 + 10, start=6, prev=rotation.id)
    raws = [e.raw for e in stolen]
    async with store.checked_ahead(raws) as ahead:
        assert ahead == 40  # the author held no key events yet: checked under its own key
        assert store.ingest([keys.raw, rotation.raw], T0 + DAY).accepted  # the key changes
        result = store.ingest(raws, T0 + DAY)
    assert not result.accepted
    assert {r.code for r in result.rejected} == {"bad_signature"}
    assert store.head(owner.author) == home.head(owner.author)


async def test_a_chunk_checked_ahead_that_failed_is_refused_not_taken_as_checked() -> None:
    """Statuses read from chunks sent ahead are theirs, failures too: entries whose chunk
    took down two workers are refused (`worker_failed`), never stored unchecked."""
    dying = IngestPool(2, min_batch=8, chunk=16,
                       command=[sys.executable, "-c", "import sys; sys.stdin.buffer.read(4)"])
    dying.start()
    store = Store(None)
    chain = _chain(_seed(14), 41)
    store.ingest([chain[0].raw], T0 + DAY)
    store.use_pool(dying)
    try:
        async with store.checked_ahead([e.raw for e in chain[1:]], whole=False) as ahead:
            assert ahead == 40
            result = store.ingest([e.raw for e in chain[1:]], T0 + DAY)
    finally:
        dying.stop()
    assert not result.accepted and store.count() == 1
    assert {r.code for r in result.rejected} == {"worker_failed"}


# -- a real daemon over HTTP ----------------------------------------------------------------


def _bulk_config() -> GossipConfig:
    return GossipConfig(tick_interval_s=None, max_push_entries=256)


async def _post(session: aiohttp.ClientSession, url: str, stranger: Stranger, body: bytes,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with session.post(url + m.PUSH, data=body,
                            headers=headers or stranger.headers(m.PUSH, body)) as resp:
        return resp.status, await resp.read()


def _ack(status: int, reply: bytes) -> m.PushAck:
    assert status == 200, reply
    ack = m.decode_reply(m.PUSH, reply)
    assert isinstance(ack, m.PushAck)
    return ack


def _gossip_stats(daemon: Daemon) -> dict[str, int]:
    return dict(daemon.node.protocol.stats)


async def test_a_node_takes_two_large_pushes_at_once_and_stores_both_in_order(
        tmp_path: Path) -> None:
    async with running_daemons(tmp_path, ["target"], gossip=_bulk_config()) as (target,):
        assert target.url is not None
        stranger = Stranger.fresh()
        now = SystemClock().now_ms()
        chain = _chain(stranger.identity, 1201, ts=now - DAY)
        raws = [e.raw for e in chain]
        async with aiohttp.ClientSession() as session:
            first = _ack(*await _post(session, target.url, stranger,
                                      m.encode(m.Push((raws[0],)))))
            assert first.accepted == 1  # the author is held: its next entries go ahead
            sent = [await _taken_in(target, session, stranger, raws[k:k + 400])
                    for k in (1, 401, 801)]
            acks = [_ack(*await task) for task in sent]
        assert sum(a.accepted for a in acks) == 1200 and not any(a.wants for a in acks)
        assert target.store.count() == 1201
        assert target.store.head(stranger.identity.author).seq == 1201  # type: ignore[union-attr]
        assert _gossip_stats(target)["checked_ahead"] >= 400
        assert target.store._checked == {}


async def test_a_forgery_in_the_last_of_three_pushes_is_refused_as_in_process(
        tmp_path: Path) -> None:
    """A stranger keeps three large pushes in flight, a forgery in the middle of the last
    (its turn may come while its checks run, with nobody behind it: it then stores its
    slices as they are checked). Whatever the path, the node ends as one taking the three
    in order in process: the forgery refused, what follows it wanted again, the rest kept."""
    async with running_daemons(tmp_path, ["target"], gossip=_bulk_config()) as (target,):
        assert target.url is not None
        stranger, thief = Stranger.fresh(), Stranger.fresh()
        now = SystemClock().now_ms()
        chain = _chain(stranger.identity, 1201, ts=now - DAY)
        raws = [e.raw for e in chain]
        forged = sign_entry(thief.identity.for_party(stranger.identity.author), seq=1000,
                            prev=chain[998].id, ts=now - DAY + 1000, kind="trust",
                            body={"subject": "cd" * 32, "level": 1})
        pushes = [raws[1:401], raws[401:801], [*raws[801:999], forged.raw, *raws[1000:]]]
        async with aiohttp.ClientSession() as session:
            assert _ack(*await _post(session, target.url, stranger,
                                     m.encode(m.Push((raws[0],))))).accepted == 1
            sent = [await _taken_in(target, session, stranger, part) for part in pushes]
            acks = [_ack(*await task) for task in sent]
        oracle = Store(None)
        oracle.ingest([raws[0]], now)
        expected = [oracle.ingest(part, now) for part in pushes]
        assert [a.accepted for a in acks] == [len(r.accepted) for r in expected]
        assert [a.rejected for a in acks] == [len(r.rejected) for r in expected]
        assert expected[2].rejected[0].code == "bad_signature"
        assert target.store.heads() == oracle.heads()
        assert target.store.head(stranger.identity.author).seq == 999  # type: ignore[union-attr]
        assert target.store._checked == {} and target.node._queued == 0


async def test_checks_ahead_cost_a_stranger_nothing_it_could_not_spend_before(
        tmp_path: Path) -> None:
    config = replace(_bulk_config(), new_authors_per_peer=100)
    async with running_daemons(tmp_path, ["target"], gossip=config) as (target,):
        assert target.url is not None
        pool = target.ingest_pool
        stranger = Stranger.fresh()
        now = SystemClock().now_ms()
        raws = [e.raw for e in _chain(stranger.identity, 300, ts=now - DAY)]
        async with aiohttp.ClientSession() as session:
            assert _ack(*await _post(session, target.url, stranger,
                                     m.encode(m.Push(tuple(raws[:200]))))).accepted == 200
            base = dict(pool.stats)
            # A request whose signature does not verify: refused before any check.
            body = m.encode(m.Push(tuple(raws[200:])))
            forged = dict(stranger.headers(m.PUSH, body))
            forged_body = m.encode(m.Push(tuple(reversed(raws[200:]))))
            status, reply = await _post(session, target.url, stranger, forged_body, forged)
            assert status == 401, reply
            # Held entries sent again in bulk: one lookup each, no check.
            ack = _ack(*await _post(session, target.url, stranger,
                                    m.encode(m.Push(tuple(raws[:200])))))
            assert (ack.accepted, ack.duplicates) == (0, 200)
            # A flood of fresh authors: refused by the new-author admission, never checked.
            flood = [e.raw for k in range(300) for e in _chain(Identity.generate(), 1,
                                                                ts=now - DAY + k)]
            ack = _ack(*await _post(session, target.url, Stranger.fresh(),
                                    m.encode(m.Push(tuple(flood)))))
            limited = ack.rejected
            assert (ack.accepted, limited) == (100, 200)
            assert pool.stats["entries"] - base["entries"] == 300 - limited
            assert _gossip_stats(target)["checked_ahead"] == 0
            # And the honest continuation goes ahead.
            ack = _ack(*await _post(session, target.url, stranger, body))
            assert ack.accepted == 100 and _gossip_stats(target)["checked_ahead"] == 100
        assert target.store._checked == {}


@asynccontextmanager
async def _wedged(tmp_path: Path, n: int) -> AsyncIterator[
        tuple[Daemon, Stranger, list[bytes], aiohttp.ClientSession, Callable[[], None]]]:
    """A daemon holding the first of a stranger's `n` entries (the rest: `raws`), its
    workers spawned and stopped (SIGSTOP) until `resume()` (or the block's end)."""
    async with running_daemons(tmp_path, ["target"], gossip=_bulk_config()) as (target,):
        assert target.url is not None
        stranger = Stranger.fresh()
        raws = [e.raw for e in _chain(stranger.identity, n, ts=SystemClock().now_ms() - DAY)]
        async with aiohttp.ClientSession() as session:
            _ack(*await _post(session, target.url, stranger, m.encode(m.Push((raws[0],)))))
            target.ingest_pool.spawn()
            pids = target.ingest_pool.pids()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)

            def resume() -> None:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)

            try:
                yield target, stranger, raws, session, resume
            finally:
                resume()


async def _taken_in(target: Daemon, session: aiohttp.ClientSession, stranger: Stranger,
                    raws: list[bytes]) -> asyncio.Task[tuple[int, bytes]]:
    """Push `raws` and return once the node took the push in (the next comes after it)."""
    assert target.url is not None
    last = target.node._last_push
    push = asyncio.create_task(_post(session, target.url, stranger, m.encode(m.Push(tuple(raws)))))
    while target.node._last_push is last:
        await asyncio.sleep(0.005)
    return push


async def test_the_node_answers_while_a_push_waits_on_wedged_workers(tmp_path: Path) -> None:
    """The event loop is free while a push's entries are on the workers: `/status` is
    answered, and a small push sent after it (the chain's next entries, checked in process)
    waits for its turn instead of being refused for the gap."""
    async with _wedged(tmp_path, 321) as (target, stranger, raws, session, resume):
        push = await _taken_in(target, session, stranger, raws[1:301])
        while not target.ingest_pool._waiters:  # its entries are on the workers
            await asyncio.sleep(0.01)
        async with session.get(f"{target.url}/status") as resp:
            assert resp.status == 200
            assert json.loads(await resp.read())["entries"] == 1
        after = await _taken_in(target, session, stranger, raws[301:])
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert not push.done() and not after.done()
        resume()
        first, second = _ack(*await push), _ack(*await after)
        assert (first.accepted, second.accepted, second.wants) == (300, 20, ())
        assert target.store.count() == 321


async def test_a_push_cancelled_while_it_waits_lets_nobody_past_the_push_before_it(
        tmp_path: Path) -> None:
    """A waits on wedged workers; B (another author) is taken in after it and cancelled
    while it waits; D, the next of A's chain, is taken in after that: D is answered after
    A (not refused for the gap A fills), whatever became of B."""
    async with _wedged(tmp_path, 321) as (target, stranger, raws, _session, resume):
        node = target.node

        def handle(who: Stranger, part: list[bytes]) -> asyncio.Task[tuple[int, bytes]]:
            body = m.encode(m.Push(tuple(part)))
            return asyncio.create_task(
                node.handle_gossip(m.PUSH, who.headers(m.PUSH, body), body))

        a = handle(stranger, raws[1:301])
        while not target.ingest_pool._waiters:
            await asyncio.sleep(0.01)
        other = Stranger.fresh()
        b = handle(other, [e.raw for e in _chain(other.identity, 80, ts=SystemClock().now_ms())])
        while node._last_push is None or node._queued < 2:
            await asyncio.sleep(0.005)
        b.cancel()
        with pytest.raises(asyncio.CancelledError):
            await b
        d = handle(stranger, raws[301:])
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert not a.done() and not d.done()
        resume()
        first, last = _ack(*await a), _ack(*await d)
        assert (first.accepted, last.accepted, last.wants) == (300, 20, ())
        assert node._queued == 0 and node._last_push is None


async def test_pushes_over_the_queue_limit_are_refused_busy_and_nobody_is_charged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trustnet.node import core

    monkeypatch.setattr(core, "MAX_PUSHES_QUEUED", 2)
    async with _wedged(tmp_path, 321) as (target, stranger, raws, session, resume):
        waiting = [await _taken_in(target, session, stranger, raws[k:k + 100]) for k in (1, 101)]
        status, reply = await _post(session, target.url or "", stranger,
                                    m.encode(m.Push(tuple(raws[201:]))))
        assert status == 503 and b"busy" in reply
        resume()
        assert [_ack(*await p).accepted for p in waiting] == [100, 100]
        assert _ack(*await _post(session, target.url or "", stranger,
                                 m.encode(m.Push(tuple(raws[201:]))))).accepted == 120
        peer = target.node.protocol.peers.get(stranger.node_id)
        assert peer is not None and peer.score_value >= 0 and not peer.graylisted_until


async def test_at_most_four_pushes_hold_entries_checked_ahead(tmp_path: Path) -> None:
    """Pushes beyond `MAX_PUSHES_AHEAD` wait for their turn with nothing checked or held
    ahead (their entries are checked when they are answered), in order all the same."""
    from trustnet.node.core import MAX_PUSHES_AHEAD

    async with _wedged(tmp_path, 701) as (target, stranger, raws, session, resume):
        pushes = [await _taken_in(target, session, stranger, raws[k:k + 100])
                  for k in range(1, 701, 100)]
        assert target.node._ahead == MAX_PUSHES_AHEAD == 4
        assert not any(p.done() for p in pushes)
        resume()
        acks = [_ack(*await p) for p in pushes]
        assert [a.accepted for a in acks] == [100] * 7 and target.store.count() == 701
        assert _gossip_stats(target)["checked_ahead"] == 400 and target.node._ahead == 0


async def test_a_node_catching_up_checks_fetched_entries_ahead(tmp_path: Path) -> None:
    """Anti-entropy between two real daemons: the entries a fetch brings (new ones of an
    author held) are checked on the ingest workers before the reply is taken in."""
    from tests.harness.nodes import MANUAL, init_node
    from tests.harness.wait import wait_until

    a = Daemon(init_node(tmp_path, "a"), gossip=MANUAL)
    b = Daemon(init_node(tmp_path, "b"), gossip=MANUAL)
    raws = [e.raw for e in _chain(_seed(30), 300, ts=SystemClock().now_ms() - DAY)]
    now = SystemClock().now_ms()
    a.store.ingest(raws, now)
    b.store.ingest(raws[:1], now)
    await a.start()
    await b.start()
    try:
        assert a.url is not None and b.node.add_peer(a.url)
        while b.store.count() < 300:
            await b.node.tick()
            await wait_until(lambda: not b.node.busy, "b's session ends")
        assert _gossip_stats(b)["checked_ahead"] >= 64 and b.store._checked == {}
        assert b.store.heads_digest() == a.store.heads_digest()
        assert a.node.errors == [] and b.node.errors == []
    finally:
        await a.stop()
        await b.stop()


async def test_a_push_is_alone_at_its_turn_when_no_push_came_behind_it(tmp_path: Path) -> None:
    async with running_daemons(tmp_path, ["a"], gossip=GossipConfig(tick_interval_s=None)) as (d,):
        node = d.node
        loop = asyncio.get_running_loop()
        before, mine = loop.create_future(), loop.create_future()
        node._last_push = mine
        turn = asyncio.ensure_future(node._alone_at_turn(before, mine))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not turn.done()  # the push before it has not answered yet
        before.set_result(None)
        assert await turn is True
        node._last_push = loop.create_future()  # another push came behind it
        assert await node._alone_at_turn(before, mine) is False
        node._last_push = None


async def test_waiting_for_the_first_of_two_never_swallows_the_callers_cancellation() -> None:
    """`_first_of` cancels and waits for its helpers: a cancellation of the caller meanwhile
    (a node stopping, a timeout around the push) is raised, not lost in their clean-up."""
    from trustnet.store.sqlite import _first_of

    cleaning = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.sleep(0.05)  # a helper slow to end (a worker's pipe unwatched)
            raise

    async def turn() -> bool:
        return True

    caller = asyncio.ensure_future(_first_of(work(), turn()))
    await cleaning.wait()
    caller.cancel()  # while `_first_of` waits for its helper to end
    with pytest.raises(asyncio.CancelledError):
        await caller
    # A failing `until` fails the wait; `work` ending first gives False.

    async def broken() -> bool:
        raise RuntimeError("turn")

    with pytest.raises(RuntimeError, match="turn"):
        await _first_of(asyncio.sleep(60), broken())
    assert await _first_of(asyncio.sleep(0), asyncio.sleep(60, result=True)) is False
