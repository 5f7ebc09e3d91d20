"""Scenarios offline: every scenario file loads, and meets its expectations computed by the
same views the nodes serve, without processes (the testbed runs them for real); the scenario
format's steps, faults and checks are parsed and refused with clear errors."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import T0
from tests.harness.nodes import SCENARIOS
from tests.harness.scenarios import OneStore, offline, offline_run
from trustnet.analysis.views import NodeViews, Settings
from trustnet.clock import DAY_MS, ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.identity import Identity
from trustnet.store.sqlite import Store
from trustnet.testbed.cluster import NetworkState, NodeState
from trustnet.testbed.expect import Run, check, parse_check, wanted_views
from trustnet.testbed.loader import load_scenario
from trustnet.testbed.model import (
    Comparison,
    Converged,
    ForksHeld,
    Measure,
    Scenario,
    ScenarioError,
)
from trustnet.testbed.player import PartyRef, play
from trustnet.testbed.report import write_report
from trustnet.testbed.run import Progress

ALL_SCENARIOS = sorted(p.name for p in SCENARIOS.glob("*.toml"))








def series_of(scenario: Any, store: Store, ids: dict[str, Identity], origin: int,
              views: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    settings = Settings.from_config(NodeConfig())
    out: dict[str, Any] = {}
    end = origin + int(scenario.days * DAY_MS)
    wanted = wanted_views(scenario) if views is None else views
    for node in scenario.parties:
        views_ = NodeViews(store, ids[node].party_id, (), settings, ManualClock(end))
        out[node] = {p: views_.series(ids[p].party_id, origin, end, 12 * 3_600_000)
                     for n, p in wanted if n == node}
    return out


def offline_checks(name: str, *, plots: bool = False) -> tuple[Scenario, Run, list[Any],
                                                                OneStore, dict[str, str]]:
    """A scenario's expectations checked offline, its compared scenario's own too (named
    "compared: ..."). Convergence is a property of the network, left to the testbed."""
    compared: Run | None = None
    own: list[Any] = []
    scenario = load_scenario(SCENARIOS / name)
    if scenario.compare is not None:
        other = load_scenario(Path(scenario.compare))
        o_sc, o_store, o_ids, o_origin, _, o_faults = offline_run(other)
        views = wanted_views(other, plots=plots) | wanted_views(scenario, as_compared=True)
        o_pids = {p: i.party_id for p, i in o_ids.items()}
        compared = Run(o_sc, o_origin, series_of(o_sc, o_store, o_ids, o_origin, views), o_pids)
        own = [dataclasses.replace(r, what="compared: " + r.what)
               for r, cond in zip(check(o_sc, compared.series, o_origin, ids=o_pids,
                                        end=o_faults.state()), o_sc.conditions, strict=True)
               if not isinstance(cond, Converged)]
    scenario, store, ids, origin, entries, faults = offline_run(scenario)
    series = series_of(scenario, store, ids, origin, wanted_views(scenario, plots=plots))
    pids = {p: i.party_id for p, i in ids.items()}
    results = check(scenario, series, origin, ids=pids, end=faults.state(), compared=compared)
    kept = [r for r, cond in zip(results, scenario.conditions, strict=True)
            if not isinstance(cond, Converged)]
    run = Run(scenario, origin, series, pids, faults.state())
    return scenario, run, own + kept, faults, entries


# Each file is checked on its own, or through the scenario that compares with it.
CHECKED = ["demo.toml", "desk-year.toml", "demo-refused.toml", "partition.toml", "equivocation.toml",
           "tension-verified.toml", "cheap-talk.toml", "stranger-noise.toml",
           "verification-cycle.toml", "quiet-year.toml", "stolen-key.toml",
           "people-to-people.toml", "people-false-clarification.toml",  # issue 17
           "openskies-evaluation.toml"]  # issue 16 item 5 part B


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_every_scenario_file_loads_and_is_checked_here(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.steps and scenario.expectations
    assert len(scenario.conditions) == len(scenario.expectations)
    compared_by = [c for c in CHECKED if load_scenario(SCENARIOS / c).compare
                   == str((SCENARIOS / name).resolve())]
    assert name in CHECKED or compared_by, f"{name} is not checked offline: add it to CHECKED"


@pytest.mark.parametrize("name", CHECKED)
def test_the_scenarios_meet_their_expectations_offline(name: str, tmp_path: Path) -> None:
    scenario, run, results, _faults, entries = offline_checks(name, plots=name == "demo.toml")
    assert results and all(r.ok for r in results), [r.to_json() for r in results if not r.ok]
    if name == "demo.toml":
        files = write_report(tmp_path, scenario, run.origin_ms, run.series, results, [], entries)
        assert all(f.exists() for f in files)
        assert "all met" in (tmp_path / "report.md").read_text()


def test_the_variant_is_the_demo_with_the_refusal() -> None:
    demo = load_scenario(SCENARIOS / "demo.toml")
    refused = load_scenario(SCENARIOS / "demo-refused.toml")
    assert {s.id for s in demo.steps} - {s.id for s in refused.steps} == {
        "inspection-report", "attest-north-3", "attest-south-3"}
    response = next(s for s in refused.steps if s.id == "inspection-response")
    assert response.body["accept"] is False


def test_a_played_scenario_is_a_valid_signed_history() -> None:
    _scenario, store, ids, origin, entries = offline(SCENARIOS / "demo.toml")
    # 6 profiles, 6 exchanges, 30 trust statements, 9 story steps
    assert store.count() == 6 + 6 + 30 + 9 + 6  # and each party's next-key commitment
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
def test_bad_checks_are_named(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_check(text, ("north-1", "south-1"))


def test_bad_scenario_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('parties = ["a"]\n[[step]]\nid = "x"\nday = 1\nparty = "zz"\nkind = "trust"\nbody = {}\n')
    with pytest.raises(ScenarioError, match="unknown party"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no scenario file"):
        load_scenario(tmp_path / "missing.toml")


def test_suspicion_from_the_engines_evidence_equals_a_full_evaluation() -> None:
    from trustnet.analysis.views import verification_for
    from trustnet.feedback.signals import SuspicionView

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


# -- the format: faults and the new checks -------------------------------------------------

HEAD = '''
parties = ["north-1", "north-2", "south-1", "south-2"]
days = 20
[[step]]
id = "profile"
day = 0
party = "*"
kind = "profile"
body = { name = "{name}", role = "state", urls = ["{url:self}"] }
'''

TRUST = '''
[[step]]
id = "%s"
day = %s
party = "%s"
kind = "trust"
body = { subject = "{party:north-1}", level = 5 }
'''


def fault(sid: str, day: float, kind: str, extra: str = "") -> str:
    return f'\n[[step]]\nid = "{sid}"\nday = {day}\nfault = "{kind}"\n{extra}\n'


EQUIVOCATE = ('party = "south-2"\nkind = "trust"\nto = ["north-1"]\n'
              'body = { subject = "{party:north-1}", level = 5 }\n'
              'alt_body = { subject = "{party:north-1}", level = -5 }\n')


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(HEAD + text)
    return path


@pytest.mark.parametrize(
    ("text", "step", "message"),
    [
        (fault("f", 1, "flood", 'nodes = ["north-1"]'), "f", "unknown fault 'flood'"),
        (fault("f", 1, "stop"), "f", "needs nodes"),
        (fault("f", 1, "stop", "nodes = []"), "f", "non-empty list"),
        (fault("f", 1, "crash", 'nodes = ["north-9"]'), "f", "unknown party north-9"),
        (fault("f", 1, "heal", 'nodes = ["north-1"]'), "f", "unknown key"),
        (fault("f", 1, "heal"), "f", "no partition to heal"),
        (fault("f", 1, "restart", 'nodes = ["south-1"]'), "f", "south-1 is not stopped"),
        (fault("f", 1, "partition", 'nodes = ["north-1", "north-2", "south-1", "south-2"]'),
         "f", "not all of them"),
        (fault("f", 1, "stop", 'nodes = ["north-1", "north-2", "south-1", "south-2"]'),
         "f", "stops every node"),
        (fault("f", 1, "stop", 'nodes = ["south-1"]') + fault("g", 2, "crash", 'nodes = ["south-1"]'),
         "g", "south-1 is stopped already"),
        (fault("f", 1, "stop", 'nodes = ["south-1"]') + TRUST % ("t", 2, "south-1"),
         "t", "south-1's node is stopped"),
        (fault("f", 1, "crash", 'nodes = ["south-1"]') + TRUST % ("t", 2, "*"),
         "t", "south-1's node is stopped"),
        (fault("e", 1, "equivocate", EQUIVOCATE) + TRUST % ("t", 2, "south-2"),
         "t", "south-2 equivocated at step e"),
        (fault("e", 1, "equivocate", EQUIVOCATE.replace('["north-1"]', '["north-1", "north-2", '
                                                       '"south-1"]')),
         "e", "no running node is left to get alt_body"),
        (fault("e", 1, "equivocate", EQUIVOCATE.replace('["north-1"]', '["south-2"]')),
         "e", "own node always keeps"),
        (fault("e", 1, "equivocate", EQUIVOCATE.replace("level = -5", "level = 5")),
         "e", "differs from body"),
        (fault("e", 1, "equivocate", EQUIVOCATE.replace('alt_body', 'other_body')),
         "e", "unknown key"),
        (fault("e", 1, "equivocate", EQUIVOCATE.replace('kind = "trust"', 'kind = "rumour"')),
         "e", "unknown statement kind 'rumour'"),
        (TRUST % ("t", 1, "north-1") + TRUST % ("t", 2, "north-2"), "t", "used twice"),
        (TRUST.replace('kind = "trust"', 'kind = "trust"\nnodes = ["x"]') % ("t", 1, "north-1"),
         "t", "unknown key"),
        (TRUST.replace("day = %s", 'day = "soon"') % ("t", "north-1"), "t", "needs a day"),
    ],
)
def test_bad_steps_are_refused_naming_the_step(tmp_path: Path, text: str, step: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=f"step {step}: .*{message}") as err:
        load_scenario(scenario_file(tmp_path, text))
    assert err.value.code == "bad_scenario"


def test_fault_steps_are_read(tmp_path: Path) -> None:
    text = (fault("cut", 2, "partition", 'nodes = ["south-1", "south-2"]')
            + TRUST % ("t1", 3, "north-2") + TRUST % ("t2", 3, "south-1")
            + fault("crash", 4, "crash", 'nodes = ["north-2"]')
            + fault("back", 6, "restart", 'nodes = ["north-2"]')
            + fault("heal", 8, "heal") + fault("two", 9, "equivocate", EQUIVOCATE)
            + fault("off", 10, "stop", 'nodes = ["north-2"]'))
    scenario = load_scenario(scenario_file(tmp_path, text))
    faults = {s.id: s for s in scenario.steps if s.fault}
    assert [(s.id, s.fault, s.nodes) for s in faults.values()] == [
        ("cut", "partition", ("south-1", "south-2")), ("crash", "crash", ("north-2",)),
        ("back", "restart", ("north-2",)), ("heal", "heal", ()), ("two", "equivocate", ("north-1",)),
        ("off", "stop", ("north-2",))]
    two = faults["two"]
    assert (two.party, two.kind, two.body["level"], two.alt_body) == (
        "south-2", "trust", 5, {"subject": "{party:north-1}", "level": -5})
    assert scenario.down_at_end == ("north-2",)


def test_an_expectation_may_not_read_a_node_stopped_at_the_end(tmp_path: Path) -> None:
    text = fault("off", 1, "stop", 'nodes = ["north-2"]') + (
        '[[expect]]\nwhat = "x"\ncheck = "suspicion.level(north-2, south-1) @ end > 0"\n')
    with pytest.raises(ScenarioError, match="reads node north-2, which is stopped at the end"):
        load_scenario(scenario_file(tmp_path, text))


PARTIES = ("north-1", "south-1", "south-2")
STEPS = {"cut": 10.0, "heal": 20.0}


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("forks(*) has south-2", ForksHeld("*", "south-2")),
        ("not forks(north-1) has south-1", ForksHeld("north-1", "south-1", negate=True)),
        ("converged", Converged()),
        ("not converged @ heal", Converged("heal", negate=True)),
        ("regime(north-1, south-1) @ 60 == escalating",
         Comparison(Measure("regime", "north-1", "south-1", "60"), "==", "escalating")),
        ("suspicion.regime(north-1, south-1) @ cut != compared:regime(north-1, south-1) @ cut",
         Comparison(Measure("suspicion.regime", "north-1", "south-1", "cut"), "!=",
                    Measure("regime", "north-1", "south-1", "cut", run="compared"))),
        ("belief.reliability(north-1, south-2) @ end == 0",
         Comparison(Measure("belief.reliability", "north-1", "south-2", "end"), "==", 0.0)),
        ("suspicion.level(north-1, south-1) @ 12.5 < compared:suspicion.level(north-1, south-1) @ end",
         Comparison(Measure("suspicion.level", "north-1", "south-1", "12.5"), "<",
                    Measure("suspicion.level", "north-1", "south-1", "end", run="compared"))),
        # the existing syntax is unchanged
        ("suspicion.level(north-1, south-1) @ 46 > suspicion.level(north-1, south-1) @ 44",
         Comparison(Measure("suspicion.level", "north-1", "south-1", "46"), ">",
                    Measure("suspicion.level", "north-1", "south-1", "44"))),
    ],
)
def test_checks_are_parsed(text: str, parsed: Any) -> None:
    ctx = {"parties": PARTIES, "steps": STEPS}
    assert parse_check(text, PARTIES, steps=STEPS, compared=ctx) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("forks(*) has south-9", "unknown party 'south-9'"),
        ("forks(north-9) has south-1", "unknown party 'north-9'"),
        ("converged @ nowhere", "no step 'nowhere'"),
        ("regime(north-1, south-1) @ 5 > escalating", "compared with == or !="),
        ("regime(north-1, south-1) @ 5 == spiralling", "one of escalating"),
        ("suspicion.level(north-1, south-1) @ 5 == escalating", "a number is compared"),
        ("suspicion.level(north-1, south-1) @ 5 < compared:suspicion.level(north-1, south-1) @ 5",
         "sets no `compare`"),
        ("suspicion.level(north-1, south-1) @ nowhere > 0", "day must be a number, 'end' or a step"),
    ],
)
def test_bad_new_checks_are_named(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_check(text, PARTIES, steps=STEPS)


def state(**nodes: tuple[tuple[tuple[str, int, str], ...], frozenset[str]]) -> NetworkState:
    return NetworkState({n: NodeState(h, f, len(h)) for n, (h, f) in nodes.items()})


def synthetic(tmp_path: Path, checks: list[str], compare: bool = False) -> Scenario:
    """Four parties, a partition from day 5 to 10, these checks (and a compared scenario)."""
    (tmp_path / "other.toml").write_text(HEAD)
    path = tmp_path / "s.toml"
    path.write_text(("compare = 'other.toml'\n" if compare else "") + HEAD
                    + fault("cut", 5, "partition", 'nodes = ["south-1"]') + fault("heal", 10, "heal")
                    + "".join(f'[[expect]]\nwhat = "w{i}"\ncheck = "{c}"\n'
                              for i, c in enumerate(checks)))
    return load_scenario(path)


def samples(*points: tuple[float, float, str]) -> list[dict[str, Any]]:
    return [{"t": int(d * DAY_MS), "level": lv, "escalation_index": 0.0, "regime": rg,
             "compliance": 0.5, "reliability": lv} for d, lv, rg in points]


def test_checks_are_evaluated_on_series_and_states(tmp_path: Path) -> None:
    scenario = synthetic(tmp_path, [
        "forks(*) has south-2", "forks(north-1) has south-2", "not forks(*) has south-1",
        "converged", "not converged @ heal", "converged @ cut",
        "regime(north-1, south-1) @ 6 == escalating", "regime(north-1, south-1) @ end == stable",
        "suspicion.level(north-1, south-1) @ end == 0", "suspicion.level(north-1, south-1) @ heal > 0.2",
    ])
    agreed = ((("a", 1, "x"),), frozenset({"S2"}))
    apart = ((("a", 2, "y"),), frozenset({"S2"}))
    series = {"north-1": {"south-1": samples((0, 0.0, "stable"), (5, 0.3, "escalating"),
                                             (15, 0.0, "stable"))}}
    results = check(scenario, series, 0, ids={"south-1": "S1", "south-2": "S2"},
                    end=state(**{"north-1": agreed, "north-2": agreed, "south-1": apart}),
                    snapshots={"cut": state(a=agreed, b=agreed), "heal": state(a=agreed, b=apart)})
    got = [(r.check, r.ok, r.left) for r in results]
    assert got == [
        ("forks(*) has south-2", True, "3/3 nodes"),
        ("forks(north-1) has south-2", True, "1/1 nodes"),
        ("not forks(*) has south-1", True, "0/3 nodes"),
        ("converged", False, "diverged (south-1 differs)"),
        ("not converged @ heal", True, "diverged (b differs)"),
        ("converged @ cut", True, "converged"),
        ("regime(north-1, south-1) @ 6 == escalating", True, "escalating"),
        ("regime(north-1, south-1) @ end == stable", True, "stable"),
        ("suspicion.level(north-1, south-1) @ end == 0", True, 0.0),
        ("suspicion.level(north-1, south-1) @ heal > 0.2", True, 0.3),
    ]
    # Without the nodes' state, state checks fail and say why.
    bare = check(scenario, series, 0)
    assert not bare[0].ok and str(bare[0].left).startswith("not observed")
    assert not bare[4].ok and "before heal" in str(bare[4].left)


def test_compared_measurements_read_the_other_run(tmp_path: Path) -> None:
    scenario = synthetic(tmp_path, [
        "suspicion.level(north-1, south-1) @ end < compared:suspicion.level(north-1, south-1) @ end",
        "compared:regime(north-1, south-1) @ end == escalating",
    ], compare=True)
    assert scenario.compare == str((tmp_path / "other.toml").resolve())
    assert wanted_views(scenario, as_compared=True) == {("north-1", "south-1")}
    other = load_scenario(tmp_path / "other.toml")
    mine = {"north-1": {"south-1": samples((0, 0.1, "stable"))}}
    theirs = Run(other, 0, {"north-1": {"south-1": samples((0, 0.5, "escalating"))}})
    assert [r.ok for r in check(scenario, mine, 0, compared=theirs)] == [True, True]
    worse = Run(other, 0, {"north-1": {"south-1": samples((0, 0.05, "stable"))}})
    assert [r.ok for r in check(scenario, mine, 0, compared=worse)] == [False, False]
    assert not any(r.ok for r in check(scenario, mine, 0))  # no compared run: not observed


def test_a_scenario_compares_with_one_other_only(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("compare = 'b.toml'\n" + HEAD)
    (tmp_path / "b.toml").write_text("compare = 'a.toml'\n" + HEAD)
    with pytest.raises(ScenarioError, match="compares with none"):
        load_scenario(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text("compare = 'c.toml'\n" + HEAD)
    with pytest.raises(ScenarioError, match="compares with none"):
        load_scenario(tmp_path / "c.toml")


def test_faults_are_played_in_order_on_a_settled_network() -> None:
    _scenario, store, _ids, _origin, _entries, faults = offline_run(SCENARIOS / "partition.toml")
    kinds = [k for k, _ in faults.log]
    # Each fault comes after the network settled.
    assert kinds == ["settle", "partition", "settle", "crash", "settle", "restart", "settle",
                     "partition"]
    assert faults.log[1] == ("partition", ("north-3", "south-3"))
    assert faults.log[-1] == ("partition", ())
    assert store.count() == 6 + 6 + 30 + 9 + 1 + 6  # the demo, north-3's observation, commitments


def test_an_equivocation_is_two_entries_at_one_seq_and_a_fork_proof() -> None:
    _scenario, store, ids, origin, entries, faults = offline_run(SCENARIOS / "equivocation.toml")
    first = store.get(bytes.fromhex(entries["two-notifications"]))
    assert first is not None
    second_id = entries["two-notifications:alt"]
    (proof,) = store.forks()
    assert proof.author == ids["south-2"].public_key and proof.seq == first.seq
    assert {proof.a.id_hex, proof.b.id_hex} == {first.id_hex, second_id}
    assert {proof.a.body["troops"], proof.b.body["troops"]} == {8000, 14000}
    assert first.ts == origin + 40 * DAY_MS
    delivered = [what for kind, what in faults.log if kind == "deliver"]
    assert delivered == [
        ("south-2", first.id_hex, ("south-2", "north-1", "north-2", "north-3")),
        ("south-2", second_id, ("south-1", "south-3"))]


def test_fault_steps_need_a_network() -> None:
    scenario = load_scenario(SCENARIOS / "partition.toml")
    refs = {p: PartyRef("ab" * 32, "http://x.invalid", lambda k, b, t: {"id": "cd" * 32})
            for p in scenario.parties}
    with pytest.raises(ScenarioError, match="step cut: fault 'partition' needs a network") as err:
        play(scenario, refs, T0)
    assert err.value.code == "bad_scenario"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal() -> None:
    stream = FakeTty()
    ticks = iter(range(100))
    bar = Progress(stream, clock=lambda: float(next(ticks)))
    bar.phase("playing", 4)
    bar.advance("day 1 north-1 trust")
    bar.advance("day 2 south-1 trust")
    bar.note("== a line of its own")
    bar.advance("day 3")
    bar.end()
    text = stream.getvalue()
    assert "\r\x1b[Kplaying [##########..........] 2/4" in text
    assert "day 2 south-1 trust\r\x1b[K== a line of its own\n" in text
    assert text.endswith("3/4   4.0 s  day 3\n")  # redrawn under the note at 3.0 s
    assert text.count("\n") == 2  # the note and the end: the bar itself never scrolls


def test_progress_is_plain_lines_elsewhere() -> None:
    lines: list[str] = []
    ticks = iter(range(100))
    bar = Progress(io.StringIO(), log=lines.append, clock=lambda: float(next(ticks)))
    assert not bar.tty
    bar.phase("sampling", 2)
    bar.advance("north-1 sees south-1")
    bar.note("== done")
    bar.advance("north-2 sees south-1")
    assert lines == ["  [1/2   1.0 s] north-1 sees south-1", "== done",
                     "  [2/2   2.0 s] north-2 sees south-1"]


def test_the_report_shows_faults_and_the_comparison(tmp_path: Path) -> None:
    scenario, run, results, _faults, entries = offline_checks("tension-verified.toml")
    other = load_scenario(Path(scenario.compare or ""))
    o_sc, o_store, o_ids, o_origin, _, _ = offline_run(other)
    views = {("north-1", "south-1"), ("north-2", "south-1")}  # enough lines for a plot
    compared = Run(o_sc, o_origin, series_of(o_sc, o_store, o_ids, o_origin, views))
    files = write_report(tmp_path, scenario, run.origin_ms, run.series, results, [], entries,
                         compared=compared, compared_report="compared/report.md")
    names = sorted(f.name for f in files)
    assert names == ["compare-south-1.png", "report.md", "series.json", "south-1.png"]
    assert (tmp_path / "compare-south-1.png").stat().st_size > 20_000
    report = (tmp_path / "report.md").read_text()
    assert "## Compared with: Tension, unverified" in report
    assert "![compare-south-1](compare-south-1.png)" in report
    assert "| ok | verification damps suspicion" in report

    # A scenario with faults lists them with what the nodes held before each.
    p_sc, _store, _ids, p_origin, p_entries, p_faults = offline_run(SCENARIOS / "partition.toml")
    snaps = {s.id: p_faults.state() for s in p_sc.steps if s.fault}
    out = tmp_path / "p"
    write_report(out, p_sc, p_origin, {}, [], [], p_entries, end=p_faults.state(), snapshots=snaps)
    text = (out / "report.md").read_text()
    assert "| 44 | partition | north-3, south-3 | all nodes agree (58 entries) |" in text
    assert "| 60 | heal | - |" in text
    assert "| 46.2 | south-2 | fault: crash | |" in text
