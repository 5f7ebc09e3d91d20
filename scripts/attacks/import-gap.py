"""Attack (issue 11, item 10): a bundle whose chains all start at its very end.

`trustnet import` keeps the entries that arrive beyond a gap and retries them once the
gap fills. A crafted bundle puts every author's seq 1 last, so all the rest arrives
beyond a gap. Before the fix those entries were held in memory (783 MB of resident memory
for a 257 MB bundle); now they wait in a temporary SQLite file. Builds the bundle (4 KiB
entries, `--mb` megabytes), runs `trustnet import` as a real process and prints its peak
resident memory (VmHWM) and the import's summary, and the peak of `trustnet verify` of the
same bundle (which kept every decoded entry in memory before).

    .venv/bin/python scripts/attacks/import-gap.py [--mb 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trustnet.bench.stranger import peak_rss_kb, print_figure
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry

ENTRY_PAD = 4000  # bytes of padding per entry (~4.1 KiB each)
PER_AUTHOR = 1000
T0 = 1_767_225_600_000


def build_bundle(path: Path, megabytes: int) -> int:
    """Write the crafted bundle: seq 2.. of every author first, then every seq 1."""
    total = megabytes * 1024 * 1024 // (ENTRY_PAD + 170)
    firsts = []
    written = 0
    with open(path, "wb") as out:
        while written < total:
            me = Identity.from_seed(os.urandom(32))
            prev = None
            for seq in range(1, min(PER_AUTHOR, total - written) + 1):
                entry = sign_entry(me, seq=seq, prev=prev, ts=T0 + seq, kind="profile",
                                   body={"name": f"p{seq}", "role": "state", "urls": [],
                                         "ext": {"pad": "x" * ENTRY_PAD}}, validate=False)
                prev = entry.id
                if seq == 1:
                    firsts.append(entry.raw)
                else:
                    out.write(entry.raw)
                written += 1
        for raw in firsts:
            out.write(raw)
    return written


def main(argv: list[str] | None = None) -> int:
    """Build the bundle, import it, print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=100, help="bundle size in MiB (default 100)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    trustnet = [sys.executable, "-m", "trustnet"]
    with tempfile.TemporaryDirectory(prefix="trustnet-attack-") as tmp:
        bundle = Path(tmp) / "gap.bundle"
        entries = build_bundle(bundle, args.mb)
        node = Path(tmp) / "node"
        subprocess.run([*trustnet, "init", str(node), "--listen", "127.0.0.1:0"], check=True,
                       capture_output=True)
        started = time.monotonic()
        code, peak, out, err = peak_rss_kb([*trustnet, "import", str(node), str(bundle)])
        _, verify_peak, _, _ = peak_rss_kb([*trustnet, "verify", str(bundle)])
        figure = {
            "bundle_mb": round(bundle.stat().st_size / 2**20, 1), "entries": entries,
            "exit": code, "peak_rss_mb": round(peak / 1024, 1),
            "verify_peak_rss_mb": round(verify_peak / 1024, 1),
            "seconds": round(time.monotonic() - started, 1),
            "summary": json.loads(out) if out.strip() else None,
            "stderr_tail": err.strip().splitlines()[-2:],
        }
    print_figure(figure, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
