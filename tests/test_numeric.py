"""Exactly rounded sums of float64 arrays (`trustnet.numeric.fsum_array`, issue 15 item 3):
the same float as `math.fsum` for the same numbers, compiled or not, and `math.fsum`'s own
answers (inf, nan, errors) for what the compiled sum leaves to it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.typing import NDArray

from trustnet import numeric
from trustnet.numeric import fsum_array

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=2000, deadline=None)
@given(st.lists(finite, max_size=200))
def test_same_as_math_fsum(xs: list[float]) -> None:
    a = np.array(xs, dtype=np.float64)
    try:
        want = math.fsum(xs)
    except OverflowError:
        with pytest.raises(OverflowError):
            fsum_array(a)
        return
    got = fsum_array(a)
    assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def test_cancellation_and_half_even_rounding() -> None:
    # Cases where a plain or pairwise sum is wrong: the exactly rounded one is asked for.
    cases = [
        [1e-16, 1.0, 1e16],  # rounds up across partials (math.fsum's half-even fix-up)
        [1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50],
        [0.1] * 10,
        [1.0, 1e-300, -1.0],
        [2.0**53, 1.0, 1.0],
        [-0.0, -0.0],
    ]
    rng = np.random.default_rng(7)
    for _ in range(300):  # the magnitudes of real opinions and of far wider ones
        n = int(rng.integers(1, 2000))
        cases.append((rng.standard_normal(n) * 10.0 ** rng.integers(-200, 200, n)).tolist())
        cases.append(rng.random(n).tolist())
    for xs in cases:
        assert fsum_array(np.array(xs)) == math.fsum(xs), xs[:5]
    assert np.sum(np.array([1e16, 1.0, -1e16])) != fsum_array(np.array([1e16, 1.0, -1e16])) == 1.0


def test_special_values_are_math_fsums() -> None:
    assert fsum_array(np.array([1.0, math.inf])) == math.inf
    assert math.isnan(fsum_array(np.array([1.0, math.nan])))
    with pytest.raises(ValueError):
        fsum_array(np.array([math.inf, -math.inf]))
    with pytest.raises(OverflowError):
        fsum_array(np.array([1e308, 1e308]))
    assert fsum_array(np.zeros(0)) == 0.0


def test_strided_and_other_dtypes_are_summed_as_float64() -> None:
    a = np.arange(20, dtype=np.float64) / 3.0
    assert fsum_array(a[::3]) == math.fsum(a[::3].tolist())
    assert fsum_array(np.arange(5, dtype=np.int64)) == 10.0  # type: ignore[arg-type]


def test_compiled_sum_leaves_what_it_cannot_answer_to_math_fsum() -> None:
    compiled = pytest.importorskip(
        "trustnet._numeric", reason="not compiled here: math.fsum answers alone")
    assert numeric.numeric_compiled()
    assert compiled.fsum(np.array([1.0, 2.5])) == 3.5
    assert compiled.fsum(np.array([1.0, math.inf])) is None
    assert compiled.fsum(np.array([1e308, 1e308])) is None  # overflow on the way
    with pytest.raises(TypeError):
        compiled.fsum(np.arange(3, dtype=np.float32))
    with pytest.raises(TypeError):
        compiled.fsum(b"12345678")


# -- credibility: `_Group.credibility` compiled, against its numpy form ------------------------

_compiled_cred = pytest.mark.skipif(not numeric.numeric_compiled(),
                                    reason="not compiled here: numpy answers alone")


def _group(rng: np.random.Generator, n: int, parties: int) -> Any:
    """A `_Group` of `n` builds over `parties` party numbers, its arrays drawn at random."""
    from trustnet.trust.beliefs.compiled import _Group, _rows_arrays

    g = _Group([], [], int)  # then its arrays replaced (compiled, it is made by __init__ alone)
    g.builds = [None] * n  # type: ignore[list-item]  # only counted
    g.groupings = {}
    g.mode = rng.integers(0, 3, n).astype(np.int8)

    def rows(width: int) -> list[tuple[int, ...]]:
        return [tuple(int(x) for x in rng.choice(parties, int(rng.integers(0, width + 1)),
                                                 replace=False)) for _ in range(n)]

    g.sup_seg, g.sup_idx = _rows_arrays(rows(min(parties, 8)))
    g.ref_seg, g.ref_idx = _rows_arrays(rows(min(parties, 3)))
    g.ans_seg, g.ans_idx = _rows_arrays(rows(min(parties, 2)))
    return g


def _reliabilities(rng: np.random.Generator, parties: int) -> NDArray[np.float64]:
    """Reliabilities with the values the formulas treat apart: 0, 1, and in between."""
    rp = np.round(rng.random(parties), 4)
    pick = rng.random(parties)
    rp[pick < 0.2] = 0.0
    rp[(pick >= 0.2) & (pick < 0.3)] = 1.0
    return rp


@_compiled_cred
def test_compiled_credibility_gives_numpys_floats() -> None:
    rng = np.random.default_rng(11)
    for trial in range(400):
        parties = int(rng.integers(1, 40))
        g = _group(rng, int(rng.integers(0, 60)), parties)
        rp = _reliabilities(rng, parties)
        blocs = [None, rng.integers(0, max(1, parties // 3), parties).astype(np.intp),
                 np.arange(parties, dtype=np.intp)]
        for reliable in (0.0, 0.3, 1.0):
            for bloc in blocs:
                got = g.credibility(rp, reliable, bloc)
                want = g.credibility_numpy(rp, reliable, bloc)
                assert got.tobytes() == want.tobytes(), (trial, reliable, bloc)


@_compiled_cred
def test_compiled_credibility_refuses_what_numpy_would() -> None:
    from trustnet.numeric import c_credibility

    assert c_credibility is not None
    g = _group(np.random.default_rng(3), 10, 5)
    out = np.empty(10)
    args = [g.mode, g.sup_seg, g.sup_idx, None, None, g.ref_seg, g.ref_idx, None, None,
            g.ans_seg, g.ans_idx]
    with pytest.raises(IndexError):  # a party number past the reliability vector
        c_credibility(out, np.zeros(2), 0.3, *args)
    with pytest.raises(TypeError):
        c_credibility(out, np.zeros(5, dtype=np.float32), 0.3, *args)
    with pytest.raises(ValueError):
        c_credibility(np.empty(9), np.zeros(5), 0.3, *args)


@_compiled_cred
def test_compiled_quorum_gives_numpys_mask() -> None:
    # Rows of attesters with reliabilities 0, 1, in between and nan, blocs none, shared and
    # one per party, quorums 0 to 3, builds that need none: the same mask either way.
    from trustnet.trust.beliefs.compiled import _rows_arrays

    rng = np.random.default_rng(17)
    checked = 0
    for trial in range(400):
        parties = int(rng.integers(1, 30))
        n = int(rng.integers(0, 50))
        g = _group(rng, n, parties)
        g.q_seg, g.q_idx = _rows_arrays([
            tuple(int(x) for x in rng.choice(parties, int(rng.integers(0, min(parties, 9) + 1)),
                                             replace=False)) for _ in range(n)])
        g.need_q = rng.random(n) < 0.6
        rp = _reliabilities(rng, parties)
        rp[rng.random(parties) < 0.05] = np.nan
        blocs = [None, rng.integers(0, max(1, parties // 3), parties).astype(np.intp),
                 np.arange(parties, dtype=np.intp)]
        for reliable in (0.0, 0.3, 1.0):
            for bloc in blocs:
                for quorum in (0, 1, 2, 3):
                    got = g.quorum_met(rp, reliable, quorum, bloc)
                    want = g.quorum_met_numpy(rp, reliable, quorum, bloc)
                    assert got.dtype == want.dtype and got.tolist() == want.tolist(), trial
                    checked += int((got != ~g.need_q).sum())
    assert checked > 1000  # quorums met and missed, not only builds that need none


@_compiled_cred
def test_compiled_quorum_refuses_what_is_out_of_range() -> None:
    from trustnet.numeric import c_quorum

    assert c_quorum is not None
    seg, idx = np.array([0, 0, 1], dtype=np.intp), np.array([0, 2, 1], dtype=np.intp)
    met, need = np.empty(2, dtype=np.bool_), np.ones(2, dtype=np.bool_)
    c_quorum(met, need, seg, idx, np.ones(3), 0.5, 2, np.array([0, 1, 1], dtype=np.intp))
    assert met.tolist() == [True, False]
    with pytest.raises(IndexError):  # a party number past the reliability vector
        c_quorum(met, need, seg, idx, np.ones(2), 0.5, 2, None)
    with pytest.raises(IndexError):  # a bloc past the vector's length
        c_quorum(met, need, seg, idx, np.ones(3), 0.5, 2, np.array([0, 1, 9], dtype=np.intp))
    with pytest.raises(IndexError):  # a row past the builds
        c_quorum(np.empty(1, dtype=np.bool_), np.ones(1, dtype=np.bool_), seg, idx, np.ones(3),
                 0.5, 2, None)
    with pytest.raises(TypeError):
        c_quorum(met, need, seg.astype(np.int32), idx, np.ones(3), 0.5, 2, None)


@_compiled_cred
def test_compiled_verification_steps_give_numpys_values() -> None:
    # A party's verification steps (analysis/verification.py `_values`) either way, bit for
    # bit: facts no build names (nan), several builds per fact, credibilities of 0, 1, halves
    # of a step (rint rounds half to even), nan and -0.0, verified builds.
    from trustnet.analysis.verification import _Space, _values, _values_numpy

    rng = np.random.default_rng(23)
    for trial in range(500):
        facts = int(rng.integers(1, 40))
        n_raw, n_ver = int(rng.integers(0, 60)), int(rng.integers(0, 60))
        raw_kid = rng.integers(0, facts, n_raw).astype(np.intp)
        ver_kid = rng.integers(0, facts, n_ver).astype(np.intp)
        space = _Space([], [], [("r", str(k)) for k in range(facts)], {}, raw_kid, ver_kid,
                       rng.random(n_ver) < 0.5)
        raw_pos = np.flatnonzero(rng.random(n_raw) < 0.8).astype(np.intp)
        ver_pos = np.flatnonzero(rng.random(n_ver) < 0.8).astype(np.intp)
        raw_cred = np.round(rng.random(len(raw_pos)), 3)
        pick = rng.random(len(raw_pos))
        raw_cred[pick < 0.1] = 0.0
        raw_cred[(pick >= 0.1) & (pick < 0.2)] = 1.0
        raw_cred[(pick >= 0.2) & (pick < 0.25)] = -0.0
        raw_cred[(pick >= 0.25) & (pick < 0.3)] = 0.05  # half a step once capped: rint to 0
        raw_cred[(pick >= 0.3) & (pick < 0.32)] = np.nan
        ver_cred = np.round(rng.random(len(ver_pos)), 2)
        ver_cred[rng.random(len(ver_pos)) < 0.3] = 0.0
        got = _values(space, raw_pos, raw_cred, ver_pos, ver_cred)
        with np.errstate(invalid="ignore"):  # numpy's maximum warns of the nan it keeps
            want = _values_numpy(space, raw_pos, raw_cred, ver_pos, ver_cred)
        assert got.tobytes() == want.tobytes(), trial


def test_beliefs_are_the_same_with_and_without_the_compiled_loops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A generated store of 3,000 statements from 12 parties: every view of every party, to
    # the bit, whether the compiled loops run or numpy and math.fsum answer.
    from trustnet.bench.beliefs import generate
    from trustnet.trust.beliefs import BeliefEngine, compiled

    entries, pids = generate(3000, 12, 5)
    now = max(e.ts for e in entries)

    from trustnet.analysis import verification
    from trustnet.trust.beliefs import compliance

    def views() -> list[Any]:
        engine = BeliefEngine(pids[0])
        engine.add(entries)
        snap = engine.snapshot(now)
        tables = verification.verification_by_party(snap)
        return [(p, b.verified.opinion, b.raw.opinion, b.reliability.p, dict(tables.get(p, {})))
                for p, b in sorted(snap.parties.items())]

    fast = views()
    assert sum(len(v[4]) for v in fast) > 1000  # tables to compare, not empty ones
    monkeypatch.setattr(compiled, "_c_credibility", None)
    monkeypatch.setattr(compiled, "_c_quorum", None)
    monkeypatch.setattr(compliance, "c_view", None)
    monkeypatch.setattr(verification, "c_steps", None)
    monkeypatch.setattr(numeric, "_fsum", None)
    assert views() == fast


@_compiled_cred
def test_compiled_view_gives_numpys_arrays_and_opinion(monkeypatch: pytest.MonkeyPatch) -> None:
    # `_lazy_view` with and without `trustnet._numeric.view`: the same contributing builds,
    # discounted opinions (b, d, u) and fused opinion, to the bit; dogmatic bases (u = 0),
    # one or no contributing build, a quorum mask, credibilities of 0, 1 and in between.
    from trustnet.trust.beliefs import BeliefEngine, compliance

    engine = BeliefEngine("00" * 32)
    rng = np.random.default_rng(5)
    cases = []
    for _ in range(500):
        n = int(rng.integers(0, 50))
        g = _group(rng, n, 4)
        b = rng.random(n)
        d = (1.0 - b) * rng.random(n)
        dogmatic = rng.random(n) < (0.1 if rng.random() < 0.5 else 0.0)
        d[dogmatic] = 1.0 - b[dogmatic]
        zero = rng.random(n) < 0.1  # signed zeros: numpy versions clip -0.0 differently
        b[zero] = -0.0
        g.base_b, g.base_d, g.base_u = b, d, np.clip(1.0 - b - d, 0.0, 1.0)
        cred = np.round(rng.random(n), 3)
        pick = rng.random(n)
        cred[pick < 0.3] = 0.0
        cred[pick > 0.8] = 1.0
        met = rng.random(n) < 0.7 if rng.random() < 0.5 else None
        cases.append((g, cred, met))

    def made() -> list[tuple[Any, ...]]:
        out = []
        for g, cred, met in cases:
            view = engine._lazy_view(g, cred, met)
            lazy = view._lazy
            out.append((view.opinion, lazy.pos.tobytes(), lazy.cred.tobytes(), lazy.b.tobytes(),
                        lazy.d.tobytes(), lazy.u.tobytes()))
        return out

    fast = made()
    monkeypatch.setattr(compliance, "c_view", None)
    assert made() == fast
    assert sum(1 for _g, c, _m in cases if (c > 0).sum() >= 2) > 300  # the sums were made


def test_zeros_are_positive_whichever_form_discounts_a_view() -> None:
    # A -0.0 base (fact_opinion(0.0, -0.0, ...) makes one) discounts to +0.0 in both forms.
    from trustnet.trust.beliefs import BeliefEngine, compliance

    g = _group(np.random.default_rng(1), 2, 3)
    g.base_b, g.base_d = np.array([-0.0, 0.2]), np.array([0.5, 0.3])
    g.base_u = 1.0 - g.base_b - g.base_d
    engine = BeliefEngine("00" * 32)
    views = [engine._lazy_view(g, np.array([0.5, 0.5]), None)]
    saved = compliance.c_view
    try:
        compliance.c_view = None
        views.append(engine._lazy_view(g, np.array([0.5, 0.5]), None))
    finally:
        compliance.c_view = saved
    for view in views:
        assert math.copysign(1.0, float(view._lazy.b[0])) == 1.0


def test_misaligned_and_shaped_buffers() -> None:
    import struct

    raw = bytearray(33)
    raw[1:] = struct.pack("4d", 1.0, 2.0, 3.0, 0.5)
    odd = memoryview(raw)[1:].cast("d")  # doubles at an odd address
    assert fsum_array(np.frombuffer(odd, dtype=np.float64)) == 6.5
    grid = np.array([[1e16, 1.0], [-1e16, math.inf]])
    assert fsum_array(grid) == math.inf  # any shape: every element, compiled or not
    assert fsum_array(grid[:, :1]) == 0.0 and fsum_array(np.array([[1e16, 1.0], [-1e16, 0]])) == 1.0
    if not numeric.numeric_compiled():
        return
    from trustnet._numeric import fsum as c_fsum

    assert c_fsum(odd) is None  # left to math.fsum
    from trustnet.numeric import c_credibility

    assert c_credibility is not None
    g = _group(np.random.default_rng(3), 4, 4)
    rp = bytearray(8 * 4 + 1)
    with pytest.raises(ValueError, match="aligned"):
        c_credibility(np.empty(4), memoryview(rp)[1:].cast("d"), 0.3, g.mode, g.sup_seg,
                      g.sup_idx, None, None, g.ref_seg, g.ref_idx, None, None, g.ans_seg,
                      g.ans_idx)
