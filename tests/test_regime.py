"""Observation, evaluation visits, incidents and Open Skies: the rules of issue 16 item 5 part B
(trustnet/statements/regime_*.py), one test per rule, on really signed statements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.harness.estimator import P, at, estimator, refusal, verified_cooperation
from tests.world import DIGEST, World as BaseWorld
from trustnet.log.entry import Entry
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS, HOUR_MS, ViennaFigures
from trustnet.statements.kinds import parse_body
from trustnet.statements.regime_common import EROSIVE_RULES as REGIME_EROSIVE
from trustnet.statements.regime_evaluation import quota
from trustnet.statements.rules import analyse, evaluate
from trustnet.trust.beliefs import BeliefEngine

T0 = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp() * 1000)  # the activity starts
ON_TIME = T0 - 42 * DAY_MS
LATER = T0 + 60 * DAY_MS


class World(BaseWorld):
    def notify(self, name: str, ts: int, *, type: str = "exercise", start: int = T0,
               end: int = T0 + 5 * DAY_MS, troops: int = 14_000, tanks: int = 0,
               observers: bool = False, activity: str = "Shield-25") -> Entry:
        return self.post(name, "notification", {
            "activity": activity, "type": type, "start": start, "end": end, "area": "Plain",
            "troops": troops, "tanks": tanks, "acv": 0, "artillery": 0, "amphibious": 0,
            "sorties": 0, "observers_invited": observers}, ts)

    def invite(self, name: str, n: Entry, ts: int) -> Entry:
        return self.post(name, "observation_invitation", {
            "notification": n.id_hex, "activity": n.body["activity"], "area": "Plain",
            "start": n.body["start"], "end": n.body["end"], "observers_per_state": 2,
            "reply_by": n.body["start"] - DAY_MS}, ts)

    def accept(self, name: str, inv: Entry, host: str, ts: int) -> Entry:
        return self.post(name, "observation_acceptance", {
            "invitation": inv.id_hex, "host": self.party(host), "observers": ["Col. A"]}, ts)

    def observers_report(self, name: str, inv: Entry, host: str, ts: int, troops: int,
                         verdict: str = "consistent") -> Entry:
        return self.post(name, "observers_report", {
            "invitation": inv.id_hex, "host": self.party(host), "troops": troops, "tanks": 0,
            "acv": 0, "artillery": 0, "verdict": verdict, "evidence": [DIGEST], "note": ""}, ts)

    def exchange(self, name: str, ts: int, year: int, units: int) -> Entry:
        valid_from = int(datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000)
        return self.post(name, "annual_exchange", {"valid_from": valid_from, "units": [
            {"unit": f"unit {i}", "location": "Southfield", "personnel": 800, "tanks": 90,
             "acv": 40, "artillery": 12, "aircraft": 0, "helicopters": 0}
            for i in range(units)]}, ts)

    def visit(self, name: str, host: str, ts: int, unit: str = "unit 0") -> Entry:
        return self.post(name, "evaluation_request", {
            "host": self.party(host), "unit": unit, "area": "Southfield", "grounds": "quota"}, ts)

    def answer(self, name: str, kind: str, ref: str, q: Entry, ts: int, accept: bool) -> Entry:
        return self.post(name, kind, {ref: q.id_hex, "accept": accept,
                                      "reason": "" if accept else "not now"}, ts)

    def evaluation_report(self, name: str, q: Entry, host: str, ts: int, tanks: int = 90,
                          unit: str = "unit 0") -> Entry:
        return self.post(name, "evaluation_report", {
            "request": q.id_hex, "host": self.party(host), "unit": unit, "personnel": 800,
            "tanks": tanks, "acv": 40, "artillery": 12, "verdict": "consistent",
            "evidence": [DIGEST]}, ts)

    def incident(self, name: str, subject: str, ts: int) -> Entry:
        return self.post(name, "incident_report", {
            "subject": self.party(subject), "at": ts - HOUR_MS, "area": "Black Sea",
            "description": "close pass by a fighter"}, ts)

    def notice(self, name: str, observed: str, ts: int, ahead_h: int = 96) -> Entry:
        return self.post(name, "openskies_notice", {
            "observed": self.party(observed), "arrival": ts + ahead_h * HOUR_MS,
            "entry_point": "Kubinka"}, ts)

    def flight(self, name: str, n: Entry, ts: int, hours_after: int = 48) -> Entry:
        arrival = n.body["arrival"]
        return self.post(name, "openskies_flight", {
            "notice": n.id_hex, "observed": n.body["observed"], "arrival": arrival,
            "start": arrival + 24 * HOUR_MS, "end": arrival + hours_after * HOUR_MS,
            "route": "A-B-C", "sensors": ["optical"]}, ts)

    def evaluate(self, now: int, **kw: Any) -> list[Evidence]:
        return evaluate(self.entries, now, **kw)


def rules(evidence: list[Evidence], party: str | None = None) -> list[str]:
    return sorted(e.rule for e in evidence if party is None or e.party == party)


def only(evidence: list[Evidence], rule: str) -> Evidence:
    found = [e for e in evidence if e.rule == rule]
    assert len(found) == 1, (rule, evidence)
    return found[0]


@pytest.fixture
def w() -> World:
    return World()


# -- observation -------------------------------------------------------------------------


def test_an_invitation_statement_in_time_meets_the_obligation(w: World) -> None:
    n = w.notify("south-1", ON_TIME)  # 14,000 troops: observable; the flag says no
    inv = w.invite("south-1", n, ON_TIME + DAY_MS)
    ev = w.evaluate(LATER)
    e = only(ev, "observation_invited")
    assert e.party == w.party("south-1") and e.entries == (n.id_hex, inv.id_hex) and e.verifiable
    assert "observers_not_invited" not in rules(ev)


def test_an_invitation_after_the_start_does_not_count(w: World) -> None:
    n = w.notify("south-1", ON_TIME)
    w.invite("south-1", n, T0 + HOUR_MS)
    w.invite("south-2", n, ON_TIME)  # nobody else can invite for south-1
    assert rules(w.evaluate(LATER)) == ["notification_on_time", "observers_not_invited"]


def test_an_alert_activity_over_72_hours_needs_an_invitation(w: World) -> None:
    w.notify("south-1", T0, type="alert", troops=20_000, observers=True)  # 5 days; the flag is not enough
    assert "alert_not_observed" not in rules(w.evaluate(T0 + 71 * HOUR_MS))
    e = only(w.evaluate(T0 + 73 * HOUR_MS), "alert_not_observed")
    assert e.party == w.party("south-1") and "120 h" in e.note and e.verifiable
    # Invited within 72 hours of its start: met.
    v = World()
    n = v.notify("south-1", T0, type="alert", troops=20_000)
    v.invite("south-1", n, T0 + 70 * HOUR_MS)
    assert rules(v.evaluate(LATER)) == ["notification_on_time", "observation_invited"]


def test_an_alert_activity_of_72_hours_or_less_needs_no_observers(w: World) -> None:
    w.notify("south-1", T0, type="alert", end=T0 + 72 * HOUR_MS, troops=20_000)
    assert rules(w.evaluate(LATER)) == ["notification_on_time"]


def test_observers_report_compared_with_the_notification(w: World) -> None:
    n = w.notify("south-1", ON_TIME, troops=12_500)  # under the observation threshold
    inv = w.invite("south-1", n, ON_TIME + DAY_MS)  # invited all the same
    acc = w.accept("north-2", inv, "south-1", ON_TIME + 2 * DAY_MS)
    ok = w.observers_report("north-2", inv, "south-1", T0 + DAY_MS, troops=12_700)
    e = only(w.evaluate(LATER), "observers_report_consistent")
    assert e.sources == (w.party("north-2"),) and e.entries[:3] == (ok.id_hex, inv.id_hex, acc.id_hex)
    # Found over the observation threshold the notification stayed under: an undercount,
    # whatever the verdict says.
    w.observers_report("north-2", inv, "south-1", T0 + 2 * DAY_MS, troops=16_000)
    bad = only(w.evaluate(LATER), "observers_report_undercount")
    assert "13000 troops" in bad.note and bad.verifiable
    # A report by a party that did not accept the invitation is not an observers' report.
    w.observers_report("north-3", inv, "south-1", T0 + DAY_MS, troops=30_000)
    assert rules(w.evaluate(LATER)).count("observers_report_undercount") == 1


# -- evaluation visits --------------------------------------------------------------------


def test_the_quota_is_one_visit_per_60_units_at_most_15() -> None:
    fig = ViennaFigures()
    assert [quota(u, fig) for u in (0, 1, 60, 61, 130, 900, 2000)] == [0, 1, 1, 2, 3, 15, 15]


def test_a_refusal_within_the_quota_is_a_breach_beyond_it_is_not(w: World) -> None:
    w.exchange("south-1", T0 - 200 * DAY_MS, 2025, units=61)  # quota 2
    visits = [w.visit(f"north-{i}", "south-1", T0 + i * DAY_MS) for i in (1, 2, 3)]
    refused = w.answer("south-1", "evaluation_response", "request", visits[0], T0 + DAY_MS + HOUR_MS, False)
    w.answer("south-1", "evaluation_response", "request", visits[1], T0 + 2 * DAY_MS + HOUR_MS, True)
    w.answer("south-1", "evaluation_response", "request", visits[2], T0 + 3 * DAY_MS + HOUR_MS, True)
    ev = w.evaluate(LATER)
    assert rules(ev) == ["annual_exchange_on_time", "evaluation_accepted", "evaluation_accepted",
                         "evaluation_refused"]
    e = only(ev, "evaluation_refused")
    assert e.entries == (visits[0].id_hex, refused.id_hex) and "quota 2 for 61 units" in e.note
    # A fourth visit once the two are used up: refused beyond the quota, not a breach.
    fourth = w.visit("north-4", "south-1", T0 + 5 * DAY_MS)
    w.answer("south-1", "evaluation_response", "request", fourth, T0 + 5 * DAY_MS + HOUR_MS, False)
    beyond = only(w.evaluate(LATER), "evaluation_refused_beyond_quota")
    assert beyond.weight == 0.0 and "no breach" in beyond.note


def test_an_unanswered_visit_is_refused_and_no_exchange_means_no_quota(w: World) -> None:
    q = w.visit("north-1", "south-1", T0)
    assert rules(w.evaluate(T0 + 47 * HOUR_MS)) == []
    e = only(w.evaluate(T0 + 49 * HOUR_MS), "evaluation_refused_beyond_quota")
    assert e.entries == (q.id_hex,) and not e.verifiable and "quota 0" in e.note
    w.exchange("south-1", T0 - 200 * DAY_MS, 2025, units=10)
    e = only(w.evaluate(T0 + 49 * HOUR_MS), "evaluation_refused")
    assert "did not answer" in e.note and not e.verifiable


def test_only_states_request_visits_and_give_notice_of_flights(w: World) -> None:
    w.exchange("south-1", T0 - 200 * DAY_MS, 2025, units=10)
    w.visit("ngo", "south-1", T0)
    w.notice("ngo", "south-1", T0)
    roles = {w.party("ngo"): "group"}
    assert rules(analyse_roles(w, T0 + 60 * DAY_MS, roles)) == ["annual_exchange_on_time"]
    # Without a declared role a party counts as a state (as for inspections).
    assert rules(w.evaluate(T0 + 60 * DAY_MS)) == ["annual_exchange_on_time",
                                                    "evaluation_refused", "openskies_refused"]


def analyse_roles(w: World, now: int, roles: dict[str, str]) -> list[Evidence]:
    parsed = [(e, parse_body(e.kind, e.body)) for e in w.entries]
    return analyse(parsed, now, roles=roles).evidence


def test_an_evaluation_report_is_compared_with_the_annual_exchange(w: World) -> None:
    w.exchange("south-1", T0 - 200 * DAY_MS, 2025, units=3)
    q = w.visit("north-1", "south-1", T0)
    w.answer("south-1", "evaluation_response", "request", q, T0 + HOUR_MS, True)
    w.evaluation_report("north-1", q, "south-1", T0 + DAY_MS, tanks=95)  # within 10 %
    assert "evaluation_consistent" in rules(w.evaluate(LATER))
    w.evaluation_report("north-1", q, "south-1", T0 + 2 * DAY_MS, tanks=120)
    e = only(w.evaluate(LATER), "evaluation_discrepancy")
    assert "120 tanks against 90 declared" in e.note and e.sources == (w.party("north-1"),)
    w.evaluation_report("north-2", q, "south-1", T0 + DAY_MS, tanks=500)  # not the requester
    w.evaluation_report("north-1", q, "south-1", T0 + 3 * DAY_MS, unit="ghost")
    assert "not in the annual exchange" in " ".join(
        e.note for e in w.evaluate(LATER) if e.rule == "evaluation_discrepancy")
    assert rules(w.evaluate(LATER)).count("evaluation_discrepancy") == 2


# -- incidents ----------------------------------------------------------------------------


def test_an_incident_report_answered_in_time(w: World) -> None:
    q = w.incident("north-1", "south-1", T0)
    r = w.post("south-1", "consultation_reply", {"request": q.id_hex, "explanation": "sorry"},
               T0 + 40 * HOUR_MS)
    e = only(w.evaluate(LATER), "incident_answered")
    assert e.entries == (q.id_hex, r.id_hex) and e.party == w.party("south-1")


def test_an_unanswered_incident_escalates_to_a_bilateral_then_an_all_states_meeting(w: World) -> None:
    q = w.incident("north-1", "south-1", T0)
    assert rules(w.evaluate(T0 + 47 * HOUR_MS)) == []
    e = only(w.evaluate(T0 + 49 * HOUR_MS), "incident_unanswered")
    assert e.entries == (q.id_hex,) and "bilateral meeting" in e.note and not e.verifiable
    assert "incident_escalated" not in rules(w.evaluate(T0 + 95 * HOUR_MS))
    up = only(w.evaluate(T0 + 97 * HOUR_MS), "incident_escalated")
    assert up.at == T0 + 96 * HOUR_MS and "all participating states" in up.note


def test_a_late_answer_stops_the_escalation_where_it_came(w: World) -> None:
    q = w.incident("north-1", "south-1", T0)
    r = w.post("south-1", "consultation_reply", {"request": q.id_hex, "explanation": "late"},
               T0 + 60 * HOUR_MS)
    ev = w.evaluate(LATER)
    assert rules(ev) == ["incident_unanswered"]
    assert only(ev, "incident_unanswered").entries == (q.id_hex, r.id_hex)
    v = World()
    q = v.incident("north-1", "south-1", T0)
    v.post("south-1", "consultation_reply", {"request": q.id_hex, "explanation": "very late"},
           T0 + 120 * HOUR_MS)
    assert rules(v.evaluate(LATER)) == ["incident_escalated", "incident_unanswered"]


# -- Open Skies ---------------------------------------------------------------------------


def test_open_skies_refusals_within_and_beyond_the_rules(w: World) -> None:
    s1 = w.party("south-1")
    ok = w.notice("north-1", "south-1", T0)
    w.answer("south-1", "openskies_response", "notice", ok, T0 + HOUR_MS, True)
    refused = w.notice("north-2", "south-1", T0 + DAY_MS)
    w.answer("south-1", "openskies_response", "notice", refused, T0 + DAY_MS + HOUR_MS, False)
    short = w.notice("north-3", "south-1", T0 + 2 * DAY_MS, ahead_h=48)
    w.answer("south-1", "openskies_response", "notice", short, T0 + 2 * DAY_MS + HOUR_MS, False)
    silent = w.notice("north-3", "south-1", T0 + 3 * DAY_MS)
    ev = w.evaluate(LATER)
    assert rules(ev, s1) == ["openskies_accepted", "openskies_notice_short", "openskies_refused",
                             "openskies_refused"]
    assert "48 h ahead, 72 h required" in only(ev, "openskies_notice_short").note
    unanswered = [e for e in ev if e.rule == "openskies_refused" and e.entries == (silent.id_hex,)]
    assert len(unanswered) == 1 and not unanswered[0].verifiable
    # A quota of one, used up by the first flight: the refusals are no breach.
    fig = ViennaFigures.from_mapping({"openskies_passive_quota": 1})
    assert "openskies_refused" not in rules(w.evaluate(LATER, figures=fig))
    assert rules(w.evaluate(LATER, figures=fig)).count("openskies_quota_exceeded") == 2


def test_a_flight_ends_within_96_hours_of_arrival(w: World) -> None:
    n = w.notice("north-1", "south-1", T0)
    w.flight("north-1", n, T0 + 10 * DAY_MS, hours_after=90)
    assert rules(w.evaluate(LATER), w.party("north-1")) == []
    late = w.flight("north-1", n, T0 + 10 * DAY_MS, hours_after=100)
    e = only(w.evaluate(LATER), "openskies_period_exceeded")
    assert e.party == w.party("north-1") and e.entries == (late.id_hex,)


def test_sensor_data_shared_on_request(w: World) -> None:
    n = w.notice("north-1", "south-1", T0)
    f = w.flight("north-1", n, T0 + 5 * DAY_MS)
    n1 = w.party("north-1")
    asks = [w.post(who, "sensor_data_request", {"flight": f.id_hex, "observer": n1}, T0 + 6 * DAY_MS)
            for who in ("south-1", "south-2", "south-3")]
    w.post("north-1", "sensor_data_reply", {"request": asks[0].id_hex, "data": [DIGEST], "note": ""},
           T0 + 8 * DAY_MS)
    w.post("north-1", "sensor_data_reply", {"request": asks[1].id_hex, "data": [], "note": "no"},
           T0 + 8 * DAY_MS)
    assert rules(w.evaluate(T0 + 20 * DAY_MS), n1) == ["sensor_data_declined", "sensor_data_shared"]
    e = only(w.evaluate(T0 + 37 * DAY_MS), "sensor_data_not_shared")
    assert e.entries == (asks[2].id_hex,) and e.party == n1


# -- the belief engine reads the same facts from its partitions ---------------------------


@pytest.mark.parametrize("story", [
    test_an_alert_activity_over_72_hours_needs_an_invitation,
    test_observers_report_compared_with_the_notification,
    test_a_refusal_within_the_quota_is_a_breach_beyond_it_is_not,
    test_an_evaluation_report_is_compared_with_the_annual_exchange,
    test_an_unanswered_incident_escalates_to_a_bilateral_then_an_all_states_meeting,
    test_open_skies_refusals_within_and_beyond_the_rules,
    test_sensor_data_shared_on_request,
], ids=lambda f: f.__name__[5:40])
def test_the_engine_partitions_give_what_the_rules_give(story: Any) -> None:
    """Every new kind is routed to the partition of the party its facts are about, with the
    deadlines after which they change: the engine's evidence is `evaluate`'s at any time."""
    w = World()
    story(w)
    w.incident("north-2", "south-2", T0)
    w.notify("south-3", T0, type="alert", troops=20_000, activity="snap")
    w.visit("north-3", "south-3", T0)
    engine = BeliefEngine(w.party("north-1"))
    engine.add(w.entries)
    times = (T0 + 20 * HOUR_MS, T0 + 50 * HOUR_MS, T0 + 73 * HOUR_MS, T0 + 97 * HOUR_MS,
             T0 + 37 * DAY_MS, LATER)
    for now in times:  # in order: each deadline crossed invalidates the partition's cache
        assert engine.evidence(now) == evaluate(w.entries, now), now
    rules_seen = {e.rule for e in engine.evidence(LATER)}
    assert {"incident_escalated", "alert_not_observed", "evaluation_refused_beyond_quota"} <= rules_seen


# -- the suspicion model ------------------------------------------------------------------


@pytest.mark.parametrize("rule", sorted(REGIME_EROSIVE))
def test_refusing_these_verifications_withdraws_goodwill_like_an_inspection(rule: str) -> None:
    coop = verified_cooperation(8.0)
    before = estimator(coop).report(P, at(9.0)).restraint
    like_inspection = estimator([*coop, refusal(8.5)]).report(P, at(9.0)).restraint
    assert estimator([*coop, refusal(8.5, rule)]).report(P, at(9.0)).restraint == like_inspection
    assert like_inspection < before
