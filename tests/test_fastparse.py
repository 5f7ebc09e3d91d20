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
from typing import Any

import pytest

from tests.harness.bodies import ODD, valid_body
from trustnet.bench.beliefs import generate
from trustnet.errors import EntryError
from trustnet.statements import kinds
from trustnet.statements.fastparse import FAIL


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
        return kinds.parsevalid_body(kind, body)
    finally:
        kinds._FAST.update(saved)


def _same(kind: str, body: Any) -> None:
    slow = _outcome(lambda: _checks_only(kind, body))
    got = _outcome(lambda: kinds.parsevalid_body(kind, body))
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
        body = valid_body(cls, rng)
        _same(kind, body)
        assert kinds._FAST[kind](body) is not FAIL  # valid bodies take the fast path
        for name in [f.name for f in dataclasses.fields(cls)]:
            for odd in ODD:
                _same(kind, {**body, name: odd})
            _same(kind, {k: v for k, v in body.items() if k != name})
            value = body.get(name)
            if isinstance(value, list) and value:  # a bad item, or a nested record's field
                for odd in ODD[:12]:
                    _same(kind, {**body, name: [*value[:-1], odd]})
                if isinstance(value[-1], dict):
                    for field in list(value[-1]):
                        for odd in ODD[:16]:
                            _same(kind, {**body, name: [*value[:-1], {**value[-1], field: odd}]})
        _same(kind, {**body, "unknown": 1})
        _same(kind, {**body, 3: 1})
    for odd in ODD:
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
        body = valid_body(cls, rng)
        assert in_one_call[kind](body) == by_slots[kind](body) == kinds._PARSERS[kind](body, kind)
