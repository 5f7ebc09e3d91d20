"""Feedback benchmark: suspicion estimator update cost and full recompute (DESIGN section 8).

A seeded stream of `signals` signals about `parties` parties over `days` days
(kinds, weights and verification drawn at random). Measured:

- incremental update: `observe` per signal, signals arriving in time order
  (each pays the day cells since its party's last signal plus one update);
- late update: `observe` of signals that arrive `late_days` behind the others
  (each rewinds its party and replays what follows it);
- reports: `reports(now)` for every party (drivers and history included);
- full recompute: `recompute(signals, ...)` from scratch, best of `repeat`.

The incremental and recomputed reports are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Literal

from trustnet.clock import DAY_MS
from trustnet.feedback.estimator import Signal, SuspicionEstimator, SuspicionParams, recompute

__all__ = ["main", "run"]

_T0 = 1_767_225_600_000  # 2026-01-01T00:00Z
_KINDS: tuple[Literal["threat", "hostility", "cooperation"], ...] = (
    "threat",
    "hostility",
    "cooperation",
)


def _signals(parties: int, n: int, days: int, seed: int) -> list[Signal]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(
            Signal(
                party=f"party-{rng.randrange(parties):03d}",
                at=_T0 + rng.randrange(days * DAY_MS),
                kind=_KINDS[rng.randrange(3)],
                weight=rng.choice((0.1, 0.4, 0.5, 0.7, 0.72, 0.9)),
                verification=rng.choice((0.0, 0.0, 0.5, 1.0)),
                ref=f"entry-{i:06d}",
                rule="bench",
            )
        )
    return out


def run(
    parties: int = 60,
    signals: int = 6_000,
    days: int = 365,
    seed: int = 1,
    repeat: int = 3,
    late: int = 200,
    late_days: int = 7,
) -> dict[str, float | int]:
    """Time incremental observe (in order and late), reports, and full recompute."""
    params = SuspicionParams()
    sigs = sorted(_signals(parties, signals, days, seed), key=Signal.sort_key)
    now = _T0 + days * DAY_MS
    rng = random.Random(seed + 1)
    # the late ones: drawn from the last month's signals, held back by up to late_days
    tail = [i for i, s in enumerate(sigs) if s.at >= now - 30 * DAY_MS]
    held = set(rng.sample(tail, min(late, len(tail))))
    on_time = [s for i, s in enumerate(sigs) if i not in held]
    late_sigs = [sigs[i] for i in sorted(held)]

    est = SuspicionEstimator(params, "self")
    start = time.perf_counter()
    for s in on_time:
        est.observe(s)
    in_order_s = time.perf_counter() - start

    start = time.perf_counter()
    for s in late_sigs:
        est.observe(s)
    late_s = time.perf_counter() - start

    start = time.perf_counter()
    incremental = est.reports(now)
    reports_s = time.perf_counter() - start

    best = float("inf")
    full: dict[str, object] = {}
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        full = dict(recompute(sigs, params, "self", now))
        best = min(best, time.perf_counter() - start)
    return {
        "parties": len(incremental),
        "signals": signals,
        "days": days,
        "late_signals": len(late_sigs),
        "update_us_per_signal": in_order_s / max(1, len(on_time)) * 1e6,
        "late_update_us_per_signal": late_s / max(1, len(late_sigs)) * 1e6,
        "reports_ms": reports_s * 1e3,
        "recompute_s": best,
        "identical": int(full == incremental),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: `trustnet bench feedback [--parties P] [--signals N] [--days D] [--json]`."""
    parser = argparse.ArgumentParser(
        prog="trustnet bench feedback",
        description="Suspicion estimator: per-signal update and full recompute cost.",
    )
    parser.add_argument("--parties", type=int, default=60, help="parties (default 60)")
    parser.add_argument("--signals", type=int, default=6_000, help="signals (default 6000)")
    parser.add_argument("--days", type=int, default=365, help="span in days (default 365)")
    parser.add_argument("--seed", type=int, default=1, help="stream seed (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="recompute runs, best kept")
    parser.add_argument("--late", type=int, default=200, help="signals delivered late")
    parser.add_argument("--late-days", type=int, default=7, help="how late (days)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if min(args.parties, args.signals, args.days, args.repeat) < 1 or args.late < 0:
        parser.error("--parties, --signals, --days and --repeat must be >= 1, --late >= 0")
    result = run(
        args.parties, args.signals, args.days, args.seed, args.repeat, args.late, args.late_days
    )
    if args.json:
        print(json.dumps(result))
        return 0
    rows = [
        ("parties", f"{result['parties']}"),
        ("signals", f"{result['signals']} over {result['days']} days"),
        ("update, in order", f"{result['update_us_per_signal']:.1f} us/signal"),
        (
            "update, late",
            f"{result['late_update_us_per_signal']:.1f} us/signal ({result['late_signals']})",
        ),
        ("reports (all)", f"{result['reports_ms']:.2f} ms"),
        ("full recompute", f"{result['recompute_s'] * 1e3:.1f} ms"),
        ("incremental == recompute", "yes" if result["identical"] else "NO"),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    return 0 if result["identical"] else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
