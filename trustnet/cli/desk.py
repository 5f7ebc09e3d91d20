"""The analyst's desk on the command line: `compliance` by obligation, party and year, the
`calendar` reconciled, and a `report` to send (Markdown and HTML); trustnet.desk."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from trustnet.cli.output import out, out_json
from trustnet.cli.target import Target
from trustnet.clock import DAY_MS
from trustnet.errors import ConfigError


def _desk_view(args: argparse.Namespace, route: str, key: str, query: dict[str, str]) -> int:
    """One desk view (`/compliance` rows or `/calendar` activities) of a node by URL (every
    page) or of a directory, printed as a table or as JSON."""
    from trustnet.analysis import views
    from trustnet.desk import text

    target = Target(args.target)
    if target.is_url:
        path = f"/{route}?" + urlencode(query) if query else f"/{route}"
        data = target.get_all(path, key)
    else:
        compute = views.compliance_all if route == "compliance" else views.calendar_all
        data = compute(target.views(), query)
    if args.json:
        out_json(data)
        return 0
    table = text.compliance_table if route == "compliance" else text.calendar_table
    for line in table(data):
        out(line)
    return 0


def cmd_compliance(args: argparse.Namespace) -> int:
    """Show compliance by obligation: one row per party, obligation and year (trustnet.desk)."""
    query = {k: str(v) for k, v in (("year", args.year), ("party", args.party)) if v is not None}
    return _desk_view(args, "compliance", "rows", query)


def cmd_calendar(args: argparse.Namespace) -> int:
    """Show the calendar reconciled: activities announced, notified and found, matched."""
    year = {} if args.year is None else {"year": str(args.year)}  # --year 0: refused, not "now"
    return _desk_view(args, "calendar", "activities", year)


def cmd_report(args: argparse.Namespace) -> int:
    """Write a report to send: report.md, report.html (self-contained) and its figures."""
    from trustnet.desk import report

    at = report.parse_time(args.at) if args.at else None
    target = Target(args.target)
    if target.is_url:

        def remote(route: str, query: Mapping[str, str]) -> Any:
            path = route + ("?" + urlencode(query) if query else "")
            key = {"/beliefs": "parties", "/suspicion": "parties", "/compliance": "rows",
                   "/forks": "forks"}.get(route)
            return target.get_all(path, key) if key else target.get(path)

        fetch: report.Fetch = remote
        if at is None:
            at = int(target.get("/suspicion?limit=1")["now"])
    else:
        views = target.views()
        fetch = report.local_fetch(views)
        if at is None:
            at = views.clock.now_ms()
    since = report.parse_time(args.since) if args.since else at - 30 * DAY_MS
    if since > at:
        raise ConfigError("--since must not be after --at", code="bad_argument")
    paths = report.write(report.build(fetch, at, since), Path(args.out))
    for p in paths:
        out(str(p))
    return 0
