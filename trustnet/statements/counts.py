"""What a notification, observation or inspection report counts, against the Vienna thresholds.

The rules compare counts with the notification and observation thresholds (VD11 para 38-40,
47): which a finding meets, which it crosses that its notification stayed under, how grave
the undercount is, whether an observation agrees with an inspection, and how the notes of
the evidence write counts and thresholds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from trustnet.statements.figures import ViennaFigures
from trustnet.statements.kinds import InspectionReport, Notification, Observation

# The statements that count troops and equipment.
Counts = Notification | Observation | InspectionReport


# The counts every one of them carries, with the words the notes use for them.
FIELDS = (("troops", "troops"), ("tanks", "tanks"), ("acv", "ACV"), ("artillery", "artillery"))


def counts_text(c: Counts) -> str:
    """The counts as the notes write them: "12500 troops / 300 tanks"."""
    parts = [f"{c.troops} troops"]
    parts += [f"{getattr(c, f)} {label}" for f, label in FIELDS[1:] if getattr(c, f)]
    if isinstance(c, Notification):
        if c.amphibious:
            parts.append(f"{c.amphibious} amphibious/airborne troops")
        if c.sorties:
            parts.append(f"{c.sorties} air sorties")
    return " / ".join(parts)


@dataclass(frozen=True, slots=True)
class Threshold:
    """One Vienna threshold: a count that makes an activity notifiable or observable."""

    regime: str  # "notification" or "observation"
    field: str
    value: int

    def text(self) -> str:
        return f"{self.value} {dict(FIELDS)[self.field]}"


def thresholds(fig: ViennaFigures) -> tuple[Threshold, ...]:
    """The thresholds of `fig` that a finding can be compared with (the last figures' kept
    by identity: hashing the figures, every field of them, cost the rules more than this)."""
    last = _LAST[0]
    if last is not None and last[0] is fig:
        return last[1]
    got = _thresholds(fig)
    _LAST[0] = (fig, got)
    return got


_LAST: list[tuple[ViennaFigures, tuple[Threshold, ...]] | None] = [None]


@functools.lru_cache(maxsize=16)
def _thresholds(fig: ViennaFigures) -> tuple[Threshold, ...]:
    # The figures an observation or report can show (they carry no amphibious or sortie counts).
    return (
        Threshold("notification", "troops", fig.notify_troops),
        Threshold("notification", "tanks", fig.notify_tanks),
        Threshold("notification", "acv", fig.notify_acv),
        Threshold("notification", "artillery", fig.notify_artillery),
        Threshold("observation", "troops", fig.observe_troops),
        Threshold("observation", "tanks", fig.observe_tanks),
    )


def crossed_thresholds(found: Counts, notified: Counts, fig: ViennaFigures) -> list[Threshold]:
    """Thresholds that `found` meets and `notified` stays under (DOMAIN: undercounted)."""
    return [
        t
        for t in thresholds(fig)
        if getattr(found, t.field) >= t.value > getattr(notified, t.field)
    ]


def met_thresholds(found: Counts, fig: ViennaFigures, regime: str) -> list[Threshold]:
    """The thresholds of one `regime` ("notification", "observation") that `found` meets."""
    return [
        t for t in thresholds(fig) if t.regime == regime and getattr(found, t.field) >= t.value
    ]


def undercount_severity(found: Counts, notified: Counts, crossed: list[Threshold]) -> float:
    """How grave an undercount is, in (0, 1]: the rule's weight is multiplied by it.

    Two factors (issue 12, finding 9): how far the finding exceeds the declaration, as the
    largest relative excess r over the counts whose thresholds it crosses (0.5 + r, at most
    1: 13,100 troops found against 12,500 declared gives 0.55, twice the declaration 1), and
    how many thresholds it crosses (0.6 + 0.2 per threshold, at most 1: one gives 0.8, two 1).
    """
    excess = 0.0
    for t in crossed:
        declared = max(1, getattr(notified, t.field))
        excess = max(excess, (getattr(found, t.field) - declared) / declared)
    return min(1.0, 0.5 + excess) * min(1.0, 0.6 + 0.2 * len(crossed))


def describe_thresholds(which: Iterable[Threshold]) -> str:
    """The thresholds as the notes write them, grouped by regime."""
    by_regime: dict[str, list[str]] = {}
    for t in which:
        by_regime.setdefault(t.regime, []).append(t.text())
    parts = [
        f"the {regime} threshold{'s' if len(texts) > 1 else ''} ({', '.join(texts)})"
        for regime, texts in by_regime.items()
    ]
    return " and ".join(parts)


def _thresholds_met(c: Counts, fig: ViennaFigures) -> tuple[bool, ...]:
    return tuple(getattr(c, t.field) >= t.value for t in thresholds(fig))


def observation_confirmed(
    obs: Observation, report: InspectionReport, fig: ViennaFigures, tolerance: float
) -> bool:
    """An observation agrees with an inspection: counts within tolerance, or same thresholds met."""
    close = all(
        abs(getattr(obs, f) - getattr(report, f))
        <= tolerance * max(getattr(obs, f), getattr(report, f))
        for f, _label in FIELDS
    )
    return close or _thresholds_met(obs, fig) == _thresholds_met(report, fig)
