"""A kept index and its findings' memo equal fresh ones whatever order statements arrive in.

Issue 15 item 3: `Index` keeps each finding and remakes only those of the statements that
arrived or whose inspection request or response did; `FindingsMemo` re-places only the
findings the index logged and those a new notification covers. Both shortcuts are exercised
by a shuffled arrival order (reports before their requests and answers, notifications after
the findings they cover, a report that turns incoherent when its request arrives), and
compared with a fresh index and a fresh analysis after every entry.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.harness.compiled import ran_interpreted
from tests.harness.streams import shuffled_stream
from trustnet.statements import regime_notification
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES, HOUR_MS
from trustnet.statements.index import Index, norm_area
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
        # the lookups kept as statements arrive: each list in publication order
        for name in ("by_activity", "by_area", "obs_by_activity", "obs_by_area"):
            mine, theirs = getattr(kept, name), getattr(fresh, name)
            assert {k: v for k, v in mine.items() if v} == {k: v for k, v in theirs.items() if v}, (
                f"step {i}: {name}")
            assert all(v == sorted(v, key=lambda s: s.key()) for v in mine.values()), name
        news = kept.finding_log[before:]
        changed += sum(1 for _k, f in news if f is not None and f.stmt.entry is not item[0])
        gone += sum(1 for _k, f in news if f is None)
    assert changed and gone  # requests and answers changed findings; one report left


def test_a_kept_findings_memo_equals_a_fresh_analysis_after_every_entry(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    if ran_interpreted(request):  # it counts placements by replacing a function
        return
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


def _inspected_reference(ix: Index, match_days: int = 7) -> list[tuple[bytes, bytes]]:
    """Which observations each accepted inspection's report checked, found by indexing every
    observation on each call (the index's way before it kept its observations by activity and
    area): (report id, observation id), reports in publication order, then observations."""
    span = match_days * DAY_MS
    by_activity: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_area: dict[tuple[str, str], list[int]] = defaultdict(list)
    obs = ix.observations
    for i, o in enumerate(obs):
        if o.body.activity is not None:
            by_activity[(o.body.subject, o.body.activity)].append(i)
        by_area[(o.body.subject, norm_area(o.body.area))].append(i)
    out = []
    for f in sorted((f for f in ix.findings() if f.verified), key=lambda f: f.stmt.key()):
        lo, hi = f.window[0] - span, f.window[1]
        named = f.activity is not None
        found = [i for i in by_area.get((f.party, f.area or ""), ())
                 if lo <= obs[i].body.at <= hi and not (named and obs[i].body.activity is not None)]
        if named:
            found.extend(by_activity.get((f.party, str(f.activity)), ()))
            found.sort()
        out += [(f.stmt.entry.id, obs[i].entry.id) for i in found
                if obs[i].author != f.stmt.author]
    return out


def test_kept_inspected_observations_are_the_reference_after_every_entry() -> None:
    # The observations each accepted inspection checked, from a kept partition (its index's
    # observation lists and its memo of compared pairs) and from a fresh analysis, equal the
    # reference after every entry of a shuffled stream.
    parsed = shuffled_stream(520, PARTIES, SEED)
    kept = PartitionRules()
    now = max(e.ts for e, _b in parsed) + HOUR_MS
    pairs = 0
    for i in range(len(parsed)):
        got = kept.analyse(parsed[: i + 1], now, 0).inspected
        fresh = analyse(parsed[: i + 1], now).inspected
        want = _inspected_reference(Index((), DEFAULT_FIGURES, parsed[: i + 1]))
        assert [(x.report.id, x.observation.id) for x in got] == want, f"step {i}"
        assert got == fresh, f"step {i} ({parsed[i][0].kind})"
        pairs = len(want)
    assert pairs > 10  # the stream's accepted inspections did check observations
