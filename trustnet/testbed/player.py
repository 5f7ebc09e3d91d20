"""Playing a scenario: its steps published through each party's node, backdated so the
story ends now, and its faults played on a network (`Faults`: a testbed, or one store in
the tests), with the placeholders of the step bodies resolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from trustnet.clock import DAY_MS
from trustnet.errors import EntryError, TrustnetError
from trustnet.identity import Identity
from trustnet.log.entry import ChainHead, Entry
from trustnet.statements import sign_statement
from trustnet.testbed.cluster import NetworkState
from trustnet.testbed.model import TWINS, Scenario, ScenarioError, Step

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^}]*))?\}")


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
