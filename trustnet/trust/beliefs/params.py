"""The `[trust]` parameters of the belief engine (DESIGN 7; defaults in configs/node.example.toml)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trustnet.config.loader import load_table
from trustnet.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TrustParams:
    """The `[trust]` table of node.toml: how reliability and compliance are computed."""

    BOUNDS: ClassVar[dict[str, str]] = {
        "quorum": ">= 0", "match_days": ">= 0", "backdate_tolerance_s": ">= 0", "bloc_level": ">= 0",
    }

    a: float = 0.5  # EigenTrust restart probability (weight of the roots)
    quorum: int = 2  # independent reliable attesters that verify a claim
    reliable: float = 0.1  # reliability (p) from which a party counts as a reliable attester
    trust_weight: float = 1.0  # local trust per `trust` statement at level 1000
    track_weight: float = 0.5  # local trust per fully confirmed track record
    trust_belief: float = 0.8  # reliability belief of a party trusted like a direct trustee
    # Disbelief evidence per `trust` statement at level -1000 by a fully reliable party
    # (weighted by the distruster's reliability): distrust counts (issue 12, finding 8).
    distrust_weight: float = 4.0
    # Parties that trust each other at this level or more (both ways) are one bloc: their
    # attestations are not independent (averaged, and one towards a quorum).
    bloc_level: int = 700
    evidence_scale: float = 1.0  # evidence units per unit of rule weight (W = 2)
    base_rate: float = 0.5  # compliance prior (no evidence)
    tolerance: float = 0.3  # relative count difference at which an observation is confirmed
    match_days: int = 7  # days around an inspection in which an observation is of the same activity
    # DESIGN 12: deadlines are judged by when a statement was received here; a signed `ts`
    # more than this before its receipt is backdated, and judged by its receipt instead.
    backdate_tolerance_s: int = 3600
    # A lab network replaying a story (`trustnet testbed run`): judge every statement by its
    # signed `ts`, as its author chose it. Never for a real node (any author could backdate).
    replay: bool = False

    def judged(self, ts: int, received: int | None) -> int:
        """When a statement signed at `ts` and received at `received` counts as made."""
        if self.replay or received is None or received - ts <= self.backdate_tolerance_s * 1000:
            return ts
        return received

    def backdated(self, ts: int, received: int) -> bool:
        """Its `ts` lags its receipt by more than the tolerance (shown, even in replay)."""
        return received - ts > self.backdate_tolerance_s * 1000

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrustParams:
        """The `[trust]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "trust")

    def check(self) -> None:
        """Raise ConfigError when a value is out of range."""
        unit = ("reliable", "trust_belief", "base_rate", "tolerance")
        for name in unit:
            v = getattr(self, name)
            if not (0.0 <= v <= 1.0):
                raise ConfigError(f"trust.{name}: expected a number in [0, 1], got {v!r}")
        if not (0.0 < self.a <= 1.0):
            raise ConfigError(f"trust.a: expected a number in (0, 1], got {self.a!r}")
        for name in ("trust_weight", "track_weight", "evidence_scale", "distrust_weight"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0.0):
                raise ConfigError(f"trust.{name}: expected a finite number >= 0, got {v!r}")
        if self.quorum < 1:
            raise ConfigError(f"trust.quorum: expected an integer >= 1, got {self.quorum!r}")



DEFAULT_PARAMS = TrustParams()
