"""A report's history is a view of the estimator's arrays (trustnet.feedback.history): it
never changes after the report is made, whatever the estimator does next, and it reads as
the tuple of its points (JSON, equality, hashing, pickling)."""

from __future__ import annotations

import dataclasses
import pickle
import random

import pytest

from tests.harness.estimator import P, at, estimator
from trustnet.feedback.estimator import PartySuspicion, Signal, SuspicionParams
from trustnet.feedback.history import LevelHistory, SuspicionHistory


def _signal(rng: random.Random, day: float, i: int) -> Signal:
    return Signal(P, at(day), rng.choice(["threat", "hostility", "cooperation"]),
                  rng.choice([0.2, 0.5, 0.9]), rng.choice([0.0, 0.5, 1.0]), f"s{i}", "r")


def test_a_report_keeps_its_history_while_the_estimator_moves_on() -> None:
    # Every way the estimator changes a party's points after a report shared them: appends
    # (walks, new signals), the last point's level at the same moment (a second signal at
    # one time), rewinds (late signals, revisions) and the trim to history_len.
    rng = random.Random(3)
    est = estimator([_signal(rng, d / 3, d) for d in range(30)], SuspicionParams(history_len=16))
    kept: list[tuple[PartySuspicion, tuple[tuple[int, float], ...]]] = []
    day, n = 10.0, 30
    for step in range(300):
        r = est.report(P, at(day))
        kept.append((r, tuple(r.history)))
        what = step % 5
        if what == 0:  # in order, later
            day += rng.uniform(0.1, 4)
            est.observe(_signal(rng, day, n))
        elif what == 1:  # at the very moment of the last one: its point changes level
            est.observe(dataclasses.replace(_signal(rng, day, n), at=at(day)))
        elif what == 2:  # late: rewind and replay
            est.observe(_signal(rng, day - rng.uniform(0.5, 8), n))
        elif what == 3:  # a revision of a past signal
            old = next(s for s in est._parties[P].signals if s.at < at(day))
            est.revise(P, [old], [dataclasses.replace(old, verification=1 - old.verification)])
        else:  # the walk far ahead: trims
            day += rng.uniform(5, 40)
            est.advance(at(day))
        n += 1
    for r, points in kept:
        assert r.history == points
        assert r.to_json()["history"] == [list(p) for p in points]
    assert len({points[0] for _, points in kept}) > 100  # the views took different ranges


def test_the_history_reads_as_the_tuple_of_its_points() -> None:
    points = ((1, 0.5), (2, 0.25), (7, 0.125))
    h = SuspicionHistory.of(points)
    assert h == points and points == h and tuple(h) == points and list(h) == list(points)
    assert hash(h) == hash(points)
    assert h[0] == (1, 0.5) and h[-1] == (7, 0.125) and h[1:] == points[1:]
    assert len(h) == 3 and (2, 0.25) in h
    with pytest.raises(IndexError):
        h[3]
    assert h != [list(p) for p in points]  # a list is not a tuple, as before
    assert pickle.loads(pickle.dumps(h)) == h
    assert repr(h) == f"SuspicionHistory({points!r})"


def test_a_view_ends_at_its_moment_and_holds_at_most_keep_points() -> None:
    hist = LevelHistory()
    for t in range(10, 100, 10):
        hist.append(t, t / 100)
    assert hist.view(55, 0.9, 4) == ((30, 0.3), (40, 0.4), (50, 0.5), (55, 0.9))
    assert hist.view(50, 0.9, 4) == ((20, 0.2), (30, 0.3), (40, 0.4), (50, 0.5))
    assert hist.view(5, 0.1, 4) == ((5, 0.1),)
    assert hist.view(55, 0.9, 1) == ((55, 0.9),)
    shared = hist.view(90, 0.0, 3)
    hist.record(90, 0.33, 100)  # the last point's level, in place: copied first
    hist.cut_after(40)
    hist.bound(1)
    assert shared == ((70, 0.7), (80, 0.8), (90, 0.9)) and list(hist) == [(40, 0.4)]


@pytest.mark.parametrize("seed", range(30))
def test_a_splice_leaves_what_records_and_bounds_leave(seed: int) -> None:
    # `splice` (the compiled replay's points at once) against the calls it stands for: grid
    # points appended and bounded, then a record at a signal's moment (the last point's level
    # when it is at that moment, which may be a point held before), on a history whose
    # arrays a view shares or not.
    rng = random.Random(seed)
    keep = rng.choice((1, 2, 3, 8))
    calls, spliced = LevelHistory(), LevelHistory()
    for t in range(rng.randrange(2 * keep + 1)):
        calls.append(t, t / 10)
        spliced.append(t, t / 10)
    views = [h.view(len(h), 0.0, keep) for h in (calls, spliced)] if rng.random() < 0.7 else []
    before = [tuple(v) for v in views]
    n, last_t = len(spliced), (spliced.t[-1] if len(spliced) else None)
    last_level = spliced.level[-1] if len(spliced) else None
    ts: list[int] = []
    levels: list[float] = []
    replaced: float | None = None
    t = len(spliced) - 1
    for _ in range(rng.randrange(6)):
        for _ in range(rng.choice((0, 0, 1, 3))):  # grid points walked, then bound
            t += 1
            level = rng.random()
            calls.t.append(t)
            calls.level.append(level)
            ts.append(t)
            levels.append(level)
            n += 1
        calls.bound(keep)
        n = keep if n > 2 * keep else n
        t += rng.choice((0, 0, 1))  # the signal's moment: often the last point's
        level = rng.choice((0.5, rng.random()))
        calls.record(t, level, keep)
        if n and (ts[-1] if ts else last_t) == t:
            if ts:
                levels[-1] = level
            elif level != last_level:
                replaced = last_level = level
        else:
            ts.append(t)
            levels.append(level)
            n = keep if n + 1 > 2 * keep else n + 1
    spliced.splice(ts, levels, n, replaced)
    assert list(spliced) == list(calls)
    assert [tuple(v) for v in views] == before  # no shared point changed
