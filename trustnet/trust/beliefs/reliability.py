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

    @staticmethod
    def _strength(
        t: NDArray[np.float64], levels: dict[tuple[int, int], float], n: int
    ) -> NDArray[np.float64]:
        """Per party: how far those who rely on it do, weighted by their own share (in [0, 1]).

        EigenTrust normalises each truster's row, so a party trusted at +150 by a node that
        trusts nobody else gets the whole share, as one trusted at +800 would (issue 12,
        finding 8). The magnitude comes back here: the mean level (/1000, with the track
        record's b - d added, at most 1) of the edges into the party, each weighted by its
        truster's share t_i. A party nobody reaches (no weighted edge in) keeps 1: its share
        is 0 anyway, and a root needs nobody's trust.
        """
        out = np.ones(n)
        if not levels:
            return out
        arr = np.array([(i, j, w) for (i, j), w in levels.items()], dtype=np.float64)
        i, j = arr[:, 0].astype(np.intp), arr[:, 1].astype(np.intp)
        ti = t[i]
        num = np.bincount(j, weights=ti * np.minimum(1.0, arr[:, 2]), minlength=n)
        den = np.bincount(j, weights=ti, minlength=n)
        live = den > 0.0
        out[live] = num[live] / den[live]
        return out

    def _rel_opinion(
        self,
        p: str,
        share: float,
        reference: float,
        refuted: float,
        forked: set[str],
        strength: float = 1.0,
        distrust: float = 0.0,
    ) -> Opinion:
        """Reliability: belief from the share (times the strength of the trust that carries it),
        disbelief from refuted claims and from explicit distrust (Subjective Logic)."""
        if p in forked:
            return _DISTRUST  # DESIGN 7: an equivocating author is distrusted
        if p == self.self_id:
            return _CERTAIN  # the node's own statements, in its own view
        base = share_belief(share, reference, self.params.trust_belief * strength)
        against = refuted + self.params.distrust_weight * distrust
        if against > 0.0:
            return cumulative_fuse(base, Opinion.from_evidence(0.0, against, 0.0))
        return base

