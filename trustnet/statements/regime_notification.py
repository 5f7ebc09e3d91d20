"""Prior notification and observation (VD11 chapters V and VI) as the rule engine judges them.

Notifiable activities are notified 42 days ahead (para 38-40) with counts that hold up against
what others find, and observers are invited at the observation thresholds (para 47). Three
sources of facts: others' findings (`findings_evidence`: unnotified_activity,
undercounted_notification, observers_not_invited, one fact per activity and basis), the
party's own notifications (`own_notifications`: late, or observable without observers), and
the credit for notifying in time (`timely_notifications`: once per author and year).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from trustnet.statements import regime_observation
from trustnet.statements.counts import (
    counts_text,
    crossed_thresholds,
    describe_thresholds,
    met_thresholds,
    undercount_severity,
)
from trustnet.statements.evidence import Evidence
from trustnet.statements.facts import days_of_notice, is_notifiable, is_observable, notice_ok
from trustnet.statements.figures import ViennaFigures
from trustnet.statements.index import (
    Finding,
    Index,
    Stmt,
    activity_key,
    date_text,
    norm_area,
    unique,
    year_of,
)
from trustnet.statements.kinds import Notification
from trustnet.statements.weights import RuleWeights


@dataclass(slots=True)
class _Fact:
    """Findings about one activity (and one basis) that establish one rule's evidence."""

    party: str
    anchor: Stmt[Notification] | None
    findings: list[Finding]


# A fact: (rule, activity key, verified).
_FactKey = tuple[str, tuple[str, ...], bool]


@dataclass(slots=True)
class _Held:
    """One fact as `FindingsMemo` keeps it: its findings by statement id, and its evidence
    (None: to make again, as a finding came or went)."""

    party: str
    anchor: Stmt[Notification] | None
    findings: dict[bytes, Finding]
    evidence: Evidence | None = None


@dataclass(slots=True)
class FindingsMemo:
    """What `findings_evidence` worked out over one index, for the next evaluation as the
    index grows (issue 15 item 3): each finding's facts, and each fact's findings and
    evidence. The index logs every finding that changed and every notification that arrived
    (`Index.finding_log`, `notification_log`); the memo re-places those findings and the
    findings a new notification covers (the same party's, by activity name or, unnamed, by
    area: what `Index.covering` reads), and re-describes only the facts they left or joined.
    Reusing an entry changes no result; a memo given another index starts again. The
    weights and figures are the first evaluation's (a caller keeps one memo per setting)."""

    index: Index | None = None
    findings_at: int = 0  # how much of the index's logs was read
    notes_at: int = 0
    placed: dict[bytes, tuple[Finding, list[_FactKey]]] = field(default_factory=dict)
    facts: dict[_FactKey, _Held] = field(default_factory=dict)
    by_activity: dict[tuple[str, str], dict[bytes, None]] = field(default_factory=dict)
    by_area: dict[tuple[str, str], dict[bytes, None]] = field(default_factory=dict)


# The facts a finding adds to: (rule, activity key, its governing notification) each.
_Placed = list[tuple[str, tuple[str, ...], "Stmt[Notification] | None"]]


def _place(ix: Index, f: Finding, covering: list[Stmt[Notification]] | None = None) -> _Placed:
    """The facts one finding adds to (see `findings_evidence`); `covering`: `ix.covering(f)`
    when the caller has it."""
    fig = ix.fig
    if covering is None:
        covering = ix.covering(f)
    gov = ix.governing(f, covering)
    key = activity_key(f, gov)
    found = f.counts
    out: _Placed = []
    # VD11 para 38-40: notifiable and not notified 42 days ahead. A covering notification
    # that is itself notifiable and late already proves the fact on its own (see _late).
    if is_notifiable(found, fig) and not any(
        notice_ok(n.body, n.ts, fig) or is_notifiable(n.body, fig) for n in covering
    ):
        out.append(("unnotified_activity", key, None))
    if gov is not None and crossed_thresholds(found, gov.body, fig):
        out.append(("undercounted_notification", key, gov))
    # VD11 para 47: observers at the observation threshold. When the notification's own
    # counts reach it, own_notifications proves the fact without anyone's finding.
    if is_observable(found, fig) and (
        gov is None or not (gov.body.observers_invited or is_observable(gov.body, fig))
    ):
        out.append(("observers_not_invited", key, gov))
    return out


def findings_evidence(
    ix: Index, w: RuleWeights, memo: FindingsMemo | None = None
) -> Iterator[Evidence]:
    """unnotified_activity, undercounted_notification, observers_not_invited from findings.

    `memo`: kept by a caller that evaluates the same index again as it grows (the belief
    engine): a finding is placed, and a fact described, again only when it changed.
    """
    if memo is not None:
        yield from _kept_evidence(ix, w, memo)
        return
    fig = ix.fig
    # (rule, activity key, verified) -> fact
    facts: dict[_FactKey, _Fact] = {}
    for f in ix.findings():
        for rule, key, anchor in _place(ix, f):
            fact = facts.setdefault((rule, key, f.verified), _Fact(f.party, anchor, []))
            fact.findings.append(f)
    for (rule, _key, verified), fact in facts.items():
        yield _evidence(rule, verified, fact, fig, w)


def _kept_evidence(ix: Index, w: RuleWeights, memo: FindingsMemo) -> Iterator[Evidence]:
    """`findings_evidence` from a memo brought up to date with the index's logs. The facts
    come in another order than a fresh evaluation's (each is the same): every caller sorts
    them, and no two facts share a sort key (each holds findings no other fact of its rule
    does)."""
    if memo.index is not ix:
        memo.index, memo.findings_at, memo.notes_at = ix, 0, 0
        memo.placed.clear()
        memo.facts.clear()
        memo.by_activity.clear()
        memo.by_area.clear()
    redo: dict[bytes, None] = {}
    notes = ix.notification_log
    for n in notes[memo.notes_at :]:
        # Findings whose covering notifications now include n (`Index.covering`).
        redo.update(memo.by_activity.get((n.author, n.body.activity), {}))
        redo.update(memo.by_area.get((n.author, norm_area(n.body.area)), {}))
    memo.notes_at = len(notes)
    log = ix.finding_log
    for key, _f in log[memo.findings_at :]:
        redo[key] = None
    memo.findings_at = len(log)
    facts = memo.facts
    for key in redo:
        held = memo.placed.pop(key, None)
        if held is not None:
            old, fkeys = held
            for fk in fkeys:
                left = facts[fk]
                del left.findings[key]
                left.evidence = None
                if not left.findings:
                    del facts[fk]
            _unlist(memo, old, key)
        f = ix.finding(key)
        if f is None:
            continue
        fkeys = []
        for rule, akey, anchor in _place(ix, f):
            fk = (rule, akey, f.verified)
            fact = facts.get(fk)
            if fact is None:
                fact = facts[fk] = _Held(f.party, anchor, {})
            fact.findings[key] = f
            fact.evidence = None
            fkeys.append(fk)
        memo.placed[key] = (f, fkeys)
        if f.activity is not None:
            memo.by_activity.setdefault((f.party, f.activity), {})[key] = None
        elif f.area is not None:
            memo.by_area.setdefault((f.party, f.area), {})[key] = None
    fig = ix.fig
    for (rule, _akey, verified), fact in facts.items():
        ev = fact.evidence
        if ev is None:
            ev = fact.evidence = _evidence(
                rule, verified, _Fact(fact.party, fact.anchor, list(fact.findings.values())),
                fig, w)
        yield ev


def _unlist(memo: FindingsMemo, f: Finding, key: bytes) -> None:
    """Forget where a finding was listed for the notifications that may cover it."""
    if f.activity is not None:
        got = memo.by_activity.get((f.party, f.activity))
    elif f.area is not None:
        got = memo.by_area.get((f.party, f.area))
    else:
        return
    if got is not None:
        got.pop(key, None)


def _evidence(rule: str, verified: bool, fact: _Fact, fig: ViennaFigures, w: RuleWeights
              ) -> Evidence:
    """One fact's evidence."""
    findings = sorted(fact.findings, key=lambda f: f.stmt.key())
    top = max(findings, key=Finding.rank)
    anchor = fact.anchor
    at = findings[0].stmt.ts if anchor is None else max(anchor.ts, findings[0].stmt.ts)
    ids = ([anchor.id] if anchor else []) + [
        i for f in findings for i in (f.stmt.id, *f.support)
    ]
    seen = f"{top.verb} {counts_text(top.counts)} in {top.area_text or 'the inspected area'}"
    if rule == "unnotified_activity":
        note = (
            f"{seen}: at or above {describe_thresholds(met_thresholds(top.counts, fig, 'notification'))}, "
            f"with no notification {fig.notify_days} days ahead"
        )
    elif rule == "undercounted_notification":
        assert anchor is not None
        crossed = crossed_thresholds(top.counts, anchor.body, fig)
        severity = undercount_severity(top.counts, anchor.body, crossed)
        weight = w.of(rule) * severity
        note = (
            f"{seen}; notified {counts_text(anchor.body)}: crossing {describe_thresholds(crossed)} "
            f"the notification stayed under (severity {severity:.2f})"
        )
    else:
        met = describe_thresholds(met_thresholds(top.counts, fig, "observation"))
        tail = (
            f"notified as {counts_text(anchor.body)} without inviting observers"
            if anchor
            else "not notified, so no observers were invited"
        )
        note = f"{seen}: at or above {met}; {tail}"
    return Evidence(
        party=fact.party,
        rule=rule,
        weight=weight if rule == "undercounted_notification" else w.of(rule),
        at=at,
        entries=unique(ids),
        sources=tuple(sorted({f.stmt.author for f in findings})),
        note=note,
        verifiable=verified,
    )


def own_notifications(ix: Index, w: RuleWeights) -> Iterator[Evidence]:
    """Facts a notification proves about its author: late, or observable without observers."""
    fig = ix.fig
    invited = regime_observation.invited(ix.regime, fig)
    for n in ix.notifications:
        nb = n.body
        what = f"notified {nb.type} {nb.activity!r} ({counts_text(nb)}) in {nb.area}"
        # VD11 para 38-40: 42 days ahead; an alert when it starts (facts.notice_ok).
        if is_notifiable(nb, fig) and not notice_ok(nb, n.ts, fig):
            if nb.type == "alert":
                late = f"starting {date_text(nb.start)} only at {n.when()}, after it started"
            else:
                late = (
                    f"{days_of_notice(nb, n.ts):.1f} days before its start on {date_text(nb.start)}; "
                    f"{fig.notify_days} days required"
                )
                if n.backdated:
                    late += f" (published {n.when()})"
            yield Evidence(
                n.author,
                "unnotified_activity",
                w.unnotified_activity,
                n.ts,
                (n.id,),
                (),
                f"{what} {late}",
                True,
            )
        # VD11 para 47: observers must be invited at the observation thresholds. An
        # invitation statement proves it; alert activities are regime_observation's to judge.
        if (is_observable(nb, fig) and not nb.observers_invited and nb.type != "alert"
                and n.id not in invited):
            met = [t.text() for t in met_thresholds(nb, fig, "observation")]
            if nb.amphibious >= fig.observe_amphibious:
                met.append(f"{fig.observe_amphibious} amphibious/airborne troops")
            yield Evidence(
                n.author,
                "observers_not_invited",
                w.observers_not_invited,
                n.ts,
                (n.id,),
                (),
                f"{what}: at or above the observation threshold ({', '.join(met)}), "
                f"without inviting observers",
                True,
            )


def timely_notifications(ix: Index, w: RuleWeights, refuted: set[str]) -> Iterator[Evidence]:
    """DESIGN 8: notifiable activities notified in time (VD11 para 38-40) are cooperation.

    A notification is a self-declaration: signing many costs nothing, and nobody can check one
    before the activity. So the obligation earns one credit per author and calendar year
    (of publication, as judged: DESIGN 12), however many notifications it held (finding 5 of
    issue 12); a notification that a *verified* finding shows understated (an accepted
    inspection's report: `refuted`) earns nothing; an unverified sighting changes nothing
    here (it is its own fact, weighed by its source).
    """
    fig = ix.fig
    years: dict[tuple[str, int], list[Stmt[Notification]]] = defaultdict(list)
    for n in ix.notifications:
        nb = n.body
        if n.id in refuted or not is_notifiable(nb, fig) or not notice_ok(nb, n.ts, fig):
            continue
        years[(n.author, year_of(n.ts))].append(n)
    for (author, year), ns in years.items():
        n = ns[0]
        nb = n.body
        ahead = ("at its start" if nb.type == "alert"
                 else f"{days_of_notice(nb, n.ts):.0f} days before its start on {date_text(nb.start)}")
        note = f"notified {nb.type} {nb.activity!r} ({counts_text(nb)}) in {nb.area} {ahead}"
        if n.backdated:
            note += f", published {n.when()}"
        if len(ns) > 1:
            note += (f"; {len(ns)} activities notified in time in {year}: one credit per "
                     f"year, however many")
        yield Evidence(
            author,
            "notification_on_time",
            w.notification_on_time,
            n.ts,
            tuple(x.id for x in ns),
            (),
            note,
            True,
        )
