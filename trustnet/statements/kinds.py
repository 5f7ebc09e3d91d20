"""The statement kinds of DOMAIN.md as typed frozen records, with strict body validation.

Each kind is a frozen dataclass; its annotations *are* the schema. A body is
accepted only when every required field is present with the right type and
range, and there is no field the kind does not define (other fields belong in
the optional `ext` map). Errors are `EntryError(code="bad_body")` or
`unknown_kind` and name the offending field, e.g. `notification.troops`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, cast

from trustnet.errors import EntryError
from trustnet.statements.fastparse import FAIL, FastParser, Marks, c_programs, fast_parsers

# -- field constraints, attached with typing.Annotated ------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """An integer between lo and hi (inclusive; None: unbounded)."""

    lo: int | None = None
    hi: int | None = None


@dataclass(frozen=True, slots=True)
class Hex32:
    """64 lowercase hex characters: a party id, an entry id or a sha256 digest."""

    what: str


@dataclass(frozen=True, slots=True)
class MaxLen:
    """A string or list no longer than n."""

    n: int


@dataclass(frozen=True, slots=True)
class Url:
    """An http(s) URL."""


Time = Annotated[int, Range(0, None)]  # ms since the Unix epoch
Count = Annotated[int, Range(0, None)]
Confidence = Annotated[int, Range(0, 1000)]
Level = Annotated[int, Range(-1000, 1000)]
PartyId = Annotated[str, Hex32("party id")]
EntryId = Annotated[str, Hex32("entry id")]
Digest = Annotated[str, Hex32("sha256 digest")]
Text = Annotated[str, MaxLen(4096)]
Name = Annotated[str, MaxLen(256)]
Ext = Mapping[str, Any]

MAX_ITEMS = 1024


# -- the kinds -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit's holdings in an annual exchange."""

    unit: Name
    location: Name
    personnel: Count
    tanks: Count
    acv: Count
    artillery: Count
    aircraft: Count
    helicopters: Count


@dataclass(frozen=True, slots=True)
class PlannedActivity:
    """One planned notifiable activity in an annual calendar."""

    activity: Name
    start: Time
    end: Time
    troops: Count


@dataclass(frozen=True, slots=True)
class Profile:
    """Who I am and where my node listens (latest wins)."""

    name: Name
    role: Literal[
        "state", "group", "observer", "organisation",
        # issue 17: people and institutions are parties too
        "person", "ngo", "embassy", "municipality",
    ]
    urls: Annotated[tuple[Annotated[str, Url()], ...], MaxLen(16)]
    # issue 17: the state this party belongs to (a national, an embassy, a town); known
    # once that state confirms this profile (an `attestation` confirming it)
    state: PartyId | None = None
    ext: Ext | None = None
    # Issue 16: the zone the rules read this party's dates in (an IANA name such as
    # "Europe/Vienna"; UTC when absent or unknown to the reading node's zone database).
    zone: Annotated[str, MaxLen(64)] | None = None


@dataclass(frozen=True, slots=True)
class AnnualExchange:
    """Annual exchange of military information (VD11 chapter I)."""

    valid_from: Time
    units: tuple[Unit, ...]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Calendar:
    """Annual calendar of notifiable activities (VD11 chapter VII)."""

    year: Annotated[int, Range(1900, 9999)]
    activities: tuple[PlannedActivity, ...]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """Prior notification of a military activity (VD11 chapter V)."""

    activity: Name
    type: Literal["exercise", "transfer", "concentration", "alert"]
    start: Time
    end: Time
    area: Text
    troops: Count
    tanks: Count
    acv: Count
    artillery: Count
    amphibious: Count
    sorties: Count
    observers_invited: bool
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What I saw another party do."""

    subject: PartyId
    area: Text
    at: Time
    troops: Count
    tanks: Count
    acv: Count
    artillery: Count
    method: Literal["inspection", "evaluation", "aerial", "technical", "open_source", "liaison"]
    confidence: Confidence
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    activity: Name | None = None
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Attestation:
    """My verification of someone's statement."""

    subject: EntryId
    verdict: Literal["confirm", "refute", "partial", "unverifiable"]
    method: Literal["inspection", "evaluation", "aerial", "technical", "open_source", "liaison"]
    confidence: Confidence
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    note: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Trust:
    """How far I rely on a party as a source (-1000..1000)."""

    subject: PartyId
    level: Level
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class ConsultationRequest:
    """A request for explanation of unusual military activity (VD11 chapter III)."""

    subject: PartyId
    concern: Text
    area: Text
    activity: Name | None = None
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class ConsultationReply:
    """The answer to a consultation request."""

    request: EntryId
    explanation: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class InspectionRequest:
    """A request to inspect a specified area (VD11 chapter IX)."""

    host: PartyId
    area: Text
    grounds: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class InspectionResponse:
    """The host's answer to an inspection request."""

    request: EntryId
    accept: bool
    reason: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class InspectionReport:
    """What an inspection found."""

    request: EntryId
    host: PartyId
    troops: Count
    tanks: Count
    acv: Count
    artillery: Count
    verdict: Literal["consistent", "inconsistent", "inconclusive"]
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    activity: Name | None = None
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Keys:
    """Commits to the next signing key (pre-rotation): sha256 of its public key."""

    next: Digest
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Rotation:
    """Reveals the committed next key, signed by it, and commits to a fresh one (trustnet/log/keys.py)."""

    key: Annotated[str, Hex32("public key")]
    next: Digest | None = None  # required: a rotation without it is bad_rotation, not bad_body
    compromised_since: Time | None = None
    ext: Ext | None = None


# -- issue 17: people-to-people contacts and clarifications (trustnet/statements/people.py) --


@dataclass(frozen=True, slots=True)
class Contact:
    """A meeting across the divide: counts once the counterpart confirms it (an attestation)."""

    counterpart: PartyId
    type: Literal["visit", "exchange", "twinning", "liaison", "joint_project"]
    at: Time
    place: Text
    people: Annotated[int, Range(1, 1_000_000)]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class Clarification:
    """An embassy's (or liaison's) account of a statement or activity perceived as threatening."""

    subject: EntryId
    what: Text
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    ext: Ext | None = None



# -- issue 16 item 5 part B: observation, evaluation visits, incidents, Open Skies ---------
# (rules in trustnet/statements/regime_observation.py, regime_evaluation.py,
# regime_incidents.py, regime_openskies.py; figures in ViennaFigures)

Sensor = Literal["optical", "video", "infrared", "sar"]


@dataclass(frozen=True, slots=True)
class ObservationInvitation:
    """The host invites every participating state to observe its notified activity (VD11 ch. VI)."""

    notification: EntryId  # the host's own notification of the activity
    activity: Name
    area: Text
    start: Time  # the observation programme
    end: Time
    observers_per_state: Annotated[int, Range(0, 16)]
    reply_by: Time
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class ObservationAcceptance:
    """A state accepts an invitation and names its observers."""

    invitation: EntryId
    host: PartyId  # the inviting party (whose invitation it accepts)
    observers: Annotated[tuple[Name, ...], MaxLen(16)]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class ObserversReport:
    """What invited observers saw (it can be attested like any statement)."""

    invitation: EntryId
    host: PartyId
    troops: Count
    tanks: Count
    acv: Count
    artillery: Count
    verdict: Literal["consistent", "inconsistent", "inconclusive"]
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    note: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """A request to visit a unit the host reported in its annual exchange (VD11 ch. IX)."""

    host: PartyId
    unit: Name
    area: Text
    grounds: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class EvaluationResponse:
    """The host's answer to an evaluation visit request."""

    request: EntryId
    accept: bool
    reason: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """What an evaluation visit found at the unit, compared by the rules with its exchange."""

    request: EntryId
    host: PartyId
    unit: Name
    personnel: Count
    tanks: Count
    acv: Count
    artillery: Count
    verdict: Literal["consistent", "inconsistent", "inconclusive"]
    evidence: Annotated[tuple[Digest, ...], MaxLen(64)]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """A hazardous incident of a military nature, reported to the party concerned (VD11 para 17);
    the party answers with a `consultation_reply` whose `request` is this entry."""

    subject: PartyId
    at: Time
    area: Text
    description: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class OpenSkiesNotice:
    """An observing party's notice of arrival for an Open Skies flight over `observed`."""

    observed: PartyId
    arrival: Time  # at the point of entry
    entry_point: Name
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class OpenSkiesResponse:
    """The observed party's answer to a notice of arrival."""

    notice: EntryId
    accept: bool
    reason: Text
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class OpenSkiesFlight:
    """The observation flight flown under a notice (published by the observing party)."""

    notice: EntryId
    observed: PartyId
    arrival: Time  # at the point of entry, as noticed
    start: Time
    end: Time
    route: Text
    sensors: Annotated[tuple[Sensor, ...], MaxLen(4)]
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class SensorDataRequest:
    """A request to the observing party for a copy of a flight's sensor data."""

    flight: EntryId
    observer: PartyId  # the observing party, who flew the flight and holds its data
    ext: Ext | None = None


@dataclass(frozen=True, slots=True)
class SensorDataReply:
    """The observing party's answer: the data's digests (shared), or none and why (declined)."""

    request: EntryId
    data: Annotated[tuple[Digest, ...], MaxLen(64)]
    note: Text
    ext: Ext | None = None


# Issue 14 item 4, witness receipts (trustnet/log/receipts.py, docs/witnesses.md).
@dataclass(frozen=True, slots=True)
class Witnesses:
    """Declares the author's witnesses and how many receipts witness an entry (k), for its
    entries after this one."""

    witnesses: Annotated[tuple[PartyId, ...], MaxLen(16)]
    receipts_needed: Annotated[int, Range(0, 16)]
    ext: Ext | None = None


Statement = Union[  # noqa: UP007 - a runtime alias used in isinstance-free typing only
    Profile,
    AnnualExchange,
    Calendar,
    Notification,
    Observation,
    Attestation,
    Trust,
    ConsultationRequest,
    ConsultationReply,
    InspectionRequest,
    InspectionResponse,
    InspectionReport,
    Keys,
    Rotation,
    Contact,  # issue 17
    Clarification,  # issue 17
    # issue 16 item 5 part B
    ObservationInvitation,
    ObservationAcceptance,
    ObserversReport,
    EvaluationRequest,
    EvaluationResponse,
    EvaluationReport,
    IncidentReport,
    OpenSkiesNotice,
    OpenSkiesResponse,
    OpenSkiesFlight,
    SensorDataRequest,
    SensorDataReply,
    Witnesses,
]

KINDS: dict[str, type[Any]] = {
    "profile": Profile,
    "annual_exchange": AnnualExchange,
    "calendar": Calendar,
    "notification": Notification,
    "observation": Observation,
    "attestation": Attestation,
    "trust": Trust,
    "consultation_request": ConsultationRequest,
    "consultation_reply": ConsultationReply,
    "inspection_request": InspectionRequest,
    "inspection_response": InspectionResponse,
    "inspection_report": InspectionReport,
    "keys": Keys,
    "rotation": Rotation,
    # issue 17: people-to-people
    "contact": Contact,
    "clarification": Clarification,
    # issue 16 item 5 part B
    "observation_invitation": ObservationInvitation,
    "observation_acceptance": ObservationAcceptance,
    "observers_report": ObserversReport,
    "evaluation_request": EvaluationRequest,
    "evaluation_response": EvaluationResponse,
    "evaluation_report": EvaluationReport,
    "incident_report": IncidentReport,
    "openskies_notice": OpenSkiesNotice,
    "openskies_response": OpenSkiesResponse,
    "openskies_flight": OpenSkiesFlight,
    "sensor_data_request": SensorDataRequest,
    "sensor_data_reply": SensorDataReply,
    "witnesses": Witnesses,  # issue 14 item 4
}


# -- the validator, compiled once per record type from its annotations ---------------------

Check = Callable[[Any, str], Any]
_HEX = frozenset("0123456789abcdef")


def _bad(where: str, expected: str, value: Any) -> EntryError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return EntryError(f"{where}: expected {expected}, got {shown}", code="bad_body")


def _compile(tp: Any) -> Check:
    """Build a checker that validates a decoded msgpack value against a type and converts it."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *marks = typing.get_args(tp)
        if base is int and len(marks) == 1 and isinstance(marks[0], Range):
            return _int_range(marks[0])  # the hottest shape: fused into one check
        inner = _compile(base)
        checks = [_mark(m) for m in marks]

        def annotated(v: Any, where: str) -> Any:
            v = inner(v, where)
            for c in checks:
                c(v, where)
            return v

        return annotated
    if tp is bool:

        def boolean(v: Any, where: str) -> Any:
            if not isinstance(v, bool):
                raise _bad(where, "true or false", v)
            return v

        return boolean
    if tp is int:

        def integer(v: Any, where: str) -> Any:
            if not isinstance(v, int) or isinstance(v, bool):
                raise _bad(where, "an integer", v)
            return v

        return integer
    if tp is str:

        def string(v: Any, where: str) -> Any:
            if not isinstance(v, str):
                raise _bad(where, "a string", v)
            return v

        return string
    if origin is Literal:
        allowed = typing.get_args(tp)
        shown = " / ".join(allowed)

        def literal(v: Any, where: str) -> Any:
            if v not in allowed or not isinstance(v, str):
                raise _bad(where, f"one of {shown}", v)
            return v

        return literal
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp}")
        inner = _compile(args[0])
        return lambda v, where: None if v is None else inner(v, where)
    if origin is tuple:
        item_tp, _ellipsis = typing.get_args(tp)
        item = _compile(item_tp)

        def array(v: Any, where: str) -> Any:
            if not isinstance(v, list):
                raise _bad(where, "a list", v)
            if len(v) > MAX_ITEMS:
                raise _bad(where, f"at most {MAX_ITEMS} items", f"{len(v)} items")
            return tuple(item(x, f"{where}[{i}]") for i, x in enumerate(v))

        return array
    if origin in (Mapping, dict) or tp is Ext:

        def mapping(v: Any, where: str) -> Any:
            if not isinstance(v, dict):
                raise _bad(where, "a map", v)
            return v

        return mapping
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _record(tp)
    raise TypeError(f"unsupported schema type {tp!r}")


def _int_range(mark: Range) -> Check:
    lo = -(2**64) if mark.lo is None else mark.lo
    hi = 2**64 if mark.hi is None else mark.hi
    lo_s = "" if mark.lo is None else f"{mark.lo} <= "
    hi_s = "" if mark.hi is None else f" <= {mark.hi}"

    def int_range(v: Any, where: str) -> Any:
        if type(v) is not int or not lo <= v <= hi:
            if isinstance(v, int) and not isinstance(v, bool):
                raise _bad(where, f"an integer {lo_s}n{hi_s}", v)
            raise _bad(where, "an integer", v)
        return v

    return int_range


def _mark(mark: Any) -> Callable[[Any, str], None]:
    if isinstance(mark, Range):

        def in_range(v: int, where: str) -> None:
            if (mark.lo is not None and v < mark.lo) or (mark.hi is not None and v > mark.hi):
                lo = "" if mark.lo is None else f"{mark.lo} <= "
                hi = "" if mark.hi is None else f" <= {mark.hi}"
                raise _bad(where, f"an integer {lo}n{hi}", v)

        return in_range
    if isinstance(mark, Hex32):

        def hex32(v: str, where: str) -> None:
            if len(v) != 64 or not _HEX.issuperset(v):
                raise _bad(where, f"a {mark.what} (64 lowercase hex characters)", v)

        return hex32
    if isinstance(mark, MaxLen):

        def max_len(v: Any, where: str) -> None:
            if len(v) > mark.n:
                raise _bad(where, f"at most {mark.n} characters or items", f"length {len(v)}")

        return max_len
    if isinstance(mark, Url):

        def url(v: str, where: str) -> None:
            if not (v.startswith("http://") or v.startswith("https://")) or len(v) > 2048:
                raise _bad(where, "an http:// or https:// URL", v)

        return url
    raise TypeError(f"unsupported constraint {mark!r}")


R = TypeVar("R")


def _record(cls: type[R]) -> Callable[[Any, str], R]:
    hints = typing.get_type_hints(cls, include_extras=True)
    spec = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        required = f.default is dataclasses.MISSING
        spec.append((f.name, required, _compile(hints[f.name])))
    names = frozenset(name for name, _, _ in spec)
    label = _LABELS.get(cls, cls.__name__)
    # Each field's place ("observation.troops"), made once per place the record is met at:
    # every body is checked here, and the places are few (a kind, a nested field).
    places: dict[str, list[str]] = {}

    def record(v: Any, where: str) -> R:
        if not isinstance(v, dict):
            raise _bad(where, "a map", v)
        if not names.issuperset(v):
            name = sorted(v.keys() - names, key=str)[0]
            raise EntryError(
                f"{where}.{name}: unknown field for {label} (put extensions under 'ext')",
                code="bad_body",
            )
        at = places.get(where)
        if at is None:
            at = [where + "." + name for name, _, _ in spec]
            if len(places) < 256:  # nested records meet places like "x.y[17]": bounded
                places[where] = at
        values = {}
        for (name, required, check), place in zip(spec, at):  # noqa: B905 - same length
            if name in v:
                values[name] = check(v[name], place)
            elif required:
                raise EntryError(f"{place}: missing", code="bad_body")
        return cls(**values)

    return record


_LABELS: dict[Any, str] = {cls: kind for kind, cls in KINDS.items()}
_PARSERS: dict[str, Callable[[Any, str], Any]] = {kind: _record(cls) for kind, cls in KINDS.items()}
# Straight-line parsers that accept valid bodies only; the closures above give every error.
_FAST: dict[str, FastParser] = {}


def parse_body(kind: str, body: Mapping[str, Any]) -> Statement:
    """Validate `body` for `kind` and return it as a typed record."""
    parser = _PARSERS.get(kind)
    if parser is None:
        raise EntryError(
            f"unknown kind {kind!r} (known: {', '.join(sorted(_PARSERS))})", code="unknown_kind"
        )
    if type(body) is dict:
        fast = _FAST.get(kind)
        if fast is not None:
            got = fast(body)
            if got is not FAIL:
                return cast("Statement", got)
    if not isinstance(body, Mapping):
        raise EntryError(f"{kind}: body is a map", code="bad_body")
    result: Statement = parser(body if isinstance(body, dict) else dict(body), kind)
    return result


def validate_body(kind: str, body: Mapping[str, Any]) -> None:
    """Raise `unknown_kind` or `bad_body` (naming the field) unless `body` is valid for `kind`."""
    parse_body(kind, body)


_MARKS = Marks(Range, Hex32, MaxLen, Url, Ext, MAX_ITEMS, _HEX)
_FAST.update(fast_parsers(KINDS, _MARKS))


def body_programs() -> dict[bytes, tuple[Any, ...]]:
    """The kinds' body checks as programs for the ingest workers' compiled checks
    (`trustnet._canonical.checker`): each passes only bodies `parse_body` accepts."""
    return c_programs(KINDS, _MARKS)
