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
    # Activities of one party in one area (the same area text, case and spacing aside) whose
    # starts are at most this many days apart are one activity, summed against the thresholds.
    split_window_days: int = 7
    # An annual exchange this many days late weighs as much as a missing one (less: in
    # proportion, from a quarter of it on the first day).
    exchange_late_full_days: int = 90
    # Obligations resting on something never sent (a calendar, an annual exchange) hold a
    # party for the years from this one; 0: from the first year it sent one here (a node
    # cannot tell a state that keeps them off trustnet from one that sends none).
    absence_from_year: int = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ViennaFigures:
        """The `[rules]` table of node.toml as this record (trustnet.config.loader.load_table)."""
        return load_table(cls, values, "rules")


DEFAULT_FIGURES = ViennaFigures()
