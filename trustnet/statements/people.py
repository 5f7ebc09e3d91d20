"""People-to-people statements: ties, contacts and clarifications as facts (issue 17).

Pure: entries in (`PeopleIndex.add`), facts out (`PeopleIndex.assess`), given how far this
node relies on each party (`standing`). No clock: times are the entries' judged times.

- **Ties.** A party that is not a state (a person, an NGO, an embassy, a town) may declare
  the state it belongs to in its profile (`state`). The tie is known once that state
  confirms the profile (an `attestation` with verdict `confirm` of a profile entry that
  declares it) and the latest profile still declares it. A party's *side* is the state
  itself for a `state`, the confirmed state for a tied party, else unknown.
- **Standing.** How far a party's word counts here: the reliability, in this node's web
  of trust, of the state it belongs to (a state: its own). A key tied to no state has 0,
  whatever trust it has gathered otherwise.
- **Contacts.** A `contact` counts when the counterpart confirms it (an attestation), both
  ends stand on different known sides, and both have standing > 0: the fact's weight is
  the smaller standing (a thousand fabricated persons that nobody trusts weigh nothing).
  Anything else counts for nothing and says why, by a stable code (`CONTACT_STATUSES`).
- **Clarifications.** A `clarification` by an embassy or a state about a held entry counts
  (`confirmed`) when a party of another side with reliability >= `reliable` confirms it and
  none refutes it; one refutation by such a party (an inspection that found otherwise)
  makes it `refuted`. It is about the threat the subject entry raised against the
  clarifier's state; the feedback model withdraws that threat (feedback/restraint.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from trustnet.errors import EntryError
from trustnet.log.entry import Entry
from trustnet.statements.entries import statement_of
from trustnet.statements.kinds import Attestation, Clarification, Contact, Profile

# Why a contact counts or not (stable codes: `GET /bridges`, docs/people.md).
COUNTED = "counted"
CONTACT_STATUSES: tuple[str, ...] = (
    COUNTED,
    "self_contact",  # a contact claimed with oneself
    "unconfirmed",  # the counterpart has not confirmed it
    "refuted",  # the counterpart refuted it
    "duplicate",  # a second claim of one meeting (same two parties, same time)
    "no_side",  # an end belongs to no known state (no profile, or its tie is unconfirmed)
    "same_side",  # both ends belong to one state: not across the divide
    "untrusted",  # an end has standing 0 in this node's view
)
CONFIRMED = "confirmed"
CLARIFICATION_STATUSES: tuple[str, ...] = (
    CONFIRMED,
    "unconfirmed",  # nobody reliable of another side has confirmed it yet
    "refuted",  # a reliable party of another side refuted it
    "unknown_subject",  # the entry it clarifies is not held
    "no_standing",  # its author is not an embassy or a state with a known side
)
CLARIFIER_ROLES = frozenset({"embassy", "state"})

Standing = Callable[[str], float]



def _standing(sides: Mapping[str, str], reliability: Standing, party: str) -> float:
    """What a contact's end stands on: a person is worth what the state that confirmed it
    is worth here (fabricated persons: nothing)."""
    state = sides.get(party)
    return 0.0 if state is None else reliability(state)

@dataclass(frozen=True, slots=True)
class ContactFact:
    """One contact as this node judges it."""

    id: str  # the contact entry
    author: str
    counterpart: str
    type: str
    met_at: int  # when the meeting took place (its body's `at`)
    people: int
    status: str  # one of CONTACT_STATUSES
    weight: float  # the smaller standing of its ends when counted, else 0
    at: int  # when it became a fact: the later of the contact and its confirmation
    sides: tuple[str | None, str | None]  # (author's state, counterpart's state)
    confirmation: str | None  # the counterpart's attestation


@dataclass(frozen=True, slots=True)
class ClarificationFact:
    """One clarification as this node judges it."""

    id: str
    author: str
    subject: str  # the entry it clarifies
    party: str | None  # the state whose threat it clarifies (the author's side)
    status: str  # one of CLARIFICATION_STATUSES
    at: int  # when it was confirmed (or refuted); else when it was made
    confirmed_by: tuple[str, ...]
    refuted_by: tuple[str, ...]
    what: str


@dataclass(frozen=True, slots=True)
class People:
    """Every contact and clarification held, judged (`PeopleIndex.assess`)."""

    contacts: tuple[ContactFact, ...]
    clarifications: tuple[ClarificationFact, ...]
    sides: Mapping[str, str]  # party -> its state, for every party with a known side

    def counted(self) -> list[ContactFact]:
        """The contacts that count, in time order."""
        return [c for c in self.contacts if c.status == COUNTED]

    def withdrawn(self) -> dict[str, set[str]]:
        """State -> the entries whose threat against it a confirmed clarification withdraws."""
        out: dict[str, set[str]] = defaultdict(set)
        for c in self.clarifications:
            if c.status == CONFIRMED and c.party is not None:
                out[c.party].add(c.subject)
        return dict(out)


@dataclass(frozen=True, slots=True)
class _Att:
    author: str
    verdict: str
    id: str
    ts: int


class PeopleIndex:
    """The statements the people-to-people analysis reads, indexed as they arrive."""

    def __init__(self, times: Mapping[bytes, int] | None = None) -> None:
        # entry id -> judged time, for entries not judged by their own ts (DESIGN 12)
        self._times = times if times is not None else {}
        self._held: set[bytes] = set()  # entry ids
        self._profiles: dict[str, list[tuple[int, str, Profile]]] = defaultdict(list)
        self._contacts: list[tuple[int, str, str, Contact]] = []
        self._clarifications: list[tuple[int, str, str, Clarification]] = []
        self._atts: dict[str, list[_Att]] = defaultdict(list)
        self.version = 0  # bumped by every entry this analysis reads

    def add(self, entries: Iterable[Entry]) -> int:
        """Index entries (duplicates ignored); returns how many this analysis reads."""
        read = 0
        held = self._held
        for e in entries:
            if e.id in held:
                continue
            held.add(e.id)
            if e.kind not in _READ:
                continue
            try:
                # parsed once per entry: the belief engine, which indexes it first, keeps it
                body = statement_of(e)
            except EntryError:
                continue  # DESIGN 4: a body that fails validation is not a statement
            eid = e.id_hex
            ts = self._times.get(e.id, e.ts)
            author = e.author_hex
            if isinstance(body, Profile):
                self._profiles[author].append((ts, eid, body))
            elif isinstance(body, Contact):
                self._contacts.append((ts, eid, author, body))
            elif isinstance(body, Clarification):
                self._clarifications.append((ts, eid, author, body))
            elif isinstance(body, Attestation):
                self._atts[body.subject].append(_Att(author, body.verdict, eid, ts))
            read += 1
        if read:
            self.version += 1
        return read

    def holds(self, entry_id: str) -> bool:
        """Whether the entry (hex id) is held."""
        try:
            return bytes.fromhex(entry_id) in self._held
        except ValueError:
            return False

    def sides(self) -> dict[str, str]:
        """Party -> the state it belongs to (a state: itself), for every known side."""
        out: dict[str, str] = {}
        for party, profiles in self._profiles.items():
            latest = max(profiles, key=lambda p: (p[0], p[1]))[2]
            if latest.role == "state":
                out[party] = party
                continue
            state = latest.state
            if state is None or state == party:
                continue
            # The state confirmed a profile of this party that declares it.
            if any(
                p.state == state
                and any(a.author == state and a.verdict == "confirm" for a in self._atts.get(pid, ()))
                for _ts, pid, p in profiles
            ):
                out[party] = state
        return out

    def roles(self) -> dict[str, str]:
        """Party -> the role in its latest profile."""
        return {p: max(ps, key=lambda x: (x[0], x[1]))[2].role for p, ps in self._profiles.items()}

    def assess(self, reliability: Standing, reliable: float = 0.1) -> People:
        """Judge every contact and clarification with this node's reliabilities."""
        sides = self.sides()
        standing = partial(_standing, sides, reliability)
        contacts = tuple(_contacts(self._contacts, self._atts, sides, standing))
        clar = tuple(self._clarification_facts(sides, self.roles(), reliability, reliable))
        return People(contacts, clar, sides)

    def _clarification_facts(
        self, sides: Mapping[str, str], roles: Mapping[str, str], reliability: Standing,
        reliable: float,
    ) -> Iterable[ClarificationFact]:
        for ts, eid, author, body in sorted(self._clarifications, key=lambda c: (c[0], c[1])):
            side = sides.get(author)
            confirm: list[_Att] = []
            refute: list[_Att] = []
            for a in self._atts.get(eid, ()):
                # Independent: a party of another side, a reliable source in this node's view.
                if sides.get(a.author, a.author) == side or reliability(a.author) < reliable:
                    continue
                if a.verdict == "confirm":
                    confirm.append(a)
                elif a.verdict == "refute":
                    refute.append(a)
            if not self.holds(body.subject):
                status, at = "unknown_subject", ts
            elif side is None or roles.get(author) not in CLARIFIER_ROLES:
                status, at = "no_standing", ts
            elif refute:
                status, at = "refuted", min(a.ts for a in refute)
            elif confirm:
                status, at = CONFIRMED, max(ts, min(a.ts for a in confirm))
            else:
                status, at = "unconfirmed", ts
            yield ClarificationFact(
                eid, author, body.subject, side, status, at,
                tuple(sorted({a.author for a in confirm})), tuple(sorted({a.author for a in refute})),
                body.what,
            )


# the kinds this analysis reads (analysis/people.py judges only their times)
READ_KINDS = _READ = frozenset({"profile", "contact", "clarification", "attestation"})


def _contacts(
    contacts: list[tuple[int, str, str, Contact]],
    atts: Mapping[str, list[_Att]],
    sides: Mapping[str, str],
    standing: Standing,
) -> Iterable[ContactFact]:
    meetings: set[tuple[str, str, int]] = set()
    for ts, eid, author, body in sorted(contacts, key=lambda c: (c[0], c[1])):
        other = body.counterpart
        answers = [a for a in atts.get(eid, ()) if a.author == other]
        confirm = min((a for a in answers if a.verdict == "confirm"),
                      key=lambda a: (a.ts, a.id), default=None)
        sa, sb = sides.get(author), sides.get(other)
        weight = 0.0
        at = ts if confirm is None else max(ts, confirm.ts)
        meeting = (min(author, other), max(author, other), body.at)
        if author == other:
            status = "self_contact"
        elif any(a.verdict == "refute" for a in answers):
            status = "refuted"
        elif confirm is None:
            status = "unconfirmed"
        elif meeting in meetings:
            status = "duplicate"
        elif sa is None or sb is None:
            status = "no_side"
        elif sa == sb:
            status = "same_side"
        else:
            weight = min(standing(author), standing(other), 1.0)
            status = COUNTED if weight > 0.0 else "untrusted"
        if status in (COUNTED, "untrusted", "same_side", "no_side"):
            meetings.add(meeting)  # a confirmed meeting: a second claim of it is a duplicate
        yield ContactFact(
            eid, author, other, body.type, body.at, body.people, status, weight, at, (sa, sb),
            confirm.id if confirm is not None else None,
        )
