"""The experiment file (docs/experiment.md): what to sweep, over which generated worlds.

    name = "validity"
    seed = 17
    runs = 40                   # worlds per point
    days = 180                  # each world's story
    sample_days = 2             # how often suspicion is read
    escalation_level = 0.2      # a relationship whose suspicion peaks at or above escalated
    settle_level = 0.05         # settled: back under this after the peak
    [world]                     # the generated worlds (defaults below)
    [sweep]                     # lists: every combination is one point
    verification_share = [0.0, 0.5, 1.0]
    contacts_per_month = [0, 8]
    reactivity = [0.06]

Unknown keys and impossible values are refused with `bad_experiment`, naming the key.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from trustnet.errors import TrustnetError


class ExperimentError(TrustnetError):
    """A bad experiment file (`bad_experiment`): the message names the key."""

    code = "bad_experiment"


@dataclass(frozen=True, slots=True)
class World:
    """How worlds are generated (`[world]`); the swept parameters may override any of them."""

    blocs: int = 2  # blocs of states (>= 2)
    states_per_bloc: int = 2
    people_per_state: int = 6  # persons per state, confirmed by it (plus one embassy)
    incidents: int = 4  # ambiguous incidents involving the watched state, per world
    # of incidents that are real breaches, truly reported; the others are imagined: a harmless
    # movement reported as a breach (a false report)
    real_share: float = 0.3
    verification_share: float = 0.0  # of reports checked by an accepted inspection
    contacts_per_month: float = 0.0  # confirmed contacts across the divide, per month
    clarification_share: float = 1.0  # of reported incidents the embassy explains
    reactivity: float = 0.06  # k0 of the feedback model (per day)


@dataclass(frozen=True, slots=True)
class Spec:
    """A validated experiment file."""

    name: str
    seed: int
    runs: int
    days: float
    sample_days: float
    escalation_level: float
    settle_level: float
    world: World
    sweep: tuple[tuple[str, tuple[float, ...]], ...]  # (parameter, its values), in file order

    def points(self) -> list[World]:
        """Every combination of the swept values, as the worlds of one point each."""
        names = [n for n, _ in self.sweep]
        out = []
        for combo in itertools.product(*(vals for _, vals in self.sweep)):
            changes: dict[str, Any] = {}
            for n, v in zip(names, combo, strict=True):
                changes[n] = int(v) if _INT.get(n) else float(v)
            out.append(replace(self.world, **changes))
        return out


_TOP = {"name", "seed", "runs", "days", "sample_days", "escalation_level", "settle_level",
        "world", "sweep"}
_INT = {f.name: f.type == "int" for f in fields(World)}
# (lo, hi) inclusive per world parameter; None: unbounded above
_RANGES: dict[str, tuple[float, float | None]] = {
    "blocs": (2, 8), "states_per_bloc": (1, 8), "people_per_state": (0, 200),
    "incidents": (0, 50), "real_share": (0, 1),
    "verification_share": (0, 1), "contacts_per_month": (0, 200),
    "clarification_share": (0, 1), "reactivity": (0, 10),
}
MAX_POINTS = 400
MAX_RUNS = 10_000


def _bad(message: str) -> ExperimentError:
    return ExperimentError(message)


def _number(where: str, v: Any, lo: float, hi: float | None, *, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(f"{where}: expected a number, got {v!r}")
    if integer and (not isinstance(v, int) and not float(v).is_integer()):
        raise _bad(f"{where}: expected an integer, got {v!r}")
    if v < lo or (hi is not None and v > hi):
        top = "" if hi is None else f" and {hi:g}"
        raise _bad(f"{where}: {v!r} is impossible (between {lo:g}{top})")
    return float(v)


def parse_spec(data: Mapping[str, Any], where: str = "experiment") -> Spec:
    """Validate a decoded experiment file."""
    for key in data:
        if key not in _TOP:
            raise _bad(f"{where}: unknown key {key!r} (known: {', '.join(sorted(_TOP))})")
    name = data.get("name", "experiment")
    if not isinstance(name, str) or not name or len(name) > 100:
        raise _bad(f"{where}: name: expected a short string, got {name!r}")
    seed = int(_number("seed", data.get("seed", 1), 0, 2**63 - 1, integer=True))
    runs = int(_number("runs", data.get("runs", 20), 1, MAX_RUNS, integer=True))
    days = _number("days", data.get("days", 180), 1, 3650)
    sample = _number("sample_days", data.get("sample_days", 2), 0.25, days)
    esc = _number("escalation_level", data.get("escalation_level", 0.2), 0, 1)
    settle = _number("settle_level", data.get("settle_level", 0.05), 0, 1)
    if settle >= esc > 0:
        raise _bad(f"settle_level ({settle:g}) must be below escalation_level ({esc:g})")
    world = _world(data.get("world", {}), "world", World())
    raw = data.get("sweep", {})
    if not isinstance(raw, dict) or not raw:
        raise _bad("sweep: expected a table of at least one parameter -> list of values")
    sweep = []
    npoints = 1
    for key, values in raw.items():
        if key not in _RANGES:
            raise _bad(f"sweep.{key}: unknown parameter (known: {', '.join(sorted(_RANGES))})")
        if not isinstance(values, list) or not values:
            raise _bad(f"sweep.{key}: expected a non-empty list of values, got {values!r}")
        lo, hi = _RANGES[key]
        vals = tuple(_number(f"sweep.{key}[{i}]", v, lo, hi, integer=_INT[key])
                     for i, v in enumerate(values))
        if len(set(vals)) != len(vals):
            raise _bad(f"sweep.{key}: a value is listed twice")
        sweep.append((key, vals))
        npoints *= len(vals)
    if npoints > MAX_POINTS:
        raise _bad(f"sweep: {npoints} points, at most {MAX_POINTS}")
    return Spec(name, seed, runs, days, sample, esc, settle, world, tuple(sweep))


def _world(raw: Any, where: str, base: World) -> World:
    if not isinstance(raw, dict):
        raise _bad(f"{where}: expected a table, got {raw!r}")
    changes: dict[str, Any] = {}
    for key, v in raw.items():
        if key not in _RANGES:
            raise _bad(f"{where}.{key}: unknown parameter (known: {', '.join(sorted(_RANGES))})")
        lo, hi = _RANGES[key]
        num = _number(f"{where}.{key}", v, lo, hi, integer=_INT[key])
        changes[key] = int(num) if _INT[key] else num
    return replace(base, **changes)


def load_spec(path: Path) -> Spec:
    """Read and validate an experiment file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise _bad(f"{path}: not TOML: {exc}") from None
    return parse_spec(data, str(path))
