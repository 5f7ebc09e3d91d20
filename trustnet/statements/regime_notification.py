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


# What a finding is, as far as the rules read it (its statement, judged time, basis and place).
_FindingKey = tuple[str, int, bool, tuple[str, ...], str | None, str, tuple[int, int]]
# The facts a finding adds to: (rule, activity key, its governing notification) each.
_Placed = list[tuple[str, tuple[str, ...], "Stmt[Notification] | None"]]


@dataclass(slots=True)
class FindingsMemo:
    """What `findings_evidence` worked out, for the next evaluation of the same party's
    statements (issue 15 item 3): where each finding goes, and each fact's evidence by what
    it is made of. `placed` is valid while the notifications are the same (`Index.version`);
    `covered` (a finding's places by the finding and the notifications covering it) and
    `facts` (a fact's evidence by its anchor and findings) are keyed by everything the rules
    read, so they outlive a new notification: one re-places and re-describes only the
    findings it covers. Reusing an entry changes no result; entries not used by the last
    evaluation are dropped."""

    version: int = -1
    placed: dict[_FindingKey, _Placed] = field(default_factory=dict)
    covered: dict[tuple[object, ...], _Placed] = field(default_factory=dict)
    facts: dict[tuple[object, ...], Evidence] = field(default_factory=dict)


def _finding_key(f: Finding) -> _FindingKey:
    return (f.stmt.id, f.stmt.ts, f.verified, f.support, f.area, f.area_text, f.window)


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

    `memo`: kept by a caller that evaluates the same party's statements again as they grow
    (the belief engine): unchanged findings and facts are not worked out twice.
    """
    fig = ix.fig
    covered: dict[tuple[object, ...], _Placed] | None = None
    if memo is not None and memo.version != ix.version:
        # New notifications: a finding they do not cover goes where it went (`covered`).
        memo.version = ix.version
        memo.placed.clear()
        covered = {}
    # (rule, activity key, verified) -> fact
    facts: dict[tuple[str, tuple[str, ...], bool], _Fact] = {}
    for f in ix.findings():
        if memo is None:
            placed = _place(ix, f)
        else:
            fkey = _finding_key(f)
            got = memo.placed.get(fkey)
            if got is None:
                covering = ix.covering(f)
                ckey = (fkey, *((n.id, n.ts) for n in covering))
                got = memo.covered.get(ckey)
                if got is None:
                    got = _place(ix, f, covering)
                if covered is not None:
                    covered[ckey] = got
                else:
                    memo.covered[ckey] = got
                memo.placed[fkey] = got
            placed = got
        for rule, key, anchor in placed:
            fact = facts.setdefault((rule, key, f.verified), _Fact(f.party, anchor, []))
            fact.findings.append(f)
    if memo is None:
        for (rule, _key, verified), fact in facts.items():
            yield _evidence(rule, verified, fact, fig, w)
        return
    if covered is not None:
        memo.covered = covered
    used: dict[tuple[object, ...], Evidence] = {}
    held = memo.facts
    for (rule, _key, verified), fact in facts.items():
        anchor = fact.anchor
        mkey = (rule, verified, fact.party, (anchor.id, anchor.ts) if anchor else None,
                *(_finding_key(f) for f in fact.findings))
        ev = held.get(mkey)
        if ev is None:
            ev = _evidence(rule, verified, fact, fig, w)
        used[mkey] = ev
        yield ev
    memo.facts = used


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
