"""Shared fixtures: deterministic identities and a helper to build signed chains."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import settings

from tests.harness.nodes import demo_daemon
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry

# Property tests explore a fixed, seeded sequence of examples: a run in CI is the run
# a developer saw (set HYPOTHESIS_PROFILE=explore locally to search afresh).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

T0 = 1_790_000_000_000  # 2026-09-21, a fixed "now" for tests


def ident(n: int) -> Identity:
    """A deterministic identity: the seed is n as 32 bytes."""
    return Identity.from_seed(n.to_bytes(32, "big"))


def trust_body(subject: Identity | str, level: int = 500) -> dict[str, Any]:
    """A valid `trust` body."""
    sid = subject if isinstance(subject, str) else subject.party_id
    return {"subject": sid, "level": level}


def chain(identity: Identity, n: int, *, start_ts: int = T0, step: int = 1000,
          body: Callable[[int], dict[str, Any]] | None = None) -> list[Entry]:
    """n valid `trust` entries by `identity`, linked seq 1..n."""
    out: list[Entry] = []
    prev = None
    for i in range(n):
        b = body(i) if body else trust_body("ab" * 32, i % 1000)
        e = sign_entry(identity, seq=i + 1, prev=prev, ts=start_ts + i * step, kind="trust", body=b)
        out.append(e)
        prev = e.id
    return out


@pytest.fixture
def alice() -> Identity:
    return ident(1)


@pytest.fixture
def bob() -> Identity:
    return ident(2)


@pytest.fixture
async def north1(tmp_path: Path) -> AsyncIterator[Any]:
    """north-1's daemon, started, its store holding the whole demo story (ending today):
    (daemon, url, session, ids, origin)."""
    demo = demo_daemon(tmp_path)
    url = await demo.daemon.start()
    async with aiohttp.ClientSession() as session:
        yield demo.daemon, url, session, demo.ids, demo.origin
    await demo.daemon.stop()
