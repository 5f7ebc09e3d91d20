"""Benchmarks: they measure, they do not assert (`trustnet bench NAME [--json]`).

Each module has `run(...) -> dict` and `main(argv) -> int`.
"""

from __future__ import annotations

import importlib

BENCHMARKS = {
    "ingest": "bundle import through the store against raw libsodium verification",
    "gossip": "ingest through the HTTP gossip path against raw libsodium verification",
    "trust": "personalized EigenTrust against networkx PageRank",
    "beliefs": "full belief recompute and incremental update cost",
    "feedback": "suspicion estimator update and recompute cost",
    "views": "a node's beliefs + suspicion over its store: full recompute, update per new entry",
    "sim": "10,000 simulated nodes: rounds to full dissemination, bytes, in-sync cost",
    "propagation": "real nodes on loopback: publish until all hold it; in-sync anti-entropy bytes",
    "large": "a real node holding 1,000,000 entries from 100,000 authors: memory, start, reads, sync",
}


def main(name: str, argv: list[str]) -> int:
    """Run benchmark `name` with its own arguments."""
    module = importlib.import_module(f"trustnet.bench.{name}")
    result: int = module.main(argv)
    return result
