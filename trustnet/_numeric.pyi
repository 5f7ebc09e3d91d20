# math.fsum of a C-contiguous float64 buffer (trustnet/_numeric.c); None when a summand is not
# finite or the sum overflows on the way (then math.fsum answers, and raises as it does).
def fsum(data: object, /) -> float | None: ...

# _Group.credibility (trust/beliefs/compiled.py) into `out`, the same floats as its numpy form
# (trustnet/_numeric.c). Arrays: float64 (out, rp), int8 (mode), intp (the rest); a side's
# member and groups arrays are its bloc grouping, or both None.
def credibility(out: object, rp: object, reliable: float, mode: object, sup_seg: object,
                sup_idx: object, sup_member: object | None, sup_groups: object | None,
                ref_seg: object, ref_idx: object, ref_member: object | None,
                ref_groups: object | None, ans_seg: object, ans_idx: object, /) -> None: ...

# _Compliance._lazy_view's arrays (trust/beliefs/compliance.py): the k builds of positive
# credibility (and met) into the first k places of pos, c, b, d, u; (k, sums) with sums =
# (u_min, fsum(w), fsum(w*b), fsum(w*d)), w = u_min / u, or None (k < 2, some u <= 0, not finite).
def view(cred: object, met: object | None, base_b: object, base_d: object, base_u: object,
         pos: object, c: object, b: object, d: object, u: object, /
         ) -> tuple[int, tuple[float, float, float, float] | None]: ...

# SuspicionEstimator._walk's cells (feedback/estimator.py): (last grid boundary or t0, its x, y,
# x at t, y at t, grid times, their levels) (the lists None unless want_points), or None when a
# time lies beyond 2**52 ms; OverflowError for a time beyond 64 bits.
def walk(st: int, sg: float, sh: float, sc: float, sp: float, sr: float, t0: int, x: float,
         y: float, t: int, unit: int, unit_f: float, l_in: float, l_r: float, l_gr: float,
         l_k: float, a0: float, a_gain: float, k0: float, k_gain: float, b_set: float | None,
         cap: float, want_points: bool, /
         ) -> tuple[int, float, float, float, float, list[int] | None, list[float] | None] | None:
    ...

# SuspicionEstimator._replay (feedback/estimator.py): each step (at, kind 0 threat 1 hostility
# 2 cooperation, gain * weight, erodes, standing share) walked from the snapshot before it and
# applied: (the new snapshots as eight bytes columns, t as native int64 and x, y, g, h, c, g_p,
# T as float64; the history's new times and levels as bytes, int64 and float64; its length
# after; the new level of its last point held before or None), or None when a time lies
# beyond 2**52 ms; OverflowError for a time beyond 64 bits.
def replay(base: tuple[int, float, float, float, float, float, float, float] | None,
           steps: list[tuple[int, int, float, bool, float]], n: int,
           last_t: int | None, last_level: float | None, keep: int, unit: int, unit_f: float,
           l_in: float, l_r: float, l_gr: float, l_k: float, a0: float, a_gain: float,
           k0: float, k_gain: float, b_set: float | None, cap: float, input_gain: float,
           erosion: float, /) -> tuple[tuple[bytes, ...], bytes, bytes, int, float | None] | None:
    ...

# _Group.quorum_met (trust/beliefs/compiled.py) into `met` (bool, one per build): the build needs
# no quorum, or its attesters (q_idx, rows q_seg) with rp >= reliable, one per bloc when `bloc`
# is given, number at least `quorum`.
def quorum(met: object, need_q: object, q_seg: object, q_idx: object, rp: object,
           reliable: float, quorum: int, bloc: object | None, /) -> None: ...

# analysis.verification._values into `out` (float64, one per numbered fact), as its numpy form.
def steps(out: object, raw_kid: object, raw_pos: object, raw_cred: object, ver_kid: object,
          ver_flag: object, ver_pos: object, ver_cred: object, cap: float, step: float, /
          ) -> None: ...
