"""Beliefs benchmark: full recompute and incremental update cost (DESIGN sections 7 and 11).

A synthetic store of `n` statements from `parties` parties (default 100,000 from 60), a
realistic mix: mostly observations, attestations, trust statements and notifications,
with consultations and inspections (request, answer within hours, report a day later).
Entries are really signed (`sign_entry`) along each author's chain, from a seeded RNG.

Measured:
- `full_s`: `compute_beliefs` over everything, from entries (index, rules, EigenTrust x2,
  compliance of every party) — what a node pays with no cache;
- `engine_build_s`: `BeliefEngine.add` of the same entries (indexing only);
- `snapshot_cold_s`, `snapshot_warm_s`: the first snapshot (every partition evaluated) and
  one with nothing new (cached rule output, reliability and views recomputed);
- `update_ms`: per new entry, `add([entry])` then `snapshot(now)`, mean over the last
  `updates` entries of the stream (held back from the build); `add_us`: `add` alone.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import sys
import time
from typing import Any

from trustnet.errors import TrustnetError
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.trust.beliefs import BeliefEngine, compute_beliefs

__all__ = ["generate", "main", "run"]

_T0 = 1_735_689_600_000  # 2025-01-01 UTC
_STEP_MS = 10 * 60 * 1000  # one statement every 10 minutes on average
_DIGEST = "ab" * 32


class _Gen:
    """Chains of signed statements by `parties` identities, in time order."""

    def __init__(self, parties: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids = [
            Identity.from_seed(hashlib.sha256(f"bench-{seed}-{i}".encode()).digest())
            for i in range(parties)
        ]
        self.pids = [i.party_id for i in self.ids]
        self.heads: list[tuple[int, bytes | None, int]] = [(0, None, 0)] * parties
        self.out: list[Entry] = []
        self.claims: list[str] = []  # observation and report ids, for attestations
        self.pending: list[tuple[int, int, str, int, dict[str, Any]]] = []
        self.counter = 0

    def post(self, who: int, kind: str, body: dict[str, Any], ts: int) -> Entry:
        seq, prev, last = self.heads[who]
        ts = max(ts, last)
        e = sign_entry(
            self.ids[who], seq=seq + 1, prev=prev, ts=ts, kind=kind, body=body
        )
        self.heads[who] = (seq + 1, e.id, ts)
        self.out.append(e)
        return e

    def later(self, ts: int, who: int, kind: str, body: dict[str, Any]) -> None:
        self.counter += 1
        heapq.heappush(self.pending, (ts, self.counter, kind, who, body))

    def area(self, party: int) -> str:
        return f"Area {party}-{self.rng.randrange(5)}"

    def step(self, ts: int) -> None:
        rng = self.rng
        n = len(self.ids)
        while self.pending and self.pending[0][0] <= ts:
            at, _, kind, who, body = heapq.heappop(self.pending)
            if kind == "inspection_report":
                e = self.post(who, kind, body, at)
                self.claims.append(e.id_hex)
            else:
                self.post(who, kind, body, at)
        a = rng.randrange(n)
        b = rng.randrange(n - 1)
        b = b if b < a else b + 1
        x = rng.random()
        troops = rng.choice((3_000, 8_000, 12_500, 16_000, 25_000))
        if x < 0.15:
            self.post(a, "trust", {"subject": self.pids[b], "level": rng.randint(-200, 1000)}, ts)
        elif x < 0.30:
            start = ts + rng.randint(10, 60) * DAY_MS
            body = {
                "activity": f"Ex-{a}-{ts}",
                "type": rng.choice(("exercise", "transfer", "concentration")),
                "start": start,
                "end": start + 7 * DAY_MS,
                "area": self.area(a),
                "troops": troops,
                "tanks": troops // 50,
                "acv": 0,
                "artillery": 0,
                "amphibious": 0,
                "sorties": 0,
                "observers_invited": rng.random() < 0.5,
            }
            self.post(a, "notification", body, ts)
        elif x < 0.65:
            seen = int(troops * rng.uniform(0.7, 1.6))
            body = {
                "subject": self.pids[b],
                "area": self.area(b),
                "at": ts,
                "troops": seen,
                "tanks": seen // 50,
                "acv": 0,
                "artillery": 0,
                "method": rng.choice(("aerial", "technical", "open_source")),
                "confidence": rng.randint(300, 1000),
                "evidence": [_DIGEST],
            }
            self.claims.append(self.post(a, "observation", body, ts).id_hex)
        elif x < 0.90 and self.claims:
            body = {
                "subject": rng.choice(self.claims[-2000:]),
                "verdict": rng.choice(("confirm", "confirm", "confirm", "refute", "partial")),
                "method": "evaluation",
                "confidence": rng.randint(300, 1000),
                "evidence": [_DIGEST],
                "note": "",
            }
            self.post(a, "attestation", body, ts)
        elif x < 0.95:
            req = self.post(
                a, "consultation_request",
                {"subject": self.pids[b], "concern": "unusual activity", "area": self.area(b)}, ts,
            )
            if rng.random() < 0.8:
                self.later(ts + rng.randint(1, 60) * HOUR_MS, b, "consultation_reply",
                           {"request": req.id_hex, "explanation": "routine"})
        else:
            area = self.area(b)
            req = self.post(
                a, "inspection_request",
                {"host": self.pids[b], "area": area, "grounds": "build-up"}, ts,
            )
            accept = rng.random() < 0.8
            self.later(ts + rng.randint(1, 30) * HOUR_MS, b, "inspection_response",
                       {"request": req.id_hex, "accept": accept, "reason": ""})
            if accept:
                found = rng.choice((3_000, 8_000, 12_500, 16_000))
                self.later(ts + 2 * DAY_MS, a, "inspection_report", {
                    "request": req.id_hex, "host": self.pids[b], "troops": found,
                    "tanks": found // 50, "acv": 0, "artillery": 0,
                    "verdict": rng.choice(("consistent", "inconsistent")),
                    "evidence": [_DIGEST],
                })


def generate(n: int = 100_000, parties: int = 60, seed: int = 1) -> tuple[list[Entry], list[str]]:
    """`n` signed statements by `parties` parties (profiles and exchanges first); party ids."""
    g = _Gen(parties, seed)
    unit = {"unit": "1st", "location": "Capital", "personnel": 4000, "tanks": 90, "acv": 120,
            "artillery": 36, "aircraft": 0, "helicopters": 12}
    for i in range(parties):
        g.post(i, "profile", {"name": f"party-{i}", "role": "state", "urls": []}, _T0 - DAY_MS)
        g.post(i, "annual_exchange", {"valid_from": _T0 + 365 * DAY_MS, "units": [unit]},
               _T0 - DAY_MS)
    ts = _T0
    while len(g.out) < n:
        ts += g.rng.randint(1, 2 * _STEP_MS)
        g.step(ts)
    return g.out[:n], g.pids


def run(
    n: int = 100_000, parties: int = 60, seed: int = 1, updates: int = 200, anchors: int = 2
) -> dict[str, float | int]:
    """Generate the store, then time the full recompute and the incremental update."""
    start = time.perf_counter()
    entries, pids = generate(n, parties, seed)
    gen_s = time.perf_counter() - start
    now = max(e.ts for e in entries) + DAY_MS
    me, roots = pids[0], pids[1 : 1 + anchors]
    kinds: dict[str, int] = {}
    for e in entries:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1

    start = time.perf_counter()
    full = compute_beliefs(entries, me, now, anchors=roots)
    full_s = time.perf_counter() - start
    evidence = sum(len(b.raw.evidence) for b in full.parties.values())

    held = max(0, min(updates, n - 1))
    base, tail = entries[: n - held], entries[n - held :]
    engine = BeliefEngine(me, roots)
    start = time.perf_counter()
    engine.add(base)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    engine.snapshot(now)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    engine.snapshot(now)
    warm_s = time.perf_counter() - start
    add_s = 0.0
    upd_s = 0.0
    for e in tail:
        t0 = time.perf_counter()
        engine.add([e])
        t1 = time.perf_counter()
        engine.snapshot(now)
        t2 = time.perf_counter()
        add_s += t1 - t0
        upd_s += t2 - t0
    return {
        "statements": n,
        "parties": parties,
        "observations": kinds.get("observation", 0),
        "attestations": kinds.get("attestation", 0),
        "trust": kinds.get("trust", 0),
        "notifications": kinds.get("notification", 0),
        "evidence_facts": evidence,
        "generate_s": gen_s,
        "full_s": full_s,
        "engine_build_s": build_s,
        "snapshot_cold_s": cold_s,
        "snapshot_warm_s": warm_s,
        "updates": held,
        "update_ms": upd_s / held * 1e3 if held else 0.0,
        "add_us": add_s / held * 1e6 if held else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: `trustnet bench beliefs [--n N] [--parties P] [--updates U] [--json]`."""
    parser = argparse.ArgumentParser(
        prog="trustnet bench beliefs",
        description="Full belief recompute and incremental update cost (DESIGN section 7).",
    )
    parser.add_argument("--n", type=int, default=100_000, help="statements (default 100000)")
    parser.add_argument("--parties", type=int, default=60, help="parties (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--updates", type=int, default=200, help="incremental updates timed")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if args.n < 200 or args.parties < 4 or args.updates < 0:
        parser.error("--n must be >= 200, --parties >= 4, --updates >= 0")
    try:
        result = run(args.n, args.parties, args.seed, args.updates)
    except TrustnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    rows = [
        ("statements", f"{result['statements']}"),
        ("parties", f"{result['parties']}"),
        ("evidence facts", f"{result['evidence_facts']}"),
        ("generate (sign)", f"{result['generate_s']:.2f} s"),
        ("full recompute", f"{result['full_s']:.2f} s"),
        ("engine add (all)", f"{result['engine_build_s']:.2f} s"),
        ("first snapshot", f"{result['snapshot_cold_s']:.2f} s"),
        ("cached snapshot", f"{result['snapshot_warm_s'] * 1e3:.1f} ms"),
        ("update per entry", f"{result['update_ms']:.1f} ms (add + snapshot)"),
        ("add per entry", f"{result['add_us']:.1f} us"),
    ]
    for name, value in rows:
        print(f"{name:<20}{value:>28}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
