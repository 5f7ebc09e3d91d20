"""Plain-text tables of the desk's views, for the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustnet.desk.compliance import OBLIGATIONS

# Short column heads, in the order of OBLIGATIONS.
SHORT = {"annual_exchange": "exchange", "calendar": "calendar", "prior_notification": "notify",
         "constraints": "constraints", "observation_invitation": "observers",
         "consultation_answers": "answers", "inspection_quota": "inspections",
         # issue 16 item 5 part B
         "evaluation_visits": "evaluations", "incident_consultation": "incidents",
         "openskies_flights": "open skies", "sensor_data": "sensor data"}


def compliance_table(data: Mapping[str, Any]) -> list[str]:
    """Parties x obligations per year; a cell is the row's status (`*` when unverified).
    Only the obligations some row speaks to have a column."""
    rows = data["rows"]
    if not rows:
        return ["no obligation facts held (for these filters)"]
    cells: dict[tuple[int, str, str], str] = {}
    who: dict[str, str] = {}
    for r in rows:
        cells[(r["year"], r["party"], r["obligation"])] = r["status"] + ("" if r["verified"] or not r["findings"] else "*")
        who[r["party"]] = r["name"] or r["party"][:12]
    lines = []
    # The obligations some row speaks to (a table of nine columns is too wide to scan).
    shown = [o for o in OBLIGATIONS if any(r["obligation"] == o for r in rows)]
    for year in sorted({r["year"] for r in rows}):
        lines.append(f"{year:<16}" + "".join(f" {SHORT.get(o, o)[:15]:<15}" for o in shown))
        for pid in sorted(who, key=lambda p: (who[p], p)):
            if not any(k[0] == year and k[1] == pid for k in cells):
                continue
            lines.append(f"{who[pid][:16]:<16}"
                         + "".join(f" {cells.get((year, pid, o), '-'):<15}" for o in shown))
        lines.append("")
    lines.append("* unverified in this node's view; - no fact computed")
    return lines


def calendar_table(data: Mapping[str, Any]) -> list[str]:
    """One line per activity: who, what, where it appears, troops declared beside found."""
    acts = data["activities"]
    if not acts:
        return [f"no activity announced, notified or found in {data['year']}"]

    def n(v: Any) -> str:
        return "-" if v is None else str(v)

    lines = [f"{'party':<14} {'activity':<22} {'match':<24} {'calendar':>9} {'notified':>9} "
             f"{'found':>9}  found by"]
    for a in acts:
        who = a["name"] or a["party"][:12]
        t = a["troops"]
        by = sorted({f["by"][:8] for f in a["found"]})
        lines.append(f"{who[:14]:<14} {str(a['activity'] or '(unnamed)')[:22]:<22} {a['match']:<24} "
                     f"{n(t['announced']):>9} {n(t['notified']):>9} {n(t['found']):>9}  {', '.join(by)}")
    lines.append("")
    lines.append("troops: as the calendar announced, as notified (latest), as found (largest)")
    return lines
