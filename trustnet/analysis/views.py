"""Beliefs and suspicion over a node's store: what `/beliefs`, `/suspicion` and `/series` show.

`NodeViews` follows the store incrementally (a cursor over arrival order) and
feeds new entries to the belief engine and the suspicion view; readers get a
snapshot that is recomputed only when the store changed or time moved on.
Suspicion uses the beliefs' verified view as its verification: evidence the
verified view counts, with someone this node relies on behind it, is verified
(1.0); other evidence counts half as far as the web of trust believes it (a
fully believed but unconfirmed claim counts 0.5, one whose sources all have
reliability 0 counts 0), so each node weighs the same claim by its own trust in
those who make it (docs/suspicion.md).
`as_of` recomputes both from the entries published up to a moment: the
testbed's time series, and a way to ask "what did this node think then?".
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from trustnet.analysis.people import PeopleSnapshot, PeopleView
from trustnet.analysis.verification import (
    TableCache,
    lookup_by_party,
    verification_by_party,
    verification_for as verification_for,
)
from trustnet.clock import DAY_MS, HOUR_MS
from trustnet.errors import ConfigError, NotFound, TrustnetError
from trustnet.feedback.estimator import PartySuspicion, SuspicionParams
from trustnet.feedback.restraint import without_withdrawn
from trustnet.feedback.signals import HostilityWeights, SuspicionView
from trustnet.heap import gc_paused, gc_settled
from trustnet.log.entry import MAX_FUTURE_MS, MAX_INT, Entry
from trustnet.node.settings import NodeSettings, load_settings
from trustnet.statements.figures import ViennaFigures
from trustnet.statements.weights import RuleWeights
from trustnet.store.sqlite import Store
from trustnet.trust.beliefs import BeliefEngine, Beliefs, TrustParams
from trustnet.trust.bridges import DEFAULT_PEOPLE, PeopleParams

if TYPE_CHECKING:
    from trustnet.clock import Clock
    from trustnet.config.loader import NodeConfig

MAX_SAMPLES = 2000
CATCH_UP = 1000  # entries behind the store beyond which `current` pauses the collector


class Suspicions(Protocol):
    """What the views read of suspicion: a `SuspicionView`, or the reports of a view the
    node's live analysis published (trustnet.analysis.live)."""

    def report(self, party: str, now_ms: int) -> PartySuspicion: ...

    def reports(self, now_ms: int) -> Mapping[str, PartySuspicion]: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """The node.toml tables the views read, validated once at start."""

    figures: ViennaFigures
    weights: RuleWeights
    trust: TrustParams
    suspicion: SuspicionParams
    hostility: HostilityWeights
    people: PeopleParams = DEFAULT_PEOPLE  # [people]: contacts and clarifications (issue 17)

    @classmethod
    def from_config(cls, config: NodeConfig) -> Settings:
        """Load [rules], [weights], [trust] and [suspicion] (hostility weights under
        [suspicion.hostility]) with every other table (trustnet.node.settings)."""
        return cls.of(load_settings(config))

    @classmethod
    def of(cls, settings: NodeSettings) -> Settings:
        """The tables the views read, of a node's loaded settings."""
        return cls(settings.rules, settings.weights, settings.trust, settings.suspicion,
                   settings.hostility, settings.people)


class NodeViews:
    """One node's beliefs and suspicion, kept current with its store."""

    def __init__(self, store: Store, self_id: str, anchors: tuple[str, ...], settings: Settings,
                 clock: Clock, *, transient: bool = False) -> None:
        self.store = store
        # Made for one answer and dropped after it (a heavy view of a past moment): its
        # catch-up freezes nothing, since what it keeps dies with it.
        self.transient = transient
        self.self_id = self_id
        self.anchors = anchors
        self.settings = settings
        self.clock = clock
        self._engine = self._new_engine()
        self._suspicion = self._new_suspicion()
        self._people = PeopleView(self_id, settings.people)
        self.people: PeopleSnapshot | None = None  # as of the last `current`
        self._cursor = 0
        self._received: dict[bytes, int] = {}
        self._forks_seen = 0
        self._keys_epoch = store.keys_epoch
        self._beliefs: Beliefs | None = None
        self._tables: TableCache = {}
        self._key: tuple[int, int, int] | None = None

    def in_order(self, parties: Mapping[str, Any]) -> Sequence[str]:
        """The ids of `parties` (of these views' beliefs or reports) sorted: the order
        pages are cut in."""
        return sorted(parties)

    @property
    def cursor(self) -> int:
        """The arrival cursor of the last entry taken in (the store's, when current)."""
        return self._cursor

    def _new_engine(self) -> BeliefEngine:
        s = self.settings
        return BeliefEngine(self.self_id, self.anchors, s.trust, figures=s.figures, weights=s.weights)

    def _new_suspicion(self) -> SuspicionView:
        s = self.settings
        return SuspicionView(self.self_id, params=s.suspicion, figures=s.figures,
                             weights=s.weights, hostility=s.hostility)

    def _follow(self) -> list[Entry]:
        """Entries stored since the last call (in arrival order); their receipt times go to
        `self._received` (DESIGN 12: deadlines are judged by receipt)."""
        if self.store.keys_epoch != self._keys_epoch:
            # A rotation changed what is revoked or which forks count (keys.py): start over.
            self._keys_epoch = self.store.keys_epoch
            self._engine = self._new_engine()
            self._suspicion = self._new_suspicion()
            self._people = PeopleView(self.self_id, self.settings.people)
            self._cursor = self._forks_seen = 0
            self._key = None
        new: list[Entry] = []
        while True:
            page = self.store.page_received(after=self._cursor, limit=5000)
            if not page:
                return new
            for e, _c, received in page:
                if self.store.revoked(e):
                    continue  # its party disowned it: a stolen key's statement (keys.py)
                new.append(e)
                self._received[e.id] = received
            self._cursor = page[-1][1]

    def _timed(self) -> tuple[list[Entry], dict[bytes, int]]:
        """Every entry held and when it was received (for recomputations as of a moment)."""
        entries: list[Entry] = []
        received: dict[bytes, int] = {}
        after = 0
        while True:
            page = self.store.page_received(after=after, limit=5000)
            if not page:
                return entries, received
            for e, _c, r in page:
                entries.append(e)
                received[e.id] = r
            after = page[-1][1]

    def attestations_of(self, entry_id: str) -> list[Entry]:
        """The attestations held about entry `entry_id` (hex), as of the current views."""
        self.current()
        found = (self.store.get(bytes.fromhex(i)) for i in self._engine.attestations_of(entry_id))
        return [e for e in found if e is not None]

    def judged(self, e: Entry, received: Mapping[bytes, int]) -> int:
        """When `e` counts as made here: its receipt when backdated (DESIGN 12), else `ts`."""
        return self.settings.trust.judged(e.ts, received.get(e.id))

    def current(self, now_ms: int | None = None) -> tuple[Beliefs, Suspicions]:
        """Beliefs and suspicion as of now, recomputed only when something changed."""
        # Catching up with many entries (a start, a bundle imported), the cyclic collector
        # would walk the whole heap again and again; paused, then what the analysis keeps is
        # frozen out of its reach (trustnet.heap.gc_settled); a transient view's is
        # paused only. For a few entries it is paused too: the records an update makes and
        # drops are freed by reference counting, and the collector walks what it kept once,
        # after (not at each burst of allocations on the way: ~1 ms less per new entry).
        if self.store.last_cursor() - self._cursor > CATCH_UP and not self.transient:
            with gc_settled():
                return self._current(now_ms)
        with gc_paused():
            return self._current(now_ms)

    def _current(self, now_ms: int | None) -> tuple[Beliefs, SuspicionView]:
        now = self.clock.now_ms() if now_ms is None else now_ms
        new = self._follow()
        forks = self.store.forks() if len(self.store.forked_authors()) != self._forks_seen else []
        if new:
            self._engine.add(new, self._received)
            self._people.add(new, partial(self.judged, received=self._received))
            self._received.clear()
        if forks:
            self._engine.add_forks(forks)
            self._forks_seen = len(self.store.forked_authors())
        # Evidence depends on time only through deadlines: a minute's resolution is plenty.
        key = (self._cursor, self._forks_seen, now // 60_000)
        if key != self._key or self._beliefs is None:
            self._beliefs = self._engine.snapshot(now)
            tables = verification_by_party(self._beliefs, self._tables)
            self._suspicion.verification = lookup_by_party(tables)
            # issue 17: contacts restrain, confirmed clarifications withdraw threats
            people = self.people = self._people.snapshot(self._beliefs, now)
            # The engine holds the rules' evidence per party, stamped: no second evaluation
            # here, and only the parties whose evidence or verification changed are redone.
            self._suspicion.update(new, now, forks=forks,
                                   evidence=without_withdrawn(self._engine.evidence_by_party(now),
                                                              people.withdrawn),
                                   verification_tables=tables, extra=people.restraint)
            self._key = key
        return self._beliefs, self._suspicion

    def as_of(self, at_ms: int) -> tuple[Beliefs, SuspicionView]:
        """Beliefs and suspicion from the entries published up to `at_ms`, as of then."""
        held, received = self._timed()
        entries = [e for e in held if self.judged(e, received) <= at_ms and not self.store.revoked(e)]
        forks = [p for p in self.store.forks() if min(p.a.ts, p.b.ts) <= at_ms]
        engine = self._new_engine()
        engine.add(entries, received)
        engine.add_forks(forks)
        beliefs = engine.snapshot(at_ms)
        suspicion = self._new_suspicion()
        suspicion.verification = verification_for(beliefs)
        people = PeopleView(self.self_id, self.settings.people)
        people.add(entries, partial(self.judged, received=received))
        snap = people.snapshot(beliefs, at_ms)
        suspicion.update(entries, at_ms, forks=forks,
                         evidence=without_withdrawn(engine.evidence(at_ms), snap.withdrawn),
                         extra=snap.restraint)
        return beliefs, suspicion

    def series(self, party: str, start: int, end: int, step: int,
               abort: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
        """Suspicion and beliefs about `party` sampled from `start` to `end`. `abort()`,
        asked between samples, ends the work early (`unavailable`): the node is stopping."""
        stored, received = self._timed()
        stored = [e for e in stored if not self.store.revoked(e)]
        times = {e.id: self.judged(e, received) for e in stored}
        entries = sorted(stored, key=lambda e: (times[e.id], e.id))
        proofs = self.store.forks()
        out = []
        t = start
        engine: BeliefEngine | None = None
        held = 0
        while t <= end:
            if abort is not None and abort():
                raise TrustnetError("the node is stopping", code="unavailable")
            upto = held
            while upto < len(entries) and times[entries[upto].id] <= t:
                upto += 1
            if engine is None or upto != held:
                engine = self._new_engine()
                engine.add(entries[:upto], received)
                engine.add_forks([p for p in proofs if min(p.a.ts, p.b.ts) <= t])
                held = upto
            beliefs = engine.snapshot(t)
            suspicion = self._new_suspicion()
            suspicion.verification = verification_for(beliefs)
            people = PeopleView(self.self_id, self.settings.people)
            people.add(entries[:upto], partial(self.judged, received=received))
            snap = people.snapshot(beliefs, t)
            suspicion.update(entries[:upto], t, forks=[p for p in proofs if min(p.a.ts, p.b.ts) <= t],
                             evidence=without_withdrawn(engine.evidence(t), snap.withdrawn),
                             extra=snap.restraint)
            out.append(_sample(t, party, beliefs, suspicion))
            t += step
        return out



def _sample(t: int, party: str, beliefs: Beliefs, suspicion: SuspicionView) -> dict[str, Any]:
    try:
        s: PartySuspicion | None = suspicion.report(party, t)
    except NotFound:
        s = None
    belief = beliefs.parties.get(party)
    prior = beliefs.params.base_rate
    return {
        "t": t,
        "level": s.level if s else 0.0,
        "escalation_index": s.escalation_index if s else 0.0,
        "regime": s.regime if s else "stable",
        "compliance": belief.verified.score if belief else prior,
        "compliance_raw": belief.raw.score if belief else prior,
        "reliability": belief.reliability.p if belief else 0.0,
    }


# -- HTTP and CLI views --------------------------------------------------------------------


def _at(query: Mapping[str, str], name: str = "at", *, now_ms: int | None = None
        ) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    assert raw is not None
    # ASCII digits only ("²".isdigit() is true, and int() refuses it), and no more than an
    # entry's ts may hold: nothing a client sends overflows the store (issue 11).
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or int(raw) > MAX_INT:
        raise ConfigError(f"{name} must be a time in ms since the epoch (at most {MAX_INT})",
                          code="bad_argument")
    # A moment, not a forecast: the suspicion estimator walks day by day up to it, so a
    # client asking for the year 287396 would hold the heavy-views worker for hours.
    if now_ms is not None and int(raw) > now_ms + MAX_FUTURE_MS:
        raise ConfigError(f"{name} must be a past moment: at most {MAX_FUTURE_MS // 60_000} "
                          f"minutes ahead of this node's clock ({now_ms})", code="bad_argument")
    return int(raw)


def beliefs_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /beliefs."""
    at = _at(query, now_ms=views.clock.now_ms())
    beliefs = views.current()[0] if at is None else views.as_of(at)[0]
    return beliefs.to_json()


class Rows(Sequence[dict[str, Any]]):
    """The rows of a collection in id order, each made into JSON only when the API cuts its
    page: a node of 100,000 parties writes the 100 it serves, not all."""

    def __init__(self, ids: Sequence[str], make: Callable[[str], dict[str, Any]]) -> None:
        self._ids = ids
        self._make = make

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._make(p) for p in self._ids[i]]
        return self._make(self._ids[i])


class PartiesPage(Rows):
    """The parties of a GET /beliefs answer in id order (`Rows`)."""

    def __init__(self, beliefs: Beliefs, ids: Sequence[str] | None = None) -> None:
        super().__init__(sorted(beliefs.parties) if ids is None else ids,
                         lambda p: beliefs.parties[p].to_json())


def beliefs_page_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /beliefs as the API serves it: `parties` a `PartiesPage` the API paginates."""
    at = _at(query, now_ms=views.clock.now_ms())
    beliefs = views.current()[0] if at is None else views.as_of(at)[0]
    data: dict[str, Any] = beliefs.header_json()
    data["parties"] = PartiesPage(beliefs, views.in_order(beliefs.parties))
    return data


def belief_json(views: NodeViews, party: str, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /beliefs/{party}."""
    at = _at(query, now_ms=views.clock.now_ms())
    beliefs = views.current()[0] if at is None else views.as_of(at)[0]
    data = beliefs.party(party).to_json()
    data["now"] = beliefs.now_ms
    return data


def suspicion_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /suspicion."""
    data = suspicion_page_json(views, query)
    data["parties"] = list(data["parties"])
    return data


def suspicion_page_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /suspicion as the API serves it: `parties` rows made only for the page served."""
    at = _at(query, now_ms=views.clock.now_ms())
    now = views.clock.now_ms() if at is None else at
    view = views.current()[1] if at is None else views.as_of(at)[1]
    reports = view.reports(now)

    def row(pid: str) -> dict[str, Any]:
        data = reports[pid].to_json(history=False)  # the per-party route has it
        data["name"] = _name(views, pid)
        return data

    return {"node": views.self_id, "now": now, "parties": Rows(views.in_order(reports), row)}


def party_suspicion_json(views: NodeViews, party: str, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /suspicion/{party} (with history)."""
    at = _at(query, now_ms=views.clock.now_ms())
    now = views.clock.now_ms() if at is None else at
    view = views.current()[1] if at is None else views.as_of(at)[1]
    data = view.report(party, now).to_json()
    data["name"] = _name(views, party)
    return data


def series_range(views: NodeViews, query: Mapping[str, str]) -> tuple[int, int, int]:
    """`?from=&to=&step=` of GET /series, checked: (start, end, step); `to` defaults to now,
    `from` to 30 days before `to`, `step` to an hour; at most MAX_SAMPLES steps."""
    now = views.clock.now_ms()
    start = _at(query, "from", now_ms=now)
    end = _at(query, "to", now_ms=now) or now
    step = _at(query, "step") or HOUR_MS
    if start is None:
        start = end - 30 * DAY_MS
    if step <= 0 or end < start or (end - start) // step > MAX_SAMPLES:
        raise ConfigError(f"need from <= to and at most {MAX_SAMPLES} steps from `from` to `to`",
                          code="bad_argument")
    return start, end, step


def series_json(views: NodeViews, party: str, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /series/{party}?from=&to=&step=: samples for plots."""
    start, end, step = series_range(views, query)
    return {"party": party, "samples": views.series(party, start, end, step)}


def summary(views: NodeViews) -> dict[str, dict[str, dict[str, Any]]]:
    """Per party, the headline figures of its belief and suspicion (for live events and gauges).

    `{party: {"belief": {...}, "suspicion": {...}}}`; figures rounded to 4 digits so that a
    change worth telling is a change in this dict.
    """
    beliefs, suspicion = views.current()
    names = _names(views)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for pid, b in beliefs.parties.items():
        if pid == views.self_id:
            continue
        out[pid] = {"belief": {
            "party": pid, "name": names.get(pid), "forked": b.forked,
            "reliability": round(b.reliability.p, 4),
            "compliance": round(b.verified.score, 4),
            "raw": round(b.raw.score, 4),
        }}
    for pid, r in suspicion.reports(beliefs.now_ms).items():
        if pid == views.self_id:
            continue
        out.setdefault(pid, {})["suspicion"] = {
            "party": pid, "name": names.get(pid),
            "level": round(r.level, 4),
            "escalation_index": round(r.escalation_index, 4),
            "regime": r.regime,
        }
    return out


VERDICTS = ("confirm", "refute", "partial", "unverifiable")


def graph_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /graph: parties held as nodes; trust statements and attestations as edges."""
    at = _at(query, now_ms=views.clock.now_ms())
    beliefs = views.current()[0] if at is None else views.as_of(at)[0]
    store = views.store

    def seen(e: Entry) -> bool:
        return at is None or e.ts <= at

    def by_kind(kind: str) -> list[Entry]:
        return [e for e in store.query(kind=kind, limit=10**9) if seen(e)]

    def order(e: Entry) -> tuple[int, int, bytes]:
        # An author's chain orders its statements; a forked author's twin entries by ts, id.
        return (e.seq, e.ts, e.id)

    held: set[str] = set()
    if at is None:  # now: every author held (no first entry to read per author)
        held = {author.hex() for author in store.heads()}
    else:
        for author in store.heads():
            first = store.range(author, 0, 1)
            if first and seen(first[0]):
                held.add(author.hex())
    declared: dict[str, tuple[Any, Any]]  # party -> (name, role) of its latest profile
    if at is None:  # the store follows profiles as they arrive
        declared = {pid: (p.name, p.role) for pid, p in store.profiles().items()}
    else:
        profiles: dict[str, Entry] = {}
        for e in by_kind("profile"):  # latest wins (DOMAIN: profile)
            if e.author_hex not in profiles or order(e) > order(profiles[e.author_hex]):
                profiles[e.author_hex] = e
        declared = {pid: (e.body.get("name"), e.body.get("role")) for pid, e in profiles.items()}
    forked = {a.hex() for a in store.forked_authors()}
    prior = beliefs.params.base_rate
    nodes = []
    for pid in sorted(held):
        name, role = declared.get(pid, (None, None))
        belief = beliefs.parties.get(pid)
        nodes.append({
            "party": pid,
            "name": name,
            "role": role,
            "reliability": belief.reliability.p if belief else 0.0,
            "compliance": belief.verified.score if belief else prior,
            "raw": belief.raw.score if belief else prior,
            "forked": pid in forked,
            "self": pid == views.self_id,
            "anchor": pid in views.anchors,
        })
    # Trust: the latest statement of each truster about each subject replaces the earlier.
    latest: dict[tuple[str, str], Entry] = {}
    for e in by_kind("trust"):
        key = (e.author_hex, str(e.body.get("subject")))
        if key not in latest or order(e) > order(latest[key]):
            latest[key] = e
    edges: list[dict[str, Any]] = []
    for (src, dst), e in sorted(latest.items()):
        if src != dst and dst in held:
            edges.append({"kind": "trust", "from": src, "to": dst, "level": e.body.get("level"),
                          "ts": e.ts, "entry": e.id_hex})
    # Attestations: counted per (attester, author of the attested entry), by verdict.
    authors: dict[str, str | None] = {}
    tally: dict[tuple[str, str], dict[str, int]] = {}
    last: dict[tuple[str, str], int] = {}
    for e in by_kind("attestation"):
        subject = str(e.body.get("subject"))
        if subject not in authors:
            try:
                target = store.get(bytes.fromhex(subject))
            except ValueError:
                target = None
            authors[subject] = target.author_hex if target is not None else None
        dst_author = authors[subject]
        verdict = e.body.get("verdict")
        if dst_author is None or dst_author == e.author_hex or verdict not in VERDICTS:
            continue  # the attested entry is not held here: its author is unknown
        key = (e.author_hex, dst_author)
        counts = tally.setdefault(key, dict.fromkeys(VERDICTS, 0))
        counts[str(verdict)] += 1
        last[key] = max(last.get(key, 0), e.ts)
    for (src, dst), counts in sorted(tally.items()):
        if dst in held:
            edges.append({"kind": "attestation", "from": src, "to": dst, **counts, "ts": last[(src, dst)]})
    return {"node": views.self_id, "now": beliefs.now_ms, "nodes": nodes, "edges": edges}


def bridges_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /bridges?at=: bridges between states, contacts and clarifications (docs/people.md)."""
    at = _at(query, now_ms=views.clock.now_ms())
    if at is None:
        beliefs, _ = views.current()
        snap = views.people
        assert snap is not None
    else:
        beliefs, _ = views.as_of(at)
        held, received = views._timed()
        people = PeopleView(views.self_id, views.settings.people)
        people.add([e for e in held if views.judged(e, received) <= at
                    and not views.store.revoked(e)], partial(views.judged, received=received))
        snap = people.snapshot(beliefs, at)
    names = {p: b.name for p, b in beliefs.parties.items()}
    return {"node": views.self_id, "now": beliefs.now_ms, **snap.to_json(names)}


def compliance_all(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """Compliance by obligation, every row (trustnet.desk; the CLI on a node directory)."""
    from trustnet.desk.compliance import Filters, compliance_doc

    at = _at(query, now_ms=views.clock.now_ms())
    beliefs = views.current()[0] if at is None else views.as_of(at)[0]
    filters = Filters.parse(query, lambda: set(beliefs.parties) | {a.hex() for a in views.store.heads()})
    return compliance_doc(beliefs, filters, views.settings.figures)


def compliance_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /compliance?party=&year=&status=&obligation=&at=&offset=&limit=: paged rows."""
    from trustnet.api.responses import paginate

    return paginate(compliance_all(views, query), "rows", query)


def calendar_all(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """The calendar of `?year=` (default: this year, UTC) reconciled (trustnet.desk)."""
    from datetime import UTC, datetime

    from trustnet.desk.calendar import KINDS, reconcile
    from trustnet.desk.compliance import year_arg

    now = views.clock.now_ms()
    year = year_arg(query.get("year")) or datetime.fromtimestamp(now / 1000, UTC).year
    entries = [e for kind in KINDS for e in views.store.query(kind=kind, limit=10**9)]
    received = views.store.received_of([e.id for e in entries])
    times = {e.id: views.judged(e, received) for e in entries}
    return {"node": views.self_id, "now": now,
            **reconcile(entries, year, times=times, figures=views.settings.figures)}


def calendar_json(views: NodeViews, query: Mapping[str, str]) -> dict[str, Any]:
    """GET /calendar?year=&offset=&limit=: the year's activities, paged."""
    from trustnet.api.responses import paginate

    return paginate(calendar_all(views, query), "activities", query)


def entry_json(views: NodeViews, entry_id: str) -> dict[str, Any]:
    """GET /entries/{id}'s added fields: attestations about the entry and its standing."""
    from trustnet.desk.standing import entry_standing

    return entry_standing(views.attestations_of(entry_id), views.current()[0], entry_id)


def _names(views: NodeViews) -> dict[str, str]:
    return {author: str(p.name) for author, p in views.store.profiles().items()}


def _name(views: NodeViews, party: str) -> str | None:
    """`_names(views).get(party)` for one party: its profile read through the store's index
    (the first `profiles()` of a node decodes every profile: 100,000 on a large one)."""
    try:
        profile = views.store.profile_of(bytes.fromhex(party))
    except ValueError:
        return None
    return None if profile is None else str(profile.name)


Collection = Callable[[NodeViews, Mapping[str, str]], dict[str, Any]]
PerParty = Callable[[NodeViews, str, Mapping[str, str]], dict[str, Any]]
# route -> (GET /route, GET /route/{party}); the API and the CLI both serve these.
VIEWS: dict[str, tuple[Collection | None, PerParty]] = {
    "beliefs": (beliefs_json, belief_json),
    "suspicion": (suspicion_json, party_suspicion_json),
    "series": (None, series_json),
}
# The API's form of a collection whose rows it makes only for the page it serves.
PAGED: dict[str, Collection] = {"beliefs": beliefs_page_json, "suspicion": suspicion_page_json}
# Paged forms whose rows read the store as they are made (names): computed elsewhere (a heavy
# view's worker, its own store connection closed after), they are made there, every row.
ROWS_READ_STORE = frozenset({"suspicion"})
# Views with a collection form only (GET /route): the per-party form would say nothing more.
COLLECTIONS: dict[str, Collection] = {
    "graph": graph_json,
    "bridges": bridges_json,  # issue 17
    "compliance": compliance_json,
    "calendar": calendar_json,
}


# -- heavy views off the event loop -------------------------------------------------------

T = TypeVar("T")
MAX_PENDING = 4  # heavy computations running or waiting at once; beyond, 503 `busy`
CACHE_SIZE = 8  # heavy answers kept (keyed by the request and the store's state)


def is_heavy(route: str, query: Mapping[str, str]) -> bool:
    """A view that recomputes from scratch: a series, or any view of a past moment (`?at=`);
    or reads every statement of some kinds (the calendar reconciled)."""
    return route in ("series", "calendar") or bool(query.get("at"))


class Analysis:
    """Heavy views computed in one worker thread, within a time budget, and remembered.

    A past moment (`?at=`) or a series rebuilds beliefs and suspicion from the entries:
    seconds to minutes on a large store. Done on the event loop, it would stall every
    other request and gossip; here it runs in a thread over its own read-only connection
    to the store (SQLite's WAL lets it read beside the node's writer; the writer's
    connection never leaves the event loop). A request waits at most `budget_s`: beyond,
    503 `busy` with Retry-After, while the work goes on and its answer is kept for the
    same request (same store state) asked again. At most MAX_PENDING computations run or
    wait at once (503 `busy` beyond).
    """

    def __init__(self, node_dir: Path, self_id: str, anchors: tuple[str, ...],
                 settings: Settings, clock: Clock, budget_s: float) -> None:
        self.dir = node_dir
        self.self_id = self_id
        self.anchors = anchors
        self.settings = settings
        self.clock = clock
        self.budget_s = budget_s
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="trustnet-analysis")
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    def _compute(self, work: Callable[[NodeViews], T]) -> T:
        # In the worker thread: a connection of its own, opened and closed here.
        if self.stopping.is_set():
            raise TrustnetError("the node is stopping", code="unavailable")
        # Paused until the answer is made and the views are dropped: what they made dies by
        # reference counting, and the collector never walks it (nor freezes it).
        with gc_paused():
            store = Store.open_dir(self.dir, readonly=True)
            try:
                return work(NodeViews(store, self.self_id, self.anchors, self.settings,
                                      self.clock, transient=True))
            finally:
                store.close()

    async def run(self, key: Hashable, work: Callable[[NodeViews], T]) -> T:
        """`work` over a read-only view of the store, in the worker; its answer for `key`."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return copy.copy(self._cache[key])  # type: ignore[no-any-return]
        future = self._running.get(key)
        if future is None:
            if len(self._running) >= MAX_PENDING:
                raise TrustnetError(f"{len(self._running)} heavy views are being computed; "
                                    "ask again later", code="busy")
            future = asyncio.wrap_future(self._pool.submit(self._compute, work))
            self._running[key] = future
            future.add_done_callback(partial(self._done, key))
        try:
            result = await asyncio.wait_for(asyncio.shield(future), self.budget_s)
        except TimeoutError:
            raise TrustnetError(f"still computing after {self.budget_s:g} s; ask again later "
                                "(the answer is kept for the same request)", code="busy") from None
        return copy.copy(result)  # type: ignore[no-any-return]

    def _done(self, key: Hashable, future: asyncio.Future[Any]) -> None:
        self._running.pop(key, None)
        if future.cancelled() or future.exception() is not None:
            return  # the waiting request (if any) answers the error; nothing is kept
        self._cache[key] = future.result()
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def close(self) -> None:
        """Stop taking work; a series in progress ends at its next sample."""
        self.stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _state(views: NodeViews) -> tuple[int, int]:
    """What a heavy answer depends on in the store: its newest entry and its fork count."""
    return views.store.last_cursor(), len(views.store.forked_authors())


def _query_key(query: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in query.items() if k != "access_token"))


def local_views(node_dir: Any) -> NodeViews:
    """Views over a node directory read from disk (the CLI when no node runs)."""
    from trustnet.clock import SystemClock
    from trustnet.config.loader import load_config
    from trustnet.identity import load_node_identity

    config = load_config(Path(node_dir))
    identity = load_node_identity(Path(node_dir))
    store = Store.open_dir(Path(node_dir), readonly=True)
    return NodeViews(store, identity.party_id, config.anchors, Settings.from_config(config),
                     SystemClock())

