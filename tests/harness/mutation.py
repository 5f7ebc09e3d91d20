"""Byte edits of encoded values, for the tests that hold a compiled check to the Python one
(test_canonical.py, test_peek.py): a hypothesis strategy of edits and their application."""

from __future__ import annotations

from hypothesis import strategies as st

Edit = tuple[int, int, str]


def edits(max_size: int) -> st.SearchStrategy[list[Edit]]:
    """1..max_size edits: (where, byte, set | insert | delete)."""
    return st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255),
                              st.sampled_from(["set", "insert", "delete"])),
                    min_size=1, max_size=max_size)


def mutated(data: bytes, changes: list[Edit]) -> bytes:
    """`data` with each edit applied in turn (where: modulo the length at that point)."""
    out = bytearray(data)
    for at, byte, how in changes:
        at %= len(out) + 1
        if how == "set" and at < len(out):
            out[at] = byte
        elif how == "insert":
            out.insert(at, byte)
        elif at < len(out):
            del out[at]
    return bytes(out)
