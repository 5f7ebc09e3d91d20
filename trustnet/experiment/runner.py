"""Run an experiment: every point's worlds, in process, and their statistics (docs/experiment.md).

Deterministic: a point's result depends only on the file (the seed, the parameters), not on
the date, the number of jobs or the order the runs finish in. The clock is read only to say
how long the runner took (`Timing`), never inside the analysis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

from trustnet.clock import Clock, SystemClock
from trustnet.experiment.spec import Spec, World
from trustnet.experiment.world import Outcome, play

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (95% by default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class Point:
    """One point of the sweep: its parameters and what its worlds did."""

    params: dict[str, float]  # the swept parameters' values
    runs: int
    escalations: int
    escalation_rate: float
    interval: tuple[float, float]  # Wilson 95%
    peak_mean: float
    peak_max: float
    settle_days_mean: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (rounded so that the JSON is the same on any platform)."""
        return {
            "params": self.params, "runs": self.runs, "escalations": self.escalations,
            "escalation_rate": round(self.escalation_rate, 6),
            "interval": [round(self.interval[0], 6), round(self.interval[1], 6)],
            "peak_mean": round(self.peak_mean, 6), "peak_max": round(self.peak_max, 6),
            "settle_days_mean": round(self.settle_days_mean, 6),
        }


@dataclass(frozen=True, slots=True)
class Timing:
    """How long the runner took (not part of the result: it depends on the machine)."""

    seconds: float
    runs: int
    jobs: int

    @property
    def runs_per_s(self) -> float:
        """Worlds played per second of wall time."""
        return self.runs / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class Result:
    """An experiment's points, in sweep order."""

    spec: Spec
    points: tuple[Point, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON `--json` prints last and `--out` writes: the same for a file and seed."""
        s = self.spec
        return {
            "experiment": s.name, "seed": s.seed, "runs": s.runs, "days": s.days,
            "sample_days": s.sample_days, "escalation_level": s.escalation_level,
            "settle_level": s.settle_level,
            "world": {f.name: getattr(s.world, f.name) for f in fields(World)},
            "sweep": {name: list(vals) for name, vals in s.sweep},
            "points": [p.to_json() for p in self.points],
        }


def _task(args: tuple[Spec, World, int]) -> Outcome:
    spec, world, run = args
    return play(spec, world, run)


def summarise(spec: Spec, world: World, outcomes: list[Outcome]) -> Point:
    """A point's statistics from its worlds' outcomes."""
    n = len(outcomes)
    k = sum(o.escalated for o in outcomes)
    params = {name: asdict(world)[name] for name, _ in spec.sweep}
    return Point(params, n, k, k / n if n else 0.0, wilson(k, n),
                 sum(o.peak for o in outcomes) / n if n else 0.0,
                 max((o.peak for o in outcomes), default=0.0),
                 sum(o.settle_days for o in outcomes) / n if n else 0.0)


def run_experiment(
    spec: Spec, *, jobs: int = 1, clock: Clock | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Result, Timing]:
    """Play every world of every point (in `jobs` processes) and summarise each point."""
    clock = clock or SystemClock()
    started = clock.now_ms()
    points = spec.points()
    tasks = [(spec, world, run) for world in points for run in range(spec.runs)]
    outcomes: list[Outcome] = []
    total = len(tasks)
    if jobs <= 1:
        for i, task in enumerate(tasks, 1):
            outcomes.append(_task(task))
            if progress is not None:
                progress(i, total)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, out in enumerate(pool.map(_task, tasks, chunksize=4), 1):
                outcomes.append(out)
                if progress is not None:
                    progress(i, total)
    summary = tuple(summarise(spec, world, outcomes[i * spec.runs:(i + 1) * spec.runs])
                    for i, world in enumerate(points))
    elapsed = max(0.0, (clock.now_ms() - started) / 1000)
    return Result(spec, summary), Timing(elapsed, total, jobs)
