"""Wait on a condition with a deadline: the one poll helper (tests never sleep bare)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
TIMEOUT_S = 20.0
POLL_S = 0.02


async def wait_until(check: Callable[[], Any | Awaitable[Any]], what: str = "condition",
                     timeout_s: float = TIMEOUT_S) -> Any:
    """Poll `check` (plain or async) until it returns something truthy, and return that;
    fail the test (AssertionError naming `what`) at the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not met within {timeout_s} s")
        await asyncio.sleep(POLL_S)


def wait_sync(check: Callable[[], T], what: str = "condition", timeout_s: float = TIMEOUT_S,
              *, ignore: tuple[type[Exception], ...] = ()) -> T:
    """`wait_until` for code outside an event loop (real node processes); an exception in
    `ignore` counts as "not yet" (a node still starting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
        except ignore:
            result = None  # type: ignore[assignment]
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout_s} s")
        time.sleep(POLL_S)
