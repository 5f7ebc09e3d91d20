"""Ingest benchmark: import a bundle of N entries from A authors into a fresh store, and compare
its rate with raw libsodium verifications per second measured in the same run, on one core
(`ratio`; issue 15 asks >= 1.3) and on every core (`ratio_all_cores`: 1.0 would be every core
doing nothing but verify), and against one core of libsodium called from C with nothing
between two verifications (`ratio_c`, the strictest baseline). The import runs as `trustnet
import` does: on the ingest workers (`--workers`, default one per core; 0: in process). Peak
resident memory of the import is measured in a child process running the real `trustnet
import`."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nacl.bindings import crypto_sign_open

from trustnet.clock import DAY_MS
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.log.bundle import import_bundle, iter_bundle, write_bundle
from trustnet.log.entry import decode_entry, sign_entry
from trustnet.store.sqlite import Store
from trustnet.store.workers import IngestPool, IngestSettings

NOW = 1_790_000_000_000


def make_bundle(path: Path, n: int, authors: int, seed: int = 1) -> None:
    """Write a bundle of n realistic entries, round-robin over `authors` chains."""
    ids = [Identity.from_seed(seed.to_bytes(4, "big") + i.to_bytes(28, "big")) for i in range(authors)]
    heads: list[tuple[int, bytes | None]] = [(0, None)] * authors
    raws = []
    for k in range(n):
        a = k % authors
        seq, prev = heads[a]
        body = {
            "subject": ids[(a + 1) % authors].party_id,
            "area": f"sector {k % 97}",
            "at": NOW - DAY_MS + k,
            "troops": 1000 + k % 20000,
            "tanks": k % 400,
            "acv": k % 600,
            "artillery": k % 300,
            "method": "aerial",
            "confidence": 700,
            "evidence": [],
        }
        e = sign_entry(ids[a], seq=seq + 1, prev=prev, ts=NOW - n + k, kind="observation", body=body)
        heads[a] = (e.seq, e.id)
        raws.append(e.raw)
    with open(path, "wb") as f:
        write_bundle(f, raws)


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process or a child `pid` (Linux)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_figures(n: int, writer_s: float, workers_s: float, verify_us: float, cores: int
                ) -> dict[str, Any]:
    """Where the CPU of ingesting `n` entries went, per entry, and the ratio to single-core
    raw verification the cores could reach at best with that much work per entry (every
    core busy all the time): what limits the ratio, measured on a busy machine too."""
    writer, workers = writer_s / n * 1e6, workers_s / n * 1e6
    return {
        "cpu_us_per_entry": {"writer": round(writer, 1), "workers": round(workers, 1),
                             "raw_verify": round(verify_us, 1),
                             "beside_verify": round(writer + workers - verify_us, 1)},
        "ratio_cpu_bound": round(min(cores, cores * verify_us / (writer + workers)), 3),
    }


def _signed(raws: list[bytes]) -> list[tuple[bytes, bytes, bytes]]:
    """(sig, the message it signs, key) of each entry, as the raw baselines verify them."""
    out = []
    for raw in raws:
        e = decode_entry(raw, verify=False)
        out.append((e.sig, ENTRY_DOMAIN + e.payload, e.author))
    return out


def raw_verify_rate(raws: list[bytes], cores: int = 1) -> float:
    """Verifications per second of libsodium alone over the same entries, on `cores` threads
    (libsodium releases the GIL: each thread is a core verifying its share, nothing else)."""
    msgs = [(sig + message, pk) for sig, message, pk in _signed(raws)]
    if cores <= 1:
        t0 = time.perf_counter()
        for signed, pk in msgs:
            crypto_sign_open(signed, pk)
        return len(msgs) / (time.perf_counter() - t0)

    def share(part: list[tuple[bytes, bytes]]) -> None:
        for signed, pk in part:
            crypto_sign_open(signed, pk)

    step = -(-len(msgs) // cores)
    with ThreadPoolExecutor(cores) as threads:
        t0 = time.perf_counter()
        list(threads.map(share, [msgs[i : i + step] for i in range(0, len(msgs), step)]))
        return len(msgs) / (time.perf_counter() - t0)


def raw_verify_c_rate(raws: list[bytes]) -> float | None:
    """Verifications per second with libsodium called from C, one after another with no
    Python between them (`trustnet._canonical.verify_many`): the strictest single-core
    baseline, a few percent above `raw_verify_rate` (pynacl's wrapper and the copy of the
    message it makes). None where the compiled module is not built."""
    try:
        from trustnet._canonical import verify_many
    except ImportError:  # pragma: no cover - depends on the machine it was installed on
        return None
    library = importlib.import_module("nacl._sodium").__file__ or ""
    items = _signed(raws)
    t0 = time.perf_counter()
    good = verify_many(items, library)
    elapsed = time.perf_counter() - t0
    if good != len(items):
        raise RuntimeError(f"{len(items) - good} of the benchmark's signatures do not verify")
    return len(items) / elapsed


def c_figures(rate: float, c_rates: list[float | None]) -> dict[str, Any]:
    """`raw_verify_c_per_s` (the best of `c_rates`) and the ratio of `rate` to it."""
    known = [r for r in c_rates if r is not None]
    if not known:
        return {"raw_verify_c_per_s": None, "ratio_c": None}
    best = max(known)
    return {"raw_verify_c_per_s": round(best), "ratio_c": round(rate / best, 3)}


def raw_verify_cpu_rate(raws: list[bytes]) -> float:
    """Single-core raw verifications per CPU second (what the ratio's work costs)."""
    msgs = [(sig + message, pk) for sig, message, pk in _signed(raws[:20_000])]
    c0 = cpu_s()
    for signed, pk in msgs:
        crypto_sign_open(signed, pk)
    return len(msgs) / (cpu_s() - c0)


def run(n: int = 100_000, authors: int = 50, rss: bool = True, repeat: int = 3,
        workers: int = -1) -> dict[str, Any]:
    """Measure import rate, raw verify rates (one core, every core), the ratios and the
    import's peak RSS.

    The machine is shared and noisy: raw verification and the import are measured
    alternately `repeat` times, and the ratios are of the medians.
    """
    cores = os.cpu_count() or 1
    pool = IngestPool(IngestSettings(workers).worker_count())
    with tempfile.TemporaryDirectory(prefix="trustnet-bench-") as tmp:
        bundle = Path(tmp) / "bench.bundle"
        t0 = time.perf_counter()
        make_bundle(bundle, n, authors)
        gen_s = time.perf_counter() - t0
        raws = list(iter_bundle(bundle))
        raw_rates, all_rates, import_rates = [], [], []
        c_rates: list[float | None] = []
        writer_s = workers_s = 0.0
        pool.start()
        pool.spawn()  # a node spawns them once, at its first large batch: not timed here
        try:
            for k in range(repeat):
                raw_rates.append(raw_verify_rate(raws))
                all_rates.append(raw_verify_rate(raws, cores))
                c_rates.append(raw_verify_c_rate(raws))
                store_dir = Path(tmp) / f"node-{k}"
                store_dir.mkdir()
                with Store.open_dir(store_dir) as store:
                    store.use_pool(pool)
                    pids = pool.pids()
                    w0, c0 = sum(cpu_s(p) for p in pids), cpu_s()
                    t0 = time.perf_counter()
                    report = import_bundle(store, bundle, NOW)
                    import_rates.append(n / (time.perf_counter() - t0))
                    writer_s += cpu_s() - c0
                    if pool.pids() == pids:  # no worker replaced meanwhile
                        workers_s += sum(cpu_s(p) for p in pids) - w0
                    assert report.ok and report.accepted == n, report
        finally:
            pool.stop()
        verify_us = 1e6 / raw_verify_cpu_rate(raws)
        del raws
        raw_rate, import_rate = statistics.median(raw_rates), statistics.median(import_rates)
        all_rate = statistics.median(all_rates)
        result: dict[str, Any] = {
            "entries": n,
            "authors": authors,
            "workers": pool.size,
            "cores": cores,
            "generate_s": round(gen_s, 2),
            "import_per_s": round(import_rate),
            "raw_verify_per_s": round(raw_rate),
            "raw_verify_all_cores_per_s": round(all_rate),
            "ratio": round(import_rate / raw_rate, 3),
            "ratio_all_cores": round(import_rate / all_rate, 3),
            **c_figures(import_rate, c_rates),
            **cpu_figures(n * repeat, writer_s, workers_s, verify_us, cores),
            "runs": repeat,
            "import_per_s_runs": [round(r) for r in import_rates],
            "raw_verify_per_s_runs": [round(r) for r in raw_rates],
            "raw_verify_all_cores_per_s_runs": [round(r) for r in all_rates],
        }
        if rss:
            result["import_peak_rss_mb"] = _child_import_rss(bundle, Path(tmp) / "rss")
        return result


def _child_import_rss(bundle: Path, node_dir: Path) -> float:
    """Peak RSS (MB) of a real `trustnet import` process."""
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "trustnet", "init", str(node_dir)], check=True,
                   capture_output=True, env=env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "trustnet", "import", str(node_dir), str(bundle)],
                   check=True, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(after, before) / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench ingest [--entries N] [--authors A] [--json]`."""
    p = argparse.ArgumentParser(prog="trustnet bench ingest", description=__doc__)
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--authors", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3, help="alternating runs; medians are compared")
    p.add_argument("--workers", type=int, default=-1,
                   help="ingest worker processes (-1: one per core, the default; 0: in process)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print(f"generating {args.entries} signed entries from {args.authors} authors...", file=sys.stderr)
    result = run(args.entries, args.authors, repeat=args.repeat, workers=args.workers)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<20} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
