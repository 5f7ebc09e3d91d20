"""What every command prints: results on stdout, progress and errors on stderr.

Results go to stdout (a table, one value, or JSON with `--json`) so they can be piped;
what a person reads while a command works, and every error, goes to stderr. Both are
flushed per line, so a long command's progress shows as it happens.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any


def out(line: str = "") -> None:
    """One line of a command's result, on stdout."""
    print(line, flush=True)


def err(line: str) -> None:
    """One line for the person at the terminal (progress, a summary, an error), on stderr."""
    print(line, file=sys.stderr, flush=True)


def out_json(obj: Any) -> None:
    """A command's result as indented JSON (`--json`), on stdout."""
    out(json.dumps(obj, indent=2, ensure_ascii=False))


def iso_utc(ms: int) -> str:
    """ms since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC), for tables."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
