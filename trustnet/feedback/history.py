"""A party's plotted suspicion level: (t ms, level) points, oldest first, in typed arrays.

The estimator keeps a `LevelHistory` per party (up to 2 * `history_len` points: one per
grid cell walked and per signal) and every report carries the last `history_len` points up
to its moment as a `SuspicionHistory` (GET /suspicion/{party} serves them for plots). As
lists of (int, float) tuples a point cost ~110 bytes, and every report copied its 512: a node
whose analysis followed 26,000 parties (300,000 statements from 100,000 authors) held 1.5 GB
of published reports' histories beside ~2 GB in the estimator, growing with the parties
(issue 15 item 5). Here a point costs 16 bytes in the estimator and nothing in a report:

- `LevelHistory` holds the points in two arrays (`array('q')` of times, `array('d')` of
  levels);
- a report's `SuspicionHistory` is a read-only view of a range of those arrays, plus the
  report's own last point when the history has none at its moment;
- once a view was handed out, the history changes no point of the arrays it shares: appends
  go beyond every view's range, and a change inside it (the last point's level at the same
  moment, a rewind, the trim to `history_len`) first gives the history fresh arrays (copy on
  write), leaving the shared ones to the views. The analysis worker writes and the event
  loop reads views: each array operation holds the interpreter's lock, and no shared point
  ever changes.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, overload

Point = tuple[int, float]


class LevelHistory:
    """One party's (t ms, level) points, oldest first (times never decrease)."""

    __slots__ = ("level", "shared", "t")

    def __init__(self) -> None:
        self.t = array("q")
        self.level = array("d")
        self.shared = False  # a view shares the arrays: copy before changing a point in them

    def __len__(self) -> int:
        return len(self.t)

    def __iter__(self) -> Iterator[Point]:
        return zip(self.t, self.level, strict=True)

    def append(self, t: int, level: float) -> None:
        """Add a point at the end (its time not before the last's)."""
        self.t.append(t)
        self.level.append(level)

    def record(self, t: int, level: float, keep: int) -> None:
        """The level at `t`: the last point's when it is at `t`, else a new point; then
        `bound(keep)`."""
        if self.t and self.t[-1] == t:
            if self.level[-1] != level:  # (nearly always equal: then nothing to copy)
                if self.shared:
                    self._unshare()
                self.level[-1] = level
        else:
            self.append(t, level)
        self.bound(keep)

    def cut_after(self, t: int) -> None:
        """Drop the points later than `t` (a rewind: they are walked again)."""
        ts = self.t
        i = bisect.bisect_right(ts, t)  # (times never decrease)
        if i == len(ts):
            return
        if self.shared:
            self.t, self.level, self.shared = ts[:i], self.level[:i], False
        else:
            del ts[i:]
            del self.level[i:]

    def bound(self, keep: int) -> None:
        """Past 2 * `keep` points, keep the last `keep` (amortised: one move per `keep`)."""
        n = len(self.t)
        if n <= 2 * keep:
            return
        k = n - keep
        if self.shared:
            self.t, self.level, self.shared = self.t[k:], self.level[k:], False
        else:
            del self.t[:k]
            del self.level[:k]

    def splice(self, ts: Sequence[int], levels: Sequence[float], n: int,
               replaced: float | None) -> None:
        """What a replay's `record`s and `bound`s leave, at once (`_numeric.replay` counts
        them): the last point held gets level `replaced` (unless None), `ts` and `levels`
        are added, and the last `n` points are kept."""
        n0 = len(self.t)
        drop = n0 + len(ts) - n  # points off the front
        kept = n0 - drop if drop < n0 else 0  # of those held before
        if self.shared and (drop > 0 or (replaced is not None and kept)):
            start = n0 - kept
            self.t, self.level, self.shared = self.t[start:], self.level[start:], False
        elif drop > 0:
            del self.t[:min(drop, n0)]
            del self.level[:min(drop, n0)]
        if replaced is not None and kept:
            self.level[-1] = replaced
        skip = drop - n0 if drop > n0 else 0
        self.t.extend(ts[skip:])
        self.level.extend(levels[skip:])

    def view(self, at: int, level: float, keep: int) -> SuspicionHistory:
        """The last `keep` points at or before `at`, ending with (`at`, `level`) unless a
        point is at `at` already: a report's history, sharing these arrays."""
        hi = bisect.bisect_right(self.t, at)
        extra = None if hi and self.t[hi - 1] == at else (at, level)
        lo = max(0, hi + (extra is not None) - keep)
        if hi > lo:
            self.shared = True
        return SuspicionHistory(self.t, self.level, lo, hi, extra)

    def _unshare(self) -> None:
        self.t, self.level, self.shared = self.t[:], self.level[:], False


_EMPTY_T = array("q")
_EMPTY_LEVEL = array("d")


class SuspicionHistory(Sequence[Point]):
    """A report's (t ms, level) points, oldest first: read-only, equal to the tuple of the
    same points (and hashed as it)."""

    __slots__ = ("_extra", "_hi", "_level", "_lo", "_t")

    def __init__(self, t: array[int], level: array[float], lo: int, hi: int,
                 extra: Point | None = None) -> None:
        self._t, self._level, self._lo, self._hi, self._extra = t, level, lo, hi, extra

    @classmethod
    def of(cls, points: Sequence[Point]) -> SuspicionHistory:
        """A history holding `points` (its own arrays)."""
        return cls(array("q", [t for t, _ in points]), array("d", [lv for _, lv in points]),
                   0, len(points))

    def __len__(self) -> int:
        return self._hi - self._lo + (self._extra is not None)

    @overload
    def __getitem__(self, i: int) -> Point: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Point, ...]: ...

    def __getitem__(self, i: int | slice) -> Point | tuple[Point, ...]:
        if isinstance(i, slice):
            return tuple(self)[i]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("history index out of range")
        j = self._lo + i
        if j < self._hi:
            return self._t[j], self._level[j]
        assert self._extra is not None
        return self._extra

    def __iter__(self) -> Iterator[Point]:
        lo, hi = self._lo, self._hi
        yield from zip(self._t[lo:hi], self._level[lo:hi], strict=True)
        if self._extra is not None:
            yield self._extra

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SuspicionHistory):
            return len(self) == len(other) and tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"SuspicionHistory({tuple(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its own points only, not the arrays it shares.
        return SuspicionHistory.of, (tuple(self),)


NO_HISTORY = SuspicionHistory(_EMPTY_T, _EMPTY_LEVEL, 0, 0)
