"""A large node: 1,000,000 entries from 100,000 authors, served by a real `trustnet run`.

Issue 15 item 5: what a node holding a great many authors costs to start, to hold and to
ask. The store is built once and cached (`--cache`, default `$XDG_CACHE_HOME/trustnet`):

- `authors` identities from seeded keys, each with a profile at seq 1, then statements
  (trust, observations, attestations of them, notifications) by authors drawn from a
  seeded RNG about random subjects, signed along each author's chain, one every
  `STEP_MS` from `T0` (a million of them span a year, all before today);
- written through the store's own ingest (`Store.ingest` of signed entries: chain order,
  body checks, one transaction per batch), received when signed, the WAL checkpointed.

Then two node directories (`Testbed`, peers of each other) get a copy of that store and
their `trustnet run` processes start; the second is stopped once anti-entropy is measured,
so that the analysis figures are one node's on the machine. Measured, per node and in one
run:

- `startup_s`: from the process start until `GET /status` answers (and it is not catching
  up); `rss_start_kb`: resident memory then;
- `GET /status`, the first and last pages of `GET /parties`: time and bytes of each;
  `rss_after_kb`: resident memory after them;
- the first analysis (it starts with the node, off its event loop): `analysis_ready_s`, from
  the process start until `GET /beliefs` answers 200 (before, 503 `analysis_pending`), with
  `/status` and `/beliefs` timed about once a second meanwhile; then the first page of
  `GET /beliefs` twice and of `GET /suspicion` (`?limit=100`), `GET /metrics` (its per-party
  gauges) and the resident memory after the analysis;
- in-sync anti-entropy: once both nodes hold the same (each the other's own entries too),
  the digest requests over `--window` seconds of ticks: bytes per tick (bodies, from
  `/metrics`) and a digest exchange timed from outside (a stranger's signed digest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trustnet.bench.stranger import Stranger, get, rss_kb
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.statements.figures import DAY_MS
from trustnet.store.schema import DB_FILE, connect
from trustnet.store.sqlite import Store
from trustnet.testbed.cluster import Testbed, TestbedNode

__all__ = ["build", "cached_store", "generate", "main", "measure", "run"]

T0 = 1_735_689_600_000  # 2025-01-01 UTC
STEP_MS = 30_000  # one statement every 30 s: a million span under a year
BATCH = 5_000  # entries per ingest transaction
_DIGEST = "ab" * 32
_FORMAT = 1  # bump when the generator changes: a cached store of another format is rebuilt
Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def generate(entries: int, authors: int, seed: int = 1) -> Iterator[Entry]:
    """`entries` signed statements by `authors` parties, in time order: a profile of every
    author first, then trust, observations, attestations and notifications (each author's
    chain in order: a prefix of the stream is a valid store)."""
    rng = random.Random(seed)
    ids = [Identity.from_seed(hashlib.sha256(f"large-{seed}-{i}".encode()).digest())
           for i in range(authors)]
    pids = [i.party_id for i in ids]
    heads: list[tuple[int, bytes | None]] = [(0, None)] * authors
    claims: list[str] = []  # recent observation ids, attested by others

    def post(who: int, kind: str, body: dict[str, Any], ts: int) -> Entry:
        seq, prev = heads[who]
        e = sign_entry(ids[who], seq=seq + 1, prev=prev, ts=ts, kind=kind, body=body)
        heads[who] = (seq + 1, e.id)
        return e

    n = 0
    for i in range(min(authors, entries)):
        yield post(i, "profile", {"name": f"party-{i}", "role": "state", "urls": []}, T0 - DAY_MS)
        n += 1
    ts = T0
    while n < entries:
        ts += STEP_MS
        a = rng.randrange(authors)
        b = rng.randrange(authors)
        x = rng.random()
        troops = rng.choice((3_000, 8_000, 12_500, 16_000, 25_000))
        if x < 0.2 or authors < 2:
            e = post(a, "trust", {"subject": pids[b], "level": rng.randint(-200, 1000)}, ts)
        elif x < 0.35:
            start = ts + rng.randint(10, 60) * DAY_MS
            e = post(a, "notification", {
                "activity": f"Ex-{a}-{ts}", "type": rng.choice(("exercise", "transfer")),
                "start": start, "end": start + 7 * DAY_MS, "area": f"Area {a}",
                "troops": troops, "tanks": troops // 50, "acv": 0, "artillery": 0,
                "amphibious": 0, "sorties": 0, "observers_invited": rng.random() < 0.5,
            }, ts)
        elif x < 0.7 or not claims:
            seen = int(troops * rng.uniform(0.7, 1.6))
            e = post(a, "observation", {
                "subject": pids[b], "area": f"Area {b}", "at": ts, "troops": seen,
                "tanks": seen // 50, "acv": 0, "artillery": 0,
                "method": rng.choice(("aerial", "technical", "open_source")),
                "confidence": rng.randint(300, 1000), "evidence": [_DIGEST],
            }, ts)
            claims.append(e.id_hex)
            if len(claims) > 4000:
                del claims[:2000]
        else:
            e = post(a, "attestation", {
                "subject": rng.choice(claims),
                "verdict": rng.choice(("confirm", "confirm", "confirm", "refute", "partial")),
                "method": "evaluation", "confidence": rng.randint(300, 1000),
                "evidence": [_DIGEST], "note": "",
            }, ts)
        yield e
        n += 1


def build(path: Path, entries: int, authors: int, seed: int = 1,
          progress: Progress = _quiet) -> float:
    """Write the store of `generate(...)` to `path` (a SQLite file, replaced when complete);
    the seconds it took."""
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        leftover.unlink(missing_ok=True)
    now = T0 + entries * STEP_MS + DAY_MS
    store = Store(part, verify_threads=1)
    try:
        batch: list[Entry] = []
        done = 0
        for e in generate(entries, authors, seed):
            batch.append(e)
            if len(batch) >= BATCH:
                done += _ingest(store, batch, now)
                batch = []
                if done % 100_000 == 0:
                    rate = done / (time.perf_counter() - t0)
                    progress(f"  {done:,} / {entries:,} entries ({rate:,.0f}/s)")
        done += _ingest(store, batch, now)
        # A live node received each statement when it was signed (deadlines are judged by
        # receipt, DESIGN 12): not all at the moment of the build.
        store.mark_received_at_ts()
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    os.replace(part, path)
    return time.perf_counter() - t0


def _ingest(store: Store, batch: list[Entry], now: int) -> int:
    if not batch:
        return 0
    result = store.ingest(batch, now)
    if result.rejected or result.gaps or result.forks:
        first = result.rejected[0].to_json() if result.rejected else result.gaps
        raise RuntimeError(f"the generated store was refused by ingest: {first}")
    return len(result.accepted)


def cached_store(entries: int, authors: int, seed: int = 1, *, cache: Path | None = None,
                 progress: Progress = _quiet) -> tuple[Path, float | None]:
    """The built store for these parameters, built now unless cached: (its file, the build
    seconds, or None when it came from the cache)."""
    root = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trustnet"
    path = root / f"large-v{_FORMAT}-{entries}-{authors}-{seed}" / DB_FILE
    if path.exists():
        progress(f"using the store built before: {path}")
        connect(path).close()  # brought to this version's schema (indexes added since) once
        return path, None
    progress(f"building {entries:,} entries from {authors:,} authors into {path} "
             "(once; later runs use it) ...")
    return path, build(path, entries, authors, seed, progress)


# -- measuring a real node on it ----------------------------------------------------------------


def _timed_get(url: str, path: str, token: str | None = None, *, timeout_s: float = 600.0,
               progress: Progress = _quiet) -> dict[str, Any]:
    """Time and bytes of one GET; a read that does not answer within `timeout_s` is reported
    as such (the figure, not a failure of the benchmark)."""
    t0 = time.perf_counter()
    try:
        status, body = get(url, path, token=token, timeout_s=timeout_s)
    except OSError as exc:  # a timeout, or the node gone
        out: dict[str, Any] = {"status": None, "ms": round((time.perf_counter() - t0) * 1e3, 1),
                               "bytes": 0, "error": f"no answer: {exc}"}
        progress(f"GET {path}: {out['error']}")
        return out
    elapsed = time.perf_counter() - t0
    out = {"status": status, "ms": round(elapsed * 1e3, 1), "bytes": len(body)}
    if status != 200:
        out["error"] = body[:300].decode("utf-8", "replace")
    progress(f"GET {path}: {status}, {out['ms']} ms, {len(body):,} bytes")
    return out


def _status(node: TestbedNode) -> dict[str, Any]:
    status: dict[str, Any] = node.client.get("/status")
    return status


def _rounds(node: TestbedNode) -> tuple[int, int, int]:
    """Anti-entropy rounds the node started so far, and how many were answered in sync and
    with a mismatch (GET /peers: not /metrics, whose per-party gauges run the analysis)."""
    stats = node.client.get("/peers")["gossip"]
    return int(stats.get("rounds", 0)), int(stats.get("in_sync", 0)), int(stats.get("mismatch", 0))


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.2)


def _in_sync(a: TestbedNode, b: TestbedNode) -> bool:
    sa, sb = _status(a), _status(b)
    return bool(sa["entries"] == sb["entries"] and sa["authors"] == sb["authors"])


def measure(store_file: Path, base: Path, *, window_s: float = 10.0, tick_s: float = 1.0,
            read_timeout_s: float = 600.0, progress: Progress = _quiet) -> dict[str, Any]:
    """Two `trustnet run` nodes on copies of `store_file` under `base`: the figures. The
    store's own paths first (start, /status, /parties, anti-entropy), the analysis last (a
    node computing it may answer nothing else for a while)."""
    bed = Testbed(base, ("large-a", "large-b"), peers_per_node=1,
                  gossip={"tick_interval_s": tick_s})
    bed.create()
    for node in bed.nodes:
        shutil.copyfile(store_file, node.dir / DB_FILE)
    out: dict[str, Any] = {}
    started: dict[str, float] = {}
    try:
        for node in bed.nodes:
            t0 = started[node.name] = time.perf_counter()
            bed.start_node(node)
            bed.wait_up(node, 900.0)
            out[node.name] = {"startup_s": round(time.perf_counter() - t0, 2),
                              "rss_start_kb": rss_kb(_pid(node))}
            progress(f"{node.name} up at {node.url} in {out[node.name]['startup_s']} s, "
                     f"{out[node.name]['rss_start_kb']:,} KiB resident")
        a, b = bed.nodes
        figures = out[a.name]
        figures["status"] = _timed_get(a.url, "/status", progress=progress)
        figures["status_json"] = json.loads(get(a.url, "/status")[1])
        figures["parties_first_page"] = _timed_get(a.url, "/parties?limit=100",
                                                   progress=progress)
        figures["parties_first_page_again"] = _timed_get(a.url, "/parties?limit=100",
                                                         progress=progress)
        last = max(0, figures["status_json"]["authors"] - 100)
        figures["parties_last_page"] = _timed_get(a.url, f"/parties?offset={last}&limit=100",
                                                  progress=progress)
        progress("waiting until both nodes hold the same ...")
        out["anti_entropy"] = _anti_entropy(a, b, window_s, tick_s)
        progress(f"anti-entropy: {out['anti_entropy']}")
        figures["rss_after_reads_kb"] = rss_kb(_pid(a))
        out[b.name]["rss_after_sync_kb"] = rss_kb(_pid(b))
        # The analysis is one node's own: its peer would compute its own beside it, on the
        # same cores and memory (at a million entries two of them do not fit in 24 GiB).
        bed.stop_node(b)
        token = a.client.token
        progress("waiting for the first analysis (/status and /beliefs asked meanwhile) ...")
        figures.update(_analysis(a, token, started[a.name], read_timeout_s, progress))
        for key in ("beliefs_first_page", "beliefs_first_page_again"):
            figures[key] = _timed_get(a.url, "/beliefs?limit=100", token,
                                      timeout_s=read_timeout_s, progress=progress)
        figures["suspicion_first_page"] = _timed_get(a.url, "/suspicion?limit=100", token,
                                                     timeout_s=read_timeout_s, progress=progress)
        figures["metrics"] = _timed_get(a.url, "/metrics", timeout_s=read_timeout_s,
                                        progress=progress)
        figures["rss_after_analysis_kb"] = rss_kb(_pid(a))
        progress(f"large-a resident after the analysis: {figures['rss_after_analysis_kb']:,} KiB")
    finally:
        bed.stop()
    return out


def _analysis(node: TestbedNode, token: str | None, started: float, timeout_s: float,
              progress: Progress) -> dict[str, Any]:
    """The node's first analysis runs off its event loop from its start: until `/beliefs`
    answers, `/status` and `/beliefs` are asked about once a second and timed. The first
    analysis' time (from the process start until `/beliefs` answers 200) and the slowest
    and median answers meanwhile."""
    status_ms: list[float] = []
    pending_ms: list[float] = []
    codes: set[str] = set()
    deadline = time.monotonic() + timeout_s
    ready_s: float | None = None
    while time.monotonic() < deadline:
        status = _timed_get(node.url, "/status", timeout_s=60.0)
        beliefs = _timed_get(node.url, "/beliefs?limit=1", token, timeout_s=60.0)
        if beliefs["status"] == 200:
            ready_s = time.perf_counter() - started
            break
        status_ms.append(status["ms"])
        pending_ms.append(beliefs["ms"])
        codes.add(str(beliefs.get("error", ""))[:80])
        if len(pending_ms) % 30 == 1:
            progress(f"  analysing: /status {status['ms']} ms, /beliefs {beliefs['status']} "
                     f"in {beliefs['ms']} ms")
        time.sleep(1.0)
    progress(f"first analysis done {ready_s} s after the start" if ready_s is not None
             else f"the first analysis did not finish within {timeout_s:.0f} s")

    def spread(xs: list[float]) -> dict[str, Any]:
        xs = sorted(xs)
        return {"n": len(xs), "median_ms": xs[len(xs) // 2] if xs else None,
                "max_ms": xs[-1] if xs else None}

    return {"analysis_ready_s": None if ready_s is None else round(ready_s, 1),
            "status_while_analysing": spread(status_ms),
            "beliefs_while_analysing": {**spread(pending_ms), "answers": sorted(codes)}}


def _anti_entropy(a: TestbedNode, b: TestbedNode, window_s: float, tick_s: float
                  ) -> dict[str, Any]:
    """In-sync rounds of `a` with `b` over `window_s`; a digest that differs, timed; one new
    entry published on `a` until `b` holds it."""
    _wait(lambda: _in_sync(a, b), 600.0, "the two nodes in sync")
    # A peer dialled before it was up is backed off for a while: from its next round on.
    first = _rounds(a)[0]
    _wait(lambda: _rounds(a)[0] > first, 300.0, "an anti-entropy round of large-a")
    before = _rounds(a)
    time.sleep(window_s)  # ticks run on their own: the window is what is measured
    _wait(lambda: _rounds(a)[1] > before[1], 300.0, "an in-sync round of large-a")
    after = _rounds(a)
    rounds, in_sync_rounds, mismatches = (x - y for x, y in zip(after, before, strict=True))
    in_sync = _in_sync(a, b)
    # A digest that differs (a stranger's): what a mismatch costs with this protocol.
    stranger = Stranger.fresh()
    times = []
    reply = b""
    for _ in range(3):
        t0 = time.perf_counter()
        _code, reply = stranger.post(a.url, m.DIGEST, m.encode(m.Digest(bytes(32))))
        times.append(time.perf_counter() - t0)
    # One new entry: pushed, and every digest after it made anew over the heads.
    t0 = time.perf_counter()
    published = a.client.publish("trust", {"subject": b.node_id, "level": 500})
    # Asked by author: GET /entries/{id} adds the desk's standing, which runs the analysis.
    _wait(lambda: published["id"] in get(b.url, f"/entries?author={a.node_id}")[1].decode(),
          300.0, "the new entry on large-b")
    spread_s = time.perf_counter() - t0
    return {
        "window_s": window_s, "tick_s": tick_s, "rounds": rounds,
        "rounds_in_sync": in_sync_rounds, "rounds_mismatched": mismatches, "in_sync": in_sync,
        # An in-sync round is one digest and its in-sync reply (bodies; the request's
        # signature headers add about 255 bytes): their size, whatever the store holds.
        "in_sync_body_bytes_per_round": len(m.encode(m.Digest(bytes(32))))
        + len(m.encode(m.InSync())),
        "mismatch_reply_bytes": len(reply),
        "mismatch_reply_ms": round(min(times) * 1e3, 1),
        "new_entry_to_peer_s": round(spread_s, 3),
    }


def _pid(node: TestbedNode) -> int:
    assert node.proc is not None
    return node.proc.pid


def run(entries: int = 1_000_000, authors: int = 100_000, seed: int = 1, *,
        cache: Path | None = None, window_s: float = 10.0, read_timeout_s: float = 600.0,
        progress: Progress = _quiet) -> dict[str, Any]:
    """Build (or reuse) the store, measure two real nodes on it."""
    path, build_s = cached_store(entries, authors, seed, cache=cache, progress=progress)
    with tempfile.TemporaryDirectory(prefix="trustnet-bench-large-") as tmp:
        figures = measure(path, Path(tmp), window_s=window_s, read_timeout_s=read_timeout_s,
                          progress=progress)
    return {"entries": entries, "authors": authors, "seed": seed,
            "store_mb": round(path.stat().st_size / 2**20, 1),
            "build_s": None if build_s is None else round(build_s, 1), **figures}


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench large [--entries N] [--authors A] [--seed S] [--cache DIR] [--json]`."""
    p = argparse.ArgumentParser(prog="trustnet bench large", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--authors", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cache", type=Path, default=None,
                   help="where built stores are kept (default $XDG_CACHE_HOME/trustnet)")
    p.add_argument("--window", type=float, default=10.0,
                   help="seconds of in-sync anti-entropy ticks measured (default 10)")
    p.add_argument("--read-timeout", type=float, default=600.0,
                   help="seconds a read (/beliefs, /metrics) may take before it is reported "
                        "as not answered (default 600)")
    p.add_argument("--build-only", action="store_true", help="build (or find) the store, stop")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.entries < 1 or not 1 <= args.authors <= args.entries:
        p.error("need 1 <= --authors <= --entries")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.build_only:
        path, build_s = cached_store(args.entries, args.authors, args.seed, cache=args.cache,
                                     progress=say)
        result: dict[str, Any] = {"store": str(path), "build_s": build_s}
    else:
        result = run(args.entries, args.authors, args.seed, cache=args.cache,
                     window_s=args.window, read_timeout_s=args.read_timeout, progress=say)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
