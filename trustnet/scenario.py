"""Scenarios: timed statements played on a testbed, sampled, checked, reported (DESIGN 10).

A scenario file (TOML, see configs/scenarios/demo.toml) names the parties, the
steps (who publishes what, on which day) and the expectations. `play` backdates
every step so the story ends now: entries keep the real chain rules (ts never
decreases, never in the future) and the nodes compute on them exactly as live.
Sampling asks every node's `/series/{party}` for its suspicion and beliefs over
the scenario's time line; `check` evaluates the expectations; `write_report`
leaves a Markdown report, the JSON time series and PNG plots.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustnet.errors import ConfigError

DAY_MS = 86_400_000
METRICS = (
    "suspicion.level",
    "suspicion.escalation_index",
    "belief.compliance",
    "belief.compliance_shift",
    "belief.reliability",
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^}]*))?\}")
_CHECK = re.compile(
    r"^\s*(?P<left>[a-z_.]+\([^)]*\)\s*@\s*[\w.]+)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<right>[a-z_.]+\([^)]*\)\s*@\s*[\w.]+|-?[0-9.]+)\s*$"
)
_MEASURE = re.compile(r"^(?P<metric>[a-z_.]+)\(\s*(?P<node>[\w-]+)\s*,\s*(?P<party>[\w-]+)\s*\)\s*@\s*(?P<day>[\w.]+)$")


class ScenarioError(ConfigError):
    """A scenario file is invalid."""

    code = "bad_scenario"


@dataclass(frozen=True, slots=True)
class Step:
    """One statement to publish (or one per party / per other party)."""

    id: str
    day: float
    party: str
    kind: str
    body: dict[str, Any]
    each: str | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """A comparison of measurements the scenario must satisfy."""

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


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (following `base =` for variants)."""
    data = _read(Path(path))
    where = str(path)
    parties = tuple(data.get("parties", ()))
    if not parties or not all(isinstance(p, str) and re.fullmatch(r"[\w-]+", p) for p in parties):
        raise ScenarioError(f"{where}: parties must be a list of names (letters, digits, -)")
    steps = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("step", [])):
        try:
            step = Step(str(raw["id"]), float(raw["day"]), str(raw["party"]), str(raw["kind"]),
                        dict(raw["body"]), raw.get("each"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"{where}: step {i}: needs id, day, party, kind, body ({exc})") from None
        if step.id in seen:
            raise ScenarioError(f"{where}: step id {step.id!r} is used twice")
        if step.party != "*" and step.party not in parties:
            raise ScenarioError(f"{where}: step {step.id}: unknown party {step.party!r}")
        if step.each not in (None, "others"):
            raise ScenarioError(f"{where}: step {step.id}: each must be 'others'")
        seen.add(step.id)
        steps.append(step)
    steps.sort(key=lambda s: s.day)
    expectations = tuple(Expectation(str(e["what"]), str(e["check"])) for e in data.get("expect", []))
    for e in expectations:
        parse_check(e.check, parties)
    days = float(data.get("days", 120))
    if not steps or steps[-1].day > days:
        raise ScenarioError(f"{where}: needs steps, all within `days` ({days})")
    focus = str(data.get("focus", parties[0]))
    if focus not in parties:
        raise ScenarioError(f"{where}: focus {focus!r} is not a party")
    return Scenario(
        name=str(data.get("name", Path(path).stem)),
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
    )


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
    drop = set(data.pop("drop_steps", []))
    replace = {r["step"]: r for r in data.pop("replace", [])}
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


# -- playing -------------------------------------------------------------------------------


@dataclass(slots=True)
class PartyRef:
    """What the player knows of a party's node."""

    id: str
    url: str
    publish: Callable[[str, dict[str, Any], int], dict[str, Any]]


def origin_for(scenario: Scenario, now_ms: int) -> int:
    """The origin that makes the story end today: midnight UTC, `days` days ago.

    Midnight, because the suspicion model steps on a daily grid: the same story
    then gives the same numbers whatever the hour it is played at.
    """
    return (now_ms - int(scenario.days * DAY_MS)) // DAY_MS * DAY_MS


def play(scenario: Scenario, parties: dict[str, PartyRef], origin_ms: int,
         progress: Callable[[str], None] | None = None) -> dict[str, str]:
    """Publish every step through its party's node; returns step id -> entry id."""
    entries: dict[str, str] = {}
    next_year = int(datetime(datetime.fromtimestamp(origin_ms / 1000, UTC).year + 1, 1, 1,
                             tzinfo=UTC).timestamp() * 1000)
    for step in scenario.steps:
        who = scenario.parties if step.party == "*" else (step.party,)
        for k, name in enumerate(who):
            others = [p for p in scenario.parties if p != name] if step.each else [None]
            for j, other in enumerate(others):
                ctx = {
                    "self": parties[name].id, "name": name, "role": scenario.roles.get(name, "state"),
                    "other": parties[other].id if other else "",
                    "bloc_trust": _bloc_trust(scenario, name, other),
                }
                sub = _Resolver(step, name, ctx, parties, entries, origin_ms, next_year)
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


@dataclass(frozen=True, slots=True)
class Measure:
    """METRIC(NODE, PARTY) @ DAY."""

    metric: str
    node: str
    party: str
    day: str


def parse_check(check: str, parties: tuple[str, ...]) -> tuple[Measure, str, Measure | float]:
    """Parse `LEFT OP RIGHT`."""
    m = _CHECK.match(check)
    if not m:
        raise ScenarioError(f"cannot read check {check!r} (METRIC(NODE, PARTY) @ DAY OP ...)")
    left = _measure(m.group("left"), parties)
    right_s = m.group("right")
    right: Measure | float = float(right_s) if re.fullmatch(r"-?[0-9.]+", right_s) else _measure(right_s, parties)
    return left, m.group("op"), right


def _measure(text: str, parties: tuple[str, ...]) -> Measure:
    m = _MEASURE.match(text.strip())
    if not m:
        raise ScenarioError(f"cannot read measurement {text!r}")
    meas = Measure(m.group("metric"), m.group("node"), m.group("party"), m.group("day"))
    if meas.metric not in METRICS:
        raise ScenarioError(f"unknown metric {meas.metric!r} (known: {', '.join(METRICS)})")
    for who in (meas.node, meas.party):
        if who not in parties:
            raise ScenarioError(f"unknown party {who!r} in {text!r}")
    if meas.day != "end":
        try:
            float(meas.day)
        except ValueError:
            raise ScenarioError(f"day must be a number or 'end' in {text!r}") from None
    return meas


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An expectation with the values it compared."""

    what: str
    check: str
    left: float
    right: float
    ok: bool

    def to_json(self) -> dict[str, Any]:
        """JSON view."""
        return {"what": self.what, "check": self.check, "left": self.left, "right": self.right,
                "ok": self.ok}


Series = dict[str, dict[str, list[dict[str, Any]]]]  # node -> party -> samples


def value_at(series: Series, scenario: Scenario, origin_ms: int, m: Measure) -> float:
    """A measurement read off the sampled series (the last sample at or before the day)."""
    samples = series[m.node][m.party]
    day = scenario.days if m.day == "end" else float(m.day)
    t = origin_ms + int(day * DAY_MS)
    chosen = samples[0]
    for s in samples:
        if s["t"] <= t:
            chosen = s
    if m.metric == "belief.compliance_shift":
        base_t = origin_ms + int(scenario.baseline_day * DAY_MS)
        base = samples[0]
        for s in samples:
            if s["t"] <= base_t:
                base = s
        return abs(float(chosen["compliance"]) - float(base["compliance"]))
    key = {"suspicion.level": "level", "suspicion.escalation_index": "escalation_index",
           "belief.compliance": "compliance", "belief.reliability": "reliability"}[m.metric]
    return float(chosen[key])


def check(scenario: Scenario, series: Series, origin_ms: int) -> list[CheckResult]:
    """Evaluate every expectation against the series."""
    ops: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b, ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    }
    out = []
    for e in scenario.expectations:
        left, op, right = parse_check(e.check, scenario.parties)
        lv = value_at(series, scenario, origin_ms, left)
        rv = right if isinstance(right, float) else value_at(series, scenario, origin_ms, right)
        out.append(CheckResult(e.what, e.check, lv, rv, ops[op](lv, rv)))
    return out


# -- the report ----------------------------------------------------------------------------


def write_report(out: Path, scenario: Scenario, origin_ms: int, series: Series,
                 results: list[CheckResult], nodes: list[dict[str, Any]],
                 entries: dict[str, str]) -> list[Path]:
    """Write report.md, series.json and the plots; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "series.json", out / "report.md"]
    (out / "series.json").write_text(json.dumps({
        "scenario": scenario.name, "origin_ms": origin_ms, "nodes": nodes, "entries": entries,
        "series": series, "checks": [r.to_json() for r in results],
    }, indent=1))
    plots = _plots(out, scenario, origin_ms, series)
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
        lines.append(f"| {'ok' if r.ok else 'FAILED'} | {r.what} | `{r.check}` | {r.left:.4g} | {r.right:.4g} |")
    lines += ["", f"## How each node sees {scenario.focus}", ""]
    lines += [f"![{p.stem}]({p.name})" for p in plots]
    lines += ["", "## Nodes", "", "| name | node id | url | dir |", "|---|---|---|---|"]
    lines += [f"| {n['name']} | `{n['node_id'][:16]}` | {n['url']} | {n['dir']} |" for n in nodes]
    lines += ["", "## Steps", "", "| day | party | kind | entry |", "|---|---|---|---|"]
    for step in scenario.steps:
        lines.append(f"| {step.day:g} | {step.party} | {step.kind} | "
                     f"{'`' + entries[step.id][:16] + '`' if step.id in entries else '(each party)'} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return files


def _plots(out: Path, scenario: Scenario, origin_ms: int, series: Series) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    focus = scenario.focus
    panels = [("level", "suspicion level"), ("escalation_index", "escalation index (per day)"),
              ("compliance", "verified compliance belief"), ("reliability", "reliability as a source")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 11), sharex=True)
    for ax, (key, label) in zip(axes, panels, strict=True):
        for node in scenario.parties:
            if node == focus:
                continue
            samples = series[node][focus]
            days = [(s["t"] - origin_ms) / DAY_MS for s in samples]
            style = "-" if node.startswith(scenario.parties[0].rsplit("-", 1)[0]) else "--"
            ax.plot(days, [s[key] for s in samples], style, label=node, linewidth=1.6)
        if key == "escalation_index":
            ax.axhline(0, color="grey", linewidth=0.8)
        for step in scenario.steps:
            if step.party == focus or step.kind in ("observation", "inspection_report"):
                ax.axvline(step.day, color="#cccccc", linewidth=0.6, zorder=0)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{scenario.title}: how each node sees {focus}")
    axes[0].legend(ncol=5, fontsize=8, loc="upper left")
    axes[-1].set_xlabel("day of the scenario (grey lines: steps about the focus party)")
    fig.tight_layout()
    path = out / f"{focus}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


# -- the whole run -------------------------------------------------------------------------


def run_scenario(scenario: Scenario, out: Path, *, keep: bool = False,
                 log: Callable[[str], None] = print, say: Callable[[str], None] = print,
                 tick_s: float = 0.25) -> int:
    """Start a testbed, play, sample, check, report; 0 when every expectation holds."""
    import time as _time

    from trustnet.clock import SystemClock
    from trustnet.testbed import Testbed, describe

    testbed = Testbed(out / "nodes", scenario.parties, peers_per_node=3,
                      gossip={"tick_interval_s": tick_s})
    log(f"== {scenario.title}: starting {len(scenario.parties)} nodes in {out / 'nodes'}")
    try:
        testbed.start(progress=lambda line: log("  " + line))
        say(describe(testbed))
        refs = {
            n.name: PartyRef(n.node_id, n.url, _publisher(n.client))
            for n in testbed.nodes
        }
        origin = origin_for(scenario, SystemClock().now_ms())
        log(f"== playing {len(scenario.steps)} steps (origin {scenario.days:g} days ago)")
        entries = play(scenario, refs, origin, progress=lambda line: log("  " + line))
        total = len(set(entries.values()))
        log(f"== waiting until every node holds all {total} entries")
        started = _time.monotonic()
        if not testbed.wait_for(lambda: _converged(testbed, total), timeout_s=60):
            log("trustnet: error [not_converged]: nodes did not converge within 60 s")
            return 1
        log(f"  converged in {_time.monotonic() - started:.1f} s")
        log("== sampling every node's suspicion and beliefs")
        series = sample(scenario, testbed, origin, refs)
        results = check(scenario, series, origin)
        nodes = [n.to_json() for n in testbed.nodes]
        files = write_report(out, scenario, origin, series, results, nodes, entries)
        for r in results:
            say(f"  {'ok    ' if r.ok else 'FAILED'}  {r.what}  ({r.left:.4g} vs {r.right:.4g})")
        ok = all(r.ok for r in results)
        say(f"== {'all expectations met' if ok else 'SOME EXPECTATIONS FAILED'}")
        say(f"report:  {files[1]}")
        say(f"plot:    {files[2] if len(files) > 2 else '-'}")
        say(f"series:  {files[0]}")
        say(f"nodes:   {out / 'nodes'} (each node's store, config and node.log; "
            f"`trustnet beliefs {out / 'nodes' / scenario.focus}` reads one)")
        if not keep:
            say("dashboards: add --keep to leave the nodes running, then open each node's URL")
        if keep:
            say("nodes keep running; their dashboards:")
            for n in testbed.nodes:
                say(f"  {n.name:<10} {n.url}/")
            say("Ctrl-C stops them all")
            try:
                while all(n.alive for n in testbed.nodes):
                    _time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        return 0 if ok else 1
    finally:
        import signal as _signal

        # A second Ctrl-C must not leave nodes behind: stopping is bounded, let it finish.
        previous = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        codes = testbed.stop()
        _signal.signal(_signal.SIGINT, previous)
        bad = {k: v for k, v in codes.items() if v != 0}
        log("== nodes stopped" + (f" (unclean exits: {bad})" if bad else " cleanly"))


def _publisher(client: Any) -> Callable[[str, dict[str, Any], int], dict[str, Any]]:
    def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
        result: dict[str, Any] = client.publish(kind, body, ts)
        return result

    return publish


def _converged(testbed: Any, total: int) -> bool:
    return all(n.client.get("/status")["entries"] >= total for n in testbed.nodes)


def sample(scenario: Scenario, testbed: Any, origin_ms: int, refs: dict[str, PartyRef]) -> Series:
    """Every node's view of every party the report needs, over the scenario's time line."""
    wanted = {scenario.focus}
    for e in scenario.expectations:
        left, _, right = parse_check(e.check, scenario.parties)
        wanted.add(left.party)
        if isinstance(right, Measure):
            wanted.add(right.party)
    step_ms = int(scenario.sample_hours * 3_600_000)
    end = origin_ms + int(scenario.days * DAY_MS)
    series: Series = {}
    for node in testbed.nodes:
        series[node.name] = {}
        for party in sorted(wanted):
            data = node.client.get(
                f"/series/{refs[party].id}?from={origin_ms}&to={end}&step={step_ms}")
            series[node.name][party] = data["samples"]
    return series
