"""Issue 17: `trustnet experiment`, the model's own test.

Deterministic for a seed, whatever the date (the clock is injected and only times the run)
and the number of jobs; its JSON's last line is one object with the points; its plot is
written; bad experiment files are refused with `bad_experiment`, naming the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trustnet.cli.main import main as trustnet_main
from trustnet.clock import ManualClock
from trustnet.experiment.cli import main
from trustnet.experiment.runner import run_experiment, wilson
from trustnet.experiment.spec import ExperimentError, parse_spec
from trustnet.experiment.world import generate, outcome

SMALL = """
name = "small"
seed = 5
runs = 3
days = 60
sample_days = 3
escalation_level = 0.2
settle_level = 0.05
[world]
people_per_state = 2
incidents = 2
real_share = 0.0
[sweep]
verification_share = [0.0, 1.0]
contacts_per_month = [0, 6]
"""


def _file(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_the_same_seed_gives_the_same_json_on_any_date_and_with_any_jobs(
    tmp_path: Path, capsys: Any
) -> None:
    path = _file(tmp_path)
    outs = []
    for clock, jobs in ((ManualClock(1_000), "1"), (ManualClock(4_000_000_000_000), "2")):
        assert main([str(path), "--json", "--jobs", jobs], clock=clock) == 0
        captured = capsys.readouterr()
        outs.append(captured.out.splitlines()[-1])
        assert "small: 12/12 worlds" in captured.err  # progress on stderr
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert data["experiment"] == "small" and data["seed"] == 5
    assert [p["params"] for p in data["points"]] == [
        {"verification_share": v, "contacts_per_month": c} for v in (0.0, 1.0) for c in (0.0, 6.0)]
    for p in data["points"]:
        assert p["runs"] == 3 and 0 <= p["escalations"] <= 3
        lo, hi = p["interval"]
        assert 0.0 <= lo <= p["escalation_rate"] <= hi <= 1.0
    # Imagined incidents only: verified, every false report is refuted and nothing escalates.
    assert all(p["escalations"] == 0 for p in data["points"]
               if p["params"]["verification_share"] == 1.0)
    assert json.loads(outs[0]) != {}  # one object, the last line


def test_another_seed_plays_other_worlds() -> None:
    spec = parse_spec({"seed": 1, "runs": 1, "days": 30, "sweep": {"incidents": [2]}})
    a, _, _ = generate(spec.points()[0], 30, 1, 0)
    b, _, _ = generate(spec.points()[0], 30, 2, 0)
    again, _, _ = generate(spec.points()[0], 30, 1, 0)
    assert [e.id for e in a] == [e.id for e in again] != [e.id for e in b]


def test_out_writes_the_json_the_table_and_the_plot(tmp_path: Path, capsys: Any) -> None:
    path = _file(tmp_path, SMALL.replace("runs = 3", "runs = 1"))
    out = tmp_path / "out"
    assert trustnet_main(["experiment", str(path), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| verification_share | contacts_per_month | runs |" in table
    data = json.loads((out / "result.json").read_text())
    assert len(data["points"]) == 4
    png = (out / "escalation.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "worlds/s" in (out / "result.md").read_text()


@pytest.mark.parametrize(("text", "named"), [
    ('runs = 3\nrunz = 4\n[sweep]\nincidents = [1]', "runz"),
    ('[sweep]\nverification_share = [1.5]', "verification_share"),
    ('[sweep]\nreal_share = []', "real_share"),
    ('[sweep]\nnope = [1]', "nope"),
    ('[world]\nblocs = 1\n[sweep]\nincidents = [1]', "blocs"),
    ('runs = 0\n[sweep]\nincidents = [1]', "runs"),
    ('[sweep]\nincidents = [1.5]', "incidents"),
    ('escalation_level = 0.1\nsettle_level = 0.3\n[sweep]\nincidents = [1]', "settle_level"),
    ('name = "x"', "sweep"),
    ('runs = "many"\n[sweep]\nincidents = [1]', "runs"),
])
def test_bad_experiment_files_are_refused_by_code(tmp_path: Path, capsys: Any, text: str,
                                                  named: str) -> None:
    assert main([str(_file(tmp_path, text))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("trustnet: error [bad_experiment]: ") and named in err
    with pytest.raises(ExperimentError) as exc:
        from trustnet.experiment.spec import load_spec
        load_spec(_file(tmp_path, text))
    assert exc.value.code == "bad_experiment"


def test_not_toml_is_a_bad_experiment(tmp_path: Path, capsys: Any) -> None:
    assert main([str(_file(tmp_path, "[[["))]) == 1
    assert "[bad_experiment]" in capsys.readouterr().err


def test_wilson_interval() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


def test_outcome_peak_escalation_and_settling() -> None:
    spec = parse_spec({"days": 20, "sample_days": 2, "escalation_level": 0.3,
                       "settle_level": 0.05, "sweep": {"incidents": [1]}})
    levels = [(2.0, 0.0), (4.0, 0.4), (6.0, 0.2), (8.0, 0.04), (10.0, 0.0)]
    o = outcome(levels, spec, 10)
    assert o.escalated and o.peak == 0.4 and o.settle_days == 4.0
    never = outcome([(2.0, 0.1), (4.0, 0.2)], spec, 3)
    assert not never.escalated and never.settle_days == 20 - 4.0  # censored at the end


def test_the_runner_reports_its_speed_without_it_entering_the_result() -> None:
    spec = parse_spec({"runs": 2, "days": 20, "sweep": {"incidents": [1]}})
    clock = ManualClock(0)

    def tick(done: int, total: int) -> None:
        clock.advance(500)

    result, timing = run_experiment(spec, clock=clock, progress=tick)
    assert timing.runs == 2 and timing.seconds == 1.0 and timing.runs_per_s == 2.0
    assert "seconds" not in json.dumps(result.to_json())
