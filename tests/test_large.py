"""Large nodes (issue 15 item 5), at a scale a test can afford: a store from the generator of
`trustnet bench large`, served by a real daemon; `/status` counts it right and `/parties`
pages through every author in id order, with profiles, without building every party; and
the benchmark itself runs end to end on two real node processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness.api import fetch, start
from trustnet.bench.large import STEP_MS, T0, generate
from trustnet.identity import Identity
from trustnet.log.entry import ForkProof, sign_entry
from trustnet.store.authors import page_of_union
from trustnet.store.sqlite import Store

ENTRIES, AUTHORS = 6_000, 700


def test_a_page_of_two_sorted_lists_is_the_page_of_their_union() -> None:
    rng = random.Random(5)
    for _ in range(300):
        pool = rng.sample(range(10_000), rng.randrange(0, 60))
        cut = rng.randrange(0, len(pool) + 1)
        extra_n = rng.choice((0, 0, 1, 2, min(5, cut)))
        held = sorted(x.to_bytes(2, "big") for x in pool[extra_n:])
        extra = sorted(x.to_bytes(2, "big") for x in pool[:extra_n])
        union = sorted(held + extra)
        offset, limit = rng.randrange(0, len(union) + 3), rng.randrange(1, 12)
        assert page_of_union(held, extra, offset, limit) == union[offset:offset + limit]


def test_the_generated_store_is_valid_and_chains_in_order(tmp_path: Path) -> None:
    entries = list(generate(2_000, 150, seed=3))
    assert [e.id for e in entries] == [e.id for e in generate(2_000, 150, seed=3)]  # seeded
    assert len({e.author for e in entries}) == 150
    assert all(e.kind == "profile" and e.seq == 1 for e in entries[:150])
    store = Store(None)
    result = store.ingest(entries, T0 + 2_000 * STEP_MS + 1)
    assert (len(result.accepted), result.rejected, dict(result.gaps)) == (2_000, (), {})


async def test_status_counts_and_parties_pages_over_many_authors(tmp_path: Path) -> None:
    daemon = await start(tmp_path)
    try:
        store = daemon.store
        entries = list(generate(ENTRIES, AUTHORS))
        now = T0 + ENTRIES * STEP_MS + 1
        for i in range(0, ENTRIES, 1_000):
            store.ingest(entries[i:i + 1_000], now)
        heads = {e.author: e for e in entries}  # the last entry of each author is its head
        names = {e.author: e.body["name"] for e in entries if e.kind == "profile"}
        own = store.head(daemon.identity.author)
        _, _, status = await fetch(f"{daemon.url}/status")
        assert status["entries"] == ENTRIES + (own.seq if own else 0)
        assert status["authors"] == AUTHORS + (1 if own else 0)

        async def walk(limit: int) -> list[dict[str, object]]:
            rows: list[dict[str, object]] = []
            offset: int | None = 0
            while offset is not None:
                _, _, page = await fetch(f"{daemon.url}/parties?offset={offset}&limit={limit}")
                assert page["total"] == status["authors"] + extra
                assert len(page["parties"]) <= limit
                rows += page["parties"]
                offset = page["next"]
            return rows

        extra = 0
        rows = await walk(97)
        expected = sorted({*heads, *([daemon.identity.author] if own else [])})
        assert [r["party"] for r in rows] == [a.hex() for a in expected]
        for row in rows:
            author = bytes.fromhex(str(row["party"]))
            if author in heads:
                assert (row["seq"], row["head"], row["name"]) == (
                    heads[author].seq, heads[author].id_hex, names[author])

        # A new author after the sorted list was made, and one known only by a fork proof:
        # both listed in their places.
        newcomer = Identity.from_seed(b"\x01" * 32)
        store.ingest([sign_entry(newcomer, seq=1, prev=None, ts=now, kind="profile",
                                 body={"name": "newcomer", "role": "state", "urls": []})], now)
        liar = Identity.from_seed(b"\x02" * 32)
        x, y = (sign_entry(liar, seq=1, prev=None, ts=now, kind="trust",
                           body={"subject": newcomer.party_id, "level": level})
                for level in (1, -1))
        assert store.add_fork(ForkProof.of(x, y))
        _, _, status = await fetch(f"{daemon.url}/status")
        assert status["authors"] == AUTHORS + 1 + (1 if own else 0)
        extra = 1
        rows = await walk(89)
        listed = [r["party"] for r in rows]
        assert listed == sorted(listed) and len(listed) == len(set(listed))
        assert {newcomer.party_id, liar.party_id} <= set(listed)
        by_id = {r["party"]: r for r in rows}
        assert by_id[newcomer.party_id]["name"] == "newcomer"
        assert (by_id[liar.party_id]["forked"], by_id[liar.party_id]["seq"]) == (True, 0)
    finally:
        await daemon.stop()


def test_bench_large_measures_two_real_nodes(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "trustnet", "bench", "large", "--entries", "1500",
           "--authors", "120", "--cache", str(tmp_path / "cache"), "--window", "2", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    node = figures["large-a"]
    assert (node["status_json"]["entries"], node["status_json"]["authors"]) == (1500, 120)
    for read in ("status", "parties_first_page", "beliefs_first_page", "suspicion_first_page",
                 "metrics"):
        assert node[read]["status"] == 200 and node[read]["bytes"] > 0, node[read]
    # The first analysis ran off the event loop and finished; /status answered meanwhile.
    assert node["analysis_ready_s"] is not None and node["analysis_ready_s"] > 0
    waited = node["status_while_analysing"]
    assert waited["n"] == node["beliefs_while_analysing"]["n"]
    assert all("analysis_pending" in a for a in node["beliefs_while_analysing"]["answers"])
    assert node["rss_start_kb"] > 0 and figures["build_s"] is not None
    sync = figures["anti_entropy"]
    assert sync["in_sync"] and sync["rounds_in_sync"] >= 1 and sync["in_sync_body_bytes_per_round"] > 0
    assert "building" in proc.stderr
    # The second run finds the store built.
    again = subprocess.run([*cmd[:-3], "--build-only", "--json"], capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["build_s"] is None


async def test_metrics_gauges_stop_at_metrics_max_parties(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    daemon = await start(tmp_path, "metrics_max_parties = 2")
    try:
        entries = list(generate(200, 20))
        daemon.store.ingest(entries, T0 + 200 * STEP_MS + 1)
        _, _, beliefs = await fetch(f"{daemon.url}/beliefs?limit=1", headers={
            "Authorization": f"Bearer {daemon.token}"})
        _, _, body = await fetch(f"{daemon.url}/metrics")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        parties = {s.labels["party"] for f in ("trustnet_belief_reliability",
                                                "trustnet_suspicion_level")
                   for s in families[f].samples}
        assert len(parties) == 2 and beliefs["total"] > 2
        omitted = families["trustnet_metrics_parties_omitted"].samples[0].value
        assert omitted >= beliefs["total"] - 2
        # The most suspected are those shown.
        _, _, suspicion = await fetch(f"{daemon.url}/suspicion", headers={
            "Authorization": f"Bearer {daemon.token}"})
        level = {p["party"]: p["level"] for p in suspicion["parties"]}
        assert min(level.get(p, 0.0) for p in parties) >= max(
            (v for p, v in level.items() if p not in parties), default=0.0)
    finally:
        await daemon.stop()


async def test_beliefs_pages_are_slices_of_the_whole_made_only_for_the_page(
        tmp_path: Path, monkeypatch: Any) -> None:
    from trustnet.trust.beliefs.records import PartyBelief

    daemon = await start(tmp_path)
    try:
        daemon.store.ingest(list(generate(300, 25)), T0 + 300 * STEP_MS + 1)
        auth = {"Authorization": f"Bearer {daemon.token}"}
        _, _, whole = await fetch(f"{daemon.url}/beliefs?limit=1000", headers=auth)
        assert whole["total"] == len(whole["parties"]) > 10
        made = 0
        to_json = PartyBelief.to_json

        def counted(self: PartyBelief) -> dict[str, Any]:
            nonlocal made
            made += 1
            return to_json(self)

        monkeypatch.setattr(PartyBelief, "to_json", counted)
        got: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            _, _, page = await fetch(f"{daemon.url}/beliefs?offset={offset}&limit=4",
                                     headers=auth)
            assert page["total"] == whole["total"] and len(page["parties"]) <= 4
            assert {k: v for k, v in page.items() if k not in ("parties", "next", "now")} == {
                k: v for k, v in whole.items() if k not in ("parties", "next", "now")}
            got += page["parties"]
            offset = page["next"]
        assert got == whole["parties"]
        assert made == len(got)  # each page made its own rows, no more
    finally:
        await daemon.stop()


Sample = tuple[str, tuple[tuple[str, str], ...], float]


def _gauges_as_before(pub: Any, store: Store, cap: int) -> list[Sample]:
    """The per-party samples, in order, as /metrics computed them on the event loop before
    the live analysis' worker ranked them (the logic of api/metrics.py `_parties`/`_shown`
    then)."""
    import heapq

    from trustnet.api.metrics import MAX_NAME, REGIMES

    beliefs, reports = pub.beliefs, pub.reports
    parties = beliefs.parties.keys() | reports.keys()
    if len(parties) <= cap:
        shown, omitted = set(parties), 0
    else:
        def rank(pid: str) -> tuple[float, float, str]:
            report, belief = reports.get(pid), beliefs.parties.get(pid)
            return (-(report.level if report else 0.0),
                    -(belief.reliability.p if belief else 0.0), pid)
        shown, omitted = set(heapq.nsmallest(cap, parties, key=rank)), len(parties) - cap
    names: dict[str, str] = {}
    for pid in shown:
        profile = store.profile_of(bytes.fromhex(pid))
        if profile is not None and profile.name is not None:
            names[pid] = str(profile.name)[:MAX_NAME]
    by_family: dict[str, list[Sample]] = {}

    def add(family: str, who: list[str], value: float, regime: str | None = None) -> None:
        labels = (("party", who[0]), ("name", who[1]))
        full = labels if regime is None else (*labels, ("regime", regime))
        by_family.setdefault(family, []).append((family, tuple(sorted(full)), value))

    for pid in sorted(shown & beliefs.parties.keys()):
        belief = beliefs.parties[pid]
        who = [pid, names.get(pid) or (belief.name or "")[:MAX_NAME]]
        add("trustnet_belief_reliability", who, belief.reliability.p)
        add("trustnet_belief_compliance", who, belief.verified.score)
        add("trustnet_belief_compliance_raw", who, belief.raw.score)
    for pid in sorted(shown & reports.keys()):
        report = reports[pid]
        who = [pid, names.get(pid) or ""]
        add("trustnet_suspicion_level", who, report.level)
        add("trustnet_suspicion_escalation_index", who, report.escalation_index)
        for name in REGIMES:
            add("trustnet_suspicion_regime", who, 1 if report.regime == name else 0, name)
    return [s for family in PARTY_FAMILIES[:-1] for s in by_family.get(family, [])] + [
        ("trustnet_metrics_parties_omitted", (), omitted)]


PARTY_FAMILIES = ("trustnet_belief_reliability", "trustnet_belief_compliance",
                  "trustnet_belief_compliance_raw", "trustnet_suspicion_level",
                  "trustnet_suspicion_escalation_index", "trustnet_suspicion_regime",
                  "trustnet_metrics_parties_omitted")


async def test_metrics_party_gauges_are_those_computed_on_the_loop_before(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    for cap in (7, 1000):
        daemon = await start(tmp_path / str(cap), f"metrics_max_parties = {cap}")
        try:
            daemon.store.ingest(list(generate(400, 30, seed=cap)), T0 + 400 * STEP_MS + 1)
            _, _, beliefs = await fetch(f"{daemon.url}/beliefs?limit=1", headers={
                "Authorization": f"Bearer {daemon.token}"})
            _, _, body = await fetch(f"{daemon.url}/metrics")
            pub = daemon.live.published
            assert pub is not None and pub.state.cursor == daemon.store.last_cursor()
            expected = _gauges_as_before(pub, daemon.store, cap)
            assert any(dict(labels).get("name", "").startswith("party-")
                       for _, labels, _ in expected)
            assert (expected[-1][2] == 0) == (cap == 1000)
            families = list(text_string_to_metric_families(body.decode()))
            # the party families come last, in this order, with exactly these samples
            assert [f.name for f in families[-len(PARTY_FAMILIES):]] == list(PARTY_FAMILIES)
            got = [(s.name, tuple(sorted(s.labels.items())), s.value)
                   for f in families[-len(PARTY_FAMILIES):] for s in f.samples]
            assert got == expected, (cap, beliefs["total"])
        finally:
            await daemon.stop()


async def test_metrics_and_status_answer_while_the_analysis_computes(tmp_path: Path) -> None:
    import threading

    daemon = await start(tmp_path, "analysis_budget_s = 0.2")
    release = threading.Event()
    try:
        entries = list(generate(400, 25))
        daemon.store.ingest(entries[:300], T0 + 400 * STEP_MS + 1)
        _, _, before = await fetch(f"{daemon.url}/metrics")
        assert b"trustnet_belief_reliability{" in before
        live = daemon.live
        assert live is not None
        from concurrent.futures import Future
        held: Future[bool] = Future()
        live._jobs.put((lambda: release.wait(60), held))  # the worker is busy from now on
        cursor = daemon.store.last_cursor()
        daemon.store.ingest(entries[300:], T0 + 400 * STEP_MS + 1)
        assert daemon.store.last_cursor() > cursor  # the published view is behind
        status, _, body = await fetch(f"{daemon.url}/metrics")
        assert status == 200 and body.endswith(
            b"".join(line + b"\n" for line in before.split(b"\n")
                     if line.startswith(b"trustnet_metrics_parties_omitted "))), body[-200:]
        assert not held.done()  # answered while the analysis was held
        status, _, js = await fetch(f"{daemon.url}/status")
        assert status == 200 and js["entries"] >= 300
    finally:
        release.set()
        await daemon.stop()


async def test_gauges_that_cannot_be_made_cost_metrics_them_not_the_views(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker makes /metrics' per-party gauges with each view (review): if making them
    fails, the view is still published and served, and /metrics answers without them, the
    failure counted and logged."""
    from trustnet.api.metrics import PartyGauges

    def broken(*args: Any) -> PartyGauges:
        raise ValueError("unreadable profile row")

    monkeypatch.setattr(PartyGauges, "of", broken)
    daemon = await start(tmp_path, "analysis_budget_s = 5")
    try:
        daemon.store.ingest(list(generate(200, 20)), T0 + 200 * STEP_MS + 1)
        status, _, beliefs = await fetch(f"{daemon.url}/beliefs")
        assert status == 200 and beliefs["parties"], beliefs
        status, _, body = await fetch(f"{daemon.url}/metrics")
        assert status == 200 and b"trustnet_belief_reliability{" not in body
        _, _, body = await fetch(f"{daemon.url}/metrics")  # the count is of scrapes before
        assert b"trustnet_metrics_scrape_errors_total 1.0" in body
        assert b"trustnet_belief_reliability{" not in body
    finally:
        await daemon.stop()
