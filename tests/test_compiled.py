"""The analysis compiled by mypyc (trustnet/_build.py, setup.py) gives what its Python source
gives, and runs only while it is the build of the sources beside it (trustnet/_source.py)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trustnet import _source
from trustnet._build import COMPILED, GROUP
from trustnet._source import SOURCES, _Sources, analysis_compiled, why_interpreted

ROOT = Path(__file__).resolve().parents[1]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]

# Beliefs and suspicion over a few thousand statements, as a node computes them, and their
# digest: the same in both forms, to the last bit of every float.
_DIGEST = """
import hashlib, json, sys
from trustnet._source import analysis_compiled
from trustnet.analysis.views import NodeViews, Settings
from trustnet.bench.beliefs import generate
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.statements.figures import DAY_MS
from trustnet.store.sqlite import Store
entries, pids = generate(3000, 16, 7)
now = max(e.ts for e in entries) + DAY_MS
store = Store(None)
store.ingest(entries[:2900], now)
store.mark_received_at_ts()
views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
views.current()
for e in entries[2900:]:  # and per-entry updates
    store.ingest([e], e.ts)
    views.current()
beliefs, suspicion = views.current()
doc = {"beliefs": beliefs.to_json(),
       "explanations": {p: b.explanation for p, b in sorted(beliefs.parties.items())},
       "suspicion": {p: r.to_json() for p, r in sorted(suspicion.reports(now).items())}}
text = json.dumps(doc, sort_keys=True, default=repr)
print(json.dumps({"compiled": analysis_compiled(), "parties": len(beliefs.parties),
                  "digest": hashlib.sha256(text.encode()).hexdigest()}))
"""


def _digest(pure: bool) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRUSTNET_PURE_PYTHON", None)
    if pure:
        env["TRUSTNET_PURE_PYTHON"] = "1"
    done = subprocess.run([sys.executable, "-c", _DIGEST], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.mark.skipif(not analysis_compiled(),
                    reason=f"the analysis is not compiled here: {_source.interpreted_because()}")
def test_the_compiled_analysis_gives_what_its_source_gives() -> None:
    compiled, interpreted = _digest(pure=False), _digest(pure=True)
    assert compiled["compiled"] is True and interpreted["compiled"] is False
    assert compiled["parties"] == interpreted["parties"] and compiled["parties"] > 10
    assert compiled["digest"] == interpreted["digest"]


def _tree(root: Path) -> Path:
    """A package tree as an install leaves it: every compiled module with its build beside it,
    the group's library, and the digests of what was compiled."""
    pkg = root / "trustnet"
    digests = {}
    for rel in COMPILED:
        src = root / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(f"# {rel}\n")
        src.with_name(src.stem + SUFFIX).write_bytes(b"built")
        digests[rel] = hashlib.sha256(src.read_bytes()).hexdigest()
    (root / (GROUP.replace(".", "/") + "__mypyc" + SUFFIX)).write_bytes(b"built")
    (pkg / SOURCES).write_text(json.dumps(digests))
    return root


def test_a_build_runs_only_while_it_is_the_build_of_its_sources(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUSTNET_PURE_PYTHON", raising=False)
    root = _tree(tmp_path)
    assert why_interpreted(root) is None
    monkeypatch.setenv("TRUSTNET_PURE_PYTHON", "1")
    assert why_interpreted(root) == "TRUSTNET_PURE_PYTHON is set"
    monkeypatch.setenv("TRUSTNET_PURE_PYTHON", "0")
    assert why_interpreted(root) is None
    edited = root / COMPILED[3]
    edited.write_text(edited.read_text() + "# edited after the build\n")
    assert f"{COMPILED[3]} changed since it was built" in (why_interpreted(root) or "")
    _tree(root)
    (root / COMPILED[-1]).with_name(Path(COMPILED[-1]).stem + SUFFIX).unlink()
    assert f"{COMPILED[-1]} was not built" in (why_interpreted(root) or "")
    _tree(root)
    (root / "trustnet" / SOURCES).write_text("{not json")
    assert "is unknown" in (why_interpreted(root) or "")
    _tree(root)
    # Built from a longer list (a module since left out runs from source, while the build
    # still calls into its compiled form): not run.
    listed = json.loads((root / "trustnet" / SOURCES).read_text())
    (root / "trustnet" / SOURCES).write_text(json.dumps({**listed, "trustnet/gone.py": "00"}))
    assert "another list" in (why_interpreted(root) or "")
    _tree(root)
    (root / (GROUP.replace(".", "/") + "__mypyc" + SUFFIX)).unlink()
    assert "not built" in (why_interpreted(root) or "")


def test_the_finder_imports_sources_instead_of_builds_not_to_run(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    compiled_name = COMPILED[0][:-3].replace("/", ".")
    # A build left from an older list of compiled modules: never run.
    old = root / "trustnet" / "statements" / "dropped.py"
    old.write_text("X = 1\n")
    old.with_name("dropped" + SUFFIX).write_bytes(b"built")
    running = _Sources(True, root)
    assert running.find_spec(compiled_name) is None  # the build: the usual import
    spec = running.find_spec("trustnet.statements.dropped")
    assert spec is not None and spec.origin == str(old)
    assert running.find_spec("trustnet.statements.absent") is None
    assert running.find_spec("numpy") is None
    interpreted = _Sources(False, root)
    spec = interpreted.find_spec(compiled_name)
    assert spec is not None and spec.origin == str(root / COMPILED[0])


def test_every_compiled_module_is_a_source_of_the_package() -> None:
    # The list setup.py compiles from: modules of the package, once each, and none whose
    # records check their callers' input (compiled, a wrong type fails before the check).
    assert len(set(COMPILED)) == len(COMPILED)
    for rel in COMPILED:
        assert (ROOT / rel).is_file() and rel.startswith("trustnet/") and rel.endswith(".py")
    assert not {"trustnet/feedback/records.py", "trustnet/trust/beliefs/records.py",
                "trustnet/feedback/richardson.py", "trustnet/feedback/hostility.py"} & set(COMPILED)


def test_dates_in_notes_read_as_strftime_writes_them() -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from trustnet.statements.stmt import date_text

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(5)
    lo = int((datetime(1, 1, 1, tzinfo=UTC) - epoch).total_seconds() * 1000)
    hi = int((datetime(9999, 12, 31, 23, 59, tzinfo=UTC) - epoch).total_seconds() * 1000)
    times = [rng.randint(lo, hi) for _ in range(5000)] + [0, -1, lo, hi, 1_717_200_000_000]
    # Each day's date is kept: times again within days already read, at their first and
    # last millisecond, past the bound on the days kept (5000 above).
    day = 86_400_000
    for ms in rng.sample(times, 300):
        start = ms // day * day
        times += [start, start + day - 1, start + rng.randrange(day), start - 1]
    for ms in times:
        want = (epoch + timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M UTC")
        assert date_text(ms) == want, ms
    assert date_text(hi * 2) == f"{hi * 2} ms"


# The records written out for the compiler behave as the frozen dataclasses they were, in
# either form: copied and pickled equal, read-only.
_RECORDS = """
import copy, pickle
from trustnet._source import analysis_compiled
from trustnet.bench.beliefs import generate
from trustnet.statements.entries import statement_of
from trustnet.statements.evidence import Evidence
from trustnet.statements.index import Index
from trustnet.statements.stmt import Stmt
from trustnet.trust.beliefs import BeliefEngine
from trustnet.statements.figures import DAY_MS, DEFAULT_FIGURES
entries, pids = generate(600, 6, 3)
now = max(e.ts for e in entries) + DAY_MS
ev = Evidence("ab" * 32, "unnotified_activity", -0.5, 7, ("e1",), ("s1",), note="n")
st = Stmt(entries[0], statement_of(entries[0]), entries[0].ts)
ix = Index(entries, DEFAULT_FIGURES)
findings = list(ix.findings())
engine = BeliefEngine(pids[0])
engine.add(entries)
belief = next(iter(engine.snapshot(now).parties.values()))
records = [ev, st, findings[0], belief]
assert findings
for r in records:
    for twin in (copy.copy(r), copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
        assert twin == r and type(twin) is type(r), r
import dataclasses
for r, field in ((ev, "weight"), (st, "ts"), (findings[0], "party")):
    for change in (lambda: setattr(r, field, 1), lambda: delattr(r, field)):
        try:
            change()
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise SystemExit(f"{type(r).__name__}.{field} was changed")
print("ok", analysis_compiled())
"""


@pytest.mark.parametrize("pure", ["0", "1"])
def test_written_out_records_copy_pickle_and_stay_read_only(pure: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRUSTNET_PURE_PYTHON": pure}
    done = subprocess.run([sys.executable, "-c", _RECORDS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-1000:]
    assert done.stdout.startswith("ok")
    if pure == "1":
        assert done.stdout.strip() == "ok False"
