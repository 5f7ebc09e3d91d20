"""Issue 16 item 5, part A: the calendar, Chapter VIII constraints, the annual exchange late or
missing, split activities and time zones (trustnet/statements/regime_calendar.py), and the desk
rows they give (trustnet/desk/compliance.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.harness.rules import World, one, rules
from trustnet.desk.compliance import compliance_rows
from trustnet.log.entry import Entry
from trustnet.statements.figures import DAY_MS, ViennaFigures
from trustnet.statements.kinds import parse_body
from trustnet.statements.regime_calendar import zone
from trustnet.statements.rules import analyse
from trustnet.trust.beliefs import compute_beliefs


def ms(y: int, m: int, d: int, h: int = 0, tz: Any = UTC) -> int:
    return int(datetime(y, m, d, h, tzinfo=tz).timestamp() * 1000)


START = ms(2026, 6, 1)
NOTIFIED = START - 50 * DAY_MS  # in time
LATER = ms(2026, 9, 1)
NEW = ("calendar_on_time", "calendar_late", "activity_not_in_calendar", "constraint_exceeded",
       "split_activity", "annual_exchange_late", "annual_exchange_missing")


def new_rules(evidence: list[Any]) -> list[str]:
    return [r for r in rules(evidence) if r in NEW]


def calendar(w: World, name: str, ts: int, year: int, *activities: str) -> Entry:
    planned = [{"activity": a, "start": ms(year, 6, 1), "end": ms(year, 6, 10), "troops": 10_000}
               for a in activities]
    return w.post(name, "calendar", {"year": year, "activities": planned}, ts)


def big(w: World, name: str, i: int, troops: int, start: int = START, **kw: Any) -> Entry:
    return w.notify(name, start - 50 * DAY_MS, activity=f"Ex-{i}", area=f"Area {i}", start=start,
                    end=start + 5 * DAY_MS, troops=troops, observers=True, **kw)


# -- the calendar -----------------------------------------------------------------------------


def test_an_announced_activity_meets_the_calendar() -> None:
    w = World()
    c = calendar(w, "south-1", ms(2025, 11, 1), 2026, "Shield-26")
    big(w, "south-1", 0, 12_000)  # "Ex-0": not announced
    w.notify("south-1", NOTIFIED, activity="Shield-26", start=START, troops=12_000, observers=True)
    ev = w.evaluate(LATER)
    assert one(ev, "calendar_on_time").entries == (c.id_hex,)
    missing = one(ev, "activity_not_in_calendar")  # Ex-0 only: Shield-26 was announced
    assert "'Ex-0'" in missing.note and missing.entries[1] == c.id_hex
    assert missing.at == NOTIFIED and missing.verifiable and missing.sources == ()


def test_no_calendar_is_a_finding_once_the_party_is_held_to_one() -> None:
    w = World()
    big(w, "south-1", 0, 12_000)
    assert new_rules(w.evaluate(LATER)) == []  # never sent a calendar: not held (figure 0)
    held = w.evaluate(LATER, figures=ViennaFigures(absence_from_year=2026))
    e = one(held, "activity_not_in_calendar")
    assert len(e.entries) == 1 and "no calendar for 2026 sent by 2025-11-15" in e.note
    # Sent one the year before: held to it from then on.
    calendar(w, "south-1", ms(2024, 11, 1), 2025)
    assert "activity_not_in_calendar" in rules(w.evaluate(LATER))


def test_a_state_that_never_sends_a_calendar_or_an_exchange_does_not_escape() -> None:
    # Review of issue 16 part A: held from the first year this node holds the party's log
    # (by default), not only from the first year it sent one (which a state that sends
    # none would never reach).
    w = World()
    big(w, "south-1", 0, 10_000, start=ms(2025, 9, 1))  # on the network in July 2025
    big(w, "south-1", 1, 12_000)  # 2026: no calendar by 15 November 2025, none ever
    ev = w.evaluate(LATER)
    missing = one(ev, "activity_not_in_calendar")
    assert "'Ex-1'" in missing.note and "no calendar for 2026 sent by 2025-11-15" in missing.note
    gone = one(ev, "annual_exchange_missing")
    assert "1 January 2026" in gone.note and gone.verifiable
    # A party whose log starts after the deadline is not held to it (it was not here).
    late = World()
    big(late, "south-1", 1, 12_000)
    assert new_rules(late.evaluate(LATER)) == []


def test_a_large_activity_listed_small_is_not_announced() -> None:
    # Review: VD11 para 68: an activity above 40,000 troops only if the calendar announced
    # it; a calendar listing every name at 10,000 troops would otherwise announce anything.
    w = World()
    c = calendar(w, "south-1", ms(2025, 11, 1), 2026, "Ex-0", "Ex-1")  # 10,000 troops each
    big(w, "south-1", 0, 45_000)
    big(w, "south-1", 1, 30_000, start=START + 40 * DAY_MS)  # below 40,000: listed is enough
    e = one(w.evaluate(LATER), "activity_not_in_calendar")
    assert "'Ex-0'" in e.note and "announced with 10000 troops" in e.note
    assert e.entries[1] == c.id_hex


def test_late_calendar_and_alerts() -> None:
    w = World()
    c = calendar(w, "south-1", ms(2025, 11, 20), 2026)
    w.notify("south-1", START, type="alert", start=START, troops=20_000, observers=True)
    ev = w.evaluate(LATER)
    late = one(ev, "calendar_late")
    assert late.entries == (c.id_hex,) and late.at == ms(2025, 11, 16) and "4.0 days after" in late.note
    assert "activity_not_in_calendar" not in rules(ev)  # an alert is unannounced by nature


def test_an_activity_of_next_year_is_judged_when_its_year_begins() -> None:
    w = World()
    calendar(w, "south-1", ms(2025, 11, 1), 2026)  # held; nothing announced for 2027
    big(w, "south-1", 0, 12_000, start=ms(2027, 2, 1))
    assert "activity_not_in_calendar" not in rules(w.evaluate(ms(2026, 12, 20)))
    assert "activity_not_in_calendar" in rules(w.evaluate(ms(2027, 1, 2),
                                                          figures=ViennaFigures(absence_from_year=2026)))


# -- Chapter VIII -----------------------------------------------------------------------------


def test_six_medium_activities_a_year_three_of_them_big() -> None:
    w = World()
    for i in range(7):
        big(w, "south-1", i, 26_000 if i < 4 else 14_000, start=START + i * 20 * DAY_MS)
    ev = [e for e in w.evaluate(ms(2026, 12, 31)) if e.rule == "constraint_exceeded"]
    assert len(ev) == 2
    fourth, seventh = ev
    assert "'Ex-3'" in fourth.note and "activity 4 above 25000 troops" in fourth.note
    assert "'Ex-6'" in seventh.note and "activity 7 above 13000 troops" in seventh.note
    assert len(seventh.entries) == 7 and fourth.verifiable


def test_one_large_activity_in_three_calendar_years() -> None:
    w = World()
    big(w, "south-1", 0, 45_000, start=ms(2026, 5, 1))
    big(w, "south-1", 1, 10_000, tanks=950, start=ms(2028, 5, 1))  # above 900 tanks
    big(w, "south-1", 2, 41_000, start=ms(2031, 5, 1))  # three years on: allowed
    ev = [e for e in w.evaluate(ms(2031, 12, 1)) if e.rule == "constraint_exceeded"]
    assert len(ev) == 1 and "'Ex-1'" in ev[0].note and "'Ex-0'" in ev[0].note


def test_a_large_activity_is_not_one_of_the_six() -> None:
    # Review: VD11 para 67.2 counts activities above 13,000 troops "but not more than 40,000
    # troops or 900 tanks"; a large one is held by para 67.1 only.
    w = World()
    for i in range(6):
        big(w, "south-1", i, 26_000 if i < 3 else 14_000, start=START + i * 20 * DAY_MS)
    big(w, "south-1", 6, 45_000, start=START + 6 * 20 * DAY_MS)
    assert "constraint_exceeded" not in rules(w.evaluate(ms(2026, 12, 31)))


# -- split activities ---------------------------------------------------------------------------


def test_activities_split_under_the_threshold_are_summed() -> None:
    w = World()
    for i in range(3):  # 3 x 5,000 troops in one area within a week, notified 10 days ahead
        w.notify("south-1", START - 10 * DAY_MS, activity=f"Part-{i}", area=" southern  PLAIN",
                 start=START + i * 3 * DAY_MS, end=START + (i * 3 + 2) * DAY_MS, troops=5_000)
    w.notify("south-1", START - 10 * DAY_MS, activity="Far", area="Southern Plain",
             start=START + 30 * DAY_MS, end=START + 31 * DAY_MS, troops=5_000)  # outside the window
    e = one(w.evaluate(LATER), "split_activity")
    assert len(e.entries) == 3 and "15000 troops together" in e.note
    assert "notification and observation thresholds" in e.note
    # Notified in time with observers invited, the same parts evade nothing.
    ok = World()
    for i in range(3):
        ok.notify("south-1", START - 50 * DAY_MS, activity=f"Part-{i}", start=START + i * DAY_MS,
                  troops=5_000, observers=True)
    assert "split_activity" not in rules(ok.evaluate(LATER))


def test_a_split_cannot_hide_behind_punctuation_or_a_staggered_start() -> None:
    # Review of issue 16 part A: areas named apart by punctuation or full-width letters, and
    # parts starting beyond the window while the first still runs, are one activity.
    w = World()
    for i, area in enumerate(["Area 1", "area-1.", "\uff21rea 1"]):
        w.notify("south-1", START - 10 * DAY_MS, activity=f"Part-{i}", area=area,
                 start=START + i * 10 * DAY_MS, end=START + 25 * DAY_MS, troops=5_000)
    e = one(w.evaluate(LATER), "split_activity")
    assert len(e.entries) == 3 and "15000 troops together" in e.note


# -- the annual exchange -----------------------------------------------------------------------


def test_a_late_exchange_is_weighed_by_how_late() -> None:
    w = World()
    w.exchange("south-1", ms(2025, 3, 1), 2025)  # held to the exchange from 2025
    x = w.exchange("south-1", ms(2025, 12, 21), 2026)  # 5 days late
    late = one(w.evaluate(ms(2026, 1, 10)), "annual_exchange_late")
    severity = 0.25 + 0.75 * 5 / 90
    assert late.entries == (x.id_hex,) and late.at == ms(2025, 12, 16)
    assert late.weight == pytest.approx(-0.50 * severity) and f"severity {severity:.2f}" in late.note
    w2 = World()
    w2.exchange("south-1", ms(2025, 3, 1), 2025)
    w2.exchange("south-1", ms(2026, 6, 1), 2026)  # 167 days late: as heavy as missing
    assert one(w2.evaluate(ms(2026, 7, 1)), "annual_exchange_late").weight == pytest.approx(-0.50)


def test_a_missing_exchange_is_verifiable_only_past_the_deadline_in_the_log() -> None:
    w = World()
    w.exchange("south-1", ms(2025, 3, 1), 2025)
    assert "annual_exchange_missing" not in rules(w.evaluate(ms(2025, 12, 15, 23)))  # not yet
    gone = one(w.evaluate(ms(2025, 12, 17)), "annual_exchange_missing")
    assert not gone.verifiable and "none received here" in gone.note
    n = big(w, "south-1", 0, 10_000, start=ms(2026, 3, 1))  # signed 2026-01-10: past the deadline
    proven = one(w.evaluate(ms(2026, 1, 20)), "annual_exchange_missing")
    assert proven.verifiable and proven.entries == (n.id_hex,) and proven.at == ms(2025, 12, 16)


# -- time zones -------------------------------------------------------------------------------


def test_dates_are_read_in_the_party_zone() -> None:
    vienna = ZoneInfo("Europe/Vienna")
    w = World()
    w.exchange("south-1", ms(2025, 3, 1), 2025)
    # 1 January 2027 at local midnight in Vienna is 31 December 2026 23:00 UTC.
    body = parse_body("annual_exchange", {"valid_from": ms(2027, 1, 1, 0, vienna), "units": []})
    x = w.post("south-1", "annual_exchange", {"valid_from": ms(2027, 1, 1, 0, vienna), "units": []},
               ms(2026, 12, 15, 23, vienna) + 30 * 60_000)  # 23:30 local: 22:30 UTC, in time
    assert body.valid_from == x.body["valid_from"]
    parsed = [(e, parse_body(e.kind, e.body)) for e in w.entries]
    now = ms(2027, 1, 5)
    zoned = analyse(parsed, now, zones={w.party("south-1"): "Europe/Vienna"}).evidence
    assert "annual_exchange_on_time" in rules(zoned) and "annual_exchange_late" not in rules(zoned)
    assert "2026-12-15 23:59 Europe/Vienna" in one(zoned, "annual_exchange_on_time").note
    # Read in UTC the same exchange is valid from 2026: 2027's is then missing.
    assert "annual_exchange_on_time" not in rules(analyse(parsed, now).evidence)
    # An unknown zone reads as UTC.
    assert rules(analyse(parsed, now, zones={w.party("south-1"): "Mars/Olympus"}).evidence) == \
        rules(analyse(parsed, now).evidence)


def test_a_zone_that_names_no_place_reads_as_utc() -> None:
    # Review of issue 16 part A: the reading machine's own zone would have nodes read one
    # party's deadline apart; a fixed offset of -12 hours would buy a day's half on every
    # deadline beyond any participating state's capital; "right/" is off by leap seconds.
    for name in ("localtime", "posixrules", "Factory", "Etc/GMT+12", "right/Europe/Vienna",
                 "posix/Europe/Vienna", "../zoneinfo/Europe/Vienna", "Europe/Vienna ", "a\x00b",
                 "Europe/" + "x" * 300):
        assert zone(name) is UTC, name
    assert str(zone("Europe/Vienna")) == "Europe/Vienna"
    assert str(zone("America/Argentina/Buenos_Aires")) == "America/Argentina/Buenos_Aires"
    w = World()
    w.post("south-1", "profile", {"name": "south-1", "role": "state", "urls": [],
                                  "zone": "Etc/GMT+12"}, ms(2025, 1, 1))
    c = calendar(w, "south-1", ms(2025, 11, 16, 6), 2026)  # 15 Nov 18:00 at UTC-12: late
    b = compute_beliefs(w.entries, w.party("north-1"), LATER)
    got = [x for x in b.parties[w.party("south-1")].raw.evidence if x.rule == "calendar_late"]
    assert len(got) == 1 and got[0].entries == (c.id_hex,) and "UTC" in got[0].note


def test_profile_zone_reaches_the_rules_through_the_beliefs_engine() -> None:
    vienna = ZoneInfo("Europe/Vienna")
    w = World()
    w.post("south-1", "profile", {"name": "south-1", "role": "state", "urls": [],
                                  "zone": "Europe/Vienna"}, ms(2025, 1, 1))
    w.exchange("south-1", ms(2025, 3, 1), 2025)
    w.post("south-1", "annual_exchange", {"valid_from": ms(2027, 1, 1, 0, vienna), "units": []},
           ms(2026, 12, 15, 23, vienna))
    b = compute_beliefs(w.entries, w.party("north-1"), ms(2027, 1, 5))
    got = b.parties[w.party("south-1")].raw.evidence
    assert "annual_exchange_on_time" in [c.rule for c in got]
    assert not any("2027" in c.note for c in got if c.rule == "annual_exchange_missing")


# -- the desk ---------------------------------------------------------------------------------


def test_compliance_rows_for_the_new_obligations_pending_and_not_applicable() -> None:
    w = World()
    calendar(w, "south-1", ms(2025, 11, 1), 2026)  # announces nothing
    w.exchange("south-1", ms(2025, 12, 1), 2026)
    big(w, "south-1", 0, 12_000)
    for i in range(1, 8):
        big(w, "south-1", i, 14_000, start=START + i * 15 * DAY_MS)
    b = compute_beliefs(w.entries, w.party("north-1"), ms(2026, 11, 1))
    rows = {(r.obligation, r.year): r for r in compliance_rows(b)
            if r.party == w.party("south-1")}
    assert rows[("calendar", 2026)].status == "breached"  # sent, but announcing nothing
    assert rows[("constraints", 2026)].status == "breached"
    assert rows[("constraints", 2026)].verified_by == (w.party("south-1"),)  # its own signatures
    assert rows[("annual_exchange", 2026)].status == "met"
    # The coming year's exchange and calendar are due later: pending, resting on no fact.
    pending = rows[("annual_exchange", 2027)]
    assert pending.status == "pending" and pending.findings == () and not pending.verified
    assert pending.due == ms(2026, 12, 16)
    assert rows[("calendar", 2027)].status == "pending" and rows[("calendar", 2027)].due == ms(2026, 11, 16)
    # A year passed with nothing notifiable and no calendar: not applicable.
    quiet = World()
    quiet.exchange("south-1", ms(2025, 12, 1), 2026)
    b = compute_beliefs(quiet.entries, quiet.party("north-1"), ms(2026, 12, 20))
    statuses = {(r.obligation, r.year): r.status for r in compliance_rows(b)}
    assert statuses[("calendar", 2026)] == "not_applicable"
    assert statuses[("annual_exchange", 2027)] == "missing"


def test_only_short_areas_are_kept_normalised() -> None:
    # A stranger's notifications may name 4,096-character areas, and NFKC may make 15
    # characters of one (U+FDFA): those are normalised each time, never kept.
    from trustnet.statements import regime_calendar as rc

    before = rc._norm_short.cache_info().currsize
    long_area = "\ufdfa" * 4000 + " Area 1"
    assert rc._norm(long_area) == rc._normalized(long_area)
    assert rc._norm_short.cache_info().currsize == before
    assert rc._norm("AREA  1.") == rc._norm("area-1") == "area1"
    assert rc._norm_short.cache_info().currsize <= before + 2


def test_local_years_and_deadline_days_kept_read_as_computed_afresh() -> None:
    """The year last read in each zone and the deadline days are kept: around every new year
    (to the millisecond), in zones of every offset and of changes of offset, the kept answers
    are the ones the zone database gives afresh, also once the bound on what is kept empties
    them."""
    import random
    from datetime import date, timedelta

    from trustnet.statements import regime_calendar as cal

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    zones = [UTC, *(ZoneInfo(n) for n in ("Pacific/Kiritimati", "Pacific/Apia", "America/St_Johns",
                                          "Asia/Kathmandu", "Europe/Kyiv", "Pacific/Pago_Pago"))]
    rng = random.Random(9)
    for _ in range(6):  # past the bound (4096 days and years kept) more than once
        for tz in zones:
            for year in rng.sample(range(1900, 2101), 8):
                new_year = int((datetime(year, 1, 1, tzinfo=tz) - epoch).total_seconds() * 1000)
                for ms in (new_year - 1, new_year, new_year + 1, new_year + rng.randrange(DAY_MS),
                           new_year - rng.randrange(2 * DAY_MS), new_year + 100 * DAY_MS):
                    want = (epoch + timedelta(milliseconds=ms)).astimezone(tz).year
                    assert cal.local_year(ms, tz) == want, (tz, ms)
                for month, day in ((11, 15), (12, 15), (2, 28)):
                    want_end = (datetime.combine(date(year, month, day) + timedelta(days=1),
                                                 datetime.min.time(), tz) - epoch)
                    got = cal.day_end(year, month, day, tz, "x")
                    assert got == want_end // timedelta(milliseconds=1), (tz, year, month)
        for _ in range(800):  # days past the bound
            cal.day_end(rng.randrange(1, 9999), 1, 1, UTC, "x")
    assert len(cal._DAY_ENDS) <= cal._KEPT and len(cal._YEARS) <= cal._KEPT
    with pytest.raises(Exception, match="not a calendar date"):
        cal.day_end(2025, 2, 30, UTC, "x")
    assert cal.local_year(10**18, UTC) == 10_000
