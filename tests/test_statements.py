"""Statement kinds, body schemas, Vienna figures and derived facts (trustnet/statements)."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import pytest

from trustnet.errors import ConfigError, EntryError
from trustnet.statements import (
    KINDS,
    AnnualExchange,
    InspectionReport,
    Notification,
    Observation,
    ViennaFigures,
    days_of_notice,
    is_notifiable,
    is_observable,
    notice_ok,
    parse_body,
    validate_body,
)
from trustnet.statements.figures import DAY_MS

PARTY = "ab" * 32
ENTRY = "cd" * 32
DIGEST = "ef" * 32
NOW = 1_767_225_600_000

VALID: dict[str, dict[str, Any]] = {
    "profile": {"name": "south-1", "role": "state", "urls": ["https://s1.example:7700"]},
    "annual_exchange": {
        "valid_from": NOW,
        "units": [{"unit": "1st Brigade", "location": "Southfield", "personnel": 4000,
                   "tanks": 90, "acv": 120, "artillery": 36, "aircraft": 0, "helicopters": 8}],
    },
    "calendar": {"year": 2026, "activities": [
        {"activity": "Steppe Eagle", "start": NOW, "end": NOW + DAY_MS, "troops": 9500}]},
    "notification": {
        "activity": "Steppe Eagle", "type": "exercise", "start": NOW, "end": NOW + DAY_MS,
        "area": "east", "troops": 12_500, "tanks": 250, "acv": 300, "artillery": 100,
        "amphibious": 0, "sorties": 40, "observers_invited": False,
    },
    "observation": {
        "subject": PARTY, "area": "east", "at": NOW, "troops": 20_000, "tanks": 350,
        "acv": 400, "artillery": 120, "method": "aerial", "confidence": 700,
        "evidence": [DIGEST], "activity": "Steppe Eagle",
    },
    "attestation": {"subject": ENTRY, "verdict": "confirm", "method": "inspection",
                    "confidence": 900, "evidence": [DIGEST], "note": "seen"},
    "trust": {"subject": PARTY, "level": -1000},
    "consultation_request": {"subject": PARTY, "concern": "why", "area": "east",
                             "activity": "Steppe Eagle"},
    "consultation_reply": {"request": ENTRY, "explanation": "below threshold"},
    "inspection_request": {"host": PARTY, "area": "east", "grounds": "observation"},
    "inspection_response": {"request": ENTRY, "accept": True, "reason": ""},
    "inspection_report": {
        "request": ENTRY, "host": PARTY, "troops": 16_000, "tanks": 320, "acv": 380,
        "artillery": 110, "verdict": "inconsistent", "evidence": [DIGEST],
        "activity": "Steppe Eagle",
    },
    "keys": {"next": DIGEST},
    "rotation": {"key": PARTY, "next": DIGEST, "compromised_since": 1_700_000_000_000},
    "contact": {"counterpart": PARTY, "type": "twinning", "at": NOW, "place": "Northtown",
                "people": 40},
    "clarification": {"subject": ENTRY, "what": "a rail transfer of empty wagons",
                      "evidence": [DIGEST]},
    # issue 16 item 5 part B
    "observation_invitation": {"notification": ENTRY, "activity": "Steppe Eagle", "area": "east",
                               "start": NOW, "end": NOW + DAY_MS, "observers_per_state": 2,
                               "reply_by": NOW - DAY_MS},
    "observation_acceptance": {"invitation": ENTRY, "host": PARTY, "observers": ["Col. A"]},
    "observers_report": {"invitation": ENTRY, "host": PARTY, "troops": 14_000, "tanks": 310,
                         "acv": 0, "artillery": 0, "verdict": "consistent",
                         "evidence": [DIGEST], "note": ""},
    "evaluation_request": {"host": PARTY, "unit": "1st Brigade", "area": "Southfield",
                           "grounds": "quota"},
    "evaluation_response": {"request": ENTRY, "accept": False, "reason": "quota used"},
    "evaluation_report": {"request": ENTRY, "host": PARTY, "unit": "1st Brigade",
                          "personnel": 4000, "tanks": 90, "acv": 120, "artillery": 36,
                          "verdict": "consistent", "evidence": [DIGEST]},
    "incident_report": {"subject": PARTY, "at": NOW, "area": "Black Sea",
                        "description": "close pass by a fighter"},
    "openskies_notice": {"observed": PARTY, "arrival": NOW, "entry_point": "Kubinka"},
    "openskies_response": {"notice": ENTRY, "accept": True, "reason": ""},
    "openskies_flight": {"notice": ENTRY, "observed": PARTY, "arrival": NOW, "start": NOW,
                         "end": NOW + DAY_MS, "route": "A-B-C", "sensors": ["optical", "sar"]},
    "sensor_data_request": {"flight": ENTRY, "observer": PARTY},
    "sensor_data_reply": {"request": ENTRY, "data": [DIGEST], "note": ""},
    "witnesses": {"witnesses": [PARTY], "receipts_needed": 1},
}


def _bad_body(kind: str, body: Any) -> EntryError:
    with pytest.raises(EntryError) as info:
        validate_body(kind, body)
    assert info.value.code == "bad_body"
    return info.value


def _fields(kind: str) -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(KINDS[kind]))


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_valid_body_parses_to_its_record(kind: str) -> None:
    record = parse_body(kind, VALID[kind])
    assert isinstance(record, KINDS[kind])
    # Lists become tuples in the frozen record; scalars are kept as they are.
    for name, value in VALID[kind].items():
        got = getattr(record, name)
        if isinstance(value, list):
            assert isinstance(got, tuple) and len(got) == len(value)
        else:
            assert got == value


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_missing_required_field_is_named(kind: str) -> None:
    required = [f.name for f in _fields(kind) if f.default is dataclasses.MISSING]
    assert required
    for name in required:
        body = {k: v for k, v in VALID[kind].items() if k != name}
        err = _bad_body(kind, body)
        assert err.message.startswith(f"{kind}.{name}: missing"), err.message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_optional_fields_may_be_absent_or_nil(kind: str) -> None:
    optional = [f.name for f in _fields(kind) if f.default is not dataclasses.MISSING]
    assert "ext" in optional
    absent = {k: v for k, v in VALID[kind].items() if k not in optional}
    validate_body(kind, absent)
    validate_body(kind, {**absent, **dict.fromkeys(optional)})


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_extra_field_is_named(kind: str) -> None:
    err = _bad_body(kind, {**VALID[kind], "zz_bogus": 1})
    assert err.message.startswith(f"{kind}.zz_bogus: unknown field"), err.message
    assert "ext" in err.message  # points the sender at the extension map


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ill_typed_field_is_named(kind: str) -> None:
    for f in _fields(kind):
        valid = VALID[kind].get(f.name)
        # A map is wrong for every field but ext; a list is wrong for ext.
        wrong: Any = [] if f.name == "ext" else {"not": "this"}
        err = _bad_body(kind, {**VALID[kind], f.name: wrong})
        assert err.message.startswith(f"{kind}.{f.name}: expected"), (f.name, valid, err.message)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ext_allows_any_extension(kind: str) -> None:
    ext = {"x": [1, -2, b"\x00", None, True, {"y": "z"}], "note": "free form"}
    record = parse_body(kind, {**VALID[kind], "ext": ext})
    assert record.ext == ext


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("notification", "troops", True),  # bool is not an int
        ("notification", "troops", -1),
        ("notification", "troops", "12500"),
        ("notification", "type", "snap"),
        ("notification", "type", 1),
        ("notification", "observers_invited", 0),
        ("notification", "area", "x" * 4097),
        ("notification", "activity", "x" * 257),
        ("notification", "start", -1),
        ("observation", "confidence", 1001),
        ("observation", "confidence", -1),
        ("observation", "subject", PARTY.upper()),
        ("observation", "subject", PARTY[:-2]),
        ("observation", "evidence", [DIGEST] * 65),
        ("observation", "evidence", "not a list"),
        ("observation", "method", "rumour"),
        ("attestation", "verdict", "maybe"),
        ("trust", "level", 1001),
        ("trust", "level", -1001),
        ("calendar", "year", 10_000),
        ("profile", "role", "king"),
        ("profile", "urls", ["ftp://x.example"]),
        ("profile", "urls", ["https://x.example"] * 17),
        ("profile", "name", b"bytes"),
        ("inspection_response", "accept", "yes"),
        ("inspection_report", "verdict", "fine"),
    ],
)
def test_bad_values_name_the_field(kind: str, field: str, value: Any) -> None:
    err = _bad_body(kind, {**VALID[kind], field: value})
    assert err.message.startswith(f"{kind}.{field}"), err.message


def test_range_edges_are_inclusive() -> None:
    for conf in (0, 1000):
        validate_body("observation", {**VALID["observation"], "confidence": conf})
    for level in (-1000, 1000):
        validate_body("trust", {**VALID["trust"], "level": level})
    for year in (1900, 9999):
        validate_body("calendar", {**VALID["calendar"], "year": year})
    validate_body("notification", {**VALID["notification"], "area": "x" * 4096})


def test_nested_record_errors_name_the_path() -> None:
    unit = {**VALID["annual_exchange"]["units"][0], "tanks": "many"}
    err = _bad_body("annual_exchange", {**VALID["annual_exchange"], "units": [unit]})
    assert err.message.startswith("annual_exchange.units[0].tanks: expected"), err.message
    unit = {k: v for k, v in VALID["annual_exchange"]["units"][0].items() if k != "location"}
    err = _bad_body("annual_exchange", {**VALID["annual_exchange"], "units": [unit]})
    assert err.message.startswith("annual_exchange.units[0].location: missing"), err.message
    act = {**VALID["calendar"]["activities"][0], "extra": 1}
    err = _bad_body("calendar", {**VALID["calendar"], "activities": [act]})
    assert err.message.startswith("calendar.activities[0].extra: unknown field"), err.message


def test_parse_body_gives_typed_nested_records() -> None:
    record = parse_body("annual_exchange", VALID["annual_exchange"])
    assert isinstance(record, AnnualExchange)
    assert record.units[0].tanks == 90
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.valid_from = 0  # type: ignore[misc]


def test_unknown_kind() -> None:
    with pytest.raises(EntryError) as info:
        validate_body("treaty", {})
    assert info.value.code == "unknown_kind"
    assert "treaty" in info.value.message


def test_nested_records_must_be_maps() -> None:
    err = _bad_body("annual_exchange", {**VALID["annual_exchange"], "units": [["unit"]]})
    assert err.message.startswith("annual_exchange.units[0]: expected a map"), err.message


def test_any_mapping_is_accepted_as_body() -> None:
    record = parse_body("trust", MappingProxyType(VALID["trust"]))
    assert record.subject == PARTY  # type: ignore[union-attr]


def test_mixed_type_unknown_keys_are_bad_body() -> None:
    _bad_body("trust", {**VALID["trust"], 1: "x", "zz": 2})


# -- derived facts -------------------------------------------------------------------------

ZERO_COUNTS = {"troops": 0, "tanks": 0, "acv": 0, "artillery": 0}


def notification(**kw: Any) -> Notification:
    body = {**VALID["notification"], **ZERO_COUNTS, "amphibious": 0, "sorties": 0, **kw}
    record = parse_body("notification", body)
    assert isinstance(record, Notification)
    return record


def observation(**kw: Any) -> Observation:
    record = parse_body("observation", {**VALID["observation"], **ZERO_COUNTS, **kw})
    assert isinstance(record, Observation)
    return record


def report(**kw: Any) -> InspectionReport:
    record = parse_body("inspection_report", {**VALID["inspection_report"], **ZERO_COUNTS, **kw})
    assert isinstance(record, InspectionReport)
    return record


FIG = ViennaFigures()
NOTIFY = {
    "troops": FIG.notify_troops,
    "tanks": FIG.notify_tanks,
    "acv": FIG.notify_acv,
    "artillery": FIG.notify_artillery,
    "amphibious": FIG.notify_amphibious,
}
OBSERVE = {
    "troops": FIG.observe_troops,
    "tanks": FIG.observe_tanks,
    "amphibious": FIG.observe_amphibious,
}


def test_vienna_defaults() -> None:
    # VD11 para 40 and 47 (DOMAIN.md table).
    assert NOTIFY == {"troops": 9000, "tanks": 250, "acv": 500, "artillery": 250,
                      "amphibious": 3000}
    assert FIG.notify_sorties == 200  # included in a notification, no trigger (para 40.1.2)
    assert OBSERVE == {"troops": 13_000, "tanks": 300, "amphibious": 3500}
    assert FIG.notify_days == 42


@pytest.mark.parametrize("field", sorted(NOTIFY))
def test_notifiable_at_and_just_below_each_threshold(field: str) -> None:
    assert is_notifiable(notification(**{field: NOTIFY[field]}))
    assert not is_notifiable(notification(**{field: NOTIFY[field] - 1}))


@pytest.mark.parametrize("field", ["troops", "tanks", "acv", "artillery"])
def test_notifiable_observations_and_reports(field: str) -> None:
    for make in (observation, report):
        assert is_notifiable(make(**{field: NOTIFY[field]}))
        assert not is_notifiable(make(**{field: NOTIFY[field] - 1}))


def test_nothing_is_notifiable_below_every_threshold() -> None:
    assert not is_notifiable(notification(**{k: v - 1 for k, v in NOTIFY.items()}))
    assert not is_observable(notification(**{k: v - 1 for k, v in OBSERVE.items()}))


@pytest.mark.parametrize("field", sorted(OBSERVE))
def test_observable_at_and_just_below_each_threshold(field: str) -> None:
    assert is_observable(notification(**{field: OBSERVE[field]}))
    assert not is_observable(notification(**{field: OBSERVE[field] - 1}))


def test_sorties_alone_do_not_make_an_activity_notifiable() -> None:
    # VD11 para 40.1.2: 200 sorties must be included in a notification, they trigger none.
    assert not is_notifiable(notification(sorties=FIG.notify_sorties * 10))


def test_observable_ignores_acv_artillery_and_sorties() -> None:
    assert not is_observable(notification(acv=10**6, artillery=10**6, sorties=10**6))


def test_observable_observations_and_reports() -> None:
    for make in (observation, report):
        assert is_observable(make(troops=13_000))
        assert not is_observable(make(troops=12_999, tanks=299))
        assert is_observable(make(tanks=300))


def test_just_under_the_threshold_scenario() -> None:
    # DOMAIN.md demo: 12,500 troops and 250 tanks notified: notifiable, not observable.
    n = notification(troops=12_500, tanks=250)
    assert is_notifiable(n) and not is_observable(n)


def test_custom_figures_move_thresholds() -> None:
    fig = ViennaFigures(notify_troops=100, observe_troops=200)
    assert is_notifiable(notification(troops=100), fig)
    assert not is_notifiable(notification(troops=99), fig)
    assert is_observable(notification(troops=200), fig)
    assert not is_observable(notification(troops=199), fig)


def test_days_of_notice() -> None:
    start = NOW + 42 * DAY_MS
    n = notification(start=start, end=start + DAY_MS)
    assert days_of_notice(n, NOW) == 42.0
    assert days_of_notice(n, start) == 0.0
    assert days_of_notice(n, start + DAY_MS // 2) == -0.5


def test_notice_ok_42_days() -> None:
    start = NOW + 42 * DAY_MS
    n = notification(type="exercise", start=start, end=start + DAY_MS)
    assert notice_ok(n, NOW)
    assert notice_ok(n, NOW - 1)
    assert not notice_ok(n, NOW + 1)  # 1 ms short of 42 days
    assert not notice_ok(n, start)
    for typ in ("transfer", "concentration"):
        assert not notice_ok(notification(type=typ, start=start, end=start), NOW + 1)
    assert notice_ok(n, NOW + DAY_MS, ViennaFigures(notify_days=41))


def test_notice_ok_alerts_are_notified_when_they_start() -> None:
    # VD11 para 41: alert activities are notified at the moment they start (one day of grace).
    start = NOW
    alert = notification(type="alert", start=start, end=start + DAY_MS)
    assert notice_ok(alert, start)
    assert notice_ok(alert, start - 42 * DAY_MS)
    assert notice_ok(alert, start + DAY_MS)
    assert not notice_ok(alert, start + DAY_MS + 1)


# -- figures from config -------------------------------------------------------------------


def test_from_mapping_overrides_defaults() -> None:
    fig = ViennaFigures.from_mapping({"notify_troops": 5000, "notify_days": 0})
    assert (fig.notify_troops, fig.notify_days) == (5000, 0)
    assert fig.notify_tanks == 250
    assert ViennaFigures.from_mapping({}) == ViennaFigures()


def test_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError) as info:
        ViennaFigures.from_mapping({"notify_trops": 5000})
    assert info.value.code == "bad_config"
    assert info.value.message.startswith("[rules] notify_trops: unknown setting")
    assert "notify_troops" in info.value.message  # lists the known figures


@pytest.mark.parametrize("value", [-1, "9000", 9000.0, True, None, [9000]])
def test_from_mapping_rejects_bad_values(value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        ViennaFigures.from_mapping({"notify_troops": value})
    assert info.value.code == "bad_config"
    assert info.value.message.startswith("[rules] notify_troops: expected an integer >= 0")
