"""A kept index and its findings' memo equal fresh ones whatever order statements arrive in.

Issue 15 item 3: `Index` keeps each finding and remakes only those of the statements that
arrived or whose inspection request or response did; `FindingsMemo` re-places only the
findings the index logged and those a new notification covers. Both shortcuts are exercised
by a shuffled arrival order (reports before their requests and answers, notifications after
the findings they cover, a report that turns incoherent when its request arrives), and
compared with a fresh index and a fresh analysis after every entry.
"""

from __future__ import annotations

import pytest

from tests.harness.streams import shuffled_stream
from trustnet.statements import regime_notification
from trustnet.statements.figures import DEFAULT_FIGURES, HOUR_MS
from trustnet.statements.index import Index
from trustnet.statements.kinds import Observation
from trustnet.statements.rules import PartitionRules, analyse

PARTIES, SEED = 5, 21


def test_a_kept_index_has_the_findings_of_a_fresh_one_after_every_entry() -> None:
    parsed = shuffled_stream(520, PARTIES, SEED)
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
    parsed = shuffled_stream(520, PARTIES, SEED)
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
