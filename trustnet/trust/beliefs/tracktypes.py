"""The track record's data (inspection events, per partition and overall): named by the engine's
caches in `base` and made by `track`, so both import it and neither imports the other (issue 13).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class _Event:
    """Track record from an accepted inspection: `verifier`'s report vs `source`'s claim."""

    verifier: str
    source: str
    confirmed: bool
    weight: float
    report: str  # report entry id (its attesters add to its credibility)



@dataclass(slots=True)
class _PartTrack:
    """One partition's inspection events, as `_Track` reads them."""

    pairs: dict[tuple[str, str], tuple[float, float]]  # (verifier, source) -> (conf., ref.)
    confirmed: dict[str, float]
    ev_source: NDArray[np.intp]  # per refuting event, in order: its source's party number,
    ev_weight: NDArray[np.float64]  # its weight,
    ev_seg: NDArray[np.intp]  # and its support (the verifier and the report's confirmers)
    ev_idx: NDArray[np.intp]  # as party numbers, event by event


@dataclass(frozen=True, slots=True)
class _Track:
    """The track record's parts that reliabilities do not change (see `snapshot`), as arrays
    over the engine's party numbers (issue 15 item 3: read without a Python step per pair)."""

    ref_v: NDArray[np.intp]  # per (verifier, source) pair an attestation refuted: verifier,
    ref_s: NDArray[np.intp]  # source,
    ref_r: NDArray[np.float64]  # and the refuted amount (> 0); in no order (summed exactly)
    ev_source: NDArray[np.intp]  # per refuting inspection event, in order: its source,
    ev_weight: NDArray[np.float64]  # its weight,
    ev_seg: NDArray[np.intp]  # and its support (the verifier and the report's confirmers)
    ev_idx: NDArray[np.intp]  # as party numbers, event by event
    confirmed: dict[str, float]
    edge_v: NDArray[np.intp]  # track-record local trust: per edge its verifier,
    edge_s: NDArray[np.intp]  # source,
    edge_w: NDArray[np.float64]  # and weight (> 0); in no order (`_reliability` sorts them)


_Pair = tuple[str, str]  # (verifier, source)


@dataclass(slots=True)
class _Slots:
    """A positive value per (verifier, source) pair, in arrays that grow: each pair keeps one
    slot (its party numbers and value) until it goes, when its value becomes 0.0 and the slot
    is free for the next pair. `arrays()` gives the live slots without a Python step each."""

    slot: dict[_Pair, int] = field(default_factory=dict)
    free: list[int] = field(default_factory=list)
    v: array[int] = field(default_factory=lambda: array("q"))
    s: array[int] = field(default_factory=lambda: array("q"))
    x: array[float] = field(default_factory=lambda: array("d"))

    def put(self, key: _Pair, nums: tuple[int, int], value: float) -> None:
        """Set the pair's value (> 0)."""
        k = self.slot.get(key)
        if k is None:
            if self.free:
                k = self.free.pop()
                self.v[k], self.s[k] = nums
            else:
                k = len(self.x)
                self.v.append(nums[0])
                self.s.append(nums[1])
                self.x.append(0.0)
            self.slot[key] = k
        self.x[k] = value

    def drop(self, key: _Pair) -> None:
        """The pair has no value any more (nothing when it had none)."""
        k = self.slot.pop(key, None)
        if k is not None:
            self.x[k] = 0.0
            self.free.append(k)

    def arrays(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
        """(verifier numbers, source numbers, values) of the live slots, in slot order."""
        x = np.frombuffer(self.x, dtype=np.float64) if self.x else np.zeros(0)
        live = x > 0.0
        v = np.frombuffer(self.v, dtype=np.int64) if self.v else np.zeros(0, dtype=np.int64)
        s = np.frombuffer(self.s, dtype=np.int64) if self.s else np.zeros(0, dtype=np.int64)
        return (v[live].astype(np.intp), s[live].astype(np.intp),
                np.array(x[live], dtype=np.float64))


@dataclass(slots=True)
class _TrackSums:
    """`_Track`'s sums, kept between snapshots and mended where their terms changed: each sum
    is made again from its terms in the order a full pass adds them (attestations first, by
    verifier; then partitions in party order), so it is the same float (issue 15 item 3)."""

    forks: int  # the forks the sums leave out
    pairs_at: int  # how much of the engine's pair log was read
    base: dict[_Pair, tuple[float, float]] = field(default_factory=dict)  # attestations
    base_by_source: dict[str, dict[str, float]] = field(default_factory=dict)  # s -> v -> c
    base_conf: dict[str, float] = field(default_factory=dict)
    refs: _Slots = field(default_factory=_Slots)  # attestations' refuted amount per pair
    aggs: dict[str, _PartTrack] = field(default_factory=dict)  # partition -> the one summed
    terms: dict[_Pair, dict[str, tuple[float, float]]] = field(default_factory=dict)
    conf_terms: dict[str, dict[str, float]] = field(default_factory=dict)  # s -> party -> c
    pairs: dict[_Pair, tuple[float, float]] = field(default_factory=dict)
    confirmed: dict[str, float] = field(default_factory=dict)
    edges: _Slots = field(default_factory=_Slots)  # pairs of positive weight
