"""Vienna Document 2011 figures: the defaults the rules use, all in one place, all configurable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from trustnet.clock import DAY_MS, HOUR_MS
from trustnet.config.loader import load_table

__all__ = ["DAY_MS", "DEFAULT_FIGURES", "HOUR_MS", "ViennaFigures"]


@dataclass(frozen=True, slots=True)
class ViennaFigures:
    """Thresholds and deadlines of the Vienna Document 2011 (chapters V, VI, IX, III)."""

    # Every figure is a count, a day or an hour: an integer >= 0 (`[rules]`).
    BOUNDS: ClassVar[dict[str, str]] = {"*": ">= 0"}

    # VD11 para 40: prior notification at least 42 days ahead when any threshold is met.
    notify_days: int = 42
    notify_troops: int = 9_000
    notify_tanks: int = 250
    notify_acv: int = 500
    notify_artillery: int = 250
    notify_amphibious: int = 3_000
    # VD11 para 40.1.2: >= 200 air sorties must be included in a notification; sorties
    # alone do not make an activity notifiable.
    notify_sorties: int = 200
    # VD11 para 47: observers invited at these levels.
    observe_troops: int = 13_000
    observe_tanks: int = 300
    observe_amphibious: int = 3_500
    # VD11 para 11 and 61: annual exchange by 15 December, calendar by 15 November.
    exchange_due_month: int = 12
    exchange_due_day: int = 15
    calendar_due_month: int = 11
    calendar_due_day: int = 15
    # VD11 para 75, 76, 84: inspection quota and answer deadline.
    inspections_per_year: int = 3
    inspections_per_requester_per_year: int = 1
    inspection_answer_hours: int = 24
    # VD11 para 16: explanation of unusual military activity within 48 hours.
    consultation_answer_hours: int = 48
    # Issue 16 item 5 (trustnet/statements/regime_calendar.py). VD11 para 67: Chapter VIII
    # constraints. At most one activity above 40,000 troops or 900 tanks in any three
    # consecutive calendar years; at most six above 13,000 troops or 300 tanks a calendar
    # year, of which at most three above 25,000 troops or 400 tanks.
    constraint_large_troops: int = 40_000
    constraint_large_tanks: int = 900
    constraint_large_years: int = 3
    constraint_medium_troops: int = 13_000
    constraint_medium_tanks: int = 300
    constraint_medium_per_year: int = 6
    constraint_big_troops: int = 25_000
    constraint_big_tanks: int = 400
    constraint_big_per_year: int = 3
    # Activities of one party in one area (the same letters and digits in its text) whose
    # starts are at most this many days apart, or that start while an earlier one runs, are
    # one activity, summed against the thresholds.
    split_window_days: int = 7
    # An annual exchange this many days late weighs as much as a missing one (less: in
    # proportion, from a quarter of it on the first day).
    exchange_late_full_days: int = 90
    # Obligations resting on something never sent (a calendar, an annual exchange) hold a
    # party for the years from this one; 0: for each deadline this node holds the party's
    # log from before (it was on the network when it was due), and from the first year it
    # sent one here.
    absence_from_year: int = 0
    # -- issue 16 item 5 part B (docs/regime.md) --
    # VD11 para 41 and 58: an alert activity (no prior notice) is open to observation when it
    # lasts over 72 hours; the host's invitation is due within these hours of its start.
    alert_observe_hours: int = 72
    # VD11 para 107-109: evaluation visits, one per 60 units reported in the annual
    # exchange (or part of 60), at most 15 a year; the host answers within these hours.
    evaluation_units_per_visit: int = 60
    evaluations_max_per_year: int = 15
    evaluation_answer_hours: int = 48
    # An evaluation report found a unit's holdings above the exchange by more than this
    # percentage (of each declared count) when it finds a discrepancy.
    evaluation_tolerance_percent: int = 10
    # VD11 para 17: hazardous incidents; the party concerned answers within these hours,
    # then a bilateral meeting, then a meeting of all participating states, each due
    # within these hours of the previous step.
    incident_answer_hours: int = 48
    incident_meeting_hours: int = 48
    # Treaty on Open Skies: each party's passive quota of observation flights a year
    # (Annex A gives each its own; this one figure applies to every party), notice of
    # arrival at least 72 hours ahead (art. VI A 5), acknowledged within 24 hours, the
    # flight completed within 96 hours of arrival (art. VI A 9); sensor data requested
    # by a party shared within these days (art. IX).
    openskies_passive_quota: int = 4
    openskies_notice_hours: int = 72
    openskies_answer_hours: int = 24
    openskies_period_hours: int = 96
    sensor_data_days: int = 30

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ViennaFigures:
        """The `[rules]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "rules")


DEFAULT_FIGURES = ViennaFigures()
