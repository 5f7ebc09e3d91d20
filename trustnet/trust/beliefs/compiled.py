"""A party's facts compiled into numpy arrays: every credibility of a view at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trustnet.numeric import c_credibility as _c_credibility, c_quorum as _c_quorum
from trustnet.sequences import common_ends
from trustnet.statements.evidence import Evidence
from trustnet.trust.beliefs.records import Contribution
from trustnet.trust.opinion import Opinion, discount


class _Build:
    """One contribution of a fact to one view, all but what the reliabilities decide.

    Written out, not a dataclass (as `Evidence`): compiled, a dataclass's __init__ stays
    interpreted, and a full recompute makes tens of thousands of builds. Equal and shown by
    its fields, as the dataclass was."""

    __slots__ = ("_fact_key", "at", "base", "basis", "conf", "entries", "mode", "note", "nums",
                 "refs", "rule", "srcs", "verifiable", "verified", "weight")

    def __init__(self, rule: str, weight: float, at: int, entries: tuple[str, ...],
                 srcs: tuple[str, ...], conf: tuple[str, ...], refs: tuple[str, ...], note: str,
                 verifiable: bool, verified: bool, mode: int, basis: str, base: Opinion) -> None:
        self.rule = rule
        self.weight = weight
        self.at = at
        self.entries = entries
        self.srcs = srcs
        self.conf = conf
        self.refs = refs
        self.note = note
        self.verifiable = verifiable
        self.verified = verified
        self.mode = mode  # _OWN, _ANSWER or _FUSE: how the credibility is found
        self.basis = basis  # the basis text without its "(credibility x)"
        self.base = base  # the fact's own opinion, before discounting
        # Its party numbers as `_Group` reads them, (supporters, refuters, answered
        # requesters), made once: a build is kept while its fact is (`_prepare`) and party
        # numbers are stable.
        self.nums: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None
        self._fact_key: tuple[str, str] | None = None

    def astuple(self) -> tuple[Any, ...]:
        return (self.rule, self.weight, self.at, self.entries, self.srcs, self.conf, self.refs,
                self.note, self.verifiable, self.verified, self.mode, self.basis, self.base,
                self.nums, self._fact_key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Build) or type(other) is not type(self):
            return NotImplemented
        return self.astuple() == other.astuple()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return f"_Build{self.astuple()!r}"

    @property
    def fact_key(self) -> tuple[str, str]:
        """(rule, its first entry, or the rule when it has none), made once."""
        fk = self._fact_key
        if fk is None:
            fk = self._fact_key = (self.rule, self.entries[0] if self.entries else self.rule)
        return fk


@dataclass(slots=True)
class _FactSpec:
    """A fact's raw build, verified build, and who can verify it by quorum (None: not needed)."""

    order: tuple[int, str, tuple[str, ...]]
    raw: _Build
    ver: _Build | None
    quorum: tuple[str, ...] | None


_OWN, _ANSWER, _FUSE = 0, 1, 2


_FactKey = tuple[str, str]  # (rule, first entry)


@dataclass(slots=True)
class _Held:
    """One fact as `_Facts` keeps it."""

    items: list[Evidence]  # in the order of the partition's evidence
    ids: tuple[str, ...]  # the entries its items name
    who: tuple[str, ...]  # its sources and the attesters of its entries
    spec: _FactSpec | None
    order: tuple[Any, ...] | None  # its spec's key in `_Facts.order` (None: no spec)
    atts: int  # the attestations of its entries when it was made


@dataclass(slots=True)
class _Facts:
    """A partition's evidence grouped into facts with their specs, kept between evaluations
    (issue 15 item 3): `compliance._prepare` makes again only the facts whose evidence came or went and
    those whose entries were attested since (what a fact's spec reads besides the forks and
    the names, on a change of which every fact is made again)."""

    common: tuple[int, int]  # (forks, names version) the specs were made with
    synced: tuple[Any, ...] | None  # the `_views` preparation key last brought up to date
    evidence: list[Evidence]  # the evidence list last grouped
    atts_at: int  # how much of the engine's attestation log was read
    by_key: dict[_FactKey, _Held] = field(default_factory=dict)
    of_entry: dict[str, dict[_FactKey, None]] = field(default_factory=dict)
    who: dict[str, int] = field(default_factory=dict)  # party -> facts that read it
    # The specs in view order: by their own order, then (ties) by where their fact first
    # appears in the evidence, which is its first item's sort key (no two facts share one).
    order: list[tuple[Any, ...]] = field(default_factory=list)
    specs: list[_FactSpec] = field(default_factory=list)


def _fact_key(ev: Evidence) -> _FactKey:
    return (ev.rule, ev.entries[0] if ev.entries else "")


def _scalars(old: NDArray[Any], at: NDArray[np.intp], kept: NDArray[np.bool_], new: list[int],
             values: list[Any], dtype: Any) -> NDArray[Any]:
    """One per-build array of a group spliced from its last one (`_Group`): the kept builds'
    rows from `old` (at `at`), the new builds' `values` at `new`."""
    out = np.empty(len(kept), dtype=dtype)
    out[kept] = old[at]
    out[new] = np.array(values, dtype=dtype)
    return out


class _Group:
    """The builds of one view of one party, as arrays: every credibility at once (numpy).

    Builds are in view order ((at, rule, entries), as `_view` sorted contributions). Party
    references are the engine's stable party numbers, gathered from a reliability vector.
    """

    __slots__ = (
        "_keys",
        "ans_idx",
        "ans_seg",
        "base_b",
        "base_d",
        "base_u",
        "builds",
        "groupings",
        "matched",
        "mode",
        "need_q",
        "q_idx",
        "q_seg",
        "ref_idx",
        "ref_seg",
        "sup_idx",
        "sup_seg",
        "weight",
    )

    mode: NDArray[np.int8]
    weight: NDArray[np.float64]
    base_b: NDArray[np.float64]
    base_d: NDArray[np.float64]
    base_u: NDArray[np.float64]
    need_q: NDArray[np.bool_]
    sup_seg: NDArray[np.intp]
    sup_idx: NDArray[np.intp]
    ref_seg: NDArray[np.intp]
    ref_idx: NDArray[np.intp]
    ans_seg: NDArray[np.intp]
    ans_idx: NDArray[np.intp]
    q_seg: NDArray[np.intp]
    q_idx: NDArray[np.intp]

    def __init__(
        self,
        builds: list[_Build],
        quorums: list[tuple[str, ...] | None],
        num: Callable[[str], int],
        prev: _Group | None = None,
    ) -> None:
        """The group of `builds`; `prev`, the group compiled last time, gives the rows of the
        builds it holds (`_kept_rows`), so only new builds are read one by one (issue 15
        item 3). The arrays are those a fresh compile makes."""
        self.builds = builds
        self._keys: list[tuple[str, tuple[str, ...]]] | None = None
        self.matched: tuple[_Group, NDArray[np.intp] | None] | None = None  # see `match`
        # The supporters' and refuters' blocs as `_fuse_terms` groups them, with the bloc
        # vector they were made for (blocs change only with trust statements and forks).
        self.groupings: dict[str, tuple[NDArray[np.intp], _Grouping]] = {}
        was = _kept_rows(builds, prev) if prev is not None else None
        if was is None or not len(builds):
            self._fresh(builds, quorums, num)
            return
        assert prev is not None
        kept = was >= 0
        new = np.flatnonzero(~kept).tolist()
        fresh = [builds[k] for k in new]
        nums: list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = []
        for b in fresh:
            if b.nums is None:
                b.nums = _build_nums(b, num)
            nums.append(b.nums)
        at = was[kept]
        self.mode = _scalars(prev.mode, at, kept, new, [b.mode for b in fresh], np.int8)
        self.weight = _scalars(prev.weight, at, kept, new, [b.weight for b in fresh], np.float64)
        self.base_b = _scalars(prev.base_b, at, kept, new, [b.base.b for b in fresh], np.float64)
        self.base_d = _scalars(prev.base_d, at, kept, new, [b.base.d for b in fresh], np.float64)
        self.base_u = _scalars(prev.base_u, at, kept, new, [b.base.u for b in fresh], np.float64)
        self.need_q = _scalars(prev.need_q, at, kept, new,
                               [quorums[k] is not None for k in new], np.bool_)
        n_old = len(prev.builds)
        self.sup_seg, self.sup_idx = _spliced(prev.sup_seg, prev.sup_idx, n_old, was, new,
                                              [x[0] for x in nums])
        self.ref_seg, self.ref_idx = _spliced(prev.ref_seg, prev.ref_idx, n_old, was, new,
                                              [x[1] for x in nums])
        self.ans_seg, self.ans_idx = _spliced(prev.ans_seg, prev.ans_idx, n_old, was, new,
                                              [x[2] for x in nums])
        self.q_seg, self.q_idx = _spliced(prev.q_seg, prev.q_idx, n_old, was, new,
                                          [() if (q := quorums[k]) is None
                                           else tuple(num(x) for x in q) for k in new])

    def _fresh(self, builds: list[_Build], quorums: list[tuple[str, ...] | None],
               num: Callable[[str], int]) -> None:
        """Every array read from the builds one by one."""
        self.mode = np.array([b.mode for b in builds], dtype=np.int8)
        self.weight = np.array([b.weight for b in builds], dtype=np.float64)
        self.base_b = np.array([b.base.b for b in builds], dtype=np.float64)
        self.base_d = np.array([b.base.d for b in builds], dtype=np.float64)
        self.base_u = np.array([b.base.u for b in builds], dtype=np.float64)
        sup: list[tuple[int, ...]] = []
        ref: list[tuple[int, ...]] = []
        ans: list[tuple[int, ...]] = []
        for b in builds:
            nums = b.nums
            if nums is None:
                nums = b.nums = _build_nums(b, num)
            sup.append(nums[0])
            ref.append(nums[1])
            ans.append(nums[2])
        self.sup_seg, self.sup_idx = _rows_arrays(sup)
        self.ref_seg, self.ref_idx = _rows_arrays(ref)
        self.ans_seg, self.ans_idx = _rows_arrays(ans)
        self.q_seg, self.q_idx = _rows_arrays(
            [() if q is None else tuple(num(x) for x in q) for q in quorums]
        )
        self.need_q = np.array([q is not None for q in quorums], dtype=bool)

    @property
    def keys(self) -> list[tuple[str, tuple[str, ...]]]:
        """Per build its fact's key (rule, first entry), made when first read."""
        if self._keys is None:
            self._keys = [(b.rule, b.entries[:1]) for b in self.builds]
        return self._keys

    def match(self, other: _Group) -> NDArray[np.intp] | None:
        """Per build, the position in `other` of the build with the same key, or -1 (None
        when `other` holds a key twice); kept for the last `other` asked."""
        held = self.matched
        if held is not None and held[0] is other:
            return held[1]
        where = {k: i for i, k in enumerate(other.keys)}
        found: NDArray[np.intp] | None = None
        if len(where) == len(other.keys):
            found = np.array([where.get(k, -1) for k in self.keys], dtype=np.intp)
        self.matched = (other, found)
        return found

    def credibility(
        self, rp: NDArray[np.float64], reliable: float, bloc: NDArray[np.intp] | None = None
    ) -> NDArray[np.float64]:
        """Each build's credibility under reliabilities `rp` (`_build`, for all at once).

        `bloc`: per party number, its bloc (parties bound by mutual trust). Supporters (and
        refuters) of one bloc are not independent: their evidence is averaged (Subjective
        Logic averaging fusion), and the blocs' are added (cumulative fusion) (issue 12, 8).
        Compiled (`trustnet._numeric.credibility`) where built: the same floats in one pass.
        """
        if _c_credibility is None:
            return self.credibility_numpy(rp, reliable, bloc)
        sup = self._grouping("sup", self.sup_seg, self.sup_idx, bloc)
        ref = self._grouping("ref", self.ref_seg, self.ref_idx, bloc)
        out = np.empty(len(self.builds))
        _c_credibility(
            out, np.ascontiguousarray(rp, dtype=np.float64), reliable, self.mode,
            self.sup_seg, self.sup_idx, *(sup if sup is not None else (None, None)),
            self.ref_seg, self.ref_idx, *(ref if ref is not None else (None, None)),
            self.ans_seg, self.ans_idx,
        )
        return out

    def credibility_numpy(
        self, rp: NDArray[np.float64], reliable: float, bloc: NDArray[np.intp] | None = None
    ) -> NDArray[np.float64]:
        """`credibility` in numpy (the reference the compiled loop is held to)."""
        n = len(self.builds)
        # _FUSE: credibility_p(supporters, refuters), blocs averaged.
        r, dog_s = _fuse_terms(self.sup_seg, rp[self.sup_idx], n, self.sup_idx, bloc,
                               self._grouping("sup", self.sup_seg, self.sup_idx, bloc))
        s, dog_r = _fuse_terms(self.ref_seg, rp[self.ref_idx], n, self.ref_idx, bloc,
                               self._grouping("ref", self.ref_seg, self.ref_idx, bloc))
        dogs = dog_s + dog_r
        with np.errstate(divide="ignore", invalid="ignore"):
            fuse = np.where(
                dogs > 0,
                dog_s / np.maximum(dogs, 1),
                np.where(r > 0.0, r / (r + s + 2.0), 0.0),
            )
        # _ANSWER: the best requester's reliability, relative to `reliable`.
        best = np.zeros(n)
        if len(self.ans_seg):
            np.maximum.at(best, self.ans_seg, rp[self.ans_idx])
        ans = np.minimum(1.0, best / reliable) if reliable > 0 else np.ones(n)
        ans = np.where(best > 0.0, ans, 0.0)
        out: NDArray[np.float64] = np.where(
            self.mode == _OWN, 1.0, np.where(self.mode == _ANSWER, ans, fuse)
        )
        return out

    def _grouping(self, side: str, seg: NDArray[np.intp], idx: NDArray[np.intp],
                  bloc: NDArray[np.intp] | None) -> _Grouping | None:
        """`_grouping(seg, idx, bloc)`, kept while the bloc vector is the same object."""
        if bloc is None or not len(seg):
            return None
        held = self.groupings.get(side)
        if held is not None and held[0] is bloc:
            return held[1]
        made = _grouping_of(seg, idx, bloc)
        self.groupings[side] = (bloc, made)
        return made

    def quorum_met(
        self,
        rp: NDArray[np.float64],
        reliable: float,
        quorum: int,
        bloc: NDArray[np.intp] | None = None,
    ) -> NDArray[np.bool_]:
        """Builds that need no quorum, or whose quorum of independent reliable attesters is met
        (attesters of one bloc count once). Compiled (`trustnet._numeric.quorum`) where built."""
        if _c_quorum is None:
            return self.quorum_met_numpy(rp, reliable, quorum, bloc)
        met: NDArray[np.bool_] = np.empty(len(self.builds), dtype=np.bool_)
        _c_quorum(met, self.need_q, self.q_seg, self.q_idx,
                  np.ascontiguousarray(rp, dtype=np.float64), reliable, quorum, bloc)
        return met

    def quorum_met_numpy(
        self,
        rp: NDArray[np.float64],
        reliable: float,
        quorum: int,
        bloc: NDArray[np.intp] | None = None,
    ) -> NDArray[np.bool_]:
        """`quorum_met` in numpy (the reference the compiled loop is held to)."""
        n = len(self.builds)
        ok = rp[self.q_idx] >= reliable
        seg = self.q_seg[ok]
        if bloc is not None and len(seg):
            keys = np.unique(seg.astype(np.int64) * len(bloc) + bloc[self.q_idx[ok]])
            seg = (keys // len(bloc)).astype(np.intp)
        count = np.bincount(seg, minlength=n)
        met: NDArray[np.bool_] = ~self.need_q | (count >= quorum)
        return met


def _build_nums(
    b: _Build, num: Callable[[str], int]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A build's party numbers: (supporters, refuters) of a fused build, in
    credibility_p(srcs + conf, refs)'s order (so the same sums), or an answer's requesters."""
    if b.mode == _ANSWER:
        return (), (), tuple(num(x) for x in b.srcs)
    if b.mode == _FUSE:
        return tuple(num(x) for x in (*b.srcs, *b.conf)), tuple(num(x) for x in b.refs), ()
    return (), (), ()


def _rows_arrays(rows: list[tuple[int, ...]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Per row its party numbers, as (row of each, party number of each), rows in order."""
    idx = [x for row in rows for x in row]
    if not idx:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    counts = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    seg = np.repeat(np.arange(len(rows), dtype=np.intp), counts)
    return seg, np.array(idx, dtype=np.intp)


def _kept_rows(builds: list[_Build], prev: _Group) -> NDArray[np.intp] | None:
    """Per build its row in `prev` (the same build object: a build is made with its fact's
    spec, quorum and all, and kept while the fact is), or -1; None when `prev` holds none of
    them. Compared by identity from both ends first: a new entry changes a few facts."""
    old = prev.builds
    n_old, n_new = len(old), len(builds)
    p, q = common_ends(old, builds)
    rows = np.empty(n_new, dtype=np.intp)
    rows[:p] = np.arange(p, dtype=np.intp)
    rows[n_new - q:] = np.arange(n_old - q, n_old, dtype=np.intp)
    if n_new - q > p:
        where = {id(b): k for k, b in enumerate(old[p:n_old - q], p)}
        rows[p:n_new - q] = [where.get(id(b), -1) for b in builds[p:n_new - q]]
    return rows if p or q or (rows >= 0).any() else None


def _spliced(seg: NDArray[np.intp], idx: NDArray[np.intp], n_old: int, was: NDArray[np.intp],
             new: list[int], fresh: list[tuple[int, ...]]) -> tuple[NDArray[np.intp],
                                                                     NDArray[np.intp]]:
    """`_rows_arrays` of the rows a group holds now: row i is row `was[i]` of (seg, idx), or,
    where `was[i]` is -1, the next of `fresh` (the rows `new` lists, in order)."""
    n = len(was)
    old_counts = np.bincount(seg, minlength=n_old)
    old_off = np.zeros(n_old + 1, dtype=np.intp)
    np.cumsum(old_counts, out=old_off[1:])
    counts = np.zeros(n, dtype=np.intp)
    kept = was >= 0
    counts[kept] = old_counts[was[kept]]
    counts[new] = [len(r) for r in fresh]
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    out_seg = np.repeat(np.arange(n, dtype=np.intp), counts)
    starts = np.zeros(n, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    within = np.arange(total, dtype=np.intp) - starts[out_seg]
    src = was[out_seg]
    out_idx = np.empty(total, dtype=np.intp)
    from_old = src >= 0
    out_idx[from_old] = idx[old_off[src[from_old]] + within[from_old]]
    out_idx[~from_old] = [x for r in fresh for x in r]
    return out_seg, out_idx


# How `_fuse_terms` groups one side's parties by bloc: per party reference, its group; per
# group, its build. Groups are numbered by their first member's place in the build's row.
_Grouping = tuple[NDArray[np.intp], NDArray[np.intp]]


def _grouping_of(seg: NDArray[np.intp], idx: NDArray[np.intp], bloc: NDArray[np.intp]
                 ) -> _Grouping:
    """Each (build, bloc) of the references a group, numbered in the order the groups first
    appear in the rows. A row lists its parties by id (`_build_nums`), so this order is the
    same in every engine; bloc numbers are not (parties are numbered as they arrive)."""
    width = len(bloc)
    keys = seg.astype(np.int64) * width + bloc[idx]
    _groups, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order), dtype=np.intp)
    return rank[inverse].astype(np.intp), seg[first[order]].astype(np.intp)


def _fuse_terms(
    seg: NDArray[np.intp],
    p: NDArray[np.float64],
    n: int,
    idx: NDArray[np.intp] | None = None,
    bloc: NDArray[np.intp] | None = None,
    grouping: _Grouping | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per build: the evidence sum of 2p / (1 - p) over 0 < p < 1, and the count of p >= 1.

    With `idx` (the party numbers) and `bloc`, the evidence of one build's supporters of one
    bloc is their mean (averaging fusion), not their sum; the means are added in the order
    the blocs first appear in the build's row (`_grouping_of`; `grouping`: made already)."""
    dog = p >= 1.0
    live = (p > 0.0) & ~dog
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(live, 2.0 * p / (1.0 - p), 0.0)
    if bloc is not None and idx is not None and live.any():
        member, gseg = grouping if grouping is not None else _grouping_of(seg, idx, bloc)
        k = len(gseg)
        # Members that are not live add 0.0 to their group's sum and nothing to its count
        # (exact: the sums are of the live terms alone); a group with none adds 0.0.
        sums = np.bincount(member, weights=terms, minlength=k)
        counts = np.bincount(member, weights=live, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(counts > 0.0, sums / counts, 0.0)
        total = np.asarray(np.bincount(gseg, weights=means, minlength=n), dtype=np.float64)
    else:
        total = np.asarray(np.bincount(seg, weights=terms, minlength=n), dtype=np.float64)
    dogs: NDArray[np.int64] = np.bincount(seg[dog], minlength=n)
    return total, dogs


class _Lazy:
    """One view's contributions under given credibilities: made only when read."""

    __slots__ = ("b", "cred", "d", "group", "pos", "u")

    def __init__(
        self,
        group: _Group,
        pos: NDArray[np.intp],
        cred: NDArray[np.float64],
        b: NDArray[np.float64],
        d: NDArray[np.float64],
        u: NDArray[np.float64],
    ) -> None:
        self.group = group
        self.pos = pos  # the builds that contribute, in view order
        self.cred, self.b, self.d, self.u = cred, b, d, u  # of those builds

    def __len__(self) -> int:
        return len(self.pos)

    def make(self, k: int) -> Contribution:
        """The k-th contribution (as `_build` made it)."""
        bd = self.group.builds[int(self.pos[k])]
        cred = float(self.cred[k])
        opinion = bd.base if cred >= 1.0 else discount(Opinion.dogmatic(cred, 0.0), bd.base)
        return Contribution(
            bd.rule,
            bd.weight,
            bd.at,
            bd.entries,
            bd.srcs,
            bd.conf,
            bd.refs,
            bd.note,
            bd.verifiable,
            bd.verified,
            f"{bd.basis} (credibility {cred:.2f})",
            cred,
            opinion,
        )

    def all(self) -> tuple[Contribution, ...]:
        return tuple(self.make(k) for k in range(len(self.pos)))

    def columns(self) -> tuple[list[_Build], NDArray[np.intp], NDArray[np.float64]]:
        """The group's builds, the positions of those that contribute, their credibilities."""
        return self.group.builds, self.pos, self.cred

    def facts(self) -> list[tuple[str, str | None, float, bool]]:
        builds = self.group.builds
        out: list[tuple[str, str | None, float, bool]] = []
        for i, cred in zip(self.pos.tolist(), self.cred.tolist(), strict=True):
            bd = builds[i]
            out.append((bd.rule, bd.entries[0] if bd.entries else None, cred, bd.verified))
        return out


@dataclass(slots=True)
class _Compiled:
    """A partition's fact specs as the raw and the verified view's groups."""

    raw: _Group
    ver: _Group


def _compile(specs: list[_FactSpec], num: Callable[[str], int],
             prev: _Compiled | None = None) -> _Compiled:
    """The partition's groups; `prev`: what it compiled into last time (its kept facts' rows
    are taken from there)."""
    raw = _Group([sp.raw for sp in specs], [None] * len(specs), num,
                 prev.raw if prev is not None else None)
    vers = [(sp.ver, sp.quorum) for sp in specs if sp.ver is not None]
    # Stable, as sorting the contributions was: filtering after sorting keeps the same order.
    vers.sort(key=lambda x: (x[0].at, x[0].rule, x[0].entries))
    ver = _Group([b for b, _q in vers], [q for _b, q in vers], num,
                 prev.ver if prev is not None else None)
    return _Compiled(raw, ver)

