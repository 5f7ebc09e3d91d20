"""The annual exchange of military information sent in time (VD11 chapter I, para 11).

The exchange valid from 1 January is due by 15 December, read in the party's declared zone;
one credit per author and coming year. The exchange late or missing is
`regime_calendar`'s to judge; its deadline (`exchange_due`) is the one used here.
"""

from __future__ import annotations

from collections.abc import Iterator

from trustnet.statements import regime_calendar
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DEFAULT_FIGURES, ViennaFigures
from trustnet.statements.index import Index
from trustnet.statements.weights import RuleWeights


def exchange_deadline(
    valid_from_year: int, fig: ViennaFigures = DEFAULT_FIGURES, zone: str | None = None
) -> int | None:
    """End (ms, exclusive) of the day the exchange valid from that year is due (VD11 para 11),
    in the party's declared `zone` (UTC by default)."""
    return regime_calendar.exchange_due(valid_from_year, fig, regime_calendar.zone(zone))


def annual_exchanges(ix: Index, w: RuleWeights) -> Iterator[Evidence]:
    """VD11 para 11: the exchange valid from 1 January is sent by 15 December (once per year).

    One credit per author and year, and only for the coming year (`valid_from` in the year
    after the one it is sent in, as judged): twenty exchanges sent on one day for twenty
    future years are one obligation met, not twenty (issue 12, finding 5). Years and the
    deadline are the author's local ones (its declared zone).
    """
    done: set[tuple[str, int]] = set()
    for x in ix.exchanges:
        tz = regime_calendar.zone(ix.zones.get(x.author))
        year = regime_calendar.local_year(x.body.valid_from, tz)
        due = regime_calendar.exchange_due(year, ix.fig, tz)
        if (due is None or x.ts >= due or year != regime_calendar.local_year(x.ts, tz) + 1
                or (x.author, year) in done):
            continue
        done.add((x.author, year))
        units = len(x.body.units)
        yield Evidence(
            x.author,
            "annual_exchange_on_time",
            w.annual_exchange_on_time,
            x.ts,
            (x.id,),
            (),
            f"annual exchange valid from {year}-01-01 "
            f"({units} unit{'' if units == 1 else 's'}) sent {x.when()}, "
            f"before the deadline {regime_calendar.local_date(due - 1, tz)}",
            True,
        )
