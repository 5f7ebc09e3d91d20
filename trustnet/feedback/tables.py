"""Verification tables that say what changed since the one before (issue 15 item 3).

`SuspicionView.update` takes, per party, a table fact (rule, ref) -> v and redoes the
facts whose v changed. Diffing two tables of a thousand facts costs more than the facts
that changed; a producer that knows the change (analysis/verification.py computes the
tables as arrays) hands out a `FactTable` that names its predecessor and the facts that
differ from it, and the view takes that instead of comparing the tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from trustnet.feedback.ledger import FactKey

_serials = itertools.count(1)


class FactTable(dict[FactKey, float]):
    """fact -> v, with `serial` (unique per table made) and, when known, `prior` (the serial
    of the table this one was derived from) and `changed` (the facts whose v differs from
    it, either way, including facts only one of the two holds)."""

    __slots__ = ("changed", "prior", "serial")

    def __init__(self, items: Mapping[FactKey, float] | Iterable[tuple[FactKey, float]] = (), *,
                 prior: int = 0,
                 changed: frozenset[FactKey] | None = None) -> None:
        super().__init__(items)
        self.serial = next(_serials)
        self.prior = prior
        self.changed = changed

    def changed_since(self, other: object) -> frozenset[FactKey] | None:
        """The facts that differ from `other`, when this table says so; else None."""
        if (self.changed is not None and isinstance(other, FactTable)
                and self.prior == other.serial):
            return self.changed
        return None
