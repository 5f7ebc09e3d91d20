"""The ingest workers' compiled checks of whole entries (`trustnet._canonical.checker`,
issue 15 item 2) against the Python checks they stand in for (`workers.check`): for any
entry they may be unsure (the worker then runs `check`), and otherwise must give its status
exactly: 0 when every check passes, 1 when all but the signature do.

Entries of every kind with valid bodies and with each field broken in many ways (the
generated parsers' own cases, tests/test_fastparse.py), bodies around every limit counted in
characters with text of one to four UTF-8 bytes a character, every way UTF-8 can be invalid,
signatures forged and keys swapped, and entries mutated byte by byte and signed again."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from tests.harness.bodies import ODD, valid_body
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.log.entry import MAX_ENTRY_BYTES, _pack
from trustnet.statements import kinds
from trustnet.store import workers
from trustnet.store.workers import BODY_BAD, DECODE_BAD, OK, SIG_BAD, UNSURE, check

_canonical = pytest.importorskip(
    "trustnet._canonical", reason="not compiled here (no C compiler at install): the workers "
    "run the Python checks alone, tests/test_ingest_pool.py covers them")

WHO = Identity.from_seed(b"\x21" * 32)
OTHER = Identity.from_seed(b"\x22" * 32)


@pytest.fixture(scope="module")
def checker() -> Any:
    made = workers._compiled_checker()
    assert made is not None, "pynacl's library holds the verifier on every supported install"
    return made


def _signed(kind: str, body: Any, who: Identity = WHO, seq: int = 1) -> bytes | None:
    """A raw entry of `body` (None: msgpack cannot hold it, or too large)."""
    try:
        payload = _pack([1, who.author, seq, None if seq == 1 else b"\x01" * 32, 5, kind, body])
    except (TypeError, ValueError, OverflowError):
        return None
    raw = _pack([payload, who.sign(ENTRY_DOMAIN + payload)])
    return raw if len(raw) <= MAX_ENTRY_BYTES else None


def _agree(checker: Any, raws: list[bytes], keys: list[bytes | None] | None = None
           ) -> bytes:
    keys = keys if keys is not None else [None] * len(raws)
    got = checker.check(raws, keys)
    for raw, key, status in zip(raws, keys, got, strict=True):
        if status != UNSURE:
            assert status == check(raw, key), (raw.hex(), key, status)
    return bytes(got)


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_every_field_broken_is_refused_or_left_to_python(checker: Any, kind: str) -> None:
    rng = random.Random(f"checker {kind}")
    cls = kinds.KINDS[kind]
    for _ in range(12):
        body = valid_body(cls, rng)
        raws = [r for r in [_signed(kind, body)] if r is not None]
        assert _agree(checker, raws) == bytes([OK]) * len(raws)  # valid: shown here
        broken: list[Any] = []
        for name in [f.name for f in dataclasses.fields(cls)]:
            broken += [{**body, name: odd} for odd in ODD]
            broken.append({k: v for k, v in body.items() if k != name})
            value = body.get(name)
            if isinstance(value, list) and value:
                broken += [{**body, name: [*value[:-1], odd]} for odd in ODD[:12]]
                if isinstance(value[-1], dict):
                    broken += [{**body, name: [*value[:-1], {**value[-1], f: odd}]}
                               for f in list(value[-1]) for odd in ODD[:16]]
        broken += [{**body, "unknown": 1}, {**body, 3: 1}, *ODD]
        raws = [r for r in (_signed(kind, b) for b in broken) if r is not None]
        statuses = _agree(checker, raws)
        assert statuses.count(BODY_BAD) == 0  # a bad body is left to Python to name
        assert statuses.count(OK) < len(statuses)


def _text(n: int, width: int) -> str:
    return {1: "a", 2: "é", 3: "€", 4: "😀"}[width] * n


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_limits_count_characters_not_bytes(checker: Any, width: int) -> None:
    subject = "ab" * 32
    cases = []
    for n in (0, 1, 255, 256, 257):
        cases.append(("notification", {
            "activity": _text(n, width), "type": "exercise", "start": 1, "end": 2,
            "area": _text(n, width), "troops": 1, "tanks": 0, "acv": 0, "artillery": 0,
            "amphibious": 0, "sorties": 0, "observers_invited": False}))
    for n in (4095, 4096, 4097):
        cases.append(("attestation", {
            "subject": subject, "verdict": "confirm", "method": "aerial", "confidence": 5,
            "evidence": [], "note": _text(n, width)}))
    raws = [r for r in (_signed(k, b) for k, b in cases) if r is not None]
    statuses = _agree(checker, raws)
    python = bytes(check(r, None) for r in raws)
    assert python.count(BODY_BAD) >= 2  # the cases past a limit
    # Whatever its width, text the limit takes passes here: no byte count stands in for it.
    assert statuses.replace(bytes([UNSURE]), b"") == python.replace(bytes([BODY_BAD]), b"")


_INVALID_UTF8 = [
    b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc2", b"\xc2\x41", b"\xe0\x80\x80",
    b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xe1\x80", b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xf0\x9f\x98",
    b"a\xe2\x82", b"\xe2\x28\xa1",
]
_VALID_UTF8 = [b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xee\x80\x80",
               b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"]


def _with_text(kind: str, body: dict[str, Any], placeholder: str, text: bytes) -> bytes:
    """An entry whose body holds `text` as a str's bytes where `placeholder` was (any bytes,
    valid UTF-8 or not), signed."""
    payload = _pack([1, WHO.author, 1, None, 5, kind, body])
    marker = msgpack.packb(placeholder)
    assert payload.count(marker) == 1
    payload = payload.replace(marker, msgpack.packb("x" * len(text))[:-len(text)] + text)
    return _pack([payload, WHO.sign(ENTRY_DOMAIN + payload)])


@pytest.mark.parametrize("text", _INVALID_UTF8 + _VALID_UTF8)
def test_strs_are_utf8_as_python_decodes_them_everywhere(checker: Any, text: bytes) -> None:
    trust = {"subject": "ab" * 32, "level": 1}
    raws = [
        _with_text("trust", {**trust, "ext": {"k": "PLACEHOLDER"}}, "PLACEHOLDER", text),
        _with_text("trust", {**trust, "ext": {"PLACEHOLDER": 1}}, "PLACEHOLDER", text),
        _with_text("trust", {**trust, "ext": {"a": [["PLACEHOLDER"]]}}, "PLACEHOLDER", text),
        _with_text("incident_report", {"subject": "ab" * 32, "at": 1, "area": "PLACEHOLDER",
                                       "description": ""}, "PLACEHOLDER", text),
    ]
    statuses = _agree(checker, raws)
    valid = text in _VALID_UTF8
    assert statuses == bytes([OK if valid else UNSURE]) * len(raws)
    assert all(check(r, None) == (OK if valid else DECODE_BAD) for r in raws)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=12))
def test_any_bytes_as_a_str_agree_with_pythons_decoder(text: bytes) -> None:
    made = workers._Compiled.get()
    assert made is not None
    raw = _with_text("trust", {"subject": "ab" * 32, "level": 1, "ext": {"k": "PLACEHOLDER"}},
                     "PLACEHOLDER", text)
    try:
        text.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert made.check([raw], [None]) == bytes([OK if valid else UNSURE])


def test_signatures_are_checked_under_the_key_given(checker: Any) -> None:
    good = _signed("trust", {"subject": "ab" * 32, "level": 3})
    assert good is not None
    forged = good[:-1] + bytes([good[-1] ^ 0x40])
    by_other = _pack([msgpack.unpackb(good)[0], OTHER.sign(ENTRY_DOMAIN + msgpack.unpackb(
        good)[0])])
    raws = [good, forged, by_other, good, by_other, good, good]
    keys = [None, None, None, OTHER.author, OTHER.author, WHO.author, b"\x01" * 31]
    got = _agree(checker, raws, keys)
    assert got[:6] == bytes([OK, SIG_BAD, SIG_BAD, SIG_BAD, OK, OK])
    assert got[6] == UNSURE  # a key that is not one: Python names it


def test_entries_mutated_byte_by_byte_agree(checker: Any) -> None:
    rng = random.Random(2026)
    bodies = [("trust", {"subject": "ab" * 32, "level": -7, "ext": {"note": "été", "n": [1]}}),
              ("calendar", {"year": 2026, "activities": [
                  {"activity": "Steppe Eagle", "start": 1, "end": 2, "troops": 9000}]}),
              ("profile", {"name": "Aland", "role": "state", "urls": ["https://a.example"]})]
    raws: list[bytes] = []
    for seq, (kind, body) in enumerate(bodies, start=1):
        base = _signed(kind, body, seq=seq)
        assert base is not None
        payload = msgpack.unpackb(base)[0]
        for _ in range(1500):
            data = bytearray(payload)
            for _ in range(rng.randint(1, 2)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            raws.append(_pack([bytes(data), WHO.sign(ENTRY_DOMAIN + bytes(data))]))
            raw = bytearray(base)
            raw[rng.randrange(len(raw))] = rng.randrange(256)
            raws.append(bytes(raw))
    statuses = _agree(checker, raws)
    assert statuses.count(OK) > 100 and statuses.count(SIG_BAD) > 100  # both shown here


def test_what_is_not_an_entry_is_left_to_python(checker: Any) -> None:
    good = _signed("trust", {"subject": "ab" * 32, "level": 3})
    assert good is not None
    raws: list[Any] = [b"", b"\x92", good + b"\x00", good[:-1], bytearray(good), "text", 7,
                       b"\x00" * (MAX_ENTRY_BYTES + 1), _signed("no_such_kind", {})]
    assert checker.check(raws, [None] * len(raws)) == bytes([UNSURE]) * len(raws)


def test_a_program_that_is_not_one_is_refused() -> None:
    import nacl._sodium

    lib = nacl._sodium.__file__
    for programs in ({b"k": (99,)}, {b"k": (8, ((b"x", True, (1, "lo", 2)),))},
                     {"k": (5,)}, {b"k": (8, ((b"x", True),))}, {b"k": (1, -(2**70), 0)}):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            _canonical.checker(programs, ENTRY_DOMAIN, MAX_ENTRY_BYTES, lib)
    with pytest.raises(OSError, match="not found"):
        _canonical.checker({}, ENTRY_DOMAIN, MAX_ENTRY_BYTES, "/no/such/library.so")
    with pytest.raises(TypeError):
        _canonical.checker({}, ENTRY_DOMAIN, MAX_ENTRY_BYTES, lib).check([b""], [])


def test_a_worker_without_the_compiled_checks_answers_the_same(
        checker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _signed("trust", {"subject": "ab" * 32, "level": 3})
    bad = _signed("trust", {"subject": "ab" * 32, "level": 3000})
    assert good is not None and bad is not None
    raws = [good, good[:-1] + b"\x00", bad, b"junk"]
    frame = msgpack.packb([raws, [None] * 4], use_bin_type=True)
    compiled = workers.check_chunk(frame)
    monkeypatch.setattr(workers._Compiled, "tried", True)
    monkeypatch.setattr(workers._Compiled, "checker", None)
    assert workers.check_chunk(frame) == compiled == bytes([OK, SIG_BAD, BODY_BAD, DECODE_BAD])


def test_a_checker_that_disagrees_with_python_is_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "check", lambda raw, key: BODY_BAD)
    assert workers._compiled_checker() is None


def test_a_worker_that_cannot_set_the_checker_up_checks_in_python(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """pynacl's module not where it was, or anything else failing while the checker is made:
    the worker answers its first chunk in Python (before, it died on it, and after two
    workers the chunk was rejected as worker_failed)."""
    real = workers.importlib.import_module

    def gone(name: str, *args: Any) -> Any:
        if name == "nacl._sodium":
            raise ModuleNotFoundError(name)
        return real(name, *args)

    monkeypatch.setattr(workers.importlib, "import_module", gone)
    monkeypatch.setattr(workers._Compiled, "tried", False)
    monkeypatch.setattr(workers._Compiled, "checker", None)
    good = _signed("trust", {"subject": "ab" * 32, "level": 3})
    assert good is not None
    frame = msgpack.packb([[good, b"x"], [None, None]], use_bin_type=True)
    assert workers.check_chunk(frame) == bytes([OK, DECODE_BAD])
    assert workers._Compiled.tried and workers._Compiled.checker is None


def test_tuples_of_fixed_length_get_no_program() -> None:
    from trustnet.statements import fastparse

    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        both: tuple[int, int]

    marks = fastparse.Marks(kinds.Range, kinds.Hex32, kinds.MaxLen, kinds.Url, kinds.Ext,
                            kinds.MAX_ITEMS, kinds._HEX)
    assert fastparse.c_programs({"pair": Pair}, marks) == {}
    assert fastparse.fast_parsers({"pair": Pair}, marks) == {}


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            series, _, value = line.rpartition(" ")
            inside = series[series.find("{") + 1 : series.rfind("}")]
            if ",".join(sorted(inside.split(","))) == want:
                return float(value)
    return 0.0


@pytest.mark.slow
def test_a_real_node_judges_a_strangers_edge_cases_as_in_process(tmp_path: Path) -> None:
    """A stranger's bulk push of entries at the compiled checks' edges (text counted in
    characters of 1-4 bytes at each limit and one past it, UTF-8 that Python refuses, ints,
    bools, hex, urls, unknown and missing fields, forged signatures), each from a fresh
    author: the node's workers accept and refuse exactly what a store in process does, by
    the same codes, and go on."""
    from trustnet.bench.stranger import Stranger, get, real_node
    from trustnet.clock import SystemClock
    from trustnet.protocol import messages as m
    from trustnet.store.sqlite import Store

    now = SystemClock().now_ms() - 86_400_000
    profile = {"name": "x", "role": "state", "urls": []}
    trust = {"subject": "ab" * 32, "level": 1}
    bodies: list[tuple[str, dict[str, Any]]] = []
    for width in (1, 2, 3, 4):
        for n in (256, 257):
            bodies.append(("profile", {**profile, "name": _text(n, width)}))
        for n in (64, 65):
            bodies.append(("profile", {**profile, "zone": _text(n, width)}))
        bodies.append(("trust", {**trust, "ext": {_text(3, width): [_text(5, width)]}}))
    bodies += [
        ("profile", {**profile, "urls": ["https://" + "a" * 2040]}),
        ("profile", {**profile, "urls": ["https://" + "a" * 2041]}),
        ("profile", {**profile, "urls": ["ftp://a.example"]}),
        ("profile", {**profile, "urls": ["https://a.example"] * 17}),
        ("profile", {**profile, "state": "AB" * 32}), ("profile", {**profile, "role": "king"}),
        ("trust", {**trust, "level": 1000}), ("trust", {**trust, "level": 1001}),
        ("trust", {**trust, "level": -1000}), ("trust", {**trust, "level": True}),
        ("trust", {**trust, "subject": "ab" * 31 + "a"}), ("trust", {**trust, "x": 1}),
        ("trust", {"subject": "ab" * 32}), ("calendar", {"year": 2026, "activities": [
            {"activity": "é" * 256, "start": 1, "end": 2, "troops": 2**64 - 1}]}),
        ("calendar", {"year": 2026, "activities": [{"activity": "a", "start": -1, "end": 2,
                                                    "troops": 1}]}),
    ]
    raws: list[bytes] = []
    for k, (kind, body) in enumerate(bodies * 2):
        who = Identity.from_seed(b"\x30" + k.to_bytes(31, "big"))
        raw = _signed(kind, body, who)
        assert raw is not None
        if k % 5 == 0:  # some forged: signed by another key under the author's name
            payload = msgpack.unpackb(raw)[0]
            raw = _pack([payload, OTHER.sign(ENTRY_DOMAIN + payload)])
        raws.append(raw)
    for text in (*_INVALID_UTF8[:8], *_VALID_UTF8[:4]):  # bytes no str may hold, and some it may
        who = Identity.from_seed(b"\x31" + bytes([len(raws) % 256]) + b"\x00" * 30)
        payload = _pack([1, who.author, 1, None, now, "trust", {**trust, "ext": {"k": "@@@@"}}])
        payload = payload.replace(b"\xa4@@@@", bytes([0xa0 | len(text)]) + text)
        raws.append(_pack([payload, who.sign(ENTRY_DOMAIN + payload)]))
    assert 64 <= len(raws) <= 256  # the workers check the push, in one piece
    expected = Store(None).ingest(raws, SystemClock().now_ms())
    codes = {r.code for r in expected.rejected}
    assert len(expected.accepted) >= 20 and {"bad_body", "bad_signature", "bad_encoding"} <= codes
    with real_node(tmp_path) as node:
        status, reply = Stranger.fresh().post(node.url, m.PUSH, m.encode(m.Push(tuple(raws))))
        assert status == 200, reply
        ack = m.decode_reply(m.PUSH, reply)
        assert isinstance(ack, m.PushAck)
        assert (ack.accepted, ack.rejected) == (len(expected.accepted), len(expected.rejected))
        status, page = get(node.url, "/metrics")
        assert status == 200
        for code in codes:
            want = sum(r.code == code for r in expected.rejected)
            assert _metric(page.decode(), "trustnet_rejected_inputs_total", source="ingest",
                           code=code) == want, code
        status, body = get(node.url, "/status")
        assert status == 200 and json.loads(body)["entries"] == len(expected.accepted)
