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


def _script(seed: int) -> list[tuple[str, object]]:
    """A random run of an estimator: signals in and out of order (late ones replay their
    party), revisions (verifications that moved), reports (a report's history shares the
    estimator's arrays), at times on and off the grid, before 1970, and one beyond 2**52 ms."""
    from trustnet.feedback.estimator import Signal

    rng = random.Random(seed)
    t0 = rng.choice((10**12, -(10**11)))
    rules = ("inspection_refused", "notification_missing", "consultation_unanswered", "other")
    made: list[Signal] = []

    def signal() -> Signal:
        at = t0 + rng.choice((rng.randrange(300) * DAY_MS, rng.randrange(300 * DAY_MS)))
        if made and rng.random() < 0.15:
            at = rng.choice(made).at  # the same moment as another
        return Signal(rng.choice(("p1", "p2")), at,
                      rng.choice(("threat", "threat", "hostility", "cooperation")),
                      rng.choice((0.0, rng.random() * 3)),
                      rng.choice((0.0, 1.0, rng.random())), f"r{len(made)}", rng.choice(rules))

    # A party whose one signal lies beyond 2**52 ms: its replays are left to Python.
    far = Signal("p3", 2**53 + rng.randrange(DAY_MS), "threat", 1.0, 1.0, "far", "other")
    out: list[tuple[str, object]] = [
        ("observe", far),
        ("revise", ("p3", [far], [Signal("p3", far.at, "threat", 1.0, 0.5, "far", "other")]))]
    for _ in range(160):
        roll = rng.random()
        if roll < 0.55 or not made:
            s = signal()
            made.append(s)
            out.append(("observe", s))
        elif roll < 0.8:
            old = rng.choice(made)
            new = Signal(old.party, old.at, old.kind, old.weight, rng.random(), old.ref, old.rule)
            made[made.index(old)] = new
            out.append(("revise", (old.party, [old], [new])))
        else:
            out.append(("report", t0 + rng.randrange(320 * DAY_MS)))
    return out


def _run(script: list[tuple[str, object]], params: SuspicionParams) -> list[object]:
    from trustnet.feedback.estimator import Signal

    est = SuspicionEstimator(params, "me")
    seen: list[object] = []
    for op, arg in script:
        if op == "observe":
            assert isinstance(arg, Signal)
            est.observe(arg)
        elif op == "revise":
            party, gone, new = arg  # type: ignore[misc]
            est.revise(party, gone, new)
        else:
            assert isinstance(arg, int)
            for party, report in est.reports(arg).items():
                seen.append((party, report.level, report.x, report.hostility, report.drivers,
                             report.history))  # views sharing the estimator's arrays
    for party in sorted(est._parties):
        pt = est._parties[party]
        seen.append((party, [(s.t, s.x, s.y, s.g, s.h, s.c, s.p, s.r) for s in pt.snaps],
                     list(pt.history), pt.cur_t, pt.cur_x, pt.cur_y))
    # What every report handed out shows now: a replay changed no point a view shares.
    seen.append([tuple(item[-1]) for item in seen if isinstance(item, tuple) and
                 len(item) == 6 and not isinstance(item[1], list)])
    return seen


@pytest.mark.parametrize("seed", range(12))
def test_the_compiled_replay_is_the_python_replay(seed: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # trustnet._numeric.replay against the Python steps it stands in for, bit for bit: the
    # snapshots, the history's points (bounded: history_len 3 trims it often), the cursor,
    # and every report's history (the arrays it shares are copied before they change).
    from trustnet.feedback import estimator

    if estimator.c_replay is None:
        pytest.skip("the compiled replay is not built here")
    script = _script(seed)
    for params in (SuspicionParams(history_len=3), SuspicionParams(),
                   SuspicionParams(other_restraint=0.05, time_unit_ms=3_600_000)):
        compiled = _run(script, params)
        with monkeypatch.context() as m:
            m.setattr(estimator, "c_replay", None)
            assert _run(script, params) == compiled


def test_a_partys_snapshots_are_columns_not_objects() -> None:
    # Hundreds of snapshots per new entry: held as eight typed arrays (what the compiled
    # replay writes, as bytes), a `_Snap` made only when one is read; the same snapshots
    # either way, in order, after rewinds.
    import gc
    from array import array

    from trustnet.feedback import estimator
    from trustnet.feedback.estimator import Signal

    def run() -> list[_Snap]:
        est = SuspicionEstimator(SuspicionParams(), "me")
        t0 = 1_700_000_000_000
        for k in range(6):  # each later one rewinds and replays
            est.observe(Signal("p", t0 + (5 - k) * DAY_MS, "threat", 1.0, 0.5, f"r{k}",
                               "unnotified_activity"))
        snaps = est._parties["p"].snaps
        assert all(isinstance(col, array) for col in snaps._columns())
        assert len(snaps) == 6 and snaps[-1] == list(snaps)[-1]
        # No object per snapshot: at most the last one, kept for the next signal in order.
        held = [o for o in gc.get_referents(snaps) if type(o) is _Snap]
        assert held in ([], [snaps[-1]])
        with pytest.raises(TypeError):
            snaps[1:]  # type: ignore[index]  # one at a time
        return list(snaps)

    got = run()
    assert [s.t for s in got] == sorted(s.t for s in got)
    if estimator.c_replay is not None:
        saved = estimator.c_replay
        try:
            estimator.c_replay = None
            assert run() == got
        finally:
            estimator.c_replay = saved


def test_the_compiled_replay_reads_its_steps_as_the_python_one_does() -> None:
    # Steps are read without a format string: a step that is not a tuple of five, or holds
    # what is not a number, is refused as PyArg_ParseTuple refused it; an int where a float
    # is expected is that float; a time past 64 bits is left to Python (OverflowError).
    from trustnet.feedback import estimator

    if estimator.c_replay is None:
        pytest.skip("the compiled replay is not built here")

    def replay(*steps: object) -> object:
        assert estimator.c_replay is not None
        return estimator.c_replay(None, list(steps), 0, None, None, 10, DAY_MS,
                                  float(DAY_MS), 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, None,
                                  1.0, 1.0, 1.0)

    t = 1_700_000_000_000
    as_floats = replay((t, 0, 2.0, True, 1.0), (t + DAY_MS, 2, 1.0, 0, 0.0))
    as_ints = replay((t, 0, 2, 1, 1), (t + DAY_MS, 2, 1, False, 0))
    assert as_ints == as_floats
    for bad in ([t, 0, 1.0, True, 0.5], (t, 0, 1.0, True), (t, 0, "1", True, 0.5),
                (t, 1.5, 1.0, True, 0.5), ("t", 0, 1.0, True, 0.5)):
        with pytest.raises(TypeError):
            replay(bad)
    with pytest.raises(OverflowError):
        replay((1 << 70, 0, 1.0, True, 0.5))
