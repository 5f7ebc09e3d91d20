"""The estimator's walk, written out for speed (issue 15 item 3), is `_cell` after `_cell`
bit for bit: random snapshots, spans and grids against the plain loop it replaced."""

from __future__ import annotations

import random

import pytest

from trustnet.feedback.estimator import SuspicionEstimator, SuspicionParams, _level, _Snap
from trustnet.feedback.history import LevelHistory
from trustnet.statements.figures import DAY_MS


def _reference(est: SuspicionEstimator, s: _Snap, t0: int, x: float, y: float, t: int,
               hist: list[tuple[int, float]] | None) -> tuple[int, float, float, float, float]:
    unit = est.params.time_unit_ms
    nxt = (t0 // unit + 1) * unit
    while nxt <= t:
        x, y = est._cell(s, t0, nxt, x, y)
        t0 = nxt
        nxt += unit
        if hist is not None:
            hist.append((t0, _level(x)))
    if hist is not None and len(hist) > 2 * est.params.history_len:
        del hist[: len(hist) - est.params.history_len]
    if t0 < t:
        xt, yt = est._cell(s, t0, t, x, y)
        return t0, x, y, xt, yt
    return t0, x, y, x, y


def test_the_walk_is_the_cells_one_after_another() -> None:
    rng = random.Random(7)
    for params in (SuspicionParams(), SuspicionParams(other_restraint=0.05, history_len=3),
                   SuspicionParams(time_unit_ms=3_600_000, restraint_gain=0.0)):
        est = SuspicionEstimator(params, "me")
        for _ in range(400):
            st = rng.randrange(10**12, 10**12 + 400 * DAY_MS)
            snap = _Snap(st, rng.random() * 3, rng.random() * 2, rng.random(), rng.random(),
                         rng.uniform(-2, 5), rng.random(), rng.uniform(-1, 4))
            t0 = st + rng.choice((0, rng.randrange(3 * DAY_MS)))
            t = t0 + rng.choice((0, 1, rng.randrange(DAY_MS), rng.randrange(40 * DAY_MS)))
            x, y = rng.random() * 2, rng.random()
            h2 = [(0, 0.0)] * rng.randrange(8)
            h1 = LevelHistory()
            for point in h2:
                h1.append(*point)
            assert est._walk(snap, t0, x, y, t, h1) == _reference(est, snap, t0, x, y, t, h2)
            assert list(h1) == h2
            assert est._walk(snap, t0, x, y, t, None) == _reference(est, snap, t0, x, y, t, None)


def test_the_compiled_walk_is_the_python_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    # trustnet._numeric.walk against the Python loop it stands in for, bit for bit: times
    # before 1970 (floor division of negative times), spans of many cells, the grid's own
    # boundaries, and times past 2**52 ms or 64 bits (left to Python).
    from trustnet.feedback import estimator

    if estimator.c_walk is None:
        pytest.skip("not compiled here: the Python walk runs alone")
    rng = random.Random(17)
    cases = []
    for _ in range(3000):
        base = rng.choice((-(10**12), 0, 10**12, 2**52 - 50 * DAY_MS, 2**62, -(2**62)))
        st = base + rng.randrange(-5 * DAY_MS, 5 * DAY_MS)
        snap = _Snap(st, rng.random() * 3, rng.random() * 2, rng.random(), rng.uniform(-1, 1),
                     rng.uniform(-2, 5), rng.random(), rng.uniform(-1, 4))
        t0 = st + rng.choice((0, rng.randrange(3 * DAY_MS), -rng.randrange(DAY_MS) * 0))
        t = t0 + rng.choice((0, 1, DAY_MS, rng.randrange(DAY_MS), rng.randrange(90 * DAY_MS)))
        cases.append((snap, t0, rng.random() * 5, rng.random() * 2, t, rng.random() < 0.7))
    for params in (SuspicionParams(), SuspicionParams(other_restraint=0.05, history_len=3)):

        def run(params: SuspicionParams = params) -> list[object]:
            est = SuspicionEstimator(params, "me")
            out: list[object] = []
            for snap, t0, x, y, t, with_hist in cases:
                hist = LevelHistory() if with_hist else None
                out.append((est._walk(snap, t0, x, y, t, hist),
                            None if hist is None else list(hist)))
            return out

        compiled = run()
        monkeypatch.setattr(estimator, "c_walk", None)
        assert run() == compiled
        monkeypatch.undo()
