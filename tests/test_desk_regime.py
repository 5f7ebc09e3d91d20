"""The desk shows the observation, evaluation, incident and Open Skies obligations (issue 16
item 5 part B), over HTTP and the CLI, on a node holding configs/scenarios/openskies-evaluation.toml."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness.http import get
from tests.harness.nodes import demo_daemon
from trustnet.cli.main import main as cli_main


@pytest.fixture
async def north1(tmp_path: Path) -> Any:
    demo = demo_daemon(tmp_path, scenario_file="openskies-evaluation.toml")
    daemon, ids, origin = demo.daemon, demo.ids, demo.origin
    assert datetime.fromtimestamp(origin / 1000, UTC).year == 2025  # the file's fixed origin
    url = await daemon.start()
    async with aiohttp.ClientSession() as session:
        yield daemon, url, session, {p: i.party_id for p, i in ids.items()}, origin
    await daemon.stop()


async def test_the_new_obligations_in_compliance(north1: Any, capsys: Any) -> None:
    daemon, url, session, _ids, origin = north1
    year = datetime.fromtimestamp(origin / 1000, UTC).year
    status, data = await get(session, f"{url}/compliance?year={year}&limit=1000")
    assert status == 200, data
    rows = {(r["name"], r["obligation"]): r for r in data["rows"]}

    def rules(name: str, obligation: str) -> dict[str, str]:
        return {f["rule"]: f["status"] for f in rows[(name, obligation)]["findings"]}

    # The observed exercise: invited by statement, reported consistent by the observers.
    assert rows[("south-2", "observation_invitation")]["status"] == "met"
    assert rules("south-2", "prior_notification")["observers_report_consistent"] == "met"
    # Evaluation visits: one accepted within the quota of one, found as declared; the
    # second refused beyond the quota, which is no breach.
    visits = rows[("south-1", "evaluation_visits")]
    assert visits["status"] == "met" and visits["verified"]
    assert rules("south-1", "evaluation_visits") == {
        "evaluation_accepted": "met", "evaluation_consistent": "met",
        "evaluation_refused_beyond_quota": "not_applicable"}
    # Open Skies: south-1 accepted, south-2 refused within its quota; north-2 shared its
    # data with south-1 and never answered south-3.
    assert rows[("south-1", "openskies_flights")]["status"] == "met"
    assert rows[("south-2", "openskies_flights")]["status"] == "breached"
    assert rows[("north-2", "sensor_data")]["status"] == "missing"
    assert rules("north-2", "sensor_data") == {"sensor_data_shared": "met",
                                                "sensor_data_not_shared": "missing"}
    # The unanswered incident escalated twice; the long alert went unobserved.
    incident = rows[("south-3", "incident_consultation")]
    assert incident["status"] == "missing"
    assert [f["rule"] for f in incident["findings"]] == ["incident_unanswered", "incident_escalated"]
    assert "all participating states" in incident["findings"][1]["note"]
    assert rows[("south-3", "observation_invitation")]["status"] == "breached"
    assert rules("south-3", "observation_invitation") == {"alert_not_observed": "breached"}

    # One obligation at a time, and the CLI's table with a column per obligation shown.
    _, only = await get(session, f"{url}/compliance?obligation=openskies_flights&year={year}")
    assert {r["name"] for r in only["rows"]} == {"south-1", "south-2"}
    assert await asyncio.to_thread(cli_main, ["compliance", str(daemon.dir), "--year", str(year)]) == 0
    out = capsys.readouterr().out
    assert "evaluations" in out and "open skies" in out and "sensor data" in out
    assert "incidents" in out and "south-3" in out
