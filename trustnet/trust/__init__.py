"""Web of trust: subjective-logic opinions, personalized EigenTrust and beliefs (DESIGN section 7).

The math lives in `trustnet.trust.opinion` and `trustnet.trust.eigentrust`
(import the function as `from trustnet.trust.eigentrust import eigentrust`: the
package does not re-export it, so the module path of DESIGN section 9 stays a module).
"""

from __future__ import annotations

from trustnet.trust.opinion import (
    PRIOR_WEIGHT,
    Opinion,
    OpinionError,
    averaging_fuse,
    cumulative_fuse,
    discount,
)

__all__ = [
    "PRIOR_WEIGHT",
    "Opinion",
    "OpinionError",
    "averaging_fuse",
    "cumulative_fuse",
    "discount",
]
