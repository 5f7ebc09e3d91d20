"""The store: durable own appends, idempotent chain-ordered ingest, forks, locking, queries."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import T0, chain, ident, trust_body
from trustnet.errors import StoreError
from trustnet.log.entry import sign_entry
from trustnet.store.sqlite import Store


def test_append_own_links_the_chain_and_never_goes_back_in_time(alice):
    store = Store(None)
    e1 = store.append_own(alice, "trust", trust_body("ab" * 32), T0)
    e2 = store.append_own(alice, "trust", trust_body("cd" * 32), T0 - 5000)
    assert (e1.seq, e1.prev) == (1, None)
    assert (e2.seq, e2.prev, e2.ts) == (2, e1.id, T0)  # ts clamped to the chain's last
    assert store.head(alice.public_key).id == e2.id
    assert store.count() == 2


def test_own_entries_survive_reopen(tmp_path: Path, alice):
    with Store.open_dir(tmp_path) as store:
        ids = [store.append_own(alice, "trust", trust_body("ab" * 32, i), T0 + i).id for i in range(5)]
    with Store.open_dir(tmp_path) as store:
        assert [e.id for e in store.range(alice.public_key, 0, 100)] == ids
        assert store.head(alice.public_key).seq == 5


def test_ingest_is_idempotent_and_orders_chains(alice, bob):
    entries = chain(alice, 20) + chain(bob, 10)
    shuffled = [e.raw for e in entries]
    random.Random(4).shuffle(shuffled)
    store = Store(None)
    first = store.ingest(shuffled, T0 + 10**6)
    assert len(first.accepted) == 30 and not first.rejected and not first.gaps
    again = store.ingest(shuffled, T0 + 10**6)
    assert (len(again.accepted), again.duplicates) == (0, 30)
    assert [e.seq for e in store.range(alice.public_key, 5, 3)] == [6, 7, 8]


def test_a_shuffled_batch_is_checked_per_author_run_as_one_entry_at_a_time_would_be(alice, bob):
    # The writer checks each author's run against one working head and moves the store's
    # heads once per run: a bad entry inside a run stops that run only, and heads, count and
    # digest end as entry-by-entry ingest leaves them.
    carol = ident(77)
    entries = chain(alice, 12) + chain(bob, 9) + chain(carol, 7)
    forged = bytearray(entries[5].raw)  # alice's seq 6
    forged[-1] ^= 1
    raws = [bytes(forged) if i == 5 else e.raw for i, e in enumerate(entries)]
    shuffled = list(raws)
    random.Random(15).shuffle(shuffled)
    batch, single = Store(None), Store(None)
    result = batch.ingest(shuffled, T0 + 10**6)
    for raw in raws:
        single.ingest([raw], T0 + 10**6)
    assert [r.code for r in result.rejected] == ["bad_signature"]
    assert result.gaps == {alice.public_key: 5}
    assert len(result.accepted) == 5 + 9 + 7
    assert batch.heads() == single.heads()
    assert batch.head(alice.public_key).seq == 5 and batch.head(carol.public_key).seq == 7
    assert batch.count() == single.count() == 21
    assert batch.heads_digest() == single.heads_digest()


def test_entries_beyond_a_gap_are_reported_not_stored(alice):
    entries = chain(alice, 6)
    store = Store(None)
    result = store.ingest([entries[0].raw, entries[1].raw, entries[4].raw], T0 + 10**6)
    assert [e.seq for e in result.accepted] == [1, 2]
    assert result.gaps == {alice.public_key: 2}
    assert store.count() == 2
    result = store.ingest([e.raw for e in entries[2:]], T0 + 10**6)
    assert [e.seq for e in result.accepted] == [3, 4, 5, 6]


def test_bad_entries_are_rejected_with_codes_and_the_rest_kept(alice):
    entries = chain(alice, 3)
    forged = bytearray(entries[1].raw)
    forged[-1] ^= 1
    store = Store(None)
    result = store.ingest([entries[0].raw, bytes(forged), b"\x00garbage"], T0 + 10**6)
    assert [e.seq for e in result.accepted] == [1]
    assert sorted(r.code for r in result.rejected) == ["bad_encoding", "bad_signature"]
    assert {r.index for r in result.rejected} == {1, 2}


def test_future_entries_are_rejected(alice):
    e = sign_entry(alice, seq=1, prev=None, ts=T0 + 6 * 60_000, kind="trust", body=trust_body("ab" * 32))
    result = Store(None).ingest([e.raw], T0)
    assert [r.code for r in result.rejected] == ["bad_timestamp"]


def test_equivocation_yields_a_stored_fork_proof(alice):
    store = Store(None)
    a = chain(alice, 2)
    b2 = sign_entry(alice, seq=2, prev=a[0].id, ts=T0 + 5, kind="trust", body=trust_body("cd" * 32))
    store.ingest([e.raw for e in a], T0 + 10**6)
    result = store.ingest([b2.raw], T0 + 10**6)
    assert len(result.forks) == 1
    proof = result.forks[0]
    assert {proof.a.id, proof.b.id} == {a[1].id, b2.id}
    assert store.forked_authors() == {alice.public_key}
    assert store.add_fork(proof) is False  # already known
    assert [p.encode() for p in store.forks()] == [proof.encode()]
    # the first branch stays; the equivocating entry is not stored
    assert store.get(b2.id) is None and store.get(a[1].id) is not None


def test_equivocation_inside_one_batch_is_caught(alice):
    a = chain(alice, 2)
    b2 = sign_entry(alice, seq=2, prev=a[0].id, ts=T0 + 5, kind="trust", body=trust_body("cd" * 32))
    result = Store(None).ingest([a[0].raw, a[1].raw, b2.raw], T0 + 10**6)
    assert len(result.accepted) == 2 and len(result.forks) == 1


def test_a_forged_second_entry_is_not_a_fork(alice):
    a = chain(alice, 2)
    b2 = sign_entry(ident(9), seq=2, prev=a[0].id, ts=T0, kind="trust", body=trust_body("cd" * 32))
    raw = bytearray(b2.raw)
    # splice alice's key in as author: the signature no longer verifies
    payload_at = raw.find(ident(9).public_key)
    raw[payload_at : payload_at + 32] = alice.public_key
    store = Store(None)
    store.ingest([e.raw for e in a], T0 + 10**6)
    result = store.ingest([bytes(raw)], T0 + 10**6)
    assert not result.forks and [r.code for r in result.rejected] == ["bad_signature"]


def test_a_forked_identity_refuses_to_sign(alice):
    store = Store(None)
    a = chain(alice, 2)
    b2 = sign_entry(alice, seq=2, prev=a[0].id, ts=T0 + 5, kind="trust", body=trust_body("cd" * 32))
    store.ingest([a[0].raw, a[1].raw, b2.raw], T0 + 10**6)
    with pytest.raises(StoreError) as exc:
        store.append_own(alice, "trust", trust_body("ab" * 32), T0)
    assert exc.value.code == "forked"


def test_one_writer_per_directory(tmp_path: Path):
    with Store.open_dir(tmp_path):
        with pytest.raises(StoreError) as exc:
            Store.open_dir(tmp_path)
        assert exc.value.code == "locked"
        # a reader is fine beside the writer
        with Store.open_dir(tmp_path, readonly=True) as reader:
            assert reader.count() == 0
    Store.open_dir(tmp_path).close()  # released on close


def test_heads_digest_tracks_heads(alice, bob):
    s1, s2 = Store(None), Store(None)
    assert s1.heads_digest() == s2.heads_digest()
    entries = chain(alice, 3) + chain(bob, 2)
    s1.ingest([e.raw for e in entries], T0 + 10**6)
    assert s1.heads_digest() != s2.heads_digest()
    s2.ingest([e.raw for e in reversed(entries)], T0 + 10**6)
    assert s1.heads_digest() == s2.heads_digest()
    assert s1.heads() == {alice.public_key: (3, entries[2].id), bob.public_key: (2, entries[4].id)}


def test_queries_by_author_kind_and_cursor(alice, bob):
    store = Store(None)
    store.ingest([e.raw for e in chain(alice, 5) + chain(bob, 5)], T0 + 10**6)
    store.append_own(ident(3), "profile", {"name": "x", "role": "state", "urls": []}, T0)
    assert len(store.query(kind="trust", limit=100)) == 10
    assert [e.kind for e in store.query(kind="profile")] == ["profile"]
    page = store.page(limit=4)
    rest = store.page(after=page[-1][1], limit=100)
    assert len(page) + len(rest) == 11
    assert [e.seq for e in store.query(author=bob.public_key, after=3)] == [4, 5]
    assert store.kinds() == {"trust": 10, "profile": 1}


def test_a_corrupt_database_is_a_clear_error(tmp_path: Path):
    (tmp_path / "store.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as exc:
        Store.open_dir(tmp_path)
    assert exc.value.code == "bad_store"
    with pytest.raises(StoreError) as again:  # the lock was released on the way out
        Store.open_dir(tmp_path)
    assert again.value.code == "bad_store"


def _corrupt(store: Store, author: bytes, seq: int, flip_at: int = -1) -> None:
    """Flip one byte of a stored entry's raw bytes, as a failing disk would."""
    (raw,) = store._db.execute("SELECT raw FROM entries WHERE author=? AND seq=?",
                               (author, seq)).fetchone()
    bad = bytearray(raw)
    bad[flip_at] ^= 0x01
    store._db.execute("UPDATE entries SET raw=? WHERE author=? AND seq=?", (bytes(bad), author, seq))


def test_a_corrupted_foreign_entry_is_quarantined_with_its_successors(alice, bob):
    store = Store(None)
    store.own_author = bob.public_key
    store.ingest(chain(alice, 5), T0 + 10**6)
    _corrupt(store, alice.public_key, 3)  # the signature's last byte
    assert [e.seq for e in store.range(alice.public_key, 0, 10)] == [1, 2, 3, 4, 5]  # unchecked
    assert [e.seq for e in store.range(alice.public_key, 0, 10, verify=True)] == [1, 2]
    assert store.quarantined() == 3 and store.count() == 2
    assert store.head(alice.public_key).seq == 2  # anti-entropy fetches 3.. again
    assert store.ingest(chain(alice, 5)[2:], T0 + 10**6).accepted  # and they are taken back
    assert [e.seq for e in store.range(alice.public_key, 0, 10, verify=True)] == [1, 2, 3, 4, 5]


def test_a_corrupted_own_entry_leaves_a_hole_and_never_rolls_the_log_back(alice):
    store = Store(None)
    store.own_author = alice.public_key
    for i in range(4):
        store.append_own(alice, "trust", trust_body("ab" * 32, i), T0 + i)
    _corrupt(store, alice.public_key, 2, flip_at=40)  # inside the payload: undecodable or bad id
    assert [e.seq for e in store.range(alice.public_key, 0, 10, verify=True)] == [1]
    assert store.quarantined() == 1 and store.head(alice.public_key).seq == 4
    assert [e.seq for e in store.range(alice.public_key, 0, 10, verify=True)] == [1]  # stops
    assert store.append_own(alice, "trust", trust_body("cd" * 32), T0 + 9).seq == 5  # no fork


def test_a_stored_fork_proof_beyond_the_integer_bounds_is_left_out(alice):
    # Written before seq and ts were bounded: SQLite held a twin with ts 2**62.
    import msgpack

    from trustnet.identity import ENTRY_DOMAIN

    store = Store(None)
    good = chain(alice, 1)[0]
    payload = msgpack.packb([1, alice.public_key, 1, None, 2**62, "trust", trust_body("ab" * 32)],
                            use_bin_type=True)
    twin = msgpack.packb([payload, alice.sign(ENTRY_DOMAIN + payload)], use_bin_type=True)
    store._db.execute("INSERT INTO forks VALUES (?, 1, ?, 0)",
                      (alice.public_key, msgpack.packb([good.raw, twin], use_bin_type=True)))
    assert store.forks() == []
