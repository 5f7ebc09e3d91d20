"""The calendar, Chapter VIII constraints, the annual exchange missed or late, split activities,
and the party's time zone for the dates the rules read (issue 16 item 5, part A).

Pure functions, like the rest of the rule engine: a party's own signed notifications,
calendars and annual exchanges in, evidence out, as of `now_ms` (used only to decide that a
deadline has passed). `rules._evaluate` calls `evidence` with its index's statements.

Every fact here rests on the party's own signatures (`sources=()`): a notified activity that
its calendar, sent by the deadline, does not announce; a sixth, seventh... activity above the
constraint thresholds; an exchange signed after its deadline. Only the missing annual exchange
rests on an absence, and it is verifiable only when this node holds the party's log past the
deadline (logs are hash-chained and gap-free: an exchange signed before a held later entry
would be held too).

Dates are read in the party's declared zone (`profile.zone`, an IANA name; UTC when it
declares none or this machine's zone database does not know it): the year of a `valid_from`
or of an activity's start, and the end of the 15 November and 15 December deadline days.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import partial
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trustnet.errors import ConfigError
from trustnet.statements.evidence import Evidence
from trustnet.statements.facts import is_notifiable, is_observable, notice_ok
from trustnet.statements.figures import DAY_MS, ViennaFigures
from trustnet.statements.kinds import AnnualExchange, Calendar, Notification

B_co = TypeVar("B_co", covariant=True)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Years before `now` the missing-exchange rule looks back (a bound on its work, not a rule).
LOOKBACK_YEARS = 30


class Signed(Protocol[B_co]):
    """A signed statement with its typed body, as the rule engine indexes it."""

    @property
    def id(self) -> str: ...

    @property
    def author(self) -> str: ...

    @property
    def ts(self) -> int: ...  # when it counts as made (its receipt when backdated)

    @property
    def body(self) -> B_co: ...


# -- time zones ------------------------------------------------------------------------------


# A place's zone (Area/Location, IANA) or UTC: not the reading machine's own zone
# ("localtime", "posixrules": nodes would read one party's dates apart), not a fixed offset
# ("Etc/GMT+12": twelve hours on every deadline beyond any participating state's capital),
# not "Factory" nor the "right/" (leap-second) and "posix/" copies.
_PLACE = re.compile(r"(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific)"
                    r"(?:/[A-Za-z0-9_+-]+){1,2}|UTC|Etc/UTC")


@functools.lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """A declared zone (IANA name of a place): UTC when none, when it names no place (see
    `_PLACE`), or when this machine does not know it."""
    if not name or not _PLACE.fullmatch(name):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


# The rules read the local year and the deadline days of every statement of a recompute,
# nearly all in a few years and zones: each zone's year last read, and the deadline days,
# are kept (a date conversion costs about a microsecond; the lookup a tenth of it). Bounded:
# emptied when they hold more than `_KEPT` (dates are a stranger's to choose).
_KEPT = 4096
_SPANS = 4  # the years kept per zone (a statement's own and its activity's, alternating)
# zone -> its last years read, each (from, to, year): ms in [from, to) is in that year
_YEARS: dict[tzinfo, list[tuple[int, int, int]]] = {}
_DAY_ENDS: dict[tuple[int, int, int, tzinfo], int] = {}


def local_year(ms: int, tz: tzinfo) -> int:
    """The calendar year of a time in a zone (10000 beyond the calendar)."""
    spans = _YEARS.get(tz)
    if spans is not None:
        for start, end, kept in spans:
            if start <= ms < end:
                return kept
    try:
        year = (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz).year
    except (OverflowError, ValueError):
        return 10_000
    if 1 < year < 9999:
        # The year's span, a day short at each end: inside it, the year is this one whatever
        # the zone's offset or its changes at new year (never a day).
        span = (_midnight(date(year, 1, 1), tz) + DAY_MS,
                _midnight(date(year + 1, 1, 1), tz) - DAY_MS, year)
        if spans is None:
            if len(_YEARS) >= _KEPT:
                _YEARS.clear()
            spans = _YEARS[tz] = []
        if len(spans) >= _SPANS:
            del spans[0]
        spans.append(span)
    return year


def local_date(ms: int, tz: tzinfo) -> str:
    """A time as a local date and time, naming the zone."""
    try:
        when = (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)
    except (OverflowError, ValueError):
        return f"{ms} ms"
    return when.strftime("%Y-%m-%d %H:%M ") + (str(tz) if tz is not UTC else "UTC")


def _midnight(day: date, tz: tzinfo) -> int:
    return (datetime(day.year, day.month, day.day, tzinfo=tz) - _EPOCH) // timedelta(milliseconds=1)


def day_end(year: int, month: int, day: int, tz: tzinfo, what: str) -> int | None:
    """End (ms, exclusive) of a local calendar day: the next local midnight. None out of the
    calendar; ConfigError when the figures name no date (`what`: their names)."""
    if not 1 <= year <= 9998:
        return None
    key = (year, month, day, tz)
    end = _DAY_ENDS.get(key)
    if end is not None:
        return end
    try:
        d = date(year, month, day)
    except ValueError:
        raise ConfigError(f"rules.{what}: {month}/{day} is not a calendar date") from None
    end = _midnight(d + timedelta(days=1), tz)
    if len(_DAY_ENDS) >= _KEPT:
        _DAY_ENDS.clear()
    _DAY_ENDS[key] = end
    return end


def calendar_due(year: int, fig: ViennaFigures, tz: tzinfo = UTC) -> int | None:
    """VD11 para 61: the calendar for `year` is sent by 15 November of the year before."""
    return day_end(year - 1, fig.calendar_due_month, fig.calendar_due_day, tz,
                   "calendar_due_month/day")


def exchange_due(year: int, fig: ViennaFigures, tz: tzinfo = UTC) -> int | None:
    """VD11 para 11: the exchange valid from 1 January of `year` is sent by 15 December."""
    return day_end(year - 1, fig.exchange_due_month, fig.exchange_due_day, tz,
                   "exchange_due_month/day")


@functools.lru_cache(maxsize=1024)
def _utc_year_start(year: int) -> int:
    return (datetime(min(max(year, 1), 9999), 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


def deadlines(body: object, ts: int, zone_name: str | None, fig: ViennaFigures) -> tuple[int, ...]:
    """The times at which the facts here about an own statement's author may change without a
    new statement (the beliefs engine re-evaluates the party's facts when one passes): the
    next annual exchange's deadline and, for a notification, the start of its activity's year
    (when the calendar and the constraints judge it)."""
    tz = zone(zone_name)
    out = [exchange_due(local_year(ts, tz) + 1, fig, tz)]
    if isinstance(body, Notification):
        out.append(_utc_year_start(local_year(body.start, tz)))
    return tuple(d for d in out if d is not None)


# -- activities ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity as its party notified it: the latest notification of each activity name
    (amendments supersede), several of them summed when split in one area and window."""

    parts: tuple[Signed[Notification], ...]  # by start
    total: Notification  # the first part with the counts summed
    year: int  # the local year of its start
    first: str = ""  # the first part's id (set from `parts`: the rules read it often)

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", self.parts[0].id)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.body.activity for p in self.parts)

    @property
    def at(self) -> int:
        """When the whole activity was notified (its last part)."""
        return max(p.ts for p in self.parts)


def _norm(area: str) -> str:
    """An area as the rules compare it: letters and digits only, compatibility forms and case
    aside ("Area 1", "area-1", "AREA  1." and its full-width letters are one area)."""
    # Areas repeat (a party's few, in every evaluation): the short ones are kept. Not the
    # long: a statement's area may hold 4,096 characters, and NFKC may make 15 of one.
    return _norm_short(area) if len(area) <= _NORM_KEPT else _normalized(area)


_NORM_KEPT = 64


def _normalized(area: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", area).casefold() if ch.isalnum())


_norm_short = functools.lru_cache(maxsize=4096)(_normalized)


def _sum(parts: Sequence[Signed[Notification]]) -> Notification:
    first = parts[0].body
    if len(parts) == 1:
        return first  # its own sum (most activities are one notification)
    return replace(
        first,
        troops=sum(p.body.troops for p in parts),
        tanks=sum(p.body.tanks for p in parts),
        acv=sum(p.body.acv for p in parts),
        artillery=sum(p.body.artillery for p in parts),
        amphibious=sum(p.body.amphibious for p in parts),
        sorties=sum(p.body.sorties for p in parts),
        start=min(p.body.start for p in parts),
        end=max(p.body.end for p in parts),
    )


def activities(
    notifications: Iterable[Signed[Notification]], fig: ViennaFigures, tz_of: Callable[[str], tzinfo]
) -> dict[str, list[Activity]]:
    """Each author's activities, by start: one per activity name (its latest notification), and
    those in one area (`_norm`) starting at most `split_window_days` after the previous one's
    start, or before the earlier ones end, summed into one."""
    latest: dict[tuple[str, str], Signed[Notification]] = {}
    for n in sorted(notifications, key=lambda n: (n.ts, n.id)):
        latest[(n.author, n.body.activity)] = n
    areas: dict[tuple[str, str], list[Signed[Notification]]] = defaultdict(list)
    for (author, _name), n in latest.items():
        areas[(author, _norm(n.body.area))].append(n)
    window = fig.split_window_days * DAY_MS
    out: dict[str, list[Activity]] = defaultdict(list)
    for (author, _area), ns in sorted(areas.items()):
        ns.sort(key=lambda n: (n.body.start, n.id))
        groups: list[list[Signed[Notification]]] = []
        for n in ns:
            # Within the window of the previous part's start, or while the group still runs
            # (parts staggered beyond the window but overlapping are one activity too).
            if groups and (n.body.start - groups[-1][-1].body.start <= window
                           or n.body.start <= max(p.body.end for p in groups[-1])):
                groups[-1].append(n)
            else:
                groups.append([n])
        tz = tz_of(author)
        for g in groups:
            total = _sum(g)
            out[author].append(Activity(tuple(g), total, local_year(total.start, tz)))
    for acts in out.values():
        acts.sort(key=lambda a: (a.total.start, a.first))
    return out


def _in_year(a: Activity) -> int:
    """When a fact about an activity is dated: when it was notified, not before its year
    begins (UTC: the period the desk files it under) nor after it ends."""
    return min(max(a.at, _utc_year_start(a.year)), _utc_year_start(a.year + 1) - 1)


def _fmt(n: Notification) -> str:
    parts = [f"{n.troops} troops"]
    if n.tanks:
        parts.append(f"{n.tanks} tanks")
    return " / ".join(parts)


def is_held(fig: ViennaFigures, year: int, due: int, first_ms: int | None, years_sent: Iterable[int]) -> bool:
    """Whether a party is held to having sent, by `due`, what it owes for `year` (never sending
    it is then a finding). From `absence_from_year` when set; else (0, the default) when this
    node holds the party's log from before the deadline (its first own statement, `first_ms`,
    precedes it: the party was on the network when it was due), or from the first year it
    sent one for here."""
    if fig.absence_from_year:
        return year >= fig.absence_from_year
    return (first_ms is not None and first_ms < due) or year >= min(years_sent, default=10_000)


# -- the rules -------------------------------------------------------------------------------


def _split(acts: Mapping[str, list[Activity]], fig: ViennaFigures, weight: float) -> Iterator[Evidence]:
    """Activities split to stay under the thresholds: their sum meets a notification or an
    observation threshold that no part meets alone, and the split spared the party what the
    sum required (42 days' notice, or observers)."""
    for author, items in acts.items():
        for a in items:
            if len(a.parts) < 2:
                continue
            # Evasion only when it spared the party what the sum required: notice 42 days
            # ahead (some part notified later), or observers (some part invited none).
            crossed = []
            if (is_notifiable(a.total, fig) and not any(is_notifiable(p.body, fig) for p in a.parts)
                    and not all(notice_ok(p.body, p.ts, fig) for p in a.parts)):
                crossed.append("notification")
            if (is_observable(a.total, fig) and not any(is_observable(p.body, fig) for p in a.parts)
                    and not all(p.body.observers_invited for p in a.parts)):
                crossed.append("observation")
            if not crossed:
                continue
            names = ", ".join(repr(x) for x in a.names)
            yield Evidence(
                author, "split_activity", weight, a.at, tuple(p.id for p in a.parts), (),
                f"{len(a.parts)} activities ({names}) in {a.total.area} starting within "
                f"{fig.split_window_days} days of each other: {_fmt(a.total)} together, at or "
                f"above the {' and '.join(crossed)} threshold{'s' if len(crossed) > 1 else ''} "
                f"that each stays under",
                True,
            )


def _calendar(
    acts: Mapping[str, list[Activity]],
    calendars: Sequence[Signed[Calendar]],
    now_ms: int,
    fig: ViennaFigures,
    tz_of: Callable[[str], tzinfo],
    w: Callable[[str], float],
    firsts: Mapping[str, int],
) -> Iterator[Evidence]:
    """VD11 para 61: the calendar for year Y by 15 November of Y - 1, announcing every
    notifiable activity of Y (alert activities excepted: they are unannounced by nature)."""
    by_year: dict[tuple[str, int], list[Signed[Calendar]]] = defaultdict(list)
    for c in sorted(calendars, key=lambda c: (c.ts, c.id)):
        by_year[(c.author, c.body.year)].append(c)
    for (author, year), cs in sorted(by_year.items()):
        tz = tz_of(author)
        due = calendar_due(year, fig, tz)
        if due is None:
            continue
        on_time = [c for c in cs if c.ts < due]
        if on_time:
            # One credit per author and year, for the coming year only (as the exchange's).
            c = on_time[0]
            if local_year(c.ts, tz) == year - 1:
                n = len(c.body.activities)
                yield Evidence(
                    author, "calendar_on_time", w("calendar_on_time"), c.ts, (c.id,), (),
                    f"calendar for {year} ({n} activit{'y' if n == 1 else 'ies'}) sent "
                    f"{local_date(c.ts, tz)}, before the deadline {local_date(due - 1, tz)}",
                    True,
                )
        else:
            c = cs[0]
            yield Evidence(
                author, "calendar_late", w("calendar_late"), due, (c.id,), (),
                f"calendar for {year} sent {local_date(c.ts, tz)}, "
                f"{(c.ts - due) / DAY_MS:.1f} days after the deadline {local_date(due - 1, tz)}",
                True,
            )
    for author, items in acts.items():
        tz = tz_of(author)
        for a in items:
            if all(p.body.type == "alert" for p in a.parts) or not is_notifiable(a.total, fig):
                continue
            due = calendar_due(a.year, fig, tz)
            if due is None or now_ms <= _utc_year_start(a.year):
                continue  # judged when the activity's year begins, its calendar due before
            sent = [c for c in by_year.get((author, a.year), ()) if c.ts < due]
            if not sent and not is_held(fig, a.year, due, firsts.get(author),
                                        (y for au, y in by_year if au == author)):
                continue  # no calendar, and not held to sending one
            names = set(a.names)
            listed = [x for x in sent[-1].body.activities if x.activity in names] if sent else []
            # VD11 para 68: one above 40,000 troops is carried out only if the calendar
            # announced it as such; a name listed small does not announce it.
            large = a.total.troops > fig.constraint_large_troops
            if any(not large or x.troops > fig.constraint_large_troops for x in listed):
                continue
            what = f"notified {a.total.type} {a.names[0]!r} ({_fmt(a.total)}) starting " \
                   f"{local_date(a.total.start, tz)}"
            ids: tuple[str, ...]
            if listed:
                note = (f"{what}: announced with {max(x.troops for x in listed)} troops in its "
                        f"calendar for {a.year} sent {local_date(sent[-1].ts, tz)}, at most "
                        f"{fig.constraint_large_troops}")
                ids = (a.first, sent[-1].id)
            elif sent:
                note = f"{what}: not in its calendar for {a.year} sent {local_date(sent[-1].ts, tz)}"
                ids = (a.first, sent[-1].id)
            else:
                note = f"{what}: no calendar for {a.year} sent by {local_date(due - 1, tz)}"
                ids = (a.first,)
            yield Evidence(author, "activity_not_in_calendar", w("activity_not_in_calendar"),
                           _in_year(a), ids, (), note, True)


def _constraints(
    acts: Mapping[str, list[Activity]], now_ms: int, fig: ViennaFigures, weight: float
) -> Iterator[Evidence]:
    """VD11 para 67 (Chapter VIII): one activity above the large thresholds in any three
    consecutive calendar years; six above the medium ones (and not above the large) a year,
    three of them above the big ones. A split activity counts once, summed."""
    for author, items in acts.items():
        large: list[Activity] = []
        medium: dict[int, list[Activity]] = defaultdict(list)
        big: dict[int, list[Activity]] = defaultdict(list)
        for a in items:
            t = a.total
            if not is_notifiable(t, fig):
                continue
            reasons: list[str] = []
            prior: list[Activity] = []
            is_large = t.troops > fig.constraint_large_troops or t.tanks > fig.constraint_large_tanks
            if is_large:
                recent = [b for b in large if b.year > a.year - fig.constraint_large_years]
                if recent:
                    reasons.append(
                        f"another activity above {fig.constraint_large_troops} troops or "
                        f"{fig.constraint_large_tanks} tanks within {fig.constraint_large_years} "
                        f"calendar years ({recent[-1].names[0]!r}, {recent[-1].year})"
                    )
                    prior.append(recent[-1])
                large.append(a)
            # Para 67.2-3: the six (three) are "more than 13,000 ... but not more than 40,000
            # troops or 900 tanks": a large activity is held by 67.1 alone.
            if not is_large and (t.troops > fig.constraint_medium_troops
                                 or t.tanks > fig.constraint_medium_tanks):
                held = medium[a.year]
                if len(held) >= fig.constraint_medium_per_year:
                    reasons.append(
                        f"activity {len(held) + 1} above {fig.constraint_medium_troops} troops or "
                        f"{fig.constraint_medium_tanks} tanks in {a.year} "
                        f"(at most {fig.constraint_medium_per_year})"
                    )
                    prior.extend(held)
                held.append(a)
            if not is_large and (t.troops > fig.constraint_big_troops
                                 or t.tanks > fig.constraint_big_tanks):
                held = big[a.year]
                if len(held) >= fig.constraint_big_per_year:
                    reasons.append(
                        f"activity {len(held) + 1} above {fig.constraint_big_troops} troops or "
                        f"{fig.constraint_big_tanks} tanks in {a.year} "
                        f"(at most {fig.constraint_big_per_year})"
                    )
                    prior.extend(held)
                held.append(a)
            if not reasons:
                continue
            if now_ms <= _utc_year_start(a.year):
                continue  # counted when its year begins
            ids = tuple(dict.fromkeys([a.first, *(b.first for b in prior)]))
            yield Evidence(
                author, "constraint_exceeded", weight, _in_year(a), ids, (),
                f"{a.total.type} {a.names[0]!r} ({_fmt(a.total)}) in {a.total.area}: "
                + "; ".join(reasons),
                True,
            )


def _exchanges(
    exchanges: Sequence[Signed[AnnualExchange]],
    own: Mapping[str, list[Signed[object]]],
    now_ms: int,
    fig: ViennaFigures,
    tz_of: Callable[[str], tzinfo],
    roles: Mapping[str, str],
    w: Callable[[str], float],
) -> Iterator[Evidence]:
    """VD11 para 11: the exchange valid from 1 January of Y is sent by 15 December of Y - 1.
    Sent later: `annual_exchange_late`, weighed by how late; never: `annual_exchange_missing`.
    The obligation holds for a state from the first deadline after its first own statement."""
    sent: dict[tuple[str, int], list[Signed[AnnualExchange]]] = defaultdict(list)
    for x in sorted(exchanges, key=lambda x: (x.ts, x.id)):
        sent[(x.author, local_year(x.body.valid_from, tz_of(x.author)))].append(x)
    full = fig.exchange_late_full_days
    for author, stmts in sorted(own.items()):
        if roles.get(author, "state") != "state" or not stmts:
            continue
        tz = tz_of(author)
        stmts = sorted(stmts, key=lambda s: (s.ts, s.id))
        first = stmts[0].ts
        now_year = local_year(now_ms, tz)
        for year in range(max(local_year(first, tz) + 1, now_year - LOOKBACK_YEARS), now_year + 2):
            due = exchange_due(year, fig, tz)
            if due is None or due <= first:
                continue
            xs = sent.get((author, year), [])
            if any(x.ts < due for x in xs):
                continue  # sent in time (credited by regime_exchange.annual_exchanges for the coming year)
            if xs:
                x = xs[0]
                days = (x.ts - due) / DAY_MS
                severity = 1.0 if full <= 0 else min(1.0, 0.25 + 0.75 * days / full)
                yield Evidence(
                    author, "annual_exchange_late", w("annual_exchange_late") * severity, due,
                    (x.id,), (),
                    f"annual exchange valid from 1 January {year} sent {local_date(x.ts, tz)}, "
                    f"{days:.1f} days after the deadline {local_date(due - 1, tz)} "
                    f"(severity {severity:.2f})",
                    True,
                )
            elif now_ms > due and is_held(fig, year, due, first,
                                          (y for au, y in sent if au == author)):
                after = next((s for s in stmts if s.ts >= due), None)
                before = [s for s in stmts if s.ts < due]
                anchor = after if after is not None else before[-1]
                held = (f"its log, held here past the deadline ({local_date(after.ts, tz)}), "
                        f"has none" if after is not None
                        else "none received here (its log is held only to before the deadline)")
                yield Evidence(
                    author, "annual_exchange_missing", w("annual_exchange_missing"), due,
                    (anchor.id,), (),
                    f"no annual exchange valid from 1 January {year} sent by the deadline "
                    f"{local_date(due - 1, tz)}: {held}",
                    after is not None,
                )


def _tz_of(zones: Mapping[str, str], party: str) -> tzinfo:
    return zone(zones.get(party))


def evidence(
    notifications: Sequence[Signed[Notification]],
    calendars: Sequence[Signed[Calendar]],
    exchanges: Sequence[Signed[AnnualExchange]],
    own: Iterable[Signed[object]],
    now_ms: int,
    fig: ViennaFigures,
    weight: Callable[[str], float],
    zones: Mapping[str, str],
    roles: Mapping[str, str],
) -> Iterator[Evidence]:
    """Every fact of this module. `own`: every statement whose author it concerns (its
    notifications, exchanges, calendars and answers): when a state's obligations began."""
    tz_of = partial(_tz_of, zones)
    acts = activities(notifications, fig, tz_of)
    by_author: dict[str, list[Signed[object]]] = defaultdict(list)
    for s in own:
        by_author[s.author].append(s)
    yield from _split(acts, fig, weight("split_activity"))
    firsts = {a: min(s.ts for s in ss) for a, ss in by_author.items()}
    yield from _calendar(acts, calendars, now_ms, fig, tz_of, weight, firsts)
    yield from _constraints(acts, now_ms, fig, weight("constraint_exceeded"))
    yield from _exchanges(exchanges, by_author, now_ms, fig, tz_of, roles, weight)
