"""Statement bodies for the tests of the body checks: valid ones made from a kind's
annotations, and the odd values each field is broken with (tests/test_fastparse.py,
tests/test_checker.py)."""

from __future__ import annotations

import dataclasses
import random
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from trustnet.statements import kinds


class IntSubclass(int):
    """An int subclass: the closures accept it where they test isinstance."""


def valid_value(tp: Any, rng: random.Random) -> Any:
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
        return valid_value(base, rng)
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
        return None if rng.random() < 0.3 else valid_value(args[0], rng)
    if origin is tuple:
        return [valid_value(typing.get_args(tp)[0], rng) for _ in range(rng.randint(0, 3))]
    if origin in (Mapping, dict) or tp is kinds.Ext:
        return {"x": 1}
    if dataclasses.is_dataclass(tp):
        return valid_body(tp, rng)
    raise AssertionError(tp)


def valid_body(cls: Any, rng: random.Random) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {
        f.name: valid_value(hints[f.name], rng)
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING or rng.random() < 0.6
    }


ODD: list[Any] = [
    None, True, False, 0, -1, 1, 16, 17, 1000, 1001, -1001, 2**64, 2**64 + 1, -(2**64) - 1,
    IntSubclass(5), 1.5, "", "x", "ab" * 32, "AB" * 32, "ab" * 31 + "g", "https://x", "ftp://x",
    "x" * 257, "x" * 4097, [], ["ab" * 32], ["x"], [1], [None], ["ab" * 32] * 65, {}, {"a": 1},
    "confirm", "state", "optical",
    # 64 characters that are not all hex digits, each a way a prefix or strip could slip
    "ab" * 31 + " a", " " + "a" * 63, "0" * 63 + "\u0660", "0x" + "a" * 62, "a" * 63 + "\n",
]
