"""What two versions of a list share at their ends, by identity (issue 15 item 3).

The analysis keeps lists between updates (a partition's evidence, its compiled facts) and
hands out the objects of what did not change again, in the same order: comparing the old
and new list by identity from both ends finds the span a new entry touched without looking
at every element's contents.
"""

from __future__ import annotations

from collections.abc import Sequence


def common_ends(old: Sequence[object], new: Sequence[object]) -> tuple[int, int]:
    """(p, q): `old` and `new` hold the very same objects in their first p places and in
    their last q places, the two runs not overlapping in either list."""
    end = min(len(old), len(new))
    p = 0
    while p < end and old[p] is new[p]:
        p += 1
    n_old, n_new = len(old), len(new)
    q = 0
    while q < end - p and old[n_old - 1 - q] is new[n_new - 1 - q]:
        q += 1
    return p, q
