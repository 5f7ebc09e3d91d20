#!/usr/bin/env python3
"""What witness receipts cost (issue 14 item 4; docs/witnesses.md). Measures; asserts nothing.

1. Latency, on real `trustnet run` processes on loopback: an author with three witnesses and
   receipts_needed = 2 publishes P statements one after another; for each, the time from the
   publish request until the author holds k receipts, and until every node does (median, p90,
   max). The author polls its own GET /entries?author=&after= every 2 ms (the poll is part of
   the figure).
2. Bytes: receipts stored per entry (sum of the signed receipts held for it), and gossip bodies
   on /gossip/receipt and /gossip/receipts summed over all nodes (requests and replies, HTTP
   headers not counted), per entry.
3. Ingest: entries stored per second into an in-memory store, without and with their three
   receipts each (every receipt checked: signature, declared witness, entry held), alternating
   `--repeat` times; medians and their ratio.

Usage:

    .venv/bin/python scripts/bench-receipts.py [--publishes 30] [--entries 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from trustnet.config.loader import read_admin_token
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry
from trustnet.log.receipts import sign_receipt
from trustnet.store.receipts import ReceiptBook
from trustnet.store.sqlite import Store
from trustnet.testbed import cluster as tb

NOW = 1_790_000_000_000
K = 2


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 1), "p90_ms": round(_pct(values, 0.9), 1),
            "max_ms": round(max(values), 1)}


def _receipt_bytes(node: tb.TestbedNode) -> float:
    """Gossip body bytes sent on the receipt paths by one node (requests and replies)."""
    req = urllib.request.Request(node.url + "/metrics", headers={
        "Authorization": f"Bearer {read_admin_token(node.dir)}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    pattern = re.compile(r'^trustnet_gossip_sent_bytes_sum\{([^}]*)\} ([0-9.e+]+)$', re.M)
    return sum(float(v) for labels, v in pattern.findall(text)
               if re.search(r'type="receipts?"', labels))


def latency(publishes: int) -> dict[str, Any]:
    """Figures 1 and 2 on a four-process testbed."""
    with tempfile.TemporaryDirectory(prefix="trustnet-bench-receipts-") as tmp:
        bed = tb.Testbed(Path(tmp), ("author", "w1", "w2", "w3"),
                         witnesses={"author": (("w1", "w2", "w3"), K)})
        bed.start()
        try:
            author = bed.node("author")
            author.node_id = bed.identity(author).party_id
            target = bed.identity(bed.node("w1")).party_id
            to_author, to_all, ids = [], [], []
            for i in range(publishes):
                t0 = time.perf_counter()
                published = author.client.publish("trust", {"subject": target, "level": i % 1000})
                ident = published["id"]
                ids.append(ident)
                # The list route (receipts, no analysis): GET /entries/{id} would also compute
                # the entry's standing on every poll.
                row = f"/entries?author={author.node_id}&after={published['seq'] - 1}&limit=1"
                while len(author.client.get(row)["entries"][0]["receipts"]) < K:
                    time.sleep(0.002)
                to_author.append((time.perf_counter() - t0) * 1000)

                def everywhere(path: str = row) -> bool:
                    for node in bed.nodes:
                        try:
                            found = node.client.get(path)["entries"]
                        except Exception:
                            return False
                        if not found or len(found[0]["receipts"]) < K:
                            return False
                    return True

                while not everywhere():
                    time.sleep(0.005)
                to_all.append((time.perf_counter() - t0) * 1000)
            time.sleep(2.0)  # the last receipts' spread settles before bytes are counted
            stored = [sum(len(r["receipt"]) // 2 for r in
                          author.client.get(f"/entries/{i}")["receipts"]) for i in ids]
            receipts_held = [len(author.client.get(f"/entries/{i}")["receipts"]) for i in ids]
            wire = sum(_receipt_bytes(n) for n in bed.nodes)
        finally:
            bed.stop()
    return {
        "publishes": publishes,
        "witnesses": 3,
        "receipts_needed": K,
        "publish_to_k_receipts_at_author": _summary(to_author),
        "publish_to_k_receipts_on_every_node": _summary(to_all),
        "receipts_held_per_entry": round(statistics.mean(receipts_held), 2),
        "stored_receipt_bytes_per_entry": round(statistics.mean(stored), 1),
        "gossip_body_bytes_per_entry": round(wire / publishes, 1),
        "note": "gossip bytes include the declaration's and the keys commitment's asks",
    }


def _corpus(n: int, authors: int) -> tuple[list[bytes], list[bytes]]:
    """n entries over `authors` chains, each opened by a witnesses declaration, and three
    receipts of every entry after it."""
    witnesses = [Identity.from_seed(bytes([200 + i]) * 32) for i in range(3)]
    ids = [Identity.from_seed(i.to_bytes(4, "big") * 8) for i in range(authors)]
    heads: list[tuple[int, bytes | None]] = [(0, None)] * authors
    entries, receipts = [], []
    declaration = {"witnesses": sorted(w.party_id for w in witnesses), "receipts_needed": K}
    for k in range(n):
        a = k % authors
        seq, prev = heads[a]
        if seq == 0:
            kind, body = "witnesses", declaration
        else:
            kind, body = "trust", {"subject": ids[(a + 1) % authors].party_id, "level": k % 1000}
        e = sign_entry(ids[a], seq=seq + 1, prev=prev, ts=NOW - n + k, kind=kind, body=body)
        heads[a] = (e.seq, e.id)
        entries.append(e.raw)
        if seq > 0:
            receipts += [sign_receipt(w, e.author, e.seq, e.id, NOW + k).raw for w in witnesses]
    return entries, receipts


def ingest(n: int, authors: int, repeat: int) -> dict[str, Any]:
    """Figure 3: entries per second stored, without and with their receipts."""
    entries, receipts = _corpus(n, authors)
    plain, witnessed = [], []
    for _ in range(repeat):
        store = Store(None)
        t0 = time.perf_counter()
        for i in range(0, n, 256):
            store.ingest(entries[i:i + 256], NOW)
        plain.append(n / (time.perf_counter() - t0))
        store.close()
        store = Store(None)
        book = ReceiptBook(store)
        t0 = time.perf_counter()
        for i in range(0, n, 256):
            store.ingest(entries[i:i + 256], NOW)
        for raw in receipts:
            book.add(raw)
        witnessed.append(n / (time.perf_counter() - t0))
        store.close()
    a, b = statistics.median(plain), statistics.median(witnessed)
    return {"entries": n, "authors": authors, "receipts": len(receipts), "runs": repeat,
            "entries_per_s_without_receipts": round(a), "entries_per_s_with_receipts": round(b),
            "ratio": round(b / a, 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--publishes", type=int, default=30)
    p.add_argument("--entries", type=int, default=20_000)
    p.add_argument("--authors", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    print("latency and bytes on a four-process testbed...", file=sys.stderr, flush=True)
    result = {"latency": latency(args.publishes)}
    print(f"ingest of {args.entries} entries, without and with receipts...", file=sys.stderr,
          flush=True)
    result["ingest"] = ingest(args.entries, args.authors, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
