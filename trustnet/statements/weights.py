"""The weight of each CSBM rule's evidence: the `[weights]` table of node.toml (DESIGN 4).

The rule engine (`trustnet.statements.rules`) gives every fact its rule's weight from this
record; the trust layer and the node's settings read it too. `RULES` names every rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from trustnet.config.loader import load_table


@dataclass(frozen=True, slots=True)
class RuleWeights:
    """Weight of each rule's evidence: DOMAIN.md's Goldstein scale / 10 (CAMEO code in brackets)."""

    unnotified_activity: float = -0.72  # [154] mobilize without notification
    undercounted_notification: float = -0.72
    observers_not_invited: float = -0.40
    consultation_unanswered: float = -0.50  # [101] demand information, unanswered
    inspection_refused: float = -0.40  # [1245]
    inspection_accepted: float = +0.90  # [0862] receive inspectors
    inspection_consistent: float = +0.70  # [064] share information
    consultation_answered: float = +0.10  # [040] consult
    annual_exchange_on_time: float = +0.70  # [064]
    # Not in DOMAIN.md's table; DESIGN 8 names timely notifications as cooperation. A
    # notification is shared information like the annual exchange: [064] too.
    notification_on_time: float = +0.70  # [064]
    equivocation: float = -1.0  # distrust: compliance fully negative
    # Issue 16 item 5 (regime_calendar.py). Not in DOMAIN.md's table: chosen beside its
    # neighbours. A calendar on time is shared information, less than the exchange; an
    # activity it does not announce is a breach like observers not invited; a constraint
    # exceeded weighs like an unnotified activity; splitting one to stay under a threshold
    # is deliberate evasion; a missing exchange weighs like an unanswered request, a late
    # one by how late (up to the same, see docs/beliefs.md).
    calendar_on_time: float = +0.30  # [064]
    calendar_late: float = -0.20
    activity_not_in_calendar: float = -0.40
    constraint_exceeded: float = -0.72
    split_activity: float = -0.50
    annual_exchange_late: float = -0.50  # at full lateness (figures.exchange_late_full_days)
    annual_exchange_missing: float = -0.50
    # -- issue 16 item 5 part B (trustnet/statements/regime_*.py, docs/regime.md) --
    observation_invited: float = +0.40  # mirror of observers_not_invited
    alert_not_observed: float = -0.40  # as observers_not_invited
    observers_report_consistent: float = +0.70  # [064] as inspection_consistent
    observers_report_undercount: float = -0.72  # as undercounted_notification
    evaluation_accepted: float = +0.90  # [0862] as inspection_accepted
    evaluation_refused: float = -0.40  # [1245] as inspection_refused
    evaluation_refused_beyond_quota: float = 0.0  # allowed: shown, not weighed
    evaluation_consistent: float = +0.70  # [064]
    evaluation_discrepancy: float = -0.72  # as undercounted_notification
    incident_answered: float = +0.10  # [040] as consultation_answered
    incident_unanswered: float = -0.50  # [101] as consultation_unanswered
    incident_escalated: float = -0.25  # half again, at the all-states stage
    openskies_accepted: float = +0.90  # [0862] receive observers
    openskies_refused: float = -0.40  # [1245]
    openskies_notice_short: float = 0.0  # allowed refusal: shown, not weighed
    openskies_quota_exceeded: float = 0.0  # allowed refusal: shown, not weighed
    openskies_period_exceeded: float = -0.20
    sensor_data_shared: float = +0.10  # [064], small: data the treaty owes
    sensor_data_declined: float = -0.40
    sensor_data_not_shared: float = -0.40

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RuleWeights:
        """The `[weights]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "weights")

    def of(self, rule: str) -> float:
        """The weight of `rule` (one of RULES)."""
        value: float = getattr(self, rule)
        return value


DEFAULT_WEIGHTS = RuleWeights()
RULES: tuple[str, ...] = tuple(f.name for f in fields(RuleWeights))
