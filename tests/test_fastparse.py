"""The generated body parsers (trustnet.statements.fastparse) accept exactly what the schema's
checks accept, with the same record; anything else goes to the checks, which name the error.

Every kind's body is made valid from its annotations, then each field is broken in many ways
(wrong types, bounds and one past them, bools for ints, int subclasses, unknown and missing
fields, bad items in lists and nested records): `parse_body` must give what the closures
alone give (`kinds._PARSERS`, `_checks_only`), the same record or the same error and code.
"""

from __future__ import annotations

import dataclasses
import random
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

import pytest

from trustnet.bench.beliefs import generate
from trustnet.errors import EntryError
from trustnet.statements import kinds
from trustnet.statements.fastparse import FAIL


class _Int(int):
    """An int subclass: the closures accept it where they test isinstance."""


def _valid(tp: Any, rng: random.Random) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        for m in marks:
            if isinstance(m, kinds.Range):
                lo = m.lo if m.lo is not None else -5
                hi = m.hi if m.hi is not None else lo + 10**13
                return rng.choice((lo, hi, (lo + hi) // 2))
            if isinstance(m, kinds.Hex32):
                return "".join(rng.choice("0123456789abcdef") for _ in range(64))
            if isinstance(m, kinds.Url):
                return "https://n.example:7700"
        return _valid(base, rng)
    if tp is bool:
        return rng.random() < 0.5
    if tp is int:
        return rng.randint(-10, 10)
    if tp is str:
        return rng.choice(("", "east", "Steppe Eagle"))
    if origin is Literal:
        return rng.choice(typing.get_args(tp))
    if origin in (Union, typing.get_origin(int | None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if rng.random() < 0.3 else _valid(args[0], rng)
    if origin is tuple:
        return [_valid(typing.get_args(tp)[0], rng) for _ in range(rng.randint(0, 3))]
    if origin in (Mapping, dict) or tp is kinds.Ext:
        return {"x": 1}
    if dataclasses.is_dataclass(tp):
        return _body(tp, rng)
    raise AssertionError(tp)


def _body(cls: Any, rng: random.Random) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        f.name: _valid(hints[f.name], rng)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING or rng.random() < 0.6
    }


_ODD: list[Any] = [
    None, True, False, 0, -1, 1, 16, 17, 1000, 1001, -1001, 2**64, 2**64 + 1, -(2**64) - 1,
    _Int(5), 1.5, "", "x", "ab" * 32, "AB" * 32, "ab" * 31 + "g", "https://x", "ftp://x",
    "x" * 257, "x" * 4097, [], ["ab" * 32], ["x"], [1], [None], ["ab" * 32] * 65, {}, {"a": 1},
    "confirm", "state", "optical",
    # 64 characters that are not all hex digits, each a way a prefix or strip could slip
    "ab" * 31 + " a", " " + "a" * 63, "0" * 63 + "\u0660", "0x" + "a" * 62, "a" * 63 + "\n",
]


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except EntryError as e:
        return ("error", e.code, str(e))
    except Exception as e:
        return ("raised", type(e).__name__)


def _checks_only(kind: str, body: Any) -> Any:
    """`parse_body` as it was: without the generated parsers."""
    saved = dict(kinds._FAST)
    kinds._FAST.clear()
    try:
        return kinds.parse_body(kind, body)
    finally:
        kinds._FAST.update(saved)


def _same(kind: str, body: Any) -> None:
    slow = _outcome(lambda: _checks_only(kind, body))
    got = _outcome(lambda: kinds.parse_body(kind, body))
    assert got == slow, (kind, body)
    if got[0] == "ok":
        assert type(got[1]) is type(slow[1])
        fast = kinds._FAST[kind](body)
        assert fast is FAIL or fast == slow[1]


def test_every_kind_has_a_generated_parser() -> None:
    assert set(kinds._FAST) == set(kinds.KINDS)


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_generated_parser_agrees_with_the_checks_on_every_field_broken(kind: str) -> None:
    rng = random.Random(kind)
    cls = kinds.KINDS[kind]
    for _ in range(30):
        body = _body(cls, rng)
        _same(kind, body)
        assert kinds._FAST[kind](body) is not FAIL  # valid bodies take the fast path
        for name in [f.name for f in dataclasses.fields(cls)]:
            for odd in _ODD:
                _same(kind, {**body, name: odd})
            _same(kind, {k: v for k, v in body.items() if k != name})
            value = body.get(name)
            if isinstance(value, list) and value:  # a bad item, or a nested record's field
                for odd in _ODD[:12]:
                    _same(kind, {**body, name: [*value[:-1], odd]})
                if isinstance(value[-1], dict):
                    for field in list(value[-1]):
                        for odd in _ODD[:16]:
                            _same(kind, {**body, name: [*value[:-1], {**value[-1], field: odd}]})
        _same(kind, {**body, "unknown": 1})
        _same(kind, {**body, 3: 1})
    for odd in _ODD:
        _same(kind, odd)


def test_generated_parser_takes_the_benchmark_stream() -> None:
    entries, _pids = generate(600, 8, 4)
    for e in entries:
        assert kinds._FAST[e.kind](dict(e.body)) == kinds._PARSERS[e.kind](dict(e.body), e.kind)


def test_records_made_in_one_call_equal_those_set_slot_by_slot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the compiled maker was built the parsers make each record in one call; without
    it, one slot descriptor at a time: the same records either way."""
    from trustnet.statements import fastparse

    if fastparse._maker is None:
        pytest.skip("not compiled here: the parsers set slots one by one (tested above)")
    marks = fastparse.Marks(kinds.Range, kinds.Hex32, kinds.MaxLen, kinds.Url, kinds.Ext,
                            kinds.MAX_ITEMS, kinds._HEX)
    in_one_call = fastparse.fast_parsers(kinds.KINDS, marks)
    monkeypatch.setattr(fastparse, "_maker", None)
    by_slots = fastparse.fast_parsers(kinds.KINDS, marks)
    entries, _pids = generate(600, 8, 4)
    for e in entries:
        made = in_one_call[e.kind](dict(e.body))
        assert made == by_slots[e.kind](dict(e.body)) and made is not FAIL
        assert type(made) is kinds.KINDS[e.kind]
    rng = random.Random(7)
    for kind, cls in sorted(kinds.KINDS.items()):
        body = _body(cls, rng)
        assert in_one_call[kind](body) == by_slots[kind](body) == kinds._PARSERS[kind](body, kind)
