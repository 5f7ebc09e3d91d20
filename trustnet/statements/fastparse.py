"""Bodies that are valid, parsed by straight-line code generated once per kind (issue 15).

`kinds.parse_body` checks every field through a chain of small closures compiled from the
annotations: clear, and it names the field of the first error, but at ~20 calls per body it
was a fifth of the analysis' full recompute at 100,000 statements. For each kind this module
writes one function that tests every field inline (`type(x) is int and 0 <= x`, ...) and
builds the record directly. It only ever *accepts*: it returns `FAIL` as soon as a test does
not pass (a wrong type, a missing field, an unknown one, an int subclass, anything unusual),
and `parse_body` then runs the closures, which raise the exact error they always raised.
Whatever it accepts the closures accept with the same values (tests/test_fastparse.py holds
the two equal on every kind, on valid bodies and on each field broken in many ways).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

_maker: Callable[[type[Any], tuple[str, ...]], Callable[..., Any]] | None
try:
    from trustnet._canonical import maker as _maker
except ImportError:  # pragma: no cover - depends on the machine it was installed on
    _maker = None

FAIL: Any = object()  # "not accepted here": parse_body runs the full checks

FastParser = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Marks:
    """kinds.py's constraint types and limits (handed in: kinds imports this module)."""

    range: type[Any]
    hex32: type[Any]
    max_len: type[Any]
    url: type[Any]
    ext: Any
    max_items: int
    hex_chars: frozenset[str]


class _Unsupported(Exception):
    """A field type this generator does not write: the kind keeps only the full checks."""


class _Writer:
    """Source of one kind's parser: constants go in `env`, tests in `lines`."""

    def __init__(self, env: dict[str, Any], marks: Marks) -> None:
        self.env = env
        self.marks = marks
        self.lines: list[str] = []
        self.n = 0

    def const(self, value: Any) -> str:
        self.n += 1
        name = f"_c{self.n}"
        self.env[name] = value
        return name

    def fresh(self) -> str:
        self.n += 1
        return f"_v{self.n}"


def _test(w: _Writer, tp: Any, x: str) -> str:
    """A Python expression true iff value `x` passes `tp`'s checks *and* is returned as is."""
    k = w.marks
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        parts = [_test(w, base, x)]
        # kinds._compile fuses `int` with one Range into one check bounded by +-2**64.
        fused = base is int and len(marks) == 1 and isinstance(marks[0], k.range)
        for m in marks:
            if isinstance(m, k.range):
                lo = -(2**64) if fused and m.lo is None else m.lo
                hi = 2**64 if fused and m.hi is None else m.hi
                if lo is not None:
                    parts.append(f"{lo} <= {x}")
                if hi is not None:
                    parts.append(f"{x} <= {hi}")
            elif isinstance(m, k.hex32):
                # Every character a hex digit: nothing left once they are stripped (a
                # third of testing each against a set).
                digits = w.const("".join(sorted(k.hex_chars)))
                parts.append(f"len({x}) == 64 and not {x}.lstrip({digits})")
            elif isinstance(m, k.max_len):
                parts.append(f"len({x}) <= {m.n}")
            elif isinstance(m, k.url):
                parts.append(
                    f"({x}.startswith('http://') or {x}.startswith('https://'))"
                    f" and len({x}) <= 2048"
                )
            else:
                raise _Unsupported(repr(m))
        return "(" + " and ".join(parts) + ")"
    if tp is bool:
        return f"({x} is True or {x} is False)"
    if tp is int:
        return f"type({x}) is int"
    if tp is str:
        return f"type({x}) is str"
    if origin is Literal:
        allowed = typing.get_args(tp)
        if not all(type(a) is str for a in allowed):
            raise _Unsupported(repr(tp))
        return f"(type({x}) is str and {x} in {w.const(frozenset(allowed))})"
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise _Unsupported(repr(tp))
        return f"({x} is None or {_test(w, args[0], x)})"
    if origin in (Mapping, dict) or tp is k.ext:
        return f"type({x}) is dict"
    raise _Unsupported(repr(tp))


def _shape(tp: Any, marks: Marks) -> tuple[str, Any, Any]:
    """What a field of type `tp` is: ("records", most items, record class) for a tuple of
    records, ("items", most items, item type) for a tuple of values, ("test", tp, None) for
    a value one expression tests (`_test`), ("record", record class, None) for a record.
    A tuple of fixed length, or anything else, is not written here (`_Unsupported`)."""
    origin = typing.get_origin(tp)
    extra: list[Any] = []
    base = tp
    if origin is Annotated:
        base, *extra = typing.get_args(tp)
    if typing.get_origin(base) is tuple:
        args = typing.get_args(base)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise _Unsupported(repr(tp))
        limit = marks.max_items
        for m in extra:
            if not isinstance(m, marks.max_len):
                raise _Unsupported(repr(m))
            limit = min(limit, m.n)
        item_tp = args[0]
        if isinstance(item_tp, type) and dataclasses.is_dataclass(item_tp):
            return ("records", limit, item_tp)
        return ("items", limit, item_tp)
    if extra or origin is not None or base in (bool, int, str) or base is Any:
        return ("test", tp, None)
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return ("record", base, None)
    raise _Unsupported(repr(tp))


def _field(w: _Writer, tp: Any, x: str, out: str, indent: str) -> None:
    """Lines that leave in `out` the parsed value of `x` (a tuple or nested record made
    here), or return FAIL."""
    what, a, b = _shape(tp, w.marks)
    if what in ("records", "items"):
        w.lines.append(f"{indent}if type({x}) is not list or len({x}) > {a}: return FAIL")
        y = w.fresh()
        if what == "records":
            sub = w.const(fast_record(b, w.marks))
            w.lines.append(f"{indent}{out} = tuple([{sub}({y}) for {y} in {x}])")
            w.lines.append(f"{indent}if FAIL in {out}: return FAIL")
        else:
            w.lines.append(f"{indent}for {y} in {x}:")
            w.lines.append(f"{indent}    if not {_test(w, b, y)}: return FAIL")
            w.lines.append(f"{indent}{out} = tuple({x})")
    elif what == "test":
        w.lines.append(f"{indent}if not {_test(w, a, x)}: return FAIL")
        w.lines.append(f"{indent}{out} = {x}")
    else:
        sub = w.const(fast_record(a, w.marks))
        w.lines.append(f"{indent}{out} = {sub}({x})")
        w.lines.append(f"{indent}if {out} is FAIL: return FAIL")


def fast_record(cls: type[Any], marks: Marks) -> FastParser:
    """The generated parser of record `cls` (raises `_Unsupported` for a type it cannot write)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = dataclasses.fields(cls)
    env: dict[str, Any] = {"FAIL": FAIL}
    w = _Writer(env, marks)
    names = w.const(frozenset(f.name for f in fields))
    make = w.const(cls)
    w.lines.append("def parse(v):")
    w.lines.append(f"    if type(v) is not dict or not {names}.issuperset(v): return FAIL")
    w.lines.append("    g = v.get")
    args = []
    for f in fields:
        if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            raise _Unsupported(f"{cls.__name__}.{f.name}: default_factory")
        x, out = w.fresh(), w.fresh()
        w.lines.append(f"    {x} = g({f.name!r}, FAIL)")
        if f.default is dataclasses.MISSING:
            w.lines.append(f"    if {x} is FAIL: return FAIL")
            _field(w, hints[f.name], x, out, "    ")
        else:
            # Absent: the field's default (what the dataclass gives when it is not passed).
            w.lines.append(f"    if {x} is FAIL:")
            w.lines.append(f"        {out} = {w.const(f.default)}")
            w.lines.append("    else:")
            _field(w, hints[f.name], x, out, "        ")
        args.append(f"{f.name}={out}")
    slots = getattr(cls, "__slots__", None)
    if slots is not None and "__post_init__" not in vars(cls) and all(
            f.name in slots for f in fields):
        # What the frozen dataclass's __init__ does, minus its object.__setattr__ per field:
        # each slot set directly (the same record, compared equal by the tests), all in one
        # call where the compiled maker was built, else by each slot's descriptor.
        values = [arg.split("=", 1)[1] for arg in args]
        try:
            maker = None if _maker is None else _maker(cls, tuple(f.name for f in fields))
        except TypeError:  # not a class object.__new__ makes (its own __new__, abstract)
            maker = None
        if maker is not None:
            w.lines.append(f"    return {w.const(maker)}({', '.join(values)})")
        else:
            w.lines.append(f"    o = {w.const(object.__new__)}({make})")
            for f, value in zip(fields, values, strict=True):
                setter = w.const(getattr(cls, f.name).__set__)
                w.lines.append(f"    {setter}(o, {value})")
            w.lines.append("    return o")
    else:
        w.lines.append(f"    return {make}({', '.join(args)})")
    exec(compile("\n".join(w.lines), f"<fastparse {cls.__name__}>", "exec"), env)
    parser: FastParser = env["parse"]
    return parser


def fast_parsers(kinds: Mapping[str, type[Any]], marks: Marks) -> dict[str, FastParser]:
    """A generated parser per kind whose fields this module can write (all of them today)."""
    out: dict[str, FastParser] = {}
    for kind, cls in kinds.items():
        try:
            out[kind] = fast_record(cls, marks)
        except _Unsupported:
            continue
    return out


# -- programs for the compiled checks of the ingest workers ------------------------------------
#
# The same tests the generated parsers make, written as data for `trustnet._canonical.checker`
# (its comment gives the format): a worker checks a whole entry there, body included, without
# unpacking it. Only bodies a parser above accepts may pass a program; anything unusual (a
# shape not written here) leaves the kind without a program, and the worker parses it.

OP_BOOL, OP_INT, OP_STR, OP_LIT, OP_OPT, OP_MAP, OP_LIST, OP_RECORDS, OP_RECORD = range(9)
STR_HEX32, STR_URL = 1, 2
_INT_LO, _INT_HI = -(2**63), 2**64 - 1  # what msgpack holds
URL_MOST = 2048  # `_test`'s Url: at most this many characters


def _c_test(tp: Any, marks: Marks) -> tuple[Any, ...]:
    """The program of `_test(tp)`: passes exactly the values that expression is true of."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *extra = typing.get_args(tp)
        if base is int and all(isinstance(m, marks.range) for m in extra):
            lo, hi = _INT_LO, _INT_HI
            for m in extra:  # None: no bound (the fused +-2**64 lies outside msgpack's ints)
                lo = lo if m.lo is None else max(lo, m.lo)
                hi = hi if m.hi is None else min(hi, m.hi)
            return (OP_INT, lo, hi) if lo <= hi else (OP_INT, 1, 0)
        if base is str:
            most, flags = -1, 0
            for m in extra:
                if isinstance(m, marks.hex32):
                    flags |= STR_HEX32
                elif isinstance(m, marks.max_len):
                    most = m.n if most < 0 else min(most, m.n)
                elif isinstance(m, marks.url):
                    flags |= STR_URL
                    most = URL_MOST if most < 0 else min(most, URL_MOST)
                else:
                    raise _Unsupported(repr(m))
            return (OP_STR, most, flags)
        raise _Unsupported(repr(tp))
    if tp is bool:
        return (OP_BOOL,)
    if tp is int:
        return (OP_INT, _INT_LO, _INT_HI)
    if tp is str:
        return (OP_STR, -1, 0)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if not all(type(a) is str for a in allowed):
            raise _Unsupported(repr(tp))
        return (OP_LIT, tuple(sorted(a.encode() for a in allowed)))
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise _Unsupported(repr(tp))
        return (OP_OPT, _c_test(args[0], marks))
    if origin in (Mapping, dict) or tp is marks.ext:
        return (OP_MAP,)
    raise _Unsupported(repr(tp))


def _c_field(tp: Any, marks: Marks) -> tuple[Any, ...]:
    """The program of what `_field` writes for a field of type `tp`."""
    what, a, b = _shape(tp, marks)
    if what == "records":
        return (OP_RECORDS, a, c_record(b, marks))
    if what == "items":
        return (OP_LIST, a, _c_test(b, marks))
    if what == "test":
        return _c_test(a, marks)
    return (OP_RECORD, c_record(a, marks))


def c_record(cls: type[Any], marks: Marks) -> tuple[tuple[bytes, bool, tuple[Any, ...]], ...]:
    """The fields of record `cls` as a program: (name, required, test) each. A record whose
    parser runs code of its own (`__post_init__`, a default factory) has none."""
    if "__post_init__" in vars(cls):
        raise _Unsupported(f"{cls.__name__}.__post_init__")
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
            raise _Unsupported(f"{cls.__name__}.{f.name}: default_factory")
        out.append((f.name.encode(), f.default is dataclasses.MISSING,
                    _c_field(hints[f.name], marks)))
    return tuple(out)


def c_programs(kinds: Mapping[str, type[Any]], marks: Marks) -> dict[bytes, tuple[Any, ...]]:
    """A program per kind whose record this module can write, keyed by the kind's UTF-8."""
    out: dict[bytes, tuple[Any, ...]] = {}
    for kind, cls in kinds.items():
        try:
            out[kind.encode()] = (OP_RECORD, c_record(cls, marks))
        except _Unsupported:
            continue
    return out
