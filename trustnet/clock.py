"""Injected time: every component takes a `Clock`, never reads the wall clock itself."""

from __future__ import annotations

import time
from typing import Protocol

# The day and the hour in ms: one spelling for every deadline, window and time unit.
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class Clock(Protocol):
    """A source of time in integer milliseconds since the Unix epoch."""

    def now_ms(self) -> int:
        """Current time in ms."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Current wall-clock time in ms."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00Z
        self._now = start_ms

    def now_ms(self) -> int:
        """The current virtual time."""
        return self._now

    def advance(self, ms: int) -> None:
        """Move time forward by `ms` (never backwards)."""
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._now += ms

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms` (not before the current time)."""
        self.advance(now_ms - self._now)


class OffsetClock:
    """Wall time shifted by `offset_ms`: a testbed node living in a scenario's fixed time."""

    def __init__(self, offset_ms: int, wall: Clock | None = None) -> None:
        self._wall = wall or SystemClock()
        self._offset = offset_ms

    def now_ms(self) -> int:
        """Wall time plus the offset."""
        return self._wall.now_ms() + self._offset
