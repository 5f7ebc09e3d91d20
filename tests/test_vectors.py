"""The entry format v1 conformance vectors (tests/vectors) against trustnet's codec."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest

from trustnet.errors import EntryError, ForkProofError
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.log.entry import (
    MAX_ENTRY_BYTES,
    MAX_FUTURE_MS,
    ChainHead,
    check_chain,
    check_timestamp,
    decode_entry,
    decode_fork_proof,
)
from trustnet.statements import decode_statement

VECTORS = Path(__file__).parent / "vectors"
ENTRIES_JSON = VECTORS / "entries.json"

# Every code DESIGN section 3 names must be exercised by at least one vector.
REQUIRED_CODES = {
    "ok",
    "bad_encoding",
    "too_large",
    "bad_version",
    "bad_signature",
    "bad_seq",
    "bad_prev",
    "bad_timestamp",
    "unknown_kind",
    "bad_body",
}

# The situations the task brief lists, each with the code its vector must carry.
REQUIRED_CASES = {
    "truncated_entry": "bad_encoding",
    "too_large": "too_large",
    "wrong_key": "bad_signature",
    "flipped_signature_bit": "bad_signature",
    "swapped_prev": "bad_prev",
    "seq_gap": "bad_seq",
    "seq_zero": "bad_seq",
    "seq1_with_prev": "bad_prev",
    "seq2_without_prev": "bad_prev",
    "future_timestamp": "bad_timestamp",
    "decreasing_timestamp": "bad_timestamp",
    "float_in_body": "bad_encoding",
    "ext_type_in_body": "bad_encoding",
    "timestamp_ext_in_body": "bad_encoding",
    "non_str_map_key": "bad_encoding",
    "nesting_too_deep": "bad_encoding",
    "trailing_bytes_entry": "bad_encoding",
    "non_minimal_encoding": "bad_encoding",
    "wrong_version": "bad_version",
    "author_wrong_length": "bad_encoding",
    "unknown_kind": "unknown_kind",
    "missing_field": "bad_body",
    "extra_field": "bad_body",
    "ill_typed_field": "bad_body",
    "confidence_out_of_range": "bad_body",
    "bool_where_int": "bad_body",
}


def _load_generator() -> ModuleType:
    """Import tests/vectors/generate.py (tests/ is not a package)."""
    name = "trustnet_vectors_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules while the module runs.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ENTRIES_JSON.read_text(encoding="ascii"))
    return data


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = _vectors()["cases"]
    return cases


def play(case: dict[str, Any]) -> list[str]:
    """Run a case's entries from an empty store, as the README describes."""
    heads: dict[bytes, ChainHead] = {}
    results = []
    for hex_entry in case["entries"]:
        try:
            entry = decode_statement(bytes.fromhex(hex_entry))
            check_timestamp(entry, case["now_ms"])
            check_chain(entry, heads.get(entry.author))
        except EntryError as exc:
            results.append(exc.code)
            continue
        heads[entry.author] = ChainHead.of(entry)
        results.append("ok")
    return results


def play_fork_proofs(case: dict[str, Any]) -> list[str]:
    """Check each of a case's fork proofs on its own."""
    results = []
    for item in case.get("fork_proofs", []):
        raw = bytes.fromhex(item["proof"])
        try:
            proof = decode_fork_proof(raw)
        except ForkProofError as exc:
            results.append(exc.code)
            continue
        # A valid proof is an equivocation: one author, one seq, two ids.
        assert proof.a.author == proof.b.author
        assert proof.a.seq == proof.b.seq
        assert proof.a.id < proof.b.id
        results.append("ok")
    return results


@pytest.mark.parametrize("case", _cases(), ids=lambda c: str(c["name"]))
def test_case(case: dict[str, Any]) -> None:
    assert len(case["entries"]) == len(case["expect"])
    assert play(case) == case["expect"]
    assert play_fork_proofs(case) == [p["expect"] for p in case.get("fork_proofs", [])]


def test_file_header_and_size() -> None:
    vectors = _vectors()
    assert vectors["format"] == "trustnet entry v1 conformance vectors"
    assert vectors["version"] == 1
    cases = vectors["cases"]
    assert len(cases) >= 30
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names are unique"
    for case in cases:
        assert set(case) <= {"name", "description", "now_ms", "entries", "expect", "fork_proofs"}
        assert case["entries"] or case.get("fork_proofs")
        assert case["description"]


def test_every_error_code_appears() -> None:
    cases = _cases()
    codes = {code for c in cases for code in c["expect"]}
    assert codes >= REQUIRED_CODES
    fork_codes = {p["expect"] for c in cases for p in c.get("fork_proofs", [])}
    assert fork_codes == {"ok", "bad_fork_proof"}


def test_required_situations_present() -> None:
    by_name = {c["name"]: c for c in _cases()}
    for name, code in REQUIRED_CASES.items():
        assert name in by_name, name
        assert code in by_name[name]["expect"], name


def test_generator_reproduces_file_byte_for_byte() -> None:
    gen = _load_generator()
    assert gen.render(gen.build()) == ENTRIES_JSON.read_text(encoding="ascii")


def test_generator_constants_match_codec() -> None:
    gen = _load_generator()
    assert gen.DOMAIN == ENTRY_DOMAIN
    assert gen.MAX_ENTRY == MAX_ENTRY_BYTES
    assert gen.MAX_FUTURE == MAX_FUTURE_MS


def test_authors_block_matches_seeds() -> None:
    for _name, author in _vectors()["authors"].items():
        ident = Identity.from_seed(bytes.fromhex(author["seed"]))
        assert ident.party_id == author["party_id"]


def test_size_boundary_vectors_are_exact() -> None:
    by_name = {c["name"]: c for c in _cases()}
    assert len(bytes.fromhex(by_name["valid_size_at_limit"]["entries"][0])) == MAX_ENTRY_BYTES
    assert len(bytes.fromhex(by_name["too_large"]["entries"][0])) == MAX_ENTRY_BYTES + 1


def test_valid_vectors_decode_to_their_id() -> None:
    # Ids are sha256(payload): recompute from the wire bytes independently of Entry.id.
    for case in _cases():
        for hex_entry, expected in zip(case["entries"], case["expect"], strict=True):
            if expected != "ok":
                continue
            raw = bytes.fromhex(hex_entry)
            payload, _sig = msgpack.unpackb(raw)
            assert decode_entry(raw).id == hashlib.sha256(payload).digest()


def test_main_writes_the_same_file(tmp_path: Path) -> None:
    gen = _load_generator()
    out = tmp_path / "entries.json"
    assert gen.main([str(out)]) == 0
    assert out.read_bytes() == ENTRIES_JSON.read_bytes()
