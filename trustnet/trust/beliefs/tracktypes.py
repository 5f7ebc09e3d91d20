"""The track record's data (inspection events, per partition and overall): named by the engine's
caches in `base` and made by `track`, so both import it and neither imports the other (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass

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
