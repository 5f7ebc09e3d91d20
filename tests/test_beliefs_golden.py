"""Golden beliefs: the numbers and JSON of `trustnet.trust.beliefs` do not drift (DESIGN 7).

`tests/vectors/beliefs_golden.json` holds `Beliefs.to_json()` of fixed scenarios, computed
by the beliefs code before its performance rework: the demo scenario of test_beliefs.py
(three viewers, one with a fork proof) and a seeded random mix of 3,000 statements from the
benchmark generator (with a fork), each both from `compute_beliefs` and from one incremental
`BeliefEngine` fed in random batches with a snapshot after each batch. Any change to the
results must be deliberate: regenerate with `.venv/bin/python tests/test_beliefs_golden.py`.

To keep the file small, documents are compacted the same way on both sides: entry and party
ids become their index in the scenario ("e12", "p3"), lists of like records become a header
and rows and, in the random mix, strings longer than 40 characters (notes, bases,
explanations) become a sha256 prefix; the file's floats are rounded to 12 decimals. The
random mix's batches are kept at two checkpoints; every other snapshot must equal
`compute_beliefs` over the same entries, and the last one the golden full recompute. Floats
compare to 1e-9; everything else exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from tests.harness.beliefs import NOW, World, baseline, demo
from trustnet.bench.beliefs import generate
from trustnet.identity import Identity
from trustnet.log.entry import Entry, ForkProof, sign_entry
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.trust.beliefs import BeliefEngine, TrustParams, compute_beliefs

GOLDEN = Path(__file__).parent / "vectors" / "beliefs_golden.json"
SEED = 7


class _Compactor:
    """Maps ids to short names and, optionally, long strings to a hash prefix."""

    def __init__(self, entries: list[Entry], parties: list[str], hash_text: bool) -> None:
        self.ids = {e.id_hex: f"e{i}" for i, e in enumerate(entries)}
        self.ids.update({p: f"p{i}" for i, p in enumerate(parties)})
        self.hash_text = hash_text

    def __call__(self, x: Any) -> Any:
        if isinstance(x, dict):
            return {k: self(v) for k, v in x.items()}
        if isinstance(x, list):
            keys = list(x[0]) if x and isinstance(x[0], dict) else None
            if keys is not None and all(isinstance(v, dict) and list(v) == keys for v in x):
                # A list of like records (contributions): one header, rows of values.
                return {"#cols": keys, "#rows": [[self(v[k]) for k in keys] for v in x]}
            return [self(v) for v in x]
        if isinstance(x, str):
            short = self.ids.get(x)
            if short is not None:
                return short
            if self.hash_text and len(x) > 40:
                return "h:" + hashlib.sha256(x.encode()).hexdigest()[:20]
        return x


def _batched(
    engine: BeliefEngine,
    entries: list[Entry],
    rng: random.Random,
    sizes: tuple[int, int],
    forks: list[ForkProof],
    compact: _Compactor,
    keep: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Feed `entries` in random batches (shuffled within each), snapshotting after each.

    Snapshots of batches in `keep` (all when None) are returned; the others must equal
    `compute_beliefs` over the entries so far.
    """
    out = []
    i = 0
    held_forks: list[ForkProof] = []
    for n in range(len(entries)):
        if i >= len(entries):
            break
        batch = list(entries[i : i + rng.randint(*sizes)])
        i += len(batch)
        rng.shuffle(batch)
        engine.add(batch)
        if forks and i >= len(entries) // 2:
            engine.add_forks(forks)
            held_forks = forks
        # Times that move forward, and now and then stay put (cached snapshot).
        now = max(e.ts for e in batch) + rng.choice((0, HOUR_MS, 30 * HOUR_MS, 3 * DAY_MS))
        snap = engine.snapshot(now).to_json()
        if rng.random() < 0.3:
            assert engine.snapshot(now).to_json() == snap  # nothing new: the same
        if keep is None or n in keep:
            out.append({"now": now, "beliefs": compact(snap)})
        else:
            full = compute_beliefs(
                entries[:i], engine.self_id, now, anchors=engine.anchors, forks=held_forks
            )
            # Close, not equal: sums of attestation confidences follow arrival order.
            _assert_close(compact(snap), compact(full.to_json()))
    return out


def _demo_world() -> tuple[World, ForkProof]:
    w = World()
    baseline(w)
    demo(w)
    n2 = w.identity("north-2")
    held = next(e for e in w.entries if e.author_hex == w.party("north-2") and e.seq == 2)
    other = sign_entry(n2, seq=2, prev=held.prev, ts=held.ts + 1, kind="trust",
                       body={"subject": w.party("south-1"), "level": 1000})
    return w, ForkProof.of(held, other)


def demo_documents() -> dict[str, Any]:
    """The demo scenario: full recomputes from three viewers, and one engine in batches."""
    w, proof = _demo_world()
    names = sorted(w.ids)
    compact = _Compactor(w.entries, [w.party(n) for n in names], hash_text=False)
    docs: dict[str, Any] = {}
    for viewer in ("north-1", "south-2"):
        docs[f"full_{viewer}"] = compact(compute_beliefs(w.entries, w.party(viewer), NOW).to_json())
    docs["full_north-1_forked"] = compact(
        compute_beliefs(w.entries, w.party("north-1"), NOW, forks=[proof]).to_json()
    )
    params = TrustParams(quorum=1, reliable=0.1, base_rate=0.3, a=0.3)
    docs["full_south-3_params"] = compact(
        compute_beliefs(w.entries, w.party("south-3"), NOW, anchors=[w.party("north-1")],
                        params=params).to_json()
    )
    engine = BeliefEngine(w.party("north-1"))
    docs["batches_north-1"] = _batched(engine, w.entries, random.Random(SEED), (1, 6), [], compact)
    docs["batches_north-1"].append({"now": NOW, "beliefs": compact(engine.snapshot(NOW).to_json())})
    return docs


def _random_fork(entries: list[Entry], pids: list[str], who: int) -> ForkProof:
    ident = Identity.from_seed(hashlib.sha256(f"bench-{SEED}-{who}".encode()).digest())
    assert ident.party_id == pids[who]
    held = next(e for e in entries if e.author_hex == pids[who] and e.seq == 5)
    other = sign_entry(ident, seq=5, prev=held.prev, ts=held.ts, kind="trust",
                       body={"subject": pids[0], "level": 1000})
    return ForkProof.of(held, other)


def random_documents() -> dict[str, Any]:
    """A seeded random mix of 3,000 statements by 12 parties (the benchmark's generator)."""
    entries, pids = generate(3000, 12, SEED)
    compact = _Compactor(entries, pids, hash_text=True)
    now = max(e.ts for e in entries) + DAY_MS
    me, anchors = pids[0], pids[1:3]
    proof = _random_fork(entries, pids, 7)
    docs: dict[str, Any] = {
        "full_forked": compact(
            compute_beliefs(entries, me, now, anchors=anchors, forks=[proof]).to_json()
        ),
        "full_params": compact(
            # Another viewer, other parameters, part of the store at a time within it.
            compute_beliefs(entries[:1800], pids[4], entries[1799].ts + 30 * HOUR_MS,
                            params=TrustParams(quorum=1, reliable=0.1, evidence_scale=2.0))
            .to_json()
        ),
    }
    engine = BeliefEngine(me, anchors)
    rng = random.Random(SEED)
    docs["batches"] = _batched(engine, entries, rng, (150, 700), [proof], compact, {1, 3})
    # The engine fed in batches ends where the full recompute is.
    _assert_close(compact(engine.snapshot(now).to_json()), docs["full_forked"])
    return docs


def documents() -> dict[str, Any]:
    """Everything the golden file holds."""
    return {"demo": demo_documents(), "random": random_documents()}


def _assert_close(got: Any, want: Any, path: str = "$") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), path
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            _assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: length differs"
        for i, (g, x) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, x, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert isinstance(got, int | float), f"{path}: {got!r} is not a number"
        assert math.isclose(got, want, rel_tol=0.0, abs_tol=1e-9), f"{path}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{path}: {got!r} != {want!r}"


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(GOLDEN.read_text())
    return doc


def test_demo_matches_golden(golden: dict[str, Any]) -> None:
    got = json.loads(json.dumps(demo_documents()))
    _assert_close(got, golden["demo"])


def test_random_mix_matches_golden(golden: dict[str, Any]) -> None:
    got = json.loads(json.dumps(random_documents()))
    assert set(got) == set(golden["random"])
    for key in golden["random"]:
        _assert_close(got[key], golden["random"][key], f"$.{key}")


def test_golden_batches_end_at_the_full_recompute(golden: dict[str, Any]) -> None:
    # The file's two routes agree with each other (demo: the engine's last snapshot).
    _assert_close(golden["demo"]["batches_north-1"][-1]["beliefs"], golden["demo"]["full_north-1"])
    assert len(golden["random"]["batches"]) == 2


def test_comparison_can_fail() -> None:
    with pytest.raises(AssertionError):
        _assert_close({"a": [1.0, 2.0]}, {"a": [1.0, 2.000001]})
    with pytest.raises(AssertionError):
        _assert_close({"a": "x"}, {"a": "y"})
    _assert_close({"a": [1.0, 2.0 + 1e-12]}, {"a": [1.0, 2.0]})


def _rounded(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return round(x, 12) if isinstance(x, float) else x


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(_rounded(documents()), separators=(",", ":")) + "\n")
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
