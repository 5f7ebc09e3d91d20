"""Attack (issue 11, sibling of item 10): a bundle of a million one-byte non-entries.

Each element of a bundle that is valid msgpack but no entry is rejected by code and the
import goes on. Before the fix every rejection was kept in a list for the report: a 1 MB
bundle of msgpack nils cost ~100 MB of memory (a 257 MB one, ~25 GB). Now the report keeps
the first 1,000 in detail and counts the rest by code. Runs `trustnet import` as a real
process and prints its peak resident memory (VmHWM) and summary.

    .venv/bin/python scripts/attacks/import-junk.py [--elements 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trustnet.bench.stranger import peak_rss_kb, print_figure


def main(argv: list[str] | None = None) -> int:
    """Build the bundle, import it, print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    trustnet = [sys.executable, "-m", "trustnet"]
    with tempfile.TemporaryDirectory(prefix="trustnet-attack-") as tmp:
        bundle = Path(tmp) / "junk.bundle"
        bundle.write_bytes(b"\xc0" * args.elements)  # msgpack nil, a million times
        node = Path(tmp) / "node"
        subprocess.run([*trustnet, "init", str(node), "--listen", "127.0.0.1:0"], check=True,
                       capture_output=True)
        started = time.monotonic()
        code, peak, out, err = peak_rss_kb([*trustnet, "import", str(node), str(bundle)])
        figure = {
            "bundle_mb": round(bundle.stat().st_size / 2**20, 1), "elements": args.elements,
            "exit": code, "peak_rss_mb": round(peak / 1024, 1),
            "seconds": round(time.monotonic() - started, 1),
            "summary": json.loads(out) if out.strip() else None,
            "stderr_tail": err.strip().splitlines()[-1:],
        }
    print_figure(figure, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
