"""Reading a scenario file (TOML, docs/scenarios.md) into a validated `Scenario`.

Follows `base =` for variants (drop_steps, replace, own expectations), checks every
step and fault, follows the faults in order so that every step is playable, and
parses the expectations' checks (`trustnet.testbed.expect.parse_check`) against the
scenario and the one it is compared with.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trustnet.statements import KINDS
from trustnet.testbed.expect import parse_check, viewers
from trustnet.testbed.model import FAULTS, TWINS, Expectation, Scenario, ScenarioError, Step

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
        for node in viewers(cond):
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


def _compared_ctx(other: Scenario | None) -> dict[str, Any] | None:
    if other is None:
        return None
    return {"parties": other.parties, "steps": {s.id: s.day for s in other.steps}}
