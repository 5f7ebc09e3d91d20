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
