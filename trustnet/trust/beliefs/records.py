"""What the belief engine returns: reliability, contributions, views, beliefs (read-only records)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from trustnet.errors import NotFound
from trustnet.trust.beliefs.params import TrustParams
from trustnet.trust.opinion import Opinion

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def _op_json(o: Opinion) -> dict[str, float]:
    return {"b": o.b, "d": o.d, "u": o.u, "a": o.a, "p": o.p}


@dataclass(frozen=True, slots=True)
class Reliability:
    """How far the local node relies on a party as a source."""

    party: str
    name: str | None
    opinion: Opinion  # base rate 0: p = b
    share: float  # personalized EigenTrust share t_j (sums to 1 over parties)
    ratio: float  # t_j relative to an average direct trustee of the most-trusted root
    confirmed: float  # track record: claims confirmed (weighted), all verifiers
    refuted: float  # claims refuted by reliable verifiers, weighted by their reliability
    root: bool  # the node itself or a configured anchor
    forked: bool

    @property
    def p(self) -> float:
        """The reliability as a probability."""
        return self.opinion.p

    def explain(self) -> str:
        """One readable sentence."""
        who = self.name or self.party[:12]
        if self.forked:
            return f"{who}: reliability 0 (equivocated: signed two entries with one seq)"
        if self.root and self.opinion.is_dogmatic:
            return f"{who}: reliability 1 (this node)"
        parts = [f"EigenTrust share {self.share:.3g} ({self.ratio:.2f} of a direct trustee)"]
        if self.confirmed or self.refuted:
            parts.append(f"{self.confirmed:g} claims confirmed, {self.refuted:.2f} refuted")
        return f"{who}: reliability {self.p:.2f} ({'; '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "party": self.party,
            "name": self.name,
            "opinion": _op_json(self.opinion),
            "p": self.p,
            "share": self.share,
            "ratio": self.ratio,
            "confirmed": self.confirmed,
            "refuted": self.refuted,
            "root": self.root,
            "forked": self.forked,
            "explanation": self.explain(),
        }


@dataclass(frozen=True, slots=True)
class Contribution:
    """One fact about a party and what it did to one view of the party's compliance."""

    rule: str
    weight: float
    at: int
    entries: tuple[str, ...]
    sources: tuple[str, ...]
    attesters: tuple[str, ...]  # confirming attesters (any reliability)
    refuters: tuple[str, ...]
    note: str
    verifiable: bool  # the rules' flag: an accepted inspection or the party's own signature
    verified: bool  # counted in the verified view
    basis: str  # readable: why it counts as much as it does
    credibility: float  # in [0, 1]: how far the evidence is believed
    opinion: Opinion  # the discounted opinion fused into the view

    @property
    def effect(self) -> float:
        """Signed evidence amount: credibility x scale x weight (for ranking)."""
        return self.opinion.b - self.opinion.d

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "rule": self.rule,
            "weight": self.weight,
            "at": self.at,
            "entries": list(self.entries),
            "sources": list(self.sources),
            "attesters": list(self.attesters),
            "refuters": list(self.refuters),
            "note": self.note,
            "verifiable": self.verifiable,
            "verified": self.verified,
            "basis": self.basis,
            "credibility": self.credibility,
            "contribution": _op_json(self.opinion),
        }


class LazyEvidence(Protocol):
    """A view's contributions made only when read (trustnet.trust.beliefs.compiled._Lazy is
    one): named here so that `compiled` imports these records and not the reverse (issue 13)."""

    def all(self) -> tuple[Contribution, ...]: ...

    def facts(self) -> list[tuple[str, str | None, float, bool]]: ...

    def columns(self) -> FactColumns: ...


class FactBuild(Protocol):
    """What `View.columns` tells of each fact: its rule, entries and whether it is verified."""

    @property
    def rule(self) -> str: ...

    @property
    def entries(self) -> tuple[str, ...]: ...

    @property
    def verified(self) -> bool: ...

    @property
    def fact_key(self) -> tuple[str, str]:
        """(rule, its first entry, or the rule when it has none): the fact it belongs to."""
        ...


# (every fact of the compiled group, the positions of those that contribute, their
# credibilities): the group's list is the same object while its facts are the same.
FactColumns = tuple[Sequence[FactBuild], "NDArray[np.intp]", "NDArray[np.float64]"]


class View:
    """A compliance opinion and the facts it is fused from (read-only).

    The engine makes a view's contributions only when `evidence` is first read: a snapshot
    recomputes tens of thousands of credibilities, and most readers want the opinion alone.
    """

    __slots__ = ("_evidence", "_lazy", "opinion")

    def __init__(
        self,
        opinion: Opinion,
        evidence: tuple[Contribution, ...] = (),
        *,
        lazy: LazyEvidence | None = None,
    ) -> None:
        self.opinion = opinion
        self._evidence: tuple[Contribution, ...] | None = None if lazy is not None else evidence
        self._lazy = lazy

    @property
    def evidence(self) -> tuple[Contribution, ...]:
        """The contributions fused into the opinion, in (at, rule, entries) order."""
        if self._evidence is None:
            assert self._lazy is not None
            self._evidence = self._lazy.all()
        return self._evidence

    def facts(self) -> list[tuple[str, str | None, float, bool]]:
        """(rule, first entry or None, credibility, verified) per contribution, without making
        the contributions."""
        if self._evidence is None and self._lazy is not None:
            return self._lazy.facts()
        return [
            (c.rule, c.entries[0] if c.entries else None, c.credibility, c.verified)
            for c in self.evidence
        ]

    def columns(self) -> FactColumns | None:
        """`facts()` as arrays over the compiled facts, without a list per fact (the
        suspicion's verification tables read them: analysis/verification.py); None for a
        view made from its contributions."""
        return None if self._lazy is None else self._lazy.columns()

    def __reduce__(self) -> tuple[type[View], tuple[Opinion, tuple[Contribution, ...]]]:
        # Copied or pickled with its contributions made: not the engine's arrays behind them
        # (compiled, trustnet/_build.py, those do not copy at all).
        return (View, (self.opinion, self.evidence))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, View):
            return NotImplemented
        return self.opinion == other.opinion and self.evidence == other.evidence

    def __hash__(self) -> int:
        return hash(self.opinion)

    def __repr__(self) -> str:
        return f"View(opinion={self.opinion!r}, evidence=<{len(self.evidence)} contributions>)"

    @property
    def score(self) -> float:
        """The compliance score: the projected probability of the opinion."""
        return self.opinion.p

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "opinion": _op_json(self.opinion),
            "score": self.score,
            "evidence": [c.to_json() for c in self.evidence],
        }


class PartyBelief:
    """What the local node believes about one party: as a source and as a complier (read-only).

    `explanation` may be given as a function of no arguments: it is then called when the
    explanation is first read (a snapshot makes every party's belief; its paragraph, which
    names the facts that drive the views, is wanted only by readers of that party).
    """

    __slots__ = ("_explanation", "forked", "name", "party", "raw", "reliability", "verified")

    party: str
    name: str | None
    reliability: Reliability
    verified: View
    raw: View
    forked: bool
    _explanation: str | Callable[[], str]

    def __init__(
        self,
        party: str,
        name: str | None,
        reliability: Reliability,
        verified: View,
        raw: View,
        forked: bool,
        explanation: str | Callable[[], str],
    ) -> None:
        for slot, value in (("party", party), ("name", name), ("reliability", reliability),
                            ("verified", verified), ("raw", raw), ("forked", forked),
                            ("_explanation", explanation)):
            object.__setattr__(self, slot, value)

    @property
    def explanation(self) -> str:
        """One readable paragraph: the views' scores and the facts that drive them."""
        held = self._explanation
        if isinstance(held, str):
            return held
        text = held()
        object.__setattr__(self, "_explanation", text)
        return text

    def __reduce__(self) -> tuple[type[PartyBelief], tuple[Any, ...]]:
        # copy and pickle through `__init__`, the explanation made (a function is not data)
        return (PartyBelief, (self.party, self.name, self.reliability, self.verified, self.raw,
                              self.forked, self.explanation))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PartyBelief is read-only: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"PartyBelief is read-only: cannot delete {name!r}")

    def _key(self) -> tuple[Any, ...]:
        return (self.party, self.name, self.reliability, self.verified, self.raw, self.forked,
                self.explanation)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartyBelief):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.party, self.reliability, self.verified, self.forked))

    def __repr__(self) -> str:
        return (f"PartyBelief(party={self.party!r}, name={self.name!r}, "
                f"reliability={self.reliability!r}, verified={self.verified!r}, "
                f"raw={self.raw!r}, forked={self.forked!r})")

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "party": self.party,
            "name": self.name,
            "forked": self.forked,
            "reliability": self.reliability.to_json(),
            "verified": self.verified.to_json(),
            "raw": self.raw.to_json(),
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Beliefs:
    """Every party's belief, from `self_id`'s perspective, as of `now_ms`."""

    self_id: str
    now_ms: int
    anchors: tuple[str, ...]
    params: TrustParams
    parties: Mapping[str, PartyBelief] = field(default_factory=dict)

    def party(self, party_id: str) -> PartyBelief:
        """The belief about `party_id`; NotFound when nothing is known of it."""
        try:
            return self.parties[party_id]
        except KeyError:
            raise NotFound(f"no beliefs about party {party_id[:64]!r}") from None

    def header_json(self) -> dict[str, Any]:
        """The JSON-friendly view but for its parties."""
        return {
            "node": self.self_id,
            "now": self.now_ms,
            "anchors": list(self.anchors),
            "params": {f.name: getattr(self.params, f.name) for f in fields(self.params)},
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (parties in id order)."""
        data = self.header_json()
        data["parties"] = [self.parties[p].to_json() for p in sorted(self.parties)]
        return data

