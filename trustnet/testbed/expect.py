"""The expectation language of scenarios (docs/scenarios.md, Expectations): parsing a
check into a condition, the series a run must sample for it, and evaluating the
conditions on a run (the sampled series, what the nodes held at the end and just
before each fault, and the compared run).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trustnet.clock import DAY_MS
from trustnet.testbed.cluster import NetworkState
from trustnet.testbed.model import (
    Comparison,
    Condition,
    Converged,
    ForksHeld,
    Measure,
    Scenario,
    ScenarioError,
)

METRICS = (
    "suspicion.level",
    "suspicion.escalation_index",
    "belief.compliance",
    "belief.compliance_shift",
    "belief.reliability",
)
REGIME_METRICS = ("suspicion.regime", "regime")  # `regime` is short for suspicion.regime
REGIMES = ("escalating", "stable", "de-escalating")
_DAY = r"[\w.-]+"
_MEAS = rf"(?:compared:)?[a-z_.]+\([^)]*\)\s*@\s*{_DAY}"
_COMPARISON = re.compile(
    rf"^\s*(?P<left>{_MEAS})\s*(?P<op><=|>=|==|!=|<|>)\s*"
    rf"(?P<right>{_MEAS}|-?[0-9.]+|[a-z][a-z-]*)\s*$"
)
_MEASURE = re.compile(
    r"^(?:(?P<run>compared):)?(?P<metric>[a-z_.]+)\(\s*(?P<node>[\w-]+)\s*,\s*"
    rf"(?P<party>[\w-]+)\s*\)\s*@\s*(?P<day>{_DAY})$"
)
_FORKS = re.compile(r"^\s*(?P<neg>not\s+)?forks\(\s*(?P<node>\*|[\w-]+)\s*\)\s+has\s+"
                    r"(?P<party>[\w-]+)\s*$")
_CONVERGED = re.compile(rf"^\s*(?P<neg>not\s+)?converged(?:\s*@\s*(?P<step>{_DAY}))?\s*$")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?|-?\.[0-9]+")

_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def parse_check(check: str, parties: tuple[str, ...], *, steps: Mapping[str, float] | None = None,
                compared: Mapping[str, Any] | None = None) -> Condition:
    """Parse one expectation's check (the grammar is in docs/scenarios.md).

    `steps` maps step ids to days (a DAY may name a step; `converged @ STEP` must);
    `compared` gives the compared scenario's `parties` and `steps` (None: `compared:`
    measurements are refused).
    """
    m = _FORKS.match(check)
    if m:
        node, party = m.group("node"), m.group("party")
        for who in ({party} if node == "*" else {node, party}):
            if who not in parties:
                raise ScenarioError(f"unknown party {who!r} in {check!r}")
        return ForksHeld(node, party, bool(m.group("neg")))
    m = _CONVERGED.match(check)
    if m:
        step = m.group("step")
        if step is not None and step not in (steps or {}):
            raise ScenarioError(f"converged @ STEP names a step id; no step {step!r} in {check!r}")
        return Converged(step, bool(m.group("neg")))
    m = _COMPARISON.match(check)
    if not m:
        raise ScenarioError(
            f"cannot read check {check!r} (METRIC(NODE, PARTY) @ DAY OP ..., "
            "regime(NODE, PARTY) @ DAY == REGIME, forks(NODE) has PARTY, converged [@ STEP])")
    left = _measure(m.group("left"), parties, steps, compared)
    op, right_s = m.group("op"), m.group("right")
    right: Measure | float | str
    if _NUMBER.fullmatch(right_s):
        right = float(right_s)
    elif "(" in right_s:
        right = _measure(right_s, parties, steps, compared)
    else:
        right = right_s
    regime = left.metric in REGIME_METRICS
    if regime and op not in ("==", "!="):
        raise ScenarioError(f"in {check!r}: a regime is compared with == or !=")
    if regime:
        ok = right in REGIMES or (isinstance(right, Measure) and right.metric in REGIME_METRICS)
        if not ok:
            raise ScenarioError(f"in {check!r}: a regime is one of {', '.join(REGIMES)}")
    elif isinstance(right, str) or (isinstance(right, Measure) and right.metric in REGIME_METRICS):
        raise ScenarioError(f"in {check!r}: a number is compared with a number or a measurement")
    return Comparison(left, op, right)


def _measure(text: str, parties: tuple[str, ...], steps: Mapping[str, float] | None,
             compared: Mapping[str, Any] | None) -> Measure:
    m = _MEASURE.match(text.strip())
    if not m:
        raise ScenarioError(f"cannot read measurement {text!r}")
    meas = Measure(m.group("metric"), m.group("node"), m.group("party"), m.group("day"),
                   m.group("run") or "")
    if meas.metric not in METRICS + REGIME_METRICS:
        raise ScenarioError(f"unknown metric {meas.metric!r} "
                            f"(known: {', '.join(METRICS + REGIME_METRICS)})")
    if meas.run:
        if compared is None:
            raise ScenarioError(f"{text!r} reads the compared run, but the scenario sets no "
                                "`compare`")
        parties, steps = tuple(compared["parties"]), compared["steps"]
    for who in (meas.node, meas.party):
        if who not in parties:
            raise ScenarioError(f"unknown party {who!r} in {text!r}")
    if meas.day != "end" and not _NUMBER.fullmatch(meas.day) and meas.day not in (steps or {}):
        raise ScenarioError(f"day must be a number, 'end' or a step id in {text!r}")
    return meas


def viewers(cond: Condition) -> set[str]:
    """The nodes of this run whose series or state a condition reads."""
    if isinstance(cond, ForksHeld):
        return set() if cond.node == "*" else {cond.node}
    if isinstance(cond, Converged):
        return set()
    sides = [cond.left, cond.right]
    return {s.node for s in sides if isinstance(s, Measure) and not s.run}


def wanted_views(scenario: Scenario, *, as_compared: bool = False,
                 plots: bool = True) -> set[tuple[str, str]]:
    """The (node, party) series a run samples: every other node's view of the focus (the
    plots; not with `plots=False`), and the views its checks read. With `as_compared`:
    the views `scenario`'s `compared:` measurements read of the compared run."""
    wanted = set() if as_compared or not plots else {
        (n, scenario.focus) for n in scenario.parties
        if n != scenario.focus and n not in scenario.down_at_end}
    for cond in scenario.conditions:
        if isinstance(cond, Comparison):
            for side in (cond.left, cond.right):
                if isinstance(side, Measure) and bool(side.run) == as_compared:
                    wanted.add((side.node, side.party))
    return wanted


# -- checking ------------------------------------------------------------------------------


Series = dict[str, dict[str, list[dict[str, Any]]]]  # node -> party -> samples


@dataclass(frozen=True, slots=True)
class Run:
    """What one play of a scenario left to check: the series and what the nodes held."""

    scenario: Scenario
    origin_ms: int
    series: Series
    ids: dict[str, str] = field(default_factory=dict)  # party name -> party id
    end: NetworkState | None = None
    snapshots: dict[str, NetworkState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An expectation with the values it compared."""

    what: str
    check: str
    left: float | str
    right: float | str
    ok: bool

    def to_json(self) -> dict[str, Any]:
        """JSON view."""
        return {"what": self.what, "check": self.check, "left": self.left, "right": self.right,
                "ok": self.ok}


def _day(scenario: Scenario, day: str) -> float:
    if day == "end":
        return scenario.days
    if _NUMBER.fullmatch(day):
        return float(day)
    return next(s.day for s in scenario.steps if s.id == day)


def _sample_at(samples: list[dict[str, Any]], t: int) -> dict[str, Any]:
    chosen = samples[0]
    for s in samples:
        if s["t"] <= t:
            chosen = s
    return chosen


def value_at(series: Series, scenario: Scenario, origin_ms: int, m: Measure) -> float:
    """A measurement read off the sampled series (the last sample at or before the day)."""
    samples = series[m.node][m.party]
    chosen = _sample_at(samples, origin_ms + int(_day(scenario, m.day) * DAY_MS))
    if m.metric == "belief.compliance_shift":
        base = _sample_at(samples, origin_ms + int(scenario.baseline_day * DAY_MS))
        return abs(float(chosen["compliance"]) - float(base["compliance"]))
    key = {"suspicion.level": "level", "suspicion.escalation_index": "escalation_index",
           "belief.compliance": "compliance", "belief.reliability": "reliability"}[m.metric]
    return float(chosen[key])


def regime_at(series: Series, scenario: Scenario, origin_ms: int, m: Measure) -> str:
    """The suspicion regime read off the sampled series."""
    samples = series[m.node][m.party]
    return str(_sample_at(samples, origin_ms + int(_day(scenario, m.day) * DAY_MS))["regime"])


def check(scenario: Scenario, series: Series, origin_ms: int, *, ids: Mapping[str, str] | None = None,
          end: NetworkState | None = None, snapshots: Mapping[str, NetworkState] | None = None,
          compared: Run | None = None) -> list[CheckResult]:
    """Evaluate every expectation: comparisons on the series (and the compared run's),
    fork proofs and convergence on what the nodes held (`end`, `snapshots`)."""
    run = Run(scenario, origin_ms, series, dict(ids or {}), end, dict(snapshots or {}))
    out = []
    for e, cond in zip(scenario.expectations, scenario.conditions, strict=True):
        try:
            left, right, ok = _evaluate(cond, run, compared)
        except KeyError as exc:  # a node or party without samples, a missing snapshot
            left, right, ok = f"not observed: {exc.args[0]}", "", False
        out.append(CheckResult(e.what, e.check, left, right, ok))
    return out


def _evaluate(cond: Condition, run: Run, compared: Run | None) -> tuple[float | str, float | str, bool]:
    if isinstance(cond, ForksHeld):
        if run.end is None:
            raise KeyError("the nodes' state")
        nodes = sorted(run.end.nodes) if cond.node == "*" else [cond.node]
        pid = run.ids[cond.party]
        holding = [n for n in nodes if pid in run.end.nodes[n].forked]
        ok = not holding if cond.negate else bool(nodes) and len(holding) == len(nodes)
        return f"{len(holding)}/{len(nodes)} nodes", "none" if cond.negate else "all", ok
    if isinstance(cond, Converged):
        state = run.end if cond.step is None else run.snapshots.get(cond.step)
        if state is None:
            raise KeyError(f"the nodes' state {'at the end' if cond.step is None else 'before ' + cond.step}")
        agreed = state.converged()
        left = "converged" if agreed else f"diverged ({divergence(state)})"
        return left, "not converged" if cond.negate else "converged", agreed != cond.negate

    def read(m: Measure) -> float | str:
        source = run
        if m.run:
            if compared is None:
                raise KeyError("the compared run")
            source = compared
        if m.metric in REGIME_METRICS:
            return regime_at(source.series, source.scenario, source.origin_ms, m)
        return value_at(source.series, source.scenario, source.origin_ms, m)

    lv = read(cond.left)
    rv = read(cond.right) if isinstance(cond.right, Measure) else cond.right
    if isinstance(lv, float) and isinstance(rv, float):
        return lv, rv, _NUMERIC_OPS[cond.op](lv, rv)
    return lv, rv, (lv == rv) == (cond.op == "==")  # regimes: parse_check allows == and != only


def divergence(state: NetworkState) -> str:
    """Which nodes hold something the others do not (a report's "diverged (...)")."""
    names = state.differing()
    return f"{', '.join(names)} differ{'s' if len(names) == 1 else ''}"
