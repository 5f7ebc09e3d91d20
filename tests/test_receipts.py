"""Witness receipts (trustnet/log/receipts.py, receipt_book.py, witness.py): the receipt
vectors, witnessed time standing for the receipt time, and two witness protocols talking
through their sans-IO interface (issue 14 item 4)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from trustnet.identity import Identity
from trustnet.log.entry import ForkProof, sign_entry
from trustnet.log.receipts import ReceiptError, decode_receipt, sign_receipt, witnessed_time
from trustnet.node.witness import WitnessConfig, WitnessProtocol, declaration_due
from trustnet.protocol import messages as m
from trustnet.protocol.gossip import LocalEntry, Response
from trustnet.protocol.peers import PeerPolicy, PeerTable
from trustnet.store.receipts import ReceiptBook
from trustnet.store.sqlite import Store
from trustnet.trust.beliefs import TrustParams

VECTORS = Path(__file__).parent / "vectors"
RECEIPTS_JSON = VECTORS / "receipts.json"
T0 = 1_767_225_600_000
DAY = 86_400_000


def _cases() -> list[dict[str, Any]]:
    return list(json.loads(RECEIPTS_JSON.read_text())["cases"])


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_receipt_vector(case: dict[str, Any]) -> None:
    store = Store(None)
    result = store.ingest([bytes.fromhex(h) for h in case["entries"]], case["now_ms"])
    assert not result.rejected and len(result.accepted) == len(case["entries"])
    book = ReceiptBook(store)
    got = []
    for raw in case["receipts"]:
        try:
            book.add(bytes.fromhex(raw))
        except ReceiptError as exc:
            got.append(exc.code)
        else:
            got.append("ok")
    assert got == case["expect"], case["description"]
    assert [book.witnessed_of(e.id) for e in result.accepted] == case["witnessed"]
    assert [f.encode().hex() for f in book.forks()] == case["witness_forks"]
    held = sum(len(book.receipts_of(e.id)) for e in result.accepted)
    assert held == case["expect"].count("ok") - _duplicates(case)  # nothing held is lost


def _duplicates(case: dict[str, Any]) -> int:
    oks = [r for r, code in zip(case["receipts"], case["expect"], strict=True) if code == "ok"]
    return len(oks) - len(set(oks))


def test_every_receipt_code_appears() -> None:
    codes = {code for case in _cases() for code in case["expect"]}
    assert codes == {"ok", "bad_receipt", "not_witness", "unknown_entry", "conflicting_receipt"}


def test_generator_reproduces_receipts_json_byte_for_byte() -> None:
    spec = importlib.util.spec_from_file_location("trustnet_receipt_vectors",
                                                  VECTORS / "generate_receipts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.render(module.build()) == RECEIPTS_JSON.read_text()


def test_witnessed_time_is_the_kth_receipt() -> None:
    assert witnessed_time([30, 10, 20], 2) == 20
    assert witnessed_time([30], 2) is None
    assert witnessed_time([30, 10], 0) is None


# -- witnessed time in the store -----------------------------------------------------------

ALICE = Identity.from_seed(b"a" * 32)
WITNESSES = [Identity.from_seed(bytes([i]) * 32) for i in (1, 2, 3)]


def _chain(store: Store, received: int, *bodies: tuple[str, dict[str, Any], int]) -> list[Any]:
    entries, prev = [], None
    for seq, (kind, body, ts) in enumerate(bodies, start=1):
        e = sign_entry(ALICE, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
        entries.append(e)
        prev = e.id
    result = store.ingest([e.raw for e in entries], received)
    assert not result.rejected
    return entries


def _declare(k: int = 2) -> tuple[str, dict[str, Any], int]:
    return ("witnesses", {"witnesses": sorted(w.party_id for w in WITNESSES),
                          "receipts_needed": k}, T0)


def test_a_late_received_entry_is_judged_by_its_witnessed_time() -> None:
    """A node that was away receives an honest entry two days late: by its own receipt the
    entry is backdated; its witnessed time (seconds after its ts) shows it was not."""
    store = Store(None)
    trust = {"subject": WITNESSES[0].party_id, "level": 1}
    _decl, entry = _chain(store, T0 + 2 * DAY, _declare(), ("trust", trust, T0 + 1000))
    params = TrustParams()
    local = store.received_of([entry.id])[entry.id]
    assert params.backdated(entry.ts, local)
    book = ReceiptBook(store, params.backdate_tolerance_s * 1000)
    epoch = store.keys_epoch
    for i, w in enumerate(WITNESSES[:2]):
        book.add(sign_receipt(w, ALICE.author, 2, entry.id, T0 + 2000 + i).raw)
    assert book.witnessed_of(entry.id) == T0 + 2001
    assert store.received_of([entry.id])[entry.id] == T0 + 2001  # what deadlines read
    assert store.received_of([entry.id], witnessed=False)[entry.id] == local
    assert not params.backdated(entry.ts, store.received_of([entry.id])[entry.id])
    assert [r for _e, _c, r in store.page_received()][-1] == T0 + 2001
    assert store.keys_epoch == epoch + 1  # the analysis starts over: a judgement changed


def test_a_declaration_holds_for_the_entries_after_it() -> None:
    store = Store(None)
    trust = {"subject": WITNESSES[0].party_id, "level": 1}
    _chain(store, T0, ("trust", trust, T0), _declare(3), ("trust", trust, T0))
    book = ReceiptBook(store)
    assert book.in_force(ALICE.author, 1) is None and book.in_force(ALICE.author, 2) is None
    declared = book.in_force(ALICE.author, 3)
    assert declared is not None and declared.needed == 3 and declared.seq == 2
    config = WitnessConfig(witnesses=tuple(w.party_id for w in WITNESSES), receipts_needed=3)
    assert declaration_due(book, ALICE.author, config) is None  # declared already
    other = WitnessConfig(witnesses=(WITNESSES[0].party_id,))
    assert declaration_due(book, ALICE.author, other) == {
        "witnesses": [WITNESSES[0].party_id], "receipts_needed": 1}


def test_a_receipt_has_one_encoding_and_verifies_under_the_witness_key() -> None:
    r = sign_receipt(WITNESSES[0], ALICE.author, 2, b"\x01" * 32, T0)
    assert decode_receipt(r.raw) == r
    with pytest.raises(ReceiptError) as info:
        decode_receipt(r.raw + b"\x00")
    assert info.value.code == "bad_receipt"
    with pytest.raises(ReceiptError):
        decode_receipt(r.raw, lambda _w: [WITNESSES[1].public_key])


# -- the sans-IO protocol: an author and a witness wired by hand ---------------------------


def _protocol(identity: Identity, store: Store, config: WitnessConfig) -> WitnessProtocol:
    peers = PeerTable(PeerPolicy(allow_private_peers=True))
    return WitnessProtocol(identity.author, ReceiptBook(store), peers, random.Random(1), config,
                           sign=lambda a, s, i, t: sign_receipt(identity, a, s, i, t))


def test_the_author_asks_fills_the_gap_and_the_witness_receipts_once_per_place() -> None:
    witness = WITNESSES[0]
    author_store, witness_store = Store(None), Store(None)
    config = WitnessConfig(witnesses=(witness.party_id,), receipts_needed=1,
                           urls={witness.party_id: "http://witness.example"})
    author = _protocol(ALICE, author_store, config)
    served = _protocol(witness, witness_store, WitnessConfig())
    trust = {"subject": witness.party_id, "level": 1}
    decl, first, second = _chain(author_store, T0, ("witnesses", config.declaration(), T0),
                                 ("trust", trust, T0), ("trust", {**trust, "level": 2}, T0))

    def roundtrip(sends: list[Any], now: int) -> list[Any]:
        out = []
        for send in sends:
            assert send.path == m.RECEIPT and send.peer_url == "http://witness.example"
            # The node ingests the request's entries as a push first; the witness answers.
            witness_store.ingest(send.message.entries, now)
            reply, _spread = served.on_request(ALICE.party_id, send.message, now)
            out += author.handle(Response(send.request_id, send.peer_url, reply), now)
        return out

    author.handle(LocalEntry(decl), T0)  # a declaration is witnessed by the set before it
    sends = author.handle(LocalEntry(second), T0)
    assert len(sends) == 1 and sends[0].message.entries == (second.raw,)
    # The witness holds nothing of alice: unknown_entry, head 0; the author sends the run.
    retry = roundtrip(sends, T0 + 10)
    assert len(retry) == 1 and retry[0].message.entries == (decl.raw, first.raw, second.raw)
    assert roundtrip(retry, T0 + 20) == []
    book = ReceiptBook(author_store)
    receipts = book.receipts_of(second.id)
    assert [r.witness for r in receipts] == [witness.author]
    assert receipts[0].time == T0 + 20  # when the witness first received it
    assert book.witnessed_of(second.id) == T0 + 20 and author.asking() == 0
    # Asked for another id at that place, the witness answers with the fork proof.
    other = sign_entry(ALICE, seq=3, prev=first.id, ts=T0, kind="trust",
                       body={**trust, "level": -5})
    witness_store.ingest([other.raw], T0 + 30)
    reply, _ = served.on_request(ALICE.party_id, m.ReceiptRequest((other.raw,)), T0 + 30)
    assert isinstance(reply, m.ReceiptReply) and reply.receipt is None and reply.code == "fork"
    assert reply.fork is not None
    assert ReceiptBook(witness_store).receipt_at(witness.author, ALICE.author, 3) == receipts[0]


def test_a_witness_serves_only_authors_that_declared_it_and_at_most_max_served_authors() -> None:
    witness = WITNESSES[0]
    store = Store(None)
    served = _protocol(witness, store, WitnessConfig(max_served_authors=0))
    trust = {"subject": witness.party_id, "level": 1}
    _decl, entry = _chain(store, T0, ("witnesses", {"witnesses": [WITNESSES[1].party_id],
                                                    "receipts_needed": 1}, T0),
                          ("trust", trust, T0))
    reply, _ = served.on_request(ALICE.party_id, m.ReceiptRequest((entry.raw,)), T0)
    assert isinstance(reply, m.ReceiptReply) and reply.code == "not_witness"
    store2 = Store(None)
    full = _protocol(witness, store2, WitnessConfig(max_served_authors=0))
    _decl, entry = _chain(store2, T0, ("witnesses", {"witnesses": [witness.party_id],
                                                     "receipts_needed": 1}, T0),
                          ("trust", trust, T0))
    reply, _ = full.on_request(ALICE.party_id, m.ReceiptRequest((entry.raw,)), T0)
    assert isinstance(reply, m.ReceiptReply) and reply.code == "witness_full"
    off = _protocol(witness, store2, WitnessConfig(serve=False))
    reply, _ = off.on_request(ALICE.party_id, m.ReceiptRequest((entry.raw,)), T0)
    assert isinstance(reply, m.ReceiptReply) and reply.code == "not_serving"


def test_revocation_prefers_witnessed_time_over_a_backdated_ts() -> None:
    """A thief dates its statement before the theft (ts < compromised_since); its witnesses
    received it after: once witnessed, it is revoked."""
    from trustnet.log.keys import key_digest

    store = Store(None)
    nxt, fresh = Identity.from_seed(b"n" * 32), Identity.from_seed(b"f" * 32)
    stolen_at = T0 + DAY
    trust = {"subject": WITNESSES[0].party_id, "level": -1000}
    entries, prev = [], None
    for seq, (key, kind, body, ts) in enumerate([
        (ALICE, "keys", {"next": key_digest(nxt.public_key).hex()}, T0),
        (ALICE, *_declare()[:2], T0),
        (ALICE, "trust", trust, T0 + 1000),  # the thief's, backdated
        (nxt.for_party(ALICE.author), "rotation",
         {"key": nxt.public_key.hex(), "next": key_digest(fresh.public_key).hex(),
          "compromised_since": stolen_at}, T0 + 3 * DAY),
    ], start=1):
        e = sign_entry(key, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
        entries.append(e)
        prev = e.id
    result = store.ingest([e.raw for e in entries], T0 + 3 * DAY)
    assert not result.rejected
    thief = entries[2]
    assert not store.revoked(thief)  # by its ts, before the theft
    book = ReceiptBook(store)
    epoch = store.keys_epoch
    for w in WITNESSES[:2]:
        book.add(sign_receipt(w, ALICE.author, 3, thief.id, T0 + 2 * DAY).raw)
    assert store.revoked(thief) and store.keys_epoch > epoch


def test_a_scenario_gives_parties_witnesses(tmp_path: Path) -> None:
    from trustnet.testbed.loader import load_scenario
    from trustnet.testbed.model import ScenarioError

    story = """
parties = ["a", "b", "c", "d"]
days = 2
[witnesses]
a = ["b", "c", "d"]
receipts_needed = 2
[[step]]
id = "t"
day = 1
party = "a"
kind = "trust"
body = {subject = "{id:b}", level = 1}
"""
    path = tmp_path / "w.toml"
    path.write_text(story)
    assert load_scenario(path).witnesses == {"a": (("b", "c", "d"), 2)}
    path.write_text(story.replace('a = ["b", "c", "d"]', 'a = ["a", "zz"]'))
    with pytest.raises(ScenarioError):
        load_scenario(path)


def test_a_witness_answering_fork_with_another_partys_proof_is_not_believed() -> None:
    # A witness may answer "fork" only about the place it was asked of: a proof of some other
    # party's equivocation would slip past gossip's limits into the store (and from there
    # into the fork book, which adopts what the store holds).
    witness = WITNESSES[0]
    author_store = Store(None)
    config = WitnessConfig(witnesses=(witness.party_id,), receipts_needed=1,
                           urls={witness.party_id: "http://witness.example"})
    author = _protocol(ALICE, author_store, config)
    trust = {"subject": witness.party_id, "level": 1}
    decl, first = _chain(author_store, T0, ("witnesses", config.declaration(), T0),
                         ("trust", trust, T0))
    author.handle(LocalEntry(decl), T0)
    stranger = Identity.from_seed(b"s" * 32)
    a, b = (sign_entry(stranger, seq=1, prev=None, ts=T0, kind="trust",
                       body={**trust, "level": level}) for level in (1, 2))
    theirs = ForkProof.of(a, b)
    ours = ForkProof.of(first, sign_entry(ALICE, seq=2, prev=decl.id, ts=T0, kind="trust",
                                          body={**trust, "level": -5}))
    for proof, kept in ((theirs, []), (ours, [(ALICE.author, 2)])):
        (send,) = author.handle(LocalEntry(first), T0)
        reply = m.ReceiptReply(code="fork", fork=proof.encode())
        author.handle(Response(send.request_id, send.peer_url, reply), T0 + 10)
        assert [(p.author, p.seq) for p in author_store.forks()] == kept
