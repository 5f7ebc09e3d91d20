"""Bundles on the command line: `export` a node's entries to a bundle file, `import` one
(bad entries named and skipped), `verify` every entry of a bundle or a node directory."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from trustnet.cli.output import err, out
from trustnet.cli.target import open_read
from trustnet.clock import SystemClock
from trustnet.config.loader import load_config
from trustnet.log.bundle import (
    ImportReport,
    import_bundle,
    iter_bundle,
    verify_stream,
    write_bundle,
)
from trustnet.node.settings import load_settings
from trustnet.store.sqlite import Rejected, Store
from trustnet.store.workers import IngestPool

MAX_LISTED = 20


def _list_rejected(what: str, rejected: Sequence[Rejected], codes: Counter[str] | None = None
                   ) -> None:
    """Name each bad entry with its code; past MAX_LISTED, count them by code (`codes`: the
    counts of every rejection, when `rejected` names only some)."""
    for r in rejected[:MAX_LISTED]:
        err(f"trustnet: {what} entry {r.index} ({r.id or 'undecodable'}): [{r.code}] {r.message}")
    rest = Counter(codes) if codes is not None else Counter(r.code for r in rejected)
    rest.subtract(r.code for r in rejected[:MAX_LISTED])
    more = sum(rest.values())
    if more > 0:
        err(f"trustnet: ... and {more} more {what} entries ("
            + ", ".join(f"{n} {code}" for code, n in rest.most_common() if n > 0) + ")")


def cmd_export(args: argparse.Namespace) -> int:
    """Write every entry of a node to a bundle file."""
    out_path = Path(args.file)
    with open_read(Path(args.dir)) as store:
        tmp = out_path.with_name(out_path.name + ".tmp")
        with open(tmp, "wb") as f:
            n = write_bundle(f, store.export_raw())
        tmp.replace(out_path)
    err(f"exported {n} entries to {out_path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Verify and store the entries of a bundle; bad entries are named and skipped."""
    node_dir = Path(args.dir)
    settings = load_settings(load_config(node_dir))
    started = time.monotonic()
    last = [started]

    def progress(r: ImportReport) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            err(f"  ... {r.read} read, {r.accepted} stored, {r.rejected_count} rejected")

    pool = IngestPool(settings.ingest.worker_count())
    with Store.open_dir(node_dir) as store:
        pool.start()
        store.use_pool(pool)
        try:
            # Entries beyond a gap wait in a temporary file beside the store (not in /tmp,
            # which may be memory), deleted when the import ends.
            report = import_bundle(store, Path(args.file), SystemClock().now_ms(),
                                   progress=progress, spill_dir=node_dir)
        finally:
            pool.stop()
    _list_rejected("rejected", report.rejected, report.rejected_codes)
    if report.stream_error:
        err(f"trustnet: error [{report.stream_error.code}]: {report.stream_error.message}")
    elapsed = time.monotonic() - started
    summary = {
        "read": report.read,
        "stored": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected_count,
        "forks": report.forks,
        "seconds": round(elapsed, 3),
    }
    out(json.dumps(summary))
    return 0 if report.ok else 1


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every signature, body and chain of a bundle file or a node directory."""
    target = Path(args.target)
    now = SystemClock().now_ms()
    if target.is_dir():
        with open_read(target) as store:
            report = verify_stream(store.export_raw(), now)
            fork_count = len(store.forks())
    else:
        report = verify_stream(iter_bundle(target), now)
        fork_count = report.forks
    _list_rejected("invalid", report.rejected, report.rejected_codes)
    if report.stream_error:
        err(f"trustnet: error [bad_bundle]: {report.stream_error}")
    ok = report.ok
    out(json.dumps({
        "ok": ok,
        "entries": report.entries,
        "authors": report.authors,
        "invalid": report.rejected_count,
        "forks": fork_count,
    }))
    return 0 if ok else 1
