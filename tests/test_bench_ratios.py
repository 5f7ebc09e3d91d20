"""The ingest benchmarks' baselines (issue 15 item 2): raw verification through pynacl, on
every core, and from C with nothing between two calls (`ratio_c`, the strictest); a short
run of `bench gossip` and `bench ingest` reports every figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustnet.bench import gossip, ingest
from trustnet.identity import ENTRY_DOMAIN, Identity
from trustnet.log.bundle import iter_bundle
from trustnet.log.entry import decode_entry

_canonical = pytest.importorskip("trustnet._canonical", reason="not compiled here")


def test_verify_many_counts_the_signatures_that_verify(tmp_path: Path) -> None:
    import nacl._sodium

    bundle = tmp_path / "b.bundle"
    ingest.make_bundle(bundle, 40, 4)
    entries = [decode_entry(raw, verify=False) for raw in iter_bundle(bundle)]
    items = [(e.sig, ENTRY_DOMAIN + e.payload, e.author) for e in entries]
    forged = [(bytes([s[0] ^ 1]) + s[1:], m, k) for s, m, k in items[:7]]
    other = [(s, m, Identity.generate().author) for s, m, _ in items[:5]]
    library = nacl._sodium.__file__
    assert _canonical.verify_many(items, library) == 40
    assert _canonical.verify_many(items + forged + other, library) == 40
    assert _canonical.verify_many([], library) == 0
    with pytest.raises(TypeError):
        _canonical.verify_many([(b"short", b"m", items[0][2])], library)
    with pytest.raises(OSError):
        _canonical.verify_many(items, "/no/such/library.so")


def test_the_c_baseline_refuses_a_stream_that_does_not_verify(tmp_path: Path) -> None:
    bundle = tmp_path / "b.bundle"
    ingest.make_bundle(bundle, 30, 3)
    raws = list(iter_bundle(bundle))
    assert (ingest.raw_verify_c_rate(raws) or 0) > 0
    bad = bytearray(raws[4])
    bad[-1] ^= 1
    with pytest.raises(RuntimeError, match="1 of the benchmark's signatures"):
        ingest.raw_verify_c_rate([*raws[:4], bytes(bad)])
    assert ingest.c_figures(100.0, [None]) == {"raw_verify_c_per_s": None, "ratio_c": None}
    assert ingest.c_figures(100.0, [None, 200.0, 400.0]) == {
        "raw_verify_c_per_s": 400, "ratio_c": 0.25}


def test_a_short_gossip_run_reports_every_baseline() -> None:
    result = gossip.run(entries=600, authors=6, repeat=1)
    assert result["gossip_per_s"] > 0 and result["pushes_sent_again"] >= 0
    for key in ("ratio", "ratio_all_cores", "ratio_c"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["raw_verify_c_per_s"] > 0
    assert result["ratio_c"] == pytest.approx(
        result["gossip_per_s"] / result["raw_verify_c_per_s"], abs=2e-3)


def test_a_short_import_run_reports_every_baseline() -> None:
    result = ingest.run(600, 6, rss=False, repeat=1)
    assert result["import_per_s"] > 0
    assert result["raw_verify_c_per_s"] > 0 and result["ratio_c"] > 0
