"""The track record's data (inspection events, per partition and overall): named by the engine's
caches in `base` and made by `track`, so both import it and neither imports the other (issue 13).
"""

from __future__ import annotations

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
    ev_source: list[str]
    ev_weight: list[float]
    ev_seg: NDArray[np.intp]
    ev_idx: NDArray[np.intp]


@dataclass(slots=True)
class _Track:
    """The track record's parts that reliabilities do not change (see `snapshot`)."""

    pair_refs: list[tuple[str, str, float]]  # (verifier, source, refuted) from attestations
    ev_source: list[str]  # per refuting inspection event, in order: its source,
    ev_weight: list[float]  # its weight,
    ev_seg: NDArray[np.intp]  # and its support (the verifier and the report's confirmers)
    ev_idx: NDArray[np.intp]  # as party numbers, event by event
    confirmed: dict[str, float]
    edges: list[tuple[tuple[str, str], float]]  # track-record local trust, in pair order


_Pair = tuple[str, str]  # (verifier, source)


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
    refs: dict[_Pair, float] = field(default_factory=dict)
    aggs: dict[str, _PartTrack] = field(default_factory=dict)  # partition -> the one summed
    terms: dict[_Pair, dict[str, tuple[float, float]]] = field(default_factory=dict)
    conf_terms: dict[str, dict[str, float]] = field(default_factory=dict)  # s -> party -> c
    pairs: dict[_Pair, tuple[float, float]] = field(default_factory=dict)
    confirmed: dict[str, float] = field(default_factory=dict)
    edges: dict[_Pair, float] = field(default_factory=dict)  # pairs of positive weight
