"""Scenarios: timed statements and faults played on a testbed, sampled, checked, reported
(DESIGN 10; the format is documented in docs/scenarios.md).

A scenario file (TOML, see configs/scenarios/demo.toml) names the parties, the
steps (who publishes what on which day, and faults: a node stopped or crashed
and restarted, a partition and its healing, a party that equivocates) and the
expectations. `play` backdates every step so the story ends now: entries keep
the real chain rules (ts never decreases, never in the future) and the nodes
compute on them exactly as live. Steps run in order in real time, so a fault
takes effect between the steps around it; before each fault the network first
settles (the days between steps would have let gossip run), so a partition cuts
off nodes that hold everything published before it. Sampling asks every live
node's `/series/{party}` for its suspicion and beliefs over the scenario's time
line; `check` evaluates the expectations (numbers and regimes on the series;
fork proofs and convergence on what the nodes hold at the end or just before a
fault step); `write_report` leaves a Markdown report, the JSON time series and
PNG plots. A scenario may name another to `compare` with: both are played and
plotted side by side, and its expectations may read the other run.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from trustnet.clock import DAY_MS, HOUR_MS
from trustnet.errors import ConfigError, EntryError, TrustnetError
from trustnet.identity import Identity
from trustnet.log import ChainHead, Entry
from trustnet.statements import KINDS, sign_statement
from trustnet.testbed import NetworkState

METRICS = (
    "suspicion.level",
    "suspicion.escalation_index",
    "belief.compliance",
    "belief.compliance_shift",
    "belief.reliability",
)
REGIME_METRICS = ("suspicion.regime", "regime")  # `regime` is short for suspicion.regime
REGIMES = ("escalating", "stable", "de-escalating")
FAULTS = ("stop", "crash", "restart", "partition", "heal", "equivocate", "compromise", "rotate")
# Faults that sign the party's entries with its key from its node directory: an equivocation
# by the party itself, or by a thief who copied `identity.key` (docs/keys.md).
TWINS = ("equivocate", "compromise")
_FAULT_KEYS: dict[str, frozenset[str]] = {
    "stop": frozenset({"nodes"}),
    "crash": frozenset({"nodes"}),
    "restart": frozenset({"nodes"}),
    "partition": frozenset({"nodes"}),
    "heal": frozenset(),
    "equivocate": frozenset({"party", "kind", "body", "alt_body", "to"}),
    "compromise": frozenset({"party", "kind", "body"}),
    "rotate": frozenset({"party"}),
}
_FAULT_OPTIONAL: dict[str, frozenset[str]] = {"rotate": frozenset({"compromised_since"}),
                                              "compromise": frozenset({"alt_body", "to"})}
_STEP_KEYS = frozenset({"id", "day", "party", "kind", "body", "each"})
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^}]*))?\}")
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


class ScenarioError(ConfigError):
    """A scenario file is invalid, or cannot be played."""

    code = "bad_scenario"


@dataclass(frozen=True, slots=True)
class Step:
    """One statement to publish (or one per party / per other party), or one fault."""

    id: str
    day: float
    party: str
    kind: str
    body: dict[str, Any]
    each: str | None = None
    fault: str | None = None  # one of FAULTS; None: a statement
    nodes: tuple[str, ...] = ()  # stop/crash/restart/partition: the nodes; equivocate: `to`
    alt_body: dict[str, Any] | None = None  # equivocate: the version every other node gets
    since_day: float | None = None  # rotate: the day the old key was stolen (compromised_since)


@dataclass(frozen=True, slots=True)
class Expectation:
    """A condition the scenario must satisfy (see `parse_check`)."""

    what: str
    check: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    name: str
    title: str
    description: str
    parties: tuple[str, ...]
    days: float
    sample_hours: float
    focus: str
    roles: dict[str, str]
    steps: tuple[Step, ...]
    expectations: tuple[Expectation, ...]
    values: dict[str, Any] = field(default_factory=dict)
    baseline_day: float = 40.0
    compare: str | None = None  # path of the scenario this one is compared with
    down_at_end: tuple[str, ...] = ()  # nodes stopped and not restarted: not sampled
    conditions: tuple[Condition, ...] = ()  # the expectations' checks, parsed
    origin_ms: int | None = None  # a fixed origin (`origin`): else `days` before today
    # Witness receipts (issue 14 item 4): party -> (its witnesses, receipts_needed).
    witnesses: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)


# -- loading -------------------------------------------------------------------------------


def load_scenario(path: Path, *, _compared: bool = False) -> Scenario:
    """Read and validate a scenario file (following `base =` for variants)."""
    path = Path(path)
    data = _read(path)
    where = str(path)
    parties = tuple(data.get("parties", ()))
    if not parties or not all(isinstance(p, str) and re.fullmatch(r"[\w-]+", p) for p in parties):
        raise ScenarioError(f"{where}: parties must be a list of names (letters, digits, -)")
    if len(set(parties)) != len(parties):
        raise ScenarioError(f"{where}: a party is named twice")
    steps = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("step", [])):
        step = _parse_step(raw, i, parties, where)
        if step.id in seen:
            raise ScenarioError(f"{where}: step {step.id}: this id is used twice")
        seen.add(step.id)
        steps.append(step)
    steps.sort(key=lambda s: s.day)  # stable: steps on one day keep the file's order
    days = float(data.get("days", 120))
    if not steps or steps[-1].day > days:
        raise ScenarioError(f"{where}: needs steps, all within `days` ({days})")
    down = _check_story(steps, parties, where)
    focus = str(data.get("focus", parties[0]))
    if focus not in parties:
        raise ScenarioError(f"{where}: focus {focus!r} is not a party")
    compare = data.get("compare")
    other: Scenario | None = None
    if compare is not None:
        target = (path.parent / str(compare)).resolve()
        if _compared or target == path.resolve():
            raise ScenarioError(f"{where}: compare names {compare!r}: a scenario is compared "
                                "with one other, which compares with none")
        other = load_scenario(target, _compared=True)
        if other.compare is not None:
            raise ScenarioError(f"{where}: {compare} compares with another scenario itself")
        compare = str(target)
    try:
        expectations = tuple(Expectation(str(e["what"]), str(e["check"]))
                             for e in data.get("expect", []))
    except (KeyError, TypeError):
        raise ScenarioError(f"{where}: every [[expect]] needs `what` and `check`") from None
    step_days = {s.id: s.day for s in steps}
    conditions = []
    for e in expectations:
        cond = parse_check(e.check, parties, steps=step_days, compared=_compared_ctx(other))
        for node in _viewers(cond):
            if node in down:
                raise ScenarioError(f"{where}: expectation {e.check!r} reads node {node}, "
                                    "which is stopped at the end")
        conditions.append(cond)
    return Scenario(
        name=str(data.get("name", path.stem)),
        title=str(data.get("title", data.get("name", ""))),
        description=str(data.get("description", "")).strip(),
        parties=parties,
        days=days,
        sample_hours=float(data.get("sample_hours", 12)),
        focus=focus,
        roles={p: str(data.get("roles", {}).get(p, "state")) for p in parties},
        steps=tuple(steps),
        expectations=expectations,
        values=dict(data.get("values", {})),
        baseline_day=float(data.get("baseline_day", 40)),
        compare=compare,
        down_at_end=tuple(p for p in parties if p in down),
        conditions=tuple(conditions),
        origin_ms=None if data.get("origin") is None else _origin(data["origin"], f"{where}: origin"),
        witnesses=_witnesses(data.get("witnesses", {}), parties, where),
    )


def _origin(value: Any, where: str) -> int:
    """A fixed origin: a TOML date or a "YYYY-MM-DD" string, as midnight UTC."""
    text = value.isoformat() if hasattr(value, "isoformat") else value
    if isinstance(text, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            pass
        else:
            if day.year >= 1971:
                return int(day.timestamp() * 1000)
    raise ScenarioError(f"{where}: expected a date YYYY-MM-DD (from 1971), got {value!r}")


def with_origin(scenario: Scenario, value: str, where: str = "origin") -> Scenario:
    """The scenario played from a fixed origin (`--origin`)."""
    return dataclasses.replace(scenario, origin_ms=_origin(value, where))


def _witnesses(table: Any, parties: tuple[str, ...], where: str
               ) -> dict[str, tuple[tuple[str, ...], int]]:
    """The `[witnesses]` table: PARTY = [witness parties], and `receipts_needed` (0: a
    majority) for all (docs/witnesses.md)."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: [witnesses] must be a table of party = [parties]")
    table = dict(table)
    needed = table.pop("receipts_needed", 0)
    if not isinstance(needed, int) or isinstance(needed, bool) or needed < 0:
        raise ScenarioError(f"{where}: [witnesses] receipts_needed must be an integer >= 0")
    out = {}
    for party, names in table.items():
        if (party not in parties or not isinstance(names, list)
                or not all(n in parties and n != party for n in names)
                or not 0 < len(set(names)) == len(names) <= 16 or needed > len(names)):
            raise ScenarioError(f"{where}: [witnesses] {party} = {names!r}: a party and a list "
                                "of up to 16 other parties, at least receipts_needed of them")
        out[party] = (tuple(names), needed)
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"no scenario file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    base = data.pop("base", None)
    if base is None:
        return data
    merged = _read(path.parent / base)
    merged.pop("compare", None)  # comparing is the variant's own business
    drop = set(data.pop("drop_steps", []))
    replace = {r["step"]: r for r in data.pop("replace", [])}
    unknown = (drop | set(replace)) - {s.get("id") for s in merged.get("step", [])}
    if unknown:
        raise ScenarioError(f"{path}: drop_steps/replace name no step of {base}: {sorted(unknown)}")
    steps = []
    for step in merged.get("step", []):
        if step["id"] in drop:
            continue
        if step["id"] in replace:
            step = {**step, **{k: v for k, v in replace[step["id"]].items() if k != "step"}}
        steps.append(step)
    merged["step"] = steps + data.pop("step", [])
    own_expect = data.pop("expect", None)
    if own_expect is not None:  # a variant states its own expectations
        merged["expect"] = own_expect
    merged.update(data)
    return merged


def _parse_step(raw: Any, i: int, parties: tuple[str, ...], where: str) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: step {i}: expected a table")
    sid = raw.get("id")
    if not isinstance(sid, str) or not re.fullmatch(r"[\w.-]+", sid):
        raise ScenarioError(f"{where}: step {i}: needs an id (letters, digits, . _ -)")
    name = f"{where}: step {sid}"
    day = raw.get("day")
    if isinstance(day, bool) or not isinstance(day, int | float) or day < 0:
        raise ScenarioError(f"{name}: needs a day (a number >= 0)")
    fault = raw.get("fault")
    if fault is None:
        if set(raw) - _STEP_KEYS:
            raise ScenarioError(f"{name}: unknown key(s) {sorted(set(raw) - _STEP_KEYS)} "
                                f"(a statement has {', '.join(sorted(_STEP_KEYS))}; "
                                "a fault step has `fault`)")
        missing = {"party", "kind", "body"} - set(raw)
        if missing:
            raise ScenarioError(f"{name}: needs {', '.join(sorted(missing))}")
        party, kind, body = raw["party"], raw["kind"], raw["body"]
        if party != "*" and party not in parties:
            raise ScenarioError(f"{name}: unknown party {party!r}")
        _check_kind(name, kind, body)
        if raw.get("each") not in (None, "others"):
            raise ScenarioError(f"{name}: each must be 'others'")
        return Step(sid, float(day), party, kind, dict(body), raw.get("each"))
    if fault not in FAULTS:
        raise ScenarioError(f"{name}: unknown fault {fault!r} (known: {', '.join(FAULTS)})")
    allowed = {"id", "day", "fault"} | _FAULT_KEYS[fault] | _FAULT_OPTIONAL.get(fault, frozenset())
    if set(raw) - allowed:
        raise ScenarioError(f"{name}: unknown key(s) {sorted(set(raw) - allowed)} for fault "
                            f"{fault!r} (it takes {', '.join(sorted(_FAULT_KEYS[fault])) or 'none'})")
    lacking = _FAULT_KEYS[fault] - set(raw)
    if lacking:
        raise ScenarioError(f"{name}: fault {fault!r} needs {', '.join(sorted(lacking))}")
    if fault == "rotate":
        since = raw.get("compromised_since")
        if since is not None and (isinstance(since, bool) or not isinstance(since, int | float)
                                  or not 0 <= since <= day):
            raise ScenarioError(f"{name}: compromised_since is a day between 0 and the step's "
                                f"day ({day:g}): a key is stolen before it is rotated away")
        if raw["party"] not in parties:
            raise ScenarioError(f"{name}: unknown party {raw['party']!r}")
        return Step(sid, float(day), raw["party"], "rotation", {}, fault=fault,
                    since_day=None if since is None else float(since))
    if fault == "compromise" and ("alt_body" in raw) != ("to" in raw):
        raise ScenarioError(f"{name}: a thief's fork has both alt_body and to (or neither: one "
                            "statement in the party's name, to every node)")
    listed = raw.get("to" if fault in TWINS else "nodes", [])
    if fault == "compromise" and "to" not in raw:
        party, kind, body = raw["party"], raw["kind"], raw["body"]
        if party not in parties:
            raise ScenarioError(f"{name}: unknown party {party!r}")
        _check_kind(name, kind, body)
        return Step(sid, float(day), party, kind, dict(body), fault=fault)
    if fault != "heal" and (not isinstance(listed, list) or not listed
                            or not all(isinstance(n, str) for n in listed)):
        raise ScenarioError(f"{name}: {'to' if fault in TWINS else 'nodes'} must be a "
                            "non-empty list of party names")
    unknown = [n for n in listed if n not in parties]
    if unknown:
        raise ScenarioError(f"{name}: unknown part{'ies' if len(unknown) > 1 else 'y'} "
                            f"{', '.join(unknown)}")
    if len(set(listed)) != len(listed):
        raise ScenarioError(f"{name}: a node is listed twice")
    if fault not in TWINS:
        return Step(sid, float(day), "", "", {}, fault=fault, nodes=tuple(listed))
    party, kind, body, alt = raw["party"], raw["kind"], raw["body"], raw["alt_body"]
    if party not in parties:
        raise ScenarioError(f"{name}: unknown party {party!r}")
    _check_kind(name, kind, body)
    if not isinstance(alt, dict) or alt == body:
        raise ScenarioError(f"{name}: alt_body must be a table that differs from body")
    if party in listed:
        raise ScenarioError(f"{name}: `to` lists the nodes other than {party} that get `body` "
                            f"({party}'s own node always keeps `body`)")
    return Step(sid, float(day), party, kind, dict(body), fault=fault, nodes=tuple(listed),
                alt_body=dict(alt))


def _check_kind(name: str, kind: Any, body: Any) -> None:
    if kind not in KINDS:
        raise ScenarioError(f"{name}: unknown statement kind {kind!r} (known: {', '.join(KINDS)})")
    if not isinstance(body, dict):
        raise ScenarioError(f"{name}: body must be a table")


def _check_story(steps: list[Step], parties: tuple[str, ...], where: str) -> set[str]:
    """Follow the faults in order: every step must be playable. The nodes down at the end."""
    down: set[str] = set()
    cut: frozenset[str] | None = None
    forked: dict[str, tuple[str, float]] = {}
    for step in steps:
        name = f"{where}: step {step.id}"
        if step.fault in ("stop", "crash"):
            for n in step.nodes:
                if n in down:
                    raise ScenarioError(f"{name}: {n} is stopped already")
            down |= set(step.nodes)
            if down == set(parties):
                raise ScenarioError(f"{name}: stops every node")
        elif step.fault == "restart":
            for n in step.nodes:
                if n not in down:
                    raise ScenarioError(f"{name}: {n} is not stopped")
            down -= set(step.nodes)
        elif step.fault == "partition":
            if set(step.nodes) == set(parties):
                raise ScenarioError(f"{name}: a partition cuts some nodes off from the rest, "
                                    "not all of them")
            cut = frozenset(step.nodes)
        elif step.fault == "heal":
            if cut is None:
                raise ScenarioError(f"{name}: there is no partition to heal")
            cut = None
        elif step.fault == "rotate":
            if step.party in down:
                raise ScenarioError(f"{name}: {step.party}'s node is stopped (restart it first)")
            fork = forked.get(step.party)
            if fork is not None:
                if step.since_day is None or step.since_day >= fork[1]:
                    raise ScenarioError(
                        f"{name}: {step.party} forked at step {fork[0]} (day {fork[1]:g}); only a "
                        "rotation with compromised_since before that day disowns the fork")
                del forked[step.party]  # the fork was the thief's: the party signs again
        else:
            who = parties if step.party == "*" else (step.party,)
            for n in who:
                if n in down:
                    raise ScenarioError(f"{name}: {n}'s node is stopped (restart it first)")
                if n in forked:
                    # Gossip stops reconciling a proven equivocator's chain (DESIGN 6): what
                    # it signs afterwards would reach some nodes and not others.
                    raise ScenarioError(f"{name}: {n} equivocated at step {forked[n][0]}; a "
                                        "proven equivocator's later statements are not gossiped "
                                        "(a `rotate` with compromised_since disowns a thief's fork)")
            if step.fault == "compromise" and step.alt_body is None:
                continue  # one statement in the party's name: no fork
            if step.fault in TWINS:
                first = {step.party, *step.nodes} - down
                second = set(parties) - {step.party, *step.nodes} - down
                if not second:
                    raise ScenarioError(f"{name}: no running node is left to get alt_body "
                                        "(list fewer nodes in `to`)")
                if not first - {step.party}:
                    raise ScenarioError(f"{name}: no running node in `to`")
                forked[step.party] = (step.id, step.day)
    return down


# -- expectations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    """[compared:]METRIC(NODE, PARTY) @ DAY: how NODE sees PARTY on that day."""

    metric: str
    node: str
    party: str
    day: str  # a number, `end`, or a step id (that step's day)
    run: str = ""  # "compared": read off the compared scenario's run

    def __str__(self) -> str:
        prefix = f"{self.run}:" if self.run else ""
        return f"{prefix}{self.metric}({self.node}, {self.party}) @ {self.day}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """MEASURE OP (MEASURE | NUMBER | REGIME), on the sampled series."""

    left: Measure
    op: str
    right: Measure | float | str


@dataclass(frozen=True, slots=True)
class ForksHeld:
    """[not] forks(NODE | *) has PARTY: fork proofs held at the end."""

    node: str  # a node's name, or "*": every live node
    party: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Converged:
    """[not] converged [@ STEP]: every live node holds the same heads and forks, at the end
    or just before a fault step took effect."""

    step: str | None = None
    negate: bool = False


Condition = Comparison | ForksHeld | Converged
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


def _viewers(cond: Condition) -> set[str]:
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


def _compared_ctx(other: Scenario | None) -> dict[str, Any] | None:
    if other is None:
        return None
    return {"parties": other.parties, "steps": {s.id: s.day for s in other.steps}}


# -- playing -------------------------------------------------------------------------------


@dataclass(slots=True)
class PartyRef:
    """What the player knows of a party's node."""

    id: str
    url: str
    publish: Callable[[str, dict[str, Any], int], dict[str, Any]]


class Faults(Protocol):
    """What the player needs of a network to play fault steps (a testbed, or one store)."""

    def settle(self) -> None:
        """Wait until the nodes that reach each other hold the same (raise if they do not)."""

    def state(self) -> NetworkState:
        """What every live node holds now."""

    def stop(self, name: str, *, crash: bool) -> None:
        """Stop a node: cleanly, or SIGKILL (`crash`)."""

    def restart(self, name: str) -> None:
        """Start a stopped node and wait until it is ready."""

    def partition(self, side: tuple[str, ...]) -> None:
        """Cut `side` off from the other nodes, both ways; () heals."""

    def identity(self, name: str) -> Identity:
        """A party's signing key (the testbed holds every node's)."""

    def head(self, name: str) -> ChainHead | None:
        """The head of a party's chain as its own node holds it."""

    def deliver(self, sender: str, entry: Entry, to: tuple[str, ...]) -> None:
        """Hand an entry signed by `sender` to these nodes directly (running ones)."""

    def rotate(self, name: str, compromised_since: int | None, ts: int) -> str:
        """Rotate a party's key to its committed next key (its node signs, dated `ts`);
        the rotation's entry id."""


def origin_for(scenario: Scenario, now_ms: int) -> int:
    """The origin that makes the story end today: midnight UTC, `days` days ago; or the
    scenario's fixed origin (`origin`, `--origin`), whatever today is.

    Midnight, because the suspicion model steps on a daily grid: the same story
    then gives the same numbers whatever the hour it is played at.
    """
    if scenario.origin_ms is not None:
        return scenario.origin_ms
    return (now_ms - int(scenario.days * DAY_MS)) // DAY_MS * DAY_MS


def clock_offset(scenario: Scenario, now_ms: int) -> int:
    """How far ahead of the wall clock the nodes run so that the story ends at their now
    (0 without a fixed origin: the origin is chosen so that it does)."""
    if scenario.origin_ms is None:
        return 0
    return scenario.origin_ms + int(scenario.days * DAY_MS) - now_ms


def count_actions(scenario: Scenario) -> int:
    """How many publications and faults playing the scenario takes (for progress)."""
    n = len(scenario.parties)
    total = 0
    for step in scenario.steps:
        if step.fault is not None:
            total += 1
        else:
            total += (n if step.party == "*" else 1) * ((n - 1) if step.each else 1)
    return total


def twin_entries(identity: Identity, head: ChainHead | None, kind: str, body: Mapping[str, Any],
                 alt_body: Mapping[str, Any], ts: int) -> tuple[Entry, Entry]:
    """Two different entries signed at the same seq after `head`: an equivocation."""
    seq = 1 if head is None else head.seq + 1
    prev = None if head is None else head.id
    ts = ts if head is None else max(ts, head.ts)  # chain rule: ts never decreases
    return (sign_statement(identity, seq=seq, prev=prev, ts=ts, kind=kind, body=body),
            sign_statement(identity, seq=seq, prev=prev, ts=ts, kind=kind, body=alt_body))


def play(scenario: Scenario, parties: dict[str, PartyRef], origin_ms: int,
         progress: Callable[[str], None] | None = None, *, faults: Faults | None = None,
         snapshots: dict[str, NetworkState] | None = None) -> dict[str, str]:
    """Publish every step through its party's node and play the faults on `faults`;
    returns step id -> entry id (an equivocation's second version under `ID:alt`).

    Before each fault the network settles and, when `snapshots` is given, what every
    node holds then is recorded under the step's id (`converged @ STEP`).
    """
    entries: dict[str, str] = {}
    next_year = int(datetime(datetime.fromtimestamp(origin_ms / 1000, UTC).year + 1, 1, 1,
                             tzinfo=UTC).timestamp() * 1000)
    for step in scenario.steps:
        if step.fault is not None:
            if faults is None:
                raise ScenarioError(f"step {step.id}: fault {step.fault!r} needs a network "
                                    "to play on (a testbed)")
            _play_fault(scenario, step, parties, entries, origin_ms, next_year, faults, snapshots)
            if progress:
                what = step.party if step.fault in (*TWINS, "rotate") else ", ".join(step.nodes)
                progress(f"day {step.day:>5.1f}  fault {step.fault:<14} {what}")
            continue
        who = scenario.parties if step.party == "*" else (step.party,)
        for k, name in enumerate(who):
            others = [p for p in scenario.parties if p != name] if step.each else [None]
            for j, other in enumerate(others):
                sub = _resolver(scenario, step, name, other, parties, entries, origin_ms, next_year)
                body = _substitute(step.body, sub)
                # Steps on one day keep their order: a millisecond apart per repetition.
                ts = origin_ms + int(step.day * DAY_MS) + k * 10 + j
                result = parties[name].publish(step.kind, body, ts)
                key = step.id if step.party != "*" and not step.each else f"{step.id}:{name}:{other or ''}"
                entries[key] = result["id"]
                if step.party != "*" and not step.each:
                    entries[step.id] = result["id"]
                if progress:
                    progress(f"day {step.day:>5.1f}  {name:<10} {step.kind:<20} {result['id'][:12]}")
    return entries


def _play_fault(scenario: Scenario, step: Step, parties: dict[str, PartyRef],
                entries: dict[str, str], origin_ms: int, next_year: int, faults: Faults,
                snapshots: dict[str, NetworkState] | None) -> None:
    # The days between steps would have let gossip run: a fault hits a settled network.
    faults.settle()
    if snapshots is not None:
        snapshots[step.id] = faults.state()
    if step.fault in ("stop", "crash"):
        for name in step.nodes:
            faults.stop(name, crash=step.fault == "crash")
    elif step.fault == "restart":
        for name in step.nodes:
            faults.restart(name)
    elif step.fault == "partition":
        faults.partition(step.nodes)
    elif step.fault == "heal":
        faults.partition(())
    elif step.fault == "rotate":
        since = None if step.since_day is None else origin_ms + int(step.since_day * DAY_MS)
        try:
            entries[step.id] = faults.rotate(step.party, since, origin_ms + int(step.day * DAY_MS))
        except TrustnetError as exc:
            raise ScenarioError(f"step {step.id}: {exc.code}: {exc.message}") from None
    elif step.alt_body is None:  # a thief's statement in the party's name, to every node
        name = step.party
        sub = _resolver(scenario, step, name, None, parties, entries, origin_ms, next_year)
        head = faults.head(name)
        try:
            stolen = sign_statement(faults.identity(name), seq=1 if head is None else head.seq + 1,
                                prev=None if head is None else head.id,
                                ts=max(origin_ms + int(step.day * DAY_MS), head.ts if head else 0),
                                kind=step.kind, body=_substitute(step.body, sub))
        except EntryError as exc:
            raise ScenarioError(f"step {step.id}: {exc.code}: {exc.message}") from None
        faults.deliver(name, stolen, scenario.parties)
        entries[step.id] = stolen.id_hex
    else:  # equivocate, or a thief's fork (compromise)
        name = step.party
        sub = _resolver(scenario, step, name, None, parties, entries, origin_ms, next_year)
        try:
            first, second = twin_entries(
                faults.identity(name), faults.head(name), step.kind, _substitute(step.body, sub),
                _substitute(step.alt_body, sub), origin_ms + int(step.day * DAY_MS))
        except EntryError as exc:
            raise ScenarioError(f"step {step.id}: {exc.code}: {exc.message}") from None
        # The party's own node keeps the first version, the nodes in `to` get it too,
        # every other node the second: each side sees a consistent chain until they meet.
        faults.deliver(name, first, (name, *step.nodes))
        faults.deliver(name, second, tuple(p for p in scenario.parties
                                           if p != name and p not in step.nodes))
        entries[step.id] = first.id_hex
        entries[f"{step.id}:alt"] = second.id_hex


def _resolver(scenario: Scenario, step: Step, name: str, other: str | None,
              parties: dict[str, PartyRef], entries: dict[str, str], origin_ms: int,
              next_year: int) -> _Resolver:
    ctx = {
        "self": parties[name].id, "name": name, "role": scenario.roles.get(name, "state"),
        "other": parties[other].id if other else "",
        "bloc_trust": _bloc_trust(scenario, name, other),
    }
    return _Resolver(step, name, ctx, parties, entries, origin_ms, next_year)


@dataclass(frozen=True, slots=True)
class _Resolver:
    """Resolves the placeholders of one step's body for one publishing party."""

    step: Step
    name: str
    ctx: dict[str, Any]
    parties: dict[str, PartyRef]
    entries: dict[str, str]
    origin_ms: int
    next_year: int

    def __call__(self, key: str, arg: str | None) -> Any:
        if key == "party":
            return self.parties[self._known(arg)].id
        if key == "url":
            return self.parties[self.name if arg == "self" else self._known(arg)].url
        if key == "entry":
            if arg not in self.entries:
                raise ScenarioError(f"step {self.step.id}: no earlier step {arg!r}")
            return self.entries[arg]
        if key == "time":
            return self.origin_ms + int(float(arg or 0) * DAY_MS)
        if key == "next_year":
            return self.next_year
        if key in self.ctx:
            return self.ctx[key]
        raise ScenarioError(f"step {self.step.id}: unknown placeholder {{{key}}}")

    def _known(self, name: str | None) -> str:
        if name not in self.parties:
            raise ScenarioError(f"step {self.step.id}: unknown party {name!r}")
        return name


def _bloc_trust(scenario: Scenario, name: str, other: str | None) -> int:
    if other is None:
        return 0
    same = name.rsplit("-", 1)[0] == other.rsplit("-", 1)[0]
    return int(scenario.values.get("bloc_trust_same" if same else "bloc_trust_other", 0))


def _substitute(value: Any, sub: Callable[[str, str | None], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, sub) for v in value]
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:  # a lone placeholder keeps its type (a number stays a number)
            return sub(whole.group(1), whole.group(2))
        return _PLACEHOLDER.sub(lambda m: str(sub(m.group(1), m.group(2))), value)
    return value


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
        left = "converged" if agreed else f"diverged ({_differ(state)})"
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


# -- progress ------------------------------------------------------------------------------


class Progress:
    """Actions done of a total with the time elapsed: one updating line on a terminal,
    plain lines otherwise (logs, CI)."""

    def __init__(self, stream: TextIO | None = None, *, log: Callable[[str], None] | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._log = log or (lambda line: print(line, file=self.stream, flush=True))
        self._clock = clock
        self._started = clock()
        self._phase = ""
        self._detail = ""
        self._done = 0
        self._total = 0
        self._shown = False  # a bar is on the terminal's current line

    def phase(self, name: str, total: int) -> None:
        """Start counting a new phase (playing, sampling) of `total` actions."""
        self.end()
        self._phase, self._detail, self._done, self._total = name, "", 0, total
        self._started = self._clock()

    def advance(self, detail: str = "") -> None:
        """One action done."""
        self._done += 1
        self._detail = detail
        if self.tty:
            self._draw()
        else:
            elapsed = self._clock() - self._started
            self._log(f"  [{self._done}/{self._total} {elapsed:5.1f} s] {detail}".rstrip())

    def note(self, line: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        shown = self._shown
        if shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
        self._log(line)
        if shown:
            self._draw()

    def end(self) -> None:
        """Finish the current bar's line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        filled = int(20 * self._done / max(self._total, 1))
        line = (f"{self._phase} [{'#' * filled}{'.' * (20 - filled)}] {self._done}/{self._total}"
                f" {self._clock() - self._started:5.1f} s  {self._detail}")
        self.stream.write("\r\x1b[K" + line[: width - 1])
        self.stream.flush()
        self._shown = True


# -- the report ----------------------------------------------------------------------------


def _differ(state: NetworkState) -> str:
    names = state.differing()
    return f"{', '.join(names)} differ{'s' if len(names) == 1 else ''}"


def _fmt(v: float | str) -> str:
    return f"{v:.4g}" if isinstance(v, float) else v


def write_report(out: Path, scenario: Scenario, origin_ms: int, series: Series,
                 results: list[CheckResult], nodes: list[dict[str, Any]],
                 entries: dict[str, str], *, end: NetworkState | None = None,
                 snapshots: Mapping[str, NetworkState] | None = None,
                 compared: Run | None = None, compared_report: str | None = None) -> list[Path]:
    """Write report.md, series.json and the plots; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    snapshots = dict(snapshots or {})
    files = [out / "series.json", out / "report.md"]
    (out / "series.json").write_text(json.dumps({
        "scenario": scenario.name, "origin_ms": origin_ms, "nodes": nodes, "entries": entries,
        "series": series, "checks": [r.to_json() for r in results],
        "end": end.to_json() if end else None,
        "before_faults": {k: v.to_json() for k, v in snapshots.items()},
    }, indent=1))
    plots = _plots(out, scenario, origin_ms, series)
    if compared is not None:
        plots.append(_compare_plot(out, scenario, origin_ms, series, compared))
    files += plots
    ok = all(r.ok for r in results)
    lines = [
        f"# {scenario.title}", "",
        scenario.description, "",
        f"Origin {datetime.fromtimestamp(origin_ms / 1000, UTC):%Y-%m-%d %H:%M} UTC, "
        f"{scenario.days:g} days, {len(scenario.parties)} nodes, sampled every "
        f"{scenario.sample_hours:g} h.", "",
        f"## Expectations: {'all met' if ok else 'NOT all met'}", "",
        "| | expectation | check | left | right |", "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {'ok' if r.ok else 'FAILED'} | {r.what} | `{r.check}` | "
                     f"{_fmt(r.left)} | {_fmt(r.right)} |")
    if compared is not None:
        lines += ["", f"## Compared with: {compared.scenario.title}", "",
                  compared.scenario.description, "",
                  "Both played on their own testbed; `compared:` measurements read that run"
                  + (f" (its report: [{compared_report}]({compared_report}))."
                     if compared_report else ".")]
    lines += ["", f"## How each node sees {scenario.focus}", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    faults = [s for s in scenario.steps if s.fault]
    if faults:
        lines += ["", "## Faults", "",
                  "Each fault hit a settled network: what the nodes held just before it.", "",
                  "| day | fault | nodes | before it |", "|---|---|---|---|"]
        for s in faults:
            state = snapshots.get(s.id)
            held = "-" if state is None else (
                "all nodes agree" if state.converged()
                else f"diverged: {_differ(state)}")
            if state is not None:
                counts = sorted({st.entries for st in state.nodes.values()})
                held += f" ({'/'.join(str(c) for c in counts)} entries)"
            who = (s.party + " -> " + ", ".join(s.nodes) if s.fault in TWINS
                   else s.party if s.fault == "rotate" else ", ".join(s.nodes))
            lines.append(f"| {s.day:g} | {s.fault} | {who or '-'} | {held} |")
        if end is not None:
            lines += ["", "At the end: " + ("every node holds the same heads and forks."
                                            if end.converged() else
                                            f"{_differ(end)}.")]
    lines += ["", "## Nodes", "", "| name | node id | url | dir |", "|---|---|---|---|"]
    lines += [f"| {n['name']} | `{n['node_id'][:16]}` | {n['url']} | {n['dir']} |" for n in nodes]
    lines += ["", "## Steps", "", "| day | party | kind | entry |", "|---|---|---|---|"]
    for step in scenario.steps:
        if step.fault and step.fault not in (*TWINS, "rotate"):
            lines.append(f"| {step.day:g} | {', '.join(step.nodes) or '-'} | fault: {step.fault} | |")
            continue
        kind = f"fault: {step.fault} ({step.kind})" if step.fault else step.kind
        entry = ("`" + entries[step.id][:16] + "`" if step.id in entries else "(each party)")
        if step.fault and f"{step.id}:alt" in entries:
            entry += " / `" + entries[f"{step.id}:alt"][:16] + "`"
        lines.append(f"| {step.day:g} | {step.party} | {kind} | {entry} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return files


def _spans(scenario: Scenario) -> list[tuple[float, float, str, str]]:
    """(from day, to day, label, colour) of the faults, for the plots."""
    out: list[tuple[float, float, str, str]] = []
    cut_from: float | None = None
    down: dict[str, float] = {}
    for s in scenario.steps:
        if s.fault == "partition":
            if cut_from is not None:
                out.append((cut_from, s.day, "partition", "#f4a259"))
            cut_from = s.day
        elif s.fault == "heal" and cut_from is not None:
            out.append((cut_from, s.day, "partition", "#f4a259"))
            cut_from = None
        elif s.fault in ("stop", "crash"):
            down.update({n: s.day for n in s.nodes})
        elif s.fault == "restart":
            out += [(down.pop(n), s.day, f"{n} down", "#9aa5b1") for n in s.nodes if n in down]
        elif s.fault == "equivocate":
            out.append((s.day, s.day, f"{s.party} equivocates", "#c0392b"))
        elif s.fault == "compromise":
            out.append((s.day, s.day, f"{s.party}'s key stolen", "#c0392b"))
        elif s.fault == "rotate":
            out.append((s.day, s.day, f"{s.party} rotates", "#2e86c1"))
    if cut_from is not None:
        out.append((cut_from, scenario.days, "partition", "#f4a259"))
    out += [(d, scenario.days, f"{n} down", "#9aa5b1") for n, d in down.items()]
    return out


def _mark_faults(ax: Any, scenario: Scenario) -> list[Any]:
    """Shade the faults on `ax`; legend handles for them, one per label."""
    handles: dict[str, Any] = {}
    for lo, hi, text, colour in _spans(scenario):
        if hi > lo:
            handles[text] = ax.axvspan(lo, hi, color=colour, alpha=0.15, zorder=0, label=text)
        else:
            handles[text] = ax.axvline(lo, color=colour, linewidth=1.2, linestyle=":", zorder=0,
                                       label=text)
    return list(handles.values())


def _plots(out: Path, scenario: Scenario, origin_ms: int, series: Series) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focus = scenario.focus
    panels = [("level", "suspicion level"), ("escalation_index", "escalation index (per day)"),
              ("compliance", "verified compliance belief"), ("reliability", "reliability as a source")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 11), sharex=True)
    first_marks = _mark_faults(axes[0], scenario)  # the legend shows the first panel's
    for ax, (key, label) in zip(axes, panels, strict=True):
        for node in scenario.parties:
            if node == focus or focus not in series.get(node, {}):
                continue
            samples = series[node][focus]
            days = [(s["t"] - origin_ms) / DAY_MS for s in samples]
            style = "-" if node.startswith(scenario.parties[0].rsplit("-", 1)[0]) else "--"
            ax.plot(days, [s[key] for s in samples], style, label=node, linewidth=1.6)
        if key == "escalation_index":
            ax.axhline(0, color="grey", linewidth=0.8)
        for step in scenario.steps:
            if not step.fault and (step.party == focus or step.kind in ("observation",
                                                                        "inspection_report")):
                ax.axvline(step.day, color="#cccccc", linewidth=0.6, zorder=0)
        if ax is not axes[0]:
            _mark_faults(ax, scenario)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{scenario.title}: how each node sees {focus}")
    lines = [h for h in axes[0].get_lines()
             if not str(h.get_label()).startswith("_") and h not in first_marks]
    if lines or first_marks:
        axes[0].legend(handles=lines + first_marks, ncol=7, fontsize=8, loc="upper left",
                       bbox_to_anchor=(0, -0.02))
    axes[-1].set_xlabel("day of the scenario (grey lines: steps about the focus party; "
                        "shaded: faults)")
    fig.tight_layout()
    path = out / f"{focus}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _compare_plot(out: Path, scenario: Scenario, origin_ms: int, series: Series,
                  compared: Run) -> Path:
    """The focus party's suspicion in both runs, side by side on shared axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focus = scenario.focus
    runs = [(compared.scenario, compared.origin_ms, compared.series), (scenario, origin_ms, series)]
    rows = [("level", "suspicion level"), ("escalation_index", "escalation index (per day)")]
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 7.5), sharex=True, sharey="row")
    for col, (sc, origin, data) in enumerate(runs):
        for row, (key, label) in enumerate(rows):
            ax = axes[row][col]
            for node in sc.parties:
                if node == focus or focus not in data.get(node, {}):
                    continue
                samples = data[node][focus]
                style = "-" if node.startswith(sc.parties[0].rsplit("-", 1)[0]) else "--"
                ax.plot([(s["t"] - origin) / DAY_MS for s in samples], [s[key] for s in samples],
                        style, label=node, linewidth=1.6)
            if key == "escalation_index":
                ax.axhline(0, color="grey", linewidth=0.8)
            for step in sc.steps:
                if step.kind in ("observation", "inspection_report"):
                    ax.axvline(step.day, color="#bbbbbb" if step.kind == "observation"
                               else "#7fb77e", linewidth=0.8, linestyle="--", zorder=0)
            _mark_faults(ax, sc)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(sc.title, fontsize=11)
            else:
                ax.set_xlabel("day of the scenario (grey: observations, green: inspection "
                              "reports)")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(ncol=3, fontsize=8, loc="upper left")
    fig.suptitle(f"How each node sees {focus}: {compared.scenario.title} (left) and "
                 f"{scenario.title} (right)", fontsize=12)
    fig.tight_layout()
    path = out / f"compare-{focus}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- the whole run -------------------------------------------------------------------------


class TestbedFaults:
    """`Faults` on a running testbed (real processes)."""

    __test__ = False  # not a pytest class

    def __init__(self, testbed: Any, settle_timeout_s: float = 60.0) -> None:
        self.testbed = testbed
        self.settle_timeout_s = settle_timeout_s
        self.crashed: set[str] = set()

    def settle(self) -> None:
        """Wait until every side agrees (ScenarioError `not_converged` at the timeout)."""
        if not self.testbed.settle(self.settle_timeout_s):
            raise ScenarioError(f"the nodes did not agree within {self.settle_timeout_s:g} s",
                                code="not_converged")

    def state(self) -> NetworkState:
        """What every live node holds."""
        state: NetworkState = self.testbed.state()
        return state

    def stop(self, name: str, *, crash: bool) -> None:
        """Stop a node (SIGTERM, or SIGKILL for a crash)."""
        self.testbed.stop_node(self.testbed.node(name), crash=crash)
        if crash:
            self.crashed.add(name)

    def restart(self, name: str) -> None:
        """Start a node again and wait until it is ready."""
        self.testbed.restart(self.testbed.node(name))
        self.crashed.discard(name)

    def partition(self, side: tuple[str, ...]) -> None:
        """Cut `side` off; () heals."""
        self.testbed.partition(side)

    def identity(self, name: str) -> Identity:
        """The party's key, from its node directory."""
        ident: Identity = self.testbed.identity(self.testbed.node(name))
        return ident

    def head(self, name: str) -> ChainHead | None:
        """The party's head as its own node holds it."""
        head: ChainHead | None = self.testbed.own_head(self.testbed.node(name))
        return head

    def deliver(self, sender: str, entry: Entry, to: tuple[str, ...]) -> None:
        """A signed gossip push from the sender's identity to each running node in `to`."""
        from trustnet.client import ClientError

        identity = self.identity(sender)
        for name in to:
            node = self.testbed.node(name)
            if not node.alive:
                continue
            try:
                ack = self.testbed.push(node, identity, [entry])
            except ClientError as exc:
                if exc.code == "partitioned":  # across a partition from the sender: gossip
                    continue                   # brings it after the heal
                raise
            if ack.rejected:
                raise ScenarioError(f"{name} rejected the equivocating entry {entry.id_hex[:16]}")

    def rotate(self, name: str, compromised_since: int | None, ts: int) -> str:
        """`trustnet key rotate` through the party's running node (admin API)."""
        from trustnet.identity import NEXT_KEY_FILE
        from trustnet.keyfiles import fresh_next_key
        from trustnet.keys import key_digest

        node = self.testbed.node(name)
        revealed = Identity.load(node.dir / NEXT_KEY_FILE)
        fresh = fresh_next_key(node.dir)
        result = node.client.rotate_keys(bytes(revealed.signing_key), key_digest(fresh.public_key),
                                         compromised_since, ts)
        return str(result["id"])


def run_scenario(scenario: Scenario, out: Path, *, keep: bool = False,
                 log: Callable[[str], None] = print, say: Callable[[str], None] = print,
                 tick_s: float = 0.25, progress: Progress | None = None, tls: bool = False) -> int:
    """Start a testbed, play, sample, check, report; 0 when every expectation holds.
    `tls`: the nodes serve and verify TLS (a throwaway CA for the run).

    With `compare`, the compared scenario is played first on its own testbed (its
    report in OUT/compared/), then this one, and the report shows both side by side.
    """
    bar = progress or Progress(log=log)
    compared: Run | None = None
    compared_ok = True
    if scenario.compare is not None:
        other = load_scenario(Path(scenario.compare), _compared=True)
        bar.note(f"== first the scenario it is compared with: {other.title}")
        code, compared = _run_once(other, out / "compared", log=log, say=say, tick_s=tick_s,
                                   bar=bar, keep=False, hint=False, tls=tls,
                                   sample_extra=wanted_views(scenario, as_compared=True))
        if compared is None:
            return 1
        compared_ok = code == 0
        bar.note(f"== now {scenario.title}")
    code, _ = _run_once(scenario, out, log=log, say=say, tick_s=tick_s, bar=bar, keep=keep,
                        tls=tls, compared=compared, compared_report="compared/report.md" if compared else None)
    if not compared_ok:
        say("== the compared scenario failed some of its own expectations "
            f"(see {out / 'compared' / 'report.md'})")
    return code if compared_ok else 1


def _run_once(scenario: Scenario, out: Path, *, log: Callable[[str], None],
              say: Callable[[str], None], tick_s: float, bar: Progress, keep: bool,
              tls: bool = False,
              compared: Run | None = None, compared_report: str | None = None,
              sample_extra: set[tuple[str, str]] | None = None,
              hint: bool = True) -> tuple[int, Run | None]:
    from trustnet.clock import SystemClock
    from trustnet.testbed import Testbed, describe

    if (out / "nodes").exists() and any((out / "nodes").iterdir()):
        # A story is backdated onto empty nodes: old stores would refuse it (and be mixed in).
        log(f"trustnet: error [bad_scenario]: {out / 'nodes'} holds nodes of an earlier run; "
            "choose a new --out or remove it")
        return 1, None
    # Back-off short enough that a healed partition or a restarted node is retried soon.
    # Replay mode: the story's entries are backdated to its days (docs/scenarios.md, Time), so
    # its nodes judge them by their signed ts; a real node would judge them by receipt.
    # A fixed origin: the nodes' clocks run in the story's time (the story ends at their now).
    wall = SystemClock().now_ms()
    testbed = Testbed(out / "nodes", scenario.parties, peers_per_node=3,
                      gossip={"tick_interval_s": tick_s, "backoff_max_ms": 2000},
                      trust={"replay": True}, tls=tls,
                      clock_offset_ms=clock_offset(scenario, wall), witnesses=scenario.witnesses)
    faults = TestbedFaults(testbed)
    bar.note(f"== {scenario.title}: starting {len(scenario.parties)} nodes in {out / 'nodes'}")
    try:
        testbed.start(progress=lambda line: bar.note("  " + line))
        say(describe(testbed))
        refs = {
            n.name: PartyRef(n.node_id, n.url, _publisher(n.client))
            for n in testbed.nodes
        }
        origin = origin_for(scenario, wall)
        since = (f"origin {datetime.fromtimestamp(origin / 1000, UTC):%Y-%m-%d}, fixed"
                 if scenario.origin_ms is not None else f"origin {scenario.days:g} days ago")
        bar.note(f"== playing {len(scenario.steps)} steps: {count_actions(scenario)} statements "
                 f"and faults ({since})")
        bar.phase("playing ", count_actions(scenario))
        snapshots: dict[str, NetworkState] = {}
        try:
            entries = play(scenario, refs, origin, progress=bar.advance, faults=faults,
                           snapshots=snapshots)
            bar.end()
            bar.note("== waiting until the nodes agree on what they hold")
            started = time.monotonic()
            faults.settle()
        except ScenarioError as exc:
            bar.end()
            log(f"trustnet: error [{exc.code}]: {exc.message}")
            return 1, None
        bar.note(f"  settled in {time.monotonic() - started:.1f} s")
        end = testbed.state()
        live = [n for n in testbed.nodes if n.alive]
        views = {(n, p) for n, p in wanted_views(scenario) | (sample_extra or set())
                 if testbed.node(n).alive}
        bar.note(f"== sampling {len(views)} series (a node's view of a party over "
                 f"{scenario.days:g} days)")
        bar.phase("sampling", len(views))
        series = sample(scenario, testbed, origin, refs, views=views, progress=bar.advance)
        bar.end()
        ids = {p: r.id for p, r in refs.items()}
        results = check(scenario, series, origin, ids=ids, end=end, snapshots=snapshots,
                        compared=compared)
        nodes = [n.to_json() for n in testbed.nodes]
        files = write_report(out, scenario, origin, series, results, nodes, entries, end=end,
                             snapshots=snapshots, compared=compared,
                             compared_report=compared_report)
        for r in results:
            say(f"  {'ok    ' if r.ok else 'FAILED'}  {r.what}  ({_fmt(r.left)} vs {_fmt(r.right)})")
        ok = all(r.ok for r in results)
        say(f"== {'all expectations met' if ok else 'SOME EXPECTATIONS FAILED'}")
        say(f"report:  {files[1]}")
        for plot in files[2:]:
            say(f"plot:    {plot}")
        say(f"series:  {files[0]}")
        say(f"nodes:   {out / 'nodes'} (each node's store, config and node.log; "
            f"`trustnet beliefs {out / 'nodes' / scenario.focus}` reads one)")
        if keep:
            say("nodes keep running; their dashboards:")
            for n in live:
                say(f"  {n.name:<10} {n.url}/")
            say("Ctrl-C stops them all")
            try:
                while all(n.alive for n in live):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        elif hint:
            say("dashboards: run with --keep (scripts/demo: without --no-wait) to leave the nodes "
                "running and open each node's URL")
        return (0 if ok else 1), Run(scenario, origin, series, ids, end, snapshots)
    finally:
        import signal as _signal

        bar.end()
        # A second Ctrl-C must not leave nodes behind: stopping is bounded, let it finish.
        previous = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        codes = testbed.stop()
        _signal.signal(_signal.SIGINT, previous)
        bad = {k: v for k, v in codes.items() if v != 0 and k not in faults.crashed}
        log("== nodes stopped" + (f" (unclean exits: {bad})" if bad else " cleanly")
            + (f"; crashed by the scenario: {', '.join(sorted(faults.crashed))}"
               if faults.crashed else ""))


def _publisher(client: Any) -> Callable[[str, dict[str, Any], int], dict[str, Any]]:
    def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
        result: dict[str, Any] = client.publish(kind, body, ts)
        return result

    return publish


def sample(scenario: Scenario, testbed: Any, origin_ms: int, refs: dict[str, PartyRef], *,
           views: set[tuple[str, str]] | None = None,
           progress: Callable[[str], None] | None = None) -> Series:
    """The (node, party) views the report needs (default `wanted_views`), each over the
    scenario's time line, from the live nodes.

    Nodes compute their series independently: a few requests run at once.
    """
    wanted = sorted(views if views is not None else wanted_views(scenario))
    step_ms = int(scenario.sample_hours * HOUR_MS)
    end = origin_ms + int(scenario.days * DAY_MS)
    live = {n.name: n for n in testbed.nodes if n.alive}
    series: Series = {name: {} for name in live}

    def fetch(node: Any, party: str) -> list[dict[str, Any]]:
        data = node.client.get(f"/series/{refs[party].id}?from={origin_ms}&to={end}&step={step_ms}")
        samples: list[dict[str, Any]] = data["samples"]
        return samples

    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = {pool.submit(fetch, live[n], p): (n, p) for n, p in wanted if n in live}
        for job in as_completed(jobs):
            name, party = jobs[job]
            series[name][party] = job.result()
            if progress:
                progress(f"{name} sees {party}")
    return series
