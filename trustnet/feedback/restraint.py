"""People-to-people contacts and clarifications in the feedback model (issue 17, docs/people.md).

Two effects, both from facts `statements.people` judged with this node's reliabilities:

- **Restraint.** Each contact that counts across a bridge between this node's state and
  another state P (`trust.bridges.weigh`: confirmed, both ends relied upon, each party's
  total capped) is a `contact_restraint` cooperation signal about P, weight
  `restraint_per_contact x` its bridge weight, verification 1: it adds to the goodwill
  account C, hence to the restraint a = a0 + restraint_gain x C of the relationship, and
  fades with `restraint_half_life` like all goodwill: only *sustained* contacts keep the
  restraint up. What one bridge adds within 30 days is capped (`restraint_cap_per_month`).
  A node with no known side (an observer) gets no restraint from contacts.
- **Withdrawal.** A confirmed clarification of entry E by an embassy (or state) of P withdraws
  the unverified threat evidence about P that rests on E, as if the misperceived event had
  never raised it. Verified evidence (an accepted inspection, the party's own signature)
  is never withdrawn, and a refuted clarification withdraws nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from trustnet.feedback.estimator import Signal
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS
from trustnet.trust.bridges import DEFAULT_PEOPLE, PeopleParams, Weighted

CONTACT_RESTRAINT = "contact_restraint"  # the rule name of a contact's restraint signal
_MONTH_MS = 30 * DAY_MS


def restraint_signals(
    weighted: Iterable[Weighted], side: str | None, params: PeopleParams = DEFAULT_PEOPLE
) -> dict[str, list[Signal]]:
    """Party -> the restraint signals of the contacts between `side` (this node's state) and it."""
    out: dict[str, list[Signal]] = defaultdict(list)
    if side is None or params.restraint_per_contact <= 0.0:
        return {}
    spent: dict[tuple[str, int], float] = defaultdict(float)
    for w in sorted(weighted, key=lambda w: (w.contact.at, w.contact.id)):
        if side not in w.states:
            continue
        other = w.states[1] if w.states[0] == side else w.states[0]
        month = (other, w.contact.at // _MONTH_MS)
        amount = min(w.weight * params.restraint_per_contact,
                     params.restraint_cap_per_month - spent[month])
        if amount <= 1e-12:
            continue
        spent[month] += amount
        out[other].append(Signal(other, w.contact.at, "cooperation", amount, 1.0, w.contact.id,
                                 CONTACT_RESTRAINT))
    return dict(out)


def withdrawn(ev: Evidence, withdraw: Mapping[str, set[str]]) -> bool:
    """Whether a confirmed clarification withdraws this evidence (unverified threat on E)."""
    ids = withdraw.get(ev.party)
    if not ids or ev.weight >= 0 or ev.verifiable:
        return False
    return not ids.isdisjoint(ev.entries)


EvidenceIn = list[Evidence] | Mapping[str, tuple[int, list[Evidence]]]


def without_withdrawn(evidence: EvidenceIn, withdraw: Mapping[str, set[str]]) -> EvidenceIn:
    """`evidence` (one list, or per source with stamps) minus what clarifications withdraw.

    A source whose evidence loses a member gets a new stamp (its stamp and what was dropped),
    so that the suspicion view looks at it again; the others keep theirs.
    """
    if not withdraw:
        return evidence
    if not isinstance(evidence, Mapping):
        return [ev for ev in evidence if not withdrawn(ev, withdraw)]
    out: dict[str, tuple[int, list[Evidence]]] = {}
    for name, (stamp, evs) in evidence.items():
        kept = [ev for ev in evs if not withdrawn(ev, withdraw)]
        if len(kept) == len(evs):
            out[name] = (stamp, evs)
        else:
            dropped = tuple(sorted({i for ev in evs if withdrawn(ev, withdraw) for i in ev.entries}))
            out[name] = (hash((stamp, dropped)), kept)
    return out
