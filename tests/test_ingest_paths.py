"""The writer's cheaper paths of issue 15 item 2 give what the general ones give: entries made
by setting their slots, the author read from a payload's fixed head, a batch grouped per
author (out-of-order runs sorted) and the fast path of `Store.commit`."""

from __future__ import annotations

import dataclasses
import random

import msgpack
import pytest

from trustnet.identity import Identity
from trustnet.log.entry import Entry, author_hint, decode_entry, decode_stored, sign_entry
from trustnet.store.sqlite import Store

T0 = 1_767_225_600_000


def _profile(name: str) -> dict[str, object]:
    return {"name": name, "role": "observer", "urls": []}


def _chain(who: Identity, n: int) -> list[Entry]:
    out: list[Entry] = []
    for seq in range(1, n + 1):
        out.append(sign_entry(who, seq=seq, prev=out[-1].id if out else None, ts=T0 + seq,
                              kind="profile", body=_profile(f"p{seq}")))
    return out


def test_decoded_entries_equal_ones_made_by_the_dataclass() -> None:
    e = _chain(Identity.from_seed(b"\1" * 32), 2)[1]
    made = Entry(e.raw, e.payload, e.sig, e.id, e.author, e.seq, e.prev, e.ts, e.kind, e.body)
    for decoded in (decode_entry(e.raw), decode_stored(e.raw)):
        assert decoded == made and decoded.parsed is None and repr(decoded) == repr(made)
        with pytest.raises(dataclasses.FrozenInstanceError):
            decoded.seq = 3  # type: ignore[misc]


def test_author_hint_is_the_decoded_author_or_falls_back() -> None:
    e = _chain(Identity.from_seed(b"\2" * 32), 1)[0]
    assert author_hint(e.raw) == e.author
    # Version 2 does not start with the v1 head: the hint unpacks the payload instead.
    fields = msgpack.unpackb(e.payload)
    fields[0] = 2
    other = msgpack.packb([msgpack.packb(fields, use_bin_type=True), e.sig], use_bin_type=True)
    assert author_hint(other) == e.author
    assert author_hint(b"\x92\xc4\x01a\xc4\x40" + bytes(64)) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_shuffled_batch_is_taken_as_the_ordered_one(seed: int) -> None:
    rng = random.Random(seed)
    chains = [_chain(Identity.from_seed(bytes([10 + i]) * 32), 12) for i in range(4)]
    ordered = [e.raw for chain in chains for e in chain]
    shuffled = list(ordered)
    rng.shuffle(shuffled)
    shuffled += shuffled[:3]  # the same entries twice in one batch
    with Store() as a, Store() as b:
        ra, rb = a.ingest(ordered, T0 + 10_000), b.ingest(shuffled, T0 + 10_000)
        assert sorted(e.id for e in ra.accepted) == sorted(e.id for e in rb.accepted)
        assert len(rb.accepted) == 48 and rb.duplicates == 3 and not rb.rejected
        assert a.heads() == b.heads() and a.count() == b.count() == 48
        # Each author's entries are accepted in chain order.
        for chain in chains:
            ids = [e.id for e in rb.accepted if e.author == chain[0].author]
            assert ids == [e.id for e in chain]


def test_the_fast_path_keeps_every_check() -> None:
    who = Identity.from_seed(b"\5" * 32)
    chain = _chain(who, 6)
    with Store() as store:
        assert len(store.ingest([e.raw for e in chain[:2]], T0 + 10_000).accepted) == 2
        late = sign_entry(who, seq=3, prev=chain[1].id, ts=T0, kind="profile", body=_profile("x"))
        future = sign_entry(who, seq=3, prev=chain[1].id, ts=T0 + 10**9, kind="profile",
                            body=_profile("y"))
        unlinked = sign_entry(who, seq=3, prev=chain[0].id, ts=T0 + 3, kind="profile",
                              body=_profile("z"))
        forged = bytearray(chain[2].raw)
        forged[-1] ^= 1
        bad_body = sign_entry(who, seq=3, prev=chain[1].id, ts=T0 + 3, kind="profile",
                              body={**_profile("w"), "role": 7})
        for raw, code in ((late.raw, "bad_timestamp"), (future.raw, "bad_timestamp"),
                          (unlinked.raw, "bad_prev"), (bytes(forged), "bad_signature"),
                          (bad_body.raw, "bad_body")):
            result = store.ingest([raw], T0 + 10_000)
            assert [r.code for r in result.rejected] == [code] and not result.accepted
        assert len(store.ingest([e.raw for e in chain[2:]], T0 + 10_000).accepted) == 4
