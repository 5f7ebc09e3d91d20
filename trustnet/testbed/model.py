"""The scenario model (DESIGN 10; docs/scenarios.md): the frozen records a scenario file
becomes, its expectations' parsed conditions, the fault names, and ScenarioError.

Records only: `trustnet.testbed.loader` reads a file into them, `trustnet.testbed.expect`
parses and evaluates the checks, `trustnet.testbed.player` plays the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trustnet.errors import ConfigError

FAULTS = ("stop", "crash", "restart", "partition", "heal", "equivocate", "compromise", "rotate")
# Faults that sign the party's entries with its key from its node directory: an equivocation
# by the party itself, or by a thief who copied `identity.key` (docs/keys.md).
TWINS = ("equivocate", "compromise")


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


# The expectations' checks, parsed (the grammar: trustnet.testbed.expect.parse_check).


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
