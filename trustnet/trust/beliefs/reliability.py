"""Source reliability: personalized EigenTrust over trust statements and track record (DESIGN 7)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trustnet.trust.beliefs.credibility import _CERTAIN, _DISTRUST, share_belief
from trustnet.trust.beliefs.track import _TrackRecord
from trustnet.trust.eigentrust import eigentrust
from trustnet.trust.opinion import Opinion, cumulative_fuse


class _Reliabilities(_TrackRecord):
    """Reliability of every party as a source, in this node's view."""

    def _eigentrust(
        self, index: dict[str, int], edges: dict[tuple[int, int], float], roots: list[int]
    ) -> tuple[NDArray[np.float64], float]:
        """EigenTrust shares and the reference share (an average direct trustee of the top root)."""
        n = len(index)
        if not roots:
            return np.zeros(n), 0.0
        if edges:
            arr = np.array([(i, j, w) for (i, j), w in sorted(edges.items())], dtype=np.float64)
            t = eigentrust(n, arr, roots, self.params.a)
        else:
            # No local trust at all: the restart vector is the fixed point.
            t = np.zeros(n)
            t[roots] = 1.0 / len(set(roots))
        top = max(roots, key=lambda r: (t[r], -r))
        degree = sum(1 for (i, _j) in edges if i == top)
        return t, (1.0 - self.params.a) * float(t[top]) / max(1, degree)

    def _rel_opinion(
        self, p: str, share: float, reference: float, refuted: float, forked: set[str]
    ) -> Opinion:
        if p in forked:
            return _DISTRUST  # DESIGN 7: an equivocating author is distrusted
        if p == self.self_id:
            return _CERTAIN  # the node's own statements, in its own view
        base = share_belief(share, reference, self.params.trust_belief)
        if refuted > 0.0:
            return cumulative_fuse(base, Opinion.from_evidence(0.0, refuted, 0.0))
        return base

    def _rel_p(
        self, p: str, share: float, reference: float, refuted: float, forked: set[str]
    ) -> float:
        return self._rel_opinion(p, share, reference, refuted, forked).p

