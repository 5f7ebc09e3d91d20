"""The analyst's desk: compliance by obligation over HTTP and the CLI (issue 16), on a node
holding the demo story (six parties: tests/test_views.py's north1)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from tests.harness.http import get
from tests.harness.nodes import init_node
from trustnet.cli.main import main as cli_main
from trustnet.clock import DAY_MS
from trustnet.desk.compliance import OBLIGATIONS, STATUSES


async def test_compliance_rows_come_from_the_rules_facts(north1):
    _daemon, url, session, ids, _origin = north1
    status, data = await get(session, url + "/compliance")
    assert status == 200, data
    assert data["node"] == ids["north-1"].party_id
    assert [o["name"] for o in data["obligations"]] == list(OBLIGATIONS)
    rows = data["rows"]
    assert rows and data["total"] == len(rows) and data["next"] is None
    names = {r["name"] for r in rows}
    assert {"south-1", "north-2"} <= names
    for r in rows:
        assert r["status"] in STATUSES and r["obligation"] in OBLIGATIONS
        if r["status"] in ("pending", "not_applicable"):  # rest on no fact (desk.compliance.fill)
            assert not r["findings"] and not r["entries"] and not r["verified"]
            continue
        assert r["entries"] and r["findings"]
        assert r["status"] == min((f["status"] for f in r["findings"]), key=STATUSES.index)
        if r["verified"]:
            assert r["verified_by"]
    # Every row is one of the rule engine's facts, as the beliefs hold them.
    _, beliefs = await get(session, url + "/beliefs")
    facts = {(p["party"], c["rule"], tuple(c["entries"]))
             for p in beliefs["parties"] for c in p["raw"]["evidence"]}
    for r in rows:
        for f in r["findings"]:
            assert (r["party"], f["rule"], tuple(f["entries"])) in facts
    south1 = ids["south-1"].party_id
    by = {(r["party"], r["obligation"]): r for r in rows}
    # The demo's south-1 understated an exercise that an inspection it accepted found (a
    # breach, verified: the inspectors' report confirmed by a quorum of attesters), and
    # accepted that inspection: met, verified by its own signed acceptance.
    breach = by[(south1, "prior_notification")]
    assert breach["status"] == "breached" and breach["verified"]
    assert {ids["south-3"].party_id, ids["north-3"].party_id} <= set(breach["verified_by"])
    assert by[(south1, "inspection_quota")]["status"] == "met"
    assert by[(south1, "inspection_quota")]["verified"]

    # Filters and paging.
    _, one = await get(session, url + f"/compliance?party={south1}&status=breached")
    assert one["rows"] and all(r["party"] == south1 and r["status"] == "breached" for r in one["rows"])
    year = rows[0]["year"]
    _, by_year = await get(session, url + f"/compliance?year={year}&obligation=annual_exchange")
    assert by_year["rows"] and all(r["year"] == year for r in by_year["rows"])
    _, page = await get(session, url + "/compliance?offset=1&limit=2")
    assert page["rows"] == rows[1:3] and page["total"] == len(rows) and page["next"] == 3

    # Bad input: stable codes.
    for query, status_code, code in (("year=20x6", 400, "bad_argument"),
                                     ("year=99999", 400, "bad_argument"),
                                     ("year=1200", 400, "bad_argument"),
                                     ("status=fine", 400, "bad_argument"),
                                     ("obligation=open_skies", 400, "unknown_obligation"),
                                     ("party=" + "ab" * 32, 404, "unknown_party")):
        got, err = await get(session, url + "/compliance?" + query)
        assert (got, err["error"]["code"]) == (status_code, code), (query, err)


async def test_cli_compliance_on_a_url_and_a_directory(north1, capsys):
    daemon, url, session, ids, _origin = north1
    _, remote = await get(session, url + "/compliance?limit=1000")
    for target in (url, str(daemon.dir)):
        assert await asyncio.to_thread(cli_main, ["compliance", target, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["rows"] == remote["rows"]
    assert await asyncio.to_thread(cli_main, ["compliance", url, "--party", ids["south-1"].party_id]) == 0
    out = capsys.readouterr().out
    assert "south-1" in out and "breached" in out and "north-2" not in out
    assert await asyncio.to_thread(cli_main, ["compliance", str(daemon.dir), "--year", "1999"]) == 0
    assert "no obligation facts" in capsys.readouterr().out
    assert await asyncio.to_thread(cli_main, ["compliance", url, "--party", "ab" * 32]) != 0
    assert "unknown_party" in capsys.readouterr().err


async def test_an_entry_shows_who_attested_it_and_its_standing(north1):
    _daemon, url, session, _ids, _origin = north1
    _, page = await get(session, url + "/entries?kind=attestation&limit=1000")
    by_subject: dict[str, list[dict]] = {}
    for a in page["entries"]:
        by_subject.setdefault(a["body"]["subject"], []).append(a)
    assert by_subject, "the demo story attests statements"
    _, beliefs = await get(session, url + "/beliefs")
    reliability = {p["party"]: p["reliability"]["p"] for p in beliefs["parties"]}
    subject, atts = next(iter(sorted(by_subject.items())))
    status, entry = await get(session, url + f"/entries/{subject}")
    assert status == 200 and entry["id"] == subject
    assert sorted(a["id"] for a in entry["attestations"]) == sorted(a["id"] for a in atts)
    for a in entry["attestations"]:
        src = next(x for x in atts if x["id"] == a["id"])
        assert (a["attester"], a["verdict"], a["method"]) == (
            src["author"], src["body"]["verdict"], src["body"]["method"])
        assert a["reliability"] == reliability.get(a["attester"], 0.0)
    # Its standing: the rule engine's facts resting on it, as the verified view counts them.
    facts = [(p["party"], c["rule"], c["verified"]) for p in beliefs["parties"]
             for c in p["raw"]["evidence"] if subject in c["entries"]]
    assert sorted((f["party"], f["rule"]) for f in entry["standing"]["facts"]) == \
        sorted((p, r) for p, r, _v in facts)
    assert entry["standing"]["verified"] == any(f["verified"] for f in entry["standing"]["facts"])
    # An entry nobody attested: an empty list, not a missing field.
    _, profiles = await get(session, url + "/entries?kind=profile&limit=1")
    _, profile = await get(session, url + f"/entries/{profiles['entries'][0]['id']}")
    assert profile["attestations"] == [] and profile["standing"] == {"verified": False, "facts": []}


async def test_a_report_to_send_from_a_url_and_a_directory(north1, tmp_path, capsys):
    daemon, url, _session, _ids, origin = north1
    at, since = str(origin + 60 * DAY_MS), str(origin)
    outs = []
    for i, target in enumerate((url, str(daemon.dir), str(daemon.dir))):
        out = tmp_path / f"report{i}"
        code = await asyncio.to_thread(cli_main, ["report", target, "--since", since, "--at", at,
                                                  "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        outs.append(out)
    capsys.readouterr()
    md = (outs[0] / "report.md").read_text()
    # Same node state, same period: byte-identical Markdown, from the URL or the directory.
    assert md == (outs[1] / "report.md").read_text() == (outs[2] / "report.md").read_text()
    for heading in ("## Compliance by obligation", "## Suspicion: who moved most, and why",
                    "## Verified and unverified claims", "## Forks (equivocations)",
                    "## Over the period"):
        assert heading in md
    assert "| south-1 | 2026 |" in md or "| south-1 |" in md
    assert "| breached | - | breached | met | met |" in md  # south-1's row (no constraint fact)
    assert "| south-1 | 2027 | met | pending | - |" in md  # pending rests on no fact: no `*`
    assert "notified 12500 troops" in md  # the fact behind the breach
    assert "![suspicion level" in md and "(suspicion.png)" in md
    page = (outs[0] / "report.html").read_text()
    # Self-contained: inline CSS, figures as data, nothing fetched from elsewhere, no script.
    assert "<style>" in page and page.count('src="data:image/png;base64,') == 2
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "south-1" in page and "breached" in page
    png = (outs[0] / "suspicion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_of_an_empty_node_says_so(tmp_path, capsys):
    node_dir = init_node(tmp_path, "empty")
    out = tmp_path / "report"
    assert cli_main(["report", str(node_dir), "--since", "2026-01-01", "--at", "2026-02-01",
                     "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "Nothing to report" in md and "2026-02-01 00:00 UTC" in md
    assert len(md.splitlines()) < 10 and "Nothing to report" in (out / "report.html").read_text()
    assert cli_main(["report", str(node_dir), "--since", "yesterday", "--out", str(out)]) == 1
    assert "bad_argument" in capsys.readouterr().err


async def test_the_calendar_reconciled(north1, capsys):
    """south-1 announces south-storm (and an exercise it never notifies) in its calendar;
    north-2 observes an unnamed activity of south-2 nobody announced or notified."""
    daemon, url, session, ids, origin = north1
    year = datetime.fromtimestamp((origin + 44 * DAY_MS) / 1000, UTC).year
    start = origin + 44 * DAY_MS
    plan = [{"activity": "south-storm", "start": start, "end": start + 6 * DAY_MS, "troops": 13000},
            {"activity": "phantom", "start": start, "end": start + 2 * DAY_MS, "troops": 10000}]
    daemon.store.append_own(ids["south-1"], "calendar", {"year": year, "activities": plan},
                            origin + DAY_MS)
    daemon.store.append_own(ids["north-2"], "observation", {
        "subject": ids["south-2"].party_id, "area": "eastern steppe", "at": start,
        "troops": 14000, "tanks": 100, "acv": 0, "artillery": 0, "method": "aerial",
        "confidence": 800, "evidence": []}, start + DAY_MS)
    status, data = await get(session, url + f"/calendar?year={year}")
    assert status == 200 and data["year"] == year and data["next"] is None, data
    acts = {(a["name"], a["activity"]): a for a in data["activities"]}
    storm = acts[("south-1", "south-storm")]
    assert storm["match"] == "announced_and_notified"
    # Declared and found side by side: the calendar's 13,000, the notified 12,500, and the
    # largest found (the observation's 20,000; the inspection found 16,000).
    assert storm["troops"] == {"announced": 13000, "notified": 12500, "found": 20000}
    kinds = {f["kind"] for f in storm["found"]}
    assert kinds == {"observation", "inspection_report"}
    assert any(f["verified"] for f in storm["found"] if f["kind"] == "inspection_report")
    assert acts[("south-1", "phantom")]["match"] == "announced_not_notified"
    found_only = [a for a in data["activities"] if a["name"] == "south-2"]
    assert [a["match"] for a in found_only] == ["found_only"]
    assert found_only[0]["troops"] == {"announced": None, "notified": None, "found": 14000}
    south1 = next(p for p in data["parties"] if p["name"] == "south-1")
    assert (south1["announced"], south1["notified"], south1["announced_not_notified"]) == (2, 1, 1)
    # Another year: nothing; a bad year: a clear error.
    _, empty = await get(session, url + f"/calendar?year={year - 5}")
    assert empty["activities"] == [] and empty["total"] == 0
    got, err = await get(session, url + "/calendar?year=0")
    assert (got, err["error"]["code"]) == (400, "bad_argument")

    for target in (url, str(daemon.dir)):
        assert await asyncio.to_thread(cli_main, ["calendar", target, "--year", str(year), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["activities"] == data["activities"]
    assert await asyncio.to_thread(cli_main, ["calendar", url, "--year", str(year)]) == 0
    out = capsys.readouterr().out
    assert "phantom" in out and "announced_not_notified" in out and "found_only" in out
