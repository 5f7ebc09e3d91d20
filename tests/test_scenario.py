"""Scenarios offline: the demo of DOMAIN.md and its variant meet their expectations, computed by
the same views the nodes serve, without processes (the testbed runs them for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import T0
from trustnet.clock import ManualClock
from trustnet.config import NodeConfig
from trustnet.identity import Identity
from trustnet.scenario import (
    DAY_MS,
    PartyRef,
    ScenarioError,
    check,
    load_scenario,
    origin_for,
    parse_check,
    play,
    write_report,
)
from trustnet.store import Store
from trustnet.views import NodeViews, Settings

SCENARIOS = Path(__file__).resolve().parent.parent / "configs" / "scenarios"


def offline(path: Path) -> tuple[Any, Store, dict[str, Identity], int, dict[str, str]]:
    """Play a scenario into one store holding every party's chain (what converged nodes hold)."""
    scenario = load_scenario(path)
    store = Store(None)
    ids = {p: Identity.from_seed(i.to_bytes(32, "big")) for i, p in enumerate(scenario.parties, 1)}

    def publisher(name: str) -> Any:
        def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
            e = store.append_own(ids[name], kind, body, ts)
            return {"id": e.id_hex, "seq": e.seq}
        return publish

    refs = {p: PartyRef(ids[p].party_id, f"http://{p}.invalid:1", publisher(p)) for p in scenario.parties}
    now = T0 + 200 * DAY_MS
    origin = origin_for(scenario, now)
    entries = play(scenario, refs, origin)
    return scenario, store, ids, origin, entries


def series_of(scenario: Any, store: Store, ids: dict[str, Identity], origin: int) -> dict[str, Any]:
    settings = Settings.from_config(NodeConfig())
    out: dict[str, Any] = {}
    end = origin + int(scenario.days * DAY_MS)
    for node in scenario.parties:
        views = NodeViews(store, ids[node].party_id, (), settings, ManualClock(end))
        out[node] = {p: views.series(ids[p].party_id, origin, end, 12 * 3_600_000)
                     for p in {scenario.focus}}
    return out


@pytest.mark.parametrize("name", ["demo.toml", "demo-refused.toml"])
def test_the_demo_scenarios_meet_their_expectations(name: str, tmp_path: Path):
    scenario, store, ids, origin, entries = offline(SCENARIOS / name)
    series = series_of(scenario, store, ids, origin)
    results = check(scenario, series, origin)
    assert results and all(r.ok for r in results), [r.to_json() for r in results if not r.ok]
    files = write_report(tmp_path, scenario, origin, series, results, [], entries)
    assert all(f.exists() for f in files)
    assert "all met" in (tmp_path / "report.md").read_text()


def test_the_variant_is_the_demo_with_the_refusal():
    demo = load_scenario(SCENARIOS / "demo.toml")
    refused = load_scenario(SCENARIOS / "demo-refused.toml")
    assert {s.id for s in demo.steps} - {s.id for s in refused.steps} == {
        "inspection-report", "attest-north-3", "attest-south-3"}
    response = next(s for s in refused.steps if s.id == "inspection-response")
    assert response.body["accept"] is False


def test_a_played_scenario_is_a_valid_signed_history():
    _scenario, store, ids, origin, entries = offline(SCENARIOS / "demo.toml")
    # 6 profiles, 6 exchanges, 30 trust statements, 9 story steps
    assert store.count() == 6 + 6 + 30 + 9
    report = store.get(bytes.fromhex(entries["inspection-report"]))
    assert report is not None and report.body["request"] == entries["inspection-request"]
    assert report.ts == origin + 49 * DAY_MS
    assert report.author == ids["north-1"].public_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suspicion.level(north-1, south-1) @ 5 >", "cannot read check"),
        ("suspicion.mood(north-1, south-1) @ 5 > 0", "unknown metric"),
        ("suspicion.level(north-9, south-1) @ 5 > 0", "unknown party"),
        ("suspicion.level(north-1, south-1) @ soon > 0", "day must be"),
    ],
)
def test_bad_checks_are_named(text: str, message: str):
    with pytest.raises(ScenarioError, match=message):
        parse_check(text, ("north-1", "south-1"))


def test_bad_scenario_files_are_clear_errors(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('parties = ["a"]\n[[step]]\nid = "x"\nday = 1\nparty = "zz"\nkind = "trust"\nbody = {}\n')
    with pytest.raises(ScenarioError, match="unknown party"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no scenario file"):
        load_scenario(tmp_path / "missing.toml")


def test_suspicion_from_the_engines_evidence_equals_a_full_evaluation():
    from trustnet.feedback.signals import SuspicionView
    from trustnet.views import verification_for

    scenario, store, ids, origin, _ = offline(SCENARIOS / "demo.toml")
    end = origin + int(scenario.days * DAY_MS)
    viewer = ids["north-1"].party_id
    views = NodeViews(store, viewer, (), Settings.from_config(NodeConfig()), ManualClock(end))
    beliefs, fast = views.current()
    slow = SuspicionView(viewer)
    slow.verification = verification_for(beliefs)
    slow.update(list(store.iter_all()), end)  # the rules run over every entry here
    assert {p: r.to_json() for p, r in fast.reports(end).items()} == {
        p: r.to_json() for p, r in slow.reports(end).items()}
