"""The statement record the rules pass around: an entry with its typed body and the time
this node judges it was made (its receipt when backdated, DESIGN 12).

Compiled with the rules (trustnet/_build.py), where mypyc builds no generic dataclass: the
record is written out (equal, hashed and shown by its fields, as a frozen dataclass), and
kept read-only by its `Final` fields (mypy; compiled, they have no setter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar

from trustnet._source import fields_set_once
from trustnet.log.entry import Entry

S = TypeVar("S")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(ms: int) -> datetime | None:
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:  # beyond year 9999: no calendar date
        return None


_DAY_MS = 86_400_000
_DAYS: dict[int, str] = {}  # day since the epoch -> its date as the notes write it
_KEPT = 4096  # days kept at most (emptied past it: dates are a stranger's to choose)


def date_text(ms: int) -> str:
    """`ms` as the notes write a time: "2025-06-01 00:00 UTC" (what strftime's
    "%Y-%m-%d %H:%M UTC" writes, the year unpadded as the C library does; formatted here,
    a fraction of strftime's cost, for the tens of thousands of notes of a recompute; each
    day's date is kept, the time of day is arithmetic)."""
    day, rest = divmod(ms, _DAY_MS)
    text = _DAYS.get(day)
    if text is None:
        when = _utc(day * _DAY_MS)
        if when is None:
            return f"{ms} ms"
        text = f"{when.year}-{when.month:02d}-{when.day:02d}"
        if len(_DAYS) >= _KEPT:
            _DAYS.clear()
        _DAYS[day] = text
    return f"{text} {rest // 3_600_000:02d}:{rest // 60_000 % 60:02d} UTC"


class Stmt(Generic[S]):
    """An entry with its typed body."""

    __slots__ = ("author", "body", "entry", "id", "ts")

    def __init__(self, entry: Entry, body: S, ts: int) -> None:
        self.entry: Final = entry
        self.body: Final = body
        # When it was made, as this node judges it: its receipt when backdated (DESIGN 12).
        self.ts: Final = ts
        # The entry's id and author (hex), read once: the rules read them hundreds of
        # thousands of times in a full recompute, and compiled, a field is a load where the
        # entry's cached properties are a Python call each.
        self.id: Final = entry.id_hex
        self.author: Final = entry.author_hex

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stmt) or type(other) is not type(self):
            return NotImplemented
        return self.entry == other.entry and self.body == other.body and self.ts == other.ts

    def __hash__(self) -> int:
        return hash((self.entry, self.body, self.ts))

    def __repr__(self) -> str:
        return f"Stmt(entry={self.entry!r}, body={self.body!r}, ts={self.ts!r})"

    def __reduce__(self) -> tuple[type[Stmt[Any]], tuple[Entry, Any, int]]:
        return (Stmt, (self.entry, self.body, self.ts))

    @property
    def backdated(self) -> bool:
        """Signed with a `ts` this node does not believe (judged by its receipt instead)."""
        return self.ts != self.entry.ts

    def when(self) -> str:
        """The judged time as a date, naming the signed one when it differs."""
        if self.backdated:
            return f"{date_text(self.ts)} (signed {date_text(self.entry.ts)}: backdated, judged by receipt)"
        return date_text(self.ts)

    def key(self) -> tuple[int, str]:
        """Publication order: judged time, then id (a total, deterministic order)."""
        return (self.ts, self.id)


fields_set_once(Stmt)  # read-only, as a frozen dataclass

# The regime rules' name for the same record (statements/regime_common.py): one object per
# statement serves the index and the regime rules alike.
Judged = Stmt
