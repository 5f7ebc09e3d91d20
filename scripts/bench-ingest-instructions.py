#!/usr/bin/env python3
"""Instructions per entry of the ingest writer and of one worker's check, counted by
valgrind (callgrind): a figure the machine's load does not move, for A/B of the ingest path
on a shared machine where `trustnet bench ingest`'s CPU times swing with the load.

- `writer`: `import_bundle` of `--entries` entries (50 authors) into a fresh store whose
  ingest pool answers "OK" at once: the node's process alone (peek, drop held entries,
  keys, chain checks, SQLite). The same run without the import is subtracted.
- `worker_check`: one entry through `trustnet.store.workers.check` (decode with every
  envelope check, body parse, signature), and `verify` the libsodium call alone inside it.
Measures; asserts nothing. Needs valgrind. Usage (the tree on PYTHONPATH is the one measured):

    PYTHONPATH=. .venv/bin/python scripts/bench-ingest-instructions.py [--entries 5000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_WRITER = """
import sys, tempfile
from pathlib import Path
from trustnet.bench.ingest import NOW
from trustnet.log.bundle import import_bundle
from trustnet.store.sqlite import Store
from trustnet.store.workers import OK, Job
class Pool:
    running, min_batch, size = True, 64, 2
    def chunk_for(self, n): return max(1, min(256, -(-n // 2)))
    def submit(self, raws, keys): return Job(raws, keys, b"", statuses=bytes([OK]) * len(raws))
    def result(self, job): return job.statuses
with Store.open_dir(Path(tempfile.mkdtemp())) as store:
    store.use_pool(Pool())
    if sys.argv[2] == "1":
        assert import_bundle(store, Path(sys.argv[1]), NOW).ok
"""
_CHECK = """
import sys
from pathlib import Path
from nacl.bindings import crypto_sign_open
from trustnet.identity import ENTRY_DOMAIN
from trustnet.log.bundle import iter_bundle
from trustnet.log.entry import decode_entry
from trustnet.store.workers import check
raws = list(iter_bundle(Path(sys.argv[1])))[:500]
es = [decode_entry(r) for r in raws]
if sys.argv[3] == "check":
    for r in raws[: int(sys.argv[2])]:
        check(r, None)
else:
    for e in es[: int(sys.argv[2])]:
        crypto_sign_open(e.sig + ENTRY_DOMAIN + e.payload, e.author)
"""


def _instructions(code: str, *args: str) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-c", code, *args],
                         capture_output=True, text=True, env=dict(os.environ), check=True)
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind: {out.stderr[-500:]}")
    return int(match.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=5000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    from trustnet.bench.ingest import make_bundle

    with tempfile.TemporaryDirectory(prefix="trustnet-ir-") as tmp:
        bundle = Path(tmp) / "b.bundle"
        make_bundle(bundle, args.entries, 50)
        n = args.entries
        writer = (_instructions(_WRITER, str(bundle), "1")
                  - _instructions(_WRITER, str(bundle), "0")) / n
        per = {}
        for what in ("check", "verify"):
            per[what] = (_instructions(_CHECK, str(bundle), "500", what)
                         - _instructions(_CHECK, str(bundle), "0", what)) / 500
    result = {"entries": args.entries, "writer_ir_per_entry": round(writer),
              "worker_check_ir_per_entry": round(per["check"]),
              "verify_ir_per_entry": round(per["verify"]),
              "worker_beside_verify_ir": round(per["check"] - per["verify"])}
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<28} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
