"""A kept index and its findings' memo equal fresh ones whatever order statements arrive in.

Issue 15 item 3: `Index` keeps each finding and remakes only those of the statements that
arrived or whose inspection request or response did; `FindingsMemo` re-places only the
findings the index logged and those a new notification covers. Both shortcuts are exercised
by a shuffled arrival order (reports before their requests and answers, notifications after
the findings they cover, a report that turns incoherent when its request arrives), and
compared with a fresh index and a fresh analysis after every entry.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from trustnet.bench.beliefs import _Gen, generate
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements import regime_notification
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, HOUR_MS
from trustnet.statements.index import Index
from trustnet.statements.kinds import InspectionReport, Observation
from trustnet.statements.rules import PartitionRules, analyse

PARTIES, SEED = 5, 21


def _sign(who: str, k: int, kind: str, body: dict[str, Any], ts: int) -> Entry:
    ident = next(x for x in _Gen(PARTIES, SEED).ids if x.party_id == who)
    return sign_entry(ident, seq=900_000 + k, prev=b"\x02" * 32, ts=ts, kind=kind, body=body)


def _shuffled() -> list[tuple[Entry, object]]:
    """The benchmark's statement mix, with notifications that cover its observations (by
    area, or by a name the observation gives), in a shuffled order; then half the
    inspection answers after everything else, and one report about another host than its
    request's (incoherent once the request is known) before that request."""
    entries, _pids = generate(520, PARTIES, SEED)
    rng = random.Random(SEED)
    extra: list[Entry] = []
    seen = [e for e in entries if e.kind == "observation"]
    for k, o in enumerate(seen[::3]):
        ob = dict(o.body)
        named = k % 2 == 1
        if named:  # the same sighting, named: covered by the activity's notification
            ob["activity"] = f"N-{k}"
            extra.append(_sign(o.author_hex, k, "observation", ob, o.ts))
        troops = ob["troops"] // 2 if k % 3 else ob["troops"]  # undercounted, or not
        note = {
            "activity": f"N-{k}", "type": "exercise",
            "start": ob["at"] - DAY_MS, "end": ob["at"] + DAY_MS,
            "area": f"  {ob['area'].upper()} " if not named else "elsewhere",
            "troops": troops, "tanks": troops // 50, "acv": 0, "artillery": 0,
            "amphibious": 0, "sorties": 0, "observers_invited": k % 4 == 0,
        }
        ts = ob["at"] - 50 * DAY_MS if k % 5 else ob["at"] + HOUR_MS  # in time, or late
        extra.append(_sign(ob["subject"], 1000 + k, "notification", note, ts))
    parsed = [(e, statement_of(e)) for e in [*entries, *extra]]
    rng.shuffle(parsed)
    answers = [x for x in parsed if x[0].kind == "inspection_response"][::2]
    parsed = [x for x in parsed if x not in answers] + answers
    report, body = next((e, b) for e, b in parsed if isinstance(b, InspectionReport))
    request = next(i for i, (e, _b) in enumerate(parsed) if e.id_hex == body.request)
    other = next(x.party_id for x in _Gen(PARTIES, SEED).ids
                 if x.party_id not in (report.author_hex, body.host))
    odd = _sign(report.author_hex, 5000, "inspection_report", {**dict(report.body), "host": other},
                report.ts)
    parsed.insert(max(0, request - 1), (odd, statement_of(odd)))
    return parsed


def test_a_kept_index_has_the_findings_of_a_fresh_one_after_every_entry() -> None:
    parsed = _shuffled()
    kept = Index((), DEFAULT_FIGURES)
    changed = gone = 0
    for i, item in enumerate(parsed):
        before = len(kept.finding_log)
        kept.extend([item])
        fresh = Index((), DEFAULT_FIGURES, parsed[: i + 1])
        assert kept.findings() == fresh.findings(), f"step {i} ({item[0].kind})"
        news = kept.finding_log[before:]
        changed += sum(1 for _k, f in news if f is not None and f.stmt.entry is not item[0])
        gone += sum(1 for _k, f in news if f is None)
    assert changed and gone  # requests and answers changed findings; one report left


def test_a_kept_findings_memo_equals_a_fresh_analysis_after_every_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = _shuffled()
    places = [0]
    real_place = regime_notification._place

    def counting_place(*args: object) -> object:
        places[0] += 1
        return real_place(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(regime_notification, "_place", counting_place)
    kept = PartitionRules()
    now = max(e.ts for e, _b in parsed) + HOUR_MS
    few = 0
    for i in range(len(parsed)):
        places[0] = 0
        got = kept.analyse(parsed[: i + 1], now, 0)
        mine = places[0]
        want = analyse(parsed[: i + 1], now)
        assert got.evidence == want.evidence, f"step {i} ({parsed[i][0].kind})"
        findings = sum(1 for _e, b in parsed[: i + 1] if isinstance(b, Observation))
        few += mine < findings // 2
    assert few > len(parsed) // 2  # most entries placed few findings again, not all
