"""The rules of issue 16 item 5 part B, as the rule engine calls them (docs/regime.md)."""

from __future__ import annotations

from collections.abc import Iterator

from trustnet.statements import (
    regime_evaluation,
    regime_incidents,
    regime_observation,
    regime_openskies,
)
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import ViennaFigures
from trustnet.statements.regime_common import Judged, Weight

RULE_MODULES = (regime_observation, regime_evaluation, regime_incidents, regime_openskies)


def regime_evidence(
    stmts: list[Judged[object]], now_ms: int, fig: ViennaFigures, weight: Weight
) -> Iterator[Evidence]:
    """Every fact of the observation, evaluation, incident and Open Skies rules."""
    for module in RULE_MODULES:
        yield from module.evidence(stmts, now_ms, fig, weight)
