"""Suspicion estimator: escalation without verification, damping with it (DESIGN section 8)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import pytest

from tests.harness.estimator import ME, P, at, estimator, refusal, verified_cooperation
from trustnet.errors import ConfigError, NotFound
from trustnet.feedback.estimator import (
    PartySuspicion,
    Signal,
    SuspicionEstimator,
    SuspicionParams,
    recompute,
)
from trustnet.feedback.richardson import FeedbackError, Richardson


def hostile_week(party: str = P) -> list[Signal]:
    """Tension, nothing verified: a credible but unverified threat report (v = 0.4, what
    a trusted observer's report is worth) and an abusive statement towards us every day
    for a week."""
    out = []
    for d in range(7):
        out.append(Signal(party, at(d + 0.04), "threat", 0.72, 0.4, f"obs{d}", "unnotified"))
        out.append(Signal(party, at(d + 0.08), "hostility", 0.5, 1.0, f"st{d}", "adverse"))
    return out


# ---- the seed's claim ------------------------------------------------------


def test_without_verification_the_spiral_escalates() -> None:
    p = SuspicionParams()
    est = estimator(hostile_week())
    reps = [est.report(P, at(d)) for d in (3, 7, 10, 30)]
    for r in reps:
        # credible threats raise the reactivity above the restraint: k - a > 0
        assert r.escalation_index == pytest.approx(r.reactivity - p.restraint)
        assert r.escalation_index > 0 and r.regime == "escalating"
    assert reps[0].trend > 0 and reps[1].level > reps[0].level > 0.05


def test_with_nothing_happening_it_relaxes() -> None:
    # DESIGN 8: with no input the system relaxes to a baseline (finding 3 of issue 12)
    p = SuspicionParams()
    est = estimator(hostile_week())
    peak = max(est.report(P, at(d)).level for d in range(7, 40))
    late = [est.report(P, at(d)) for d in (200, 365, 3650)]
    assert late[0].level < peak and late[1].level < late[0].level
    assert late[1].regime != "escalating" and late[1].escalation_index < 0
    assert late[-1].level < 1e-6 and math.isfinite(late[-1].x)
    # at rest the index is k0 - a0 < 0: the default relationship is stable
    assert p.reactivity < p.restraint
    # the followed system is triangular (y is observed): stable for any coefficients
    r = estimator(hostile_week(), replace(p, reactivity=5.0)).report(P, at(3650))
    assert r.level < 1e-3


def test_verified_notifications_and_accepted_inspection_damp_it() -> None:
    p = SuspicionParams()
    base = estimator(hostile_week())
    before = base.report(P, at(30))
    est = estimator(hostile_week() + verified_cooperation(30.0))
    after = est.report(P, at(30.02))
    # restraint a = a0 + gain * (0.5 + 0.5 + 0.9), the goodwill barely faded
    assert after.restraint == pytest.approx(p.restraint + p.restraint_gain * 1.9, abs=1e-3)
    assert after.escalation_index == pytest.approx(after.reactivity - after.restraint)
    assert after.escalation_index < 0
    assert after.regime == "de-escalating"
    assert after.trend < 0
    levels = [est.report(P, at(d)).level for d in (30.02, 31, 40, 60, 90)]
    assert levels == sorted(levels, reverse=True)
    assert levels[-1] < 0.02
    assert est.report(P, at(40)).level < base.report(P, at(40)).level / 5
    assert before.regime == "escalating"
    top = after.drivers[0]
    assert (top.rule, top.kind) == ("inspection_accepted", "cooperation")
    assert top.contribution < 0


def test_a_claim_nobody_credible_supports_moves_nothing() -> None:
    # finding 1 of issue 12: a source of reliability 0 contributes 0 (K(0) = 0)
    nobody = estimator([Signal(P, at(0), "threat", 0.72, 0.0, "r", "unnotified")] * 1
                       + [Signal(P, at(i), "threat", 0.72, 0.0, f"r{i}", "unnotified")
                          for i in range(1, 100)])
    r = nobody.report(P, at(120))
    assert r.level == 0.0 and r.reactivity == SuspicionParams().reactivity
    assert r.drivers == () and r.regime == "stable"


def test_a_single_unverified_report_moves_the_level_little() -> None:
    p = SuspicionParams()
    unverified = estimator([Signal(P, at(0), "threat", 0.72, 0.4, "r", "unnotified")])
    verified = estimator([Signal(P, at(0), "threat", 0.72, 1.0, "r", "unnotified")])
    # Kalman gain v / (v + noise (1 - v)): 0.4 with the default noise 1, 1 for verified
    k = 0.4 / (0.4 + p.unverified_noise * 0.6)
    assert unverified.report(P, at(0)).threat == pytest.approx(p.input_gain * 0.72 * k)
    assert unverified.report(P, at(0)).reactivity == pytest.approx(
        p.reactivity + p.reactivity_gain * 0.72 * k)
    moved = unverified.report(P, at(7)).level
    assert 0 < moved < 0.6 * verified.report(P, at(7)).level


def test_refused_inspection_removes_the_damping() -> None:
    p = SuspicionParams()
    accepted = estimator(
        [*hostile_week(), Signal(P, at(30), "cooperation", 0.9, 1.0, "i1", "inspection_accepted")]
    )
    refused = estimator(
        [*hostile_week(), Signal(P, at(30), "threat", 0.4, 1.0, "i1", "inspection_refused")]
    )
    ra, rr = accepted.report(P, at(31)), refused.report(P, at(31))
    assert ra.restraint == pytest.approx(p.restraint + p.restraint_gain * 0.9, abs=5e-3)
    # a week of daily credible reports outweighs one inspection (k ~ 0.5), but the
    # accepted inspection lowers the index by its restraint, the refusal raises it
    assert ra.escalation_index < rr.escalation_index - p.restraint_gain * 0.9
    assert rr.restraint == pytest.approx(p.restraint)  # no damping gained
    assert rr.escalation_index > 0 and rr.regime == "escalating"
    assert rr.drivers[0].kind in ("threat", "hostility")
    for d in (31, 45, 60):
        assert refused.report(P, at(d)).level > accepted.report(P, at(d)).level
    assert accepted.report(P, at(60)).level < accepted.report(P, at(31)).level


# ---- determinism -------------------------------------------------------------


def mixed_signals(seed: int, parties: int = 4, n: int = 120) -> list[Signal]:
    rng = random.Random(seed)
    kinds = ("threat", "hostility", "cooperation")
    return [
        Signal(
            f"p{rng.randrange(parties)}",
            at(rng.uniform(0, 60)),
            kinds[rng.randrange(3)],  # type: ignore[arg-type]
            round(rng.uniform(0, 1), 2),
            rng.choice((0.0, 0.5, 1.0)),
            f"e{i}",
            "r",
        )
        for i in range(n)
    ]


def test_same_entries_and_clock_give_the_same_outputs() -> None:
    sigs = mixed_signals(7)
    now = at(75)
    one = estimator(sorted(sigs, key=Signal.sort_key)).reports(now)
    two = estimator(sorted(sigs, key=Signal.sort_key)).reports(now)
    assert one == two and len(one) == 4
    # arrival order, duplicates and advance/report calls in between do not matter: bitwise equal
    shuffled = list(sigs)
    random.Random(1).shuffle(shuffled)
    est = SuspicionEstimator(SuspicionParams(), ME)
    for i, s in enumerate(shuffled + shuffled[:10]):
        est.observe(s)
        if i % 17 == 0:
            est.advance(at(i % 70))
            est.reports(at(i % 50))
    assert est.reports(now) == one
    assert recompute(sigs, SuspicionParams(), ME, now) == one
    assert [r.to_json() for r in one.values()] == [r.to_json() for r in two.values()]


def test_report_is_as_of_now() -> None:
    sigs = mixed_signals(3, parties=1)
    now = at(30)
    est = estimator(sigs)
    est.advance(at(80))
    early = [s for s in sigs if s.at <= now]
    assert est.report("p0", now) == estimator(early).report("p0", now)


def test_duplicates_and_self_are_ignored() -> None:
    s = Signal(P, at(0), "threat", 0.5, 1.0, "e", "r")
    est = SuspicionEstimator(SuspicionParams(), ME)
    assert est.observe(s) is True
    assert est.observe(s) is False
    assert est.observe(Signal(ME, at(0), "threat", 0.5, 1.0, "e", "r")) is False
    assert est.parties() == (P,)
    with pytest.raises(NotFound):
        est.report("nobody", at(1))


# ---- report contents ---------------------------------------------------------


def test_drivers_decompose_the_drift() -> None:
    params = SuspicionParams(top_drivers=100)
    sigs = hostile_week() + verified_cooperation(8.0)
    r = estimator(sigs, params).report(P, at(12.3))
    # dx/dt = g - a x + k y, and g, (a - a0), k y are sums of the listed shares
    drift = r.trend / math.exp(-r.x)
    total = sum(d.contribution for d in r.drivers)
    assert total - params.restraint * r.x == pytest.approx(drift, rel=1e-9)
    assert len(r.drivers) == len(sigs)
    mags = [abs(d.contribution) for d in r.drivers]
    assert mags == sorted(mags, reverse=True)


def test_history_is_bounded_and_ordered() -> None:
    params = SuspicionParams(history_len=10)
    est = estimator(hostile_week(), params)
    for d in range(100):
        est.advance(at(d))
    r = est.report(P, at(100.5))
    assert len(r.history) == 10
    ts = [t for t, _ in r.history]
    assert ts == sorted(ts) and ts[-1] == at(100.5)
    assert r.history[-1][1] == r.level
    assert all(0.0 <= lv <= 1.0 for _, lv in r.history)


def test_to_json_and_quiet_party() -> None:
    est = estimator([Signal(P, at(5), "threat", 0.5, 1.0, "e", "r")])
    quiet = est.report(P, at(1))  # before its first signal
    assert quiet.level == 0.0 and quiet.drivers == () and quiet.regime == "stable"
    assert est.reports(at(1)) == {}
    r = est.report(P, at(6))
    assert isinstance(r, PartySuspicion)
    doc = json.loads(json.dumps(r.to_json()))
    assert doc["party"] == P and doc["drivers"][0]["ref"] == "e"
    assert doc["history"][-1] == [at(6), r.level]


def test_symmetric_assumption_can_be_overridden() -> None:
    p = SuspicionParams(other_reactivity=0.0)  # the other side does not react: no spiral
    r = estimator(hostile_week(), p).report(P, at(20))
    assert r.escalation_index == pytest.approx(-r.restraint)
    assert r.regime == "de-escalating"


# ---- inputs ------------------------------------------------------------------


def test_params_from_mapping() -> None:
    p = SuspicionParams.from_mapping({"reactivity": 1, "other_reactivity": None, "history_len": 9})
    assert p.reactivity == 1.0 and p.other_reactivity is None and p.history_len == 9
    assert SuspicionParams.from_mapping({}) == SuspicionParams()
    for bad in (
        {"reactivty": 0.1},
        {"reactivity": -0.1},
        {"reactivity": "0.1"},
        {"restraint": math.nan},
        {"input_half_life": 0},
        {"history_len": 0},
        {"history_len": 2.5},
        {"time_unit_ms": True},
        {"escalating_above": -0.1, "deescalating_below": 0.1},
    ):
        with pytest.raises(ConfigError) as ei:
            SuspicionParams.from_mapping(bad)
        assert ei.value.code == "bad_config"


@pytest.mark.parametrize(
    "kw",
    [
        {"party": ""},
        {"at": 1.5},
        {"kind": "threats"},
        {"weight": -0.1},
        {"weight": math.inf},
        {"verification": 1.5},
    ],
)
def test_bad_signals_are_rejected(kw: dict[str, object]) -> None:
    base: dict[str, object] = {
        "party": P,
        "at": 0,
        "kind": "threat",
        "weight": 0.5,
        "verification": 1.0,
        "ref": "e",
        "rule": "r",
    }
    with pytest.raises(FeedbackError) as ei:
        Signal(**{**base, **kw})  # type: ignore[arg-type]
    assert ei.value.code == "bad_signal"


def test_history_stays_bounded_over_a_long_advance() -> None:
    est = estimator(hostile_week(), SuspicionParams(history_len=10))
    est.advance(at(3000))
    assert len(est._parties[P].history) <= 20  # internal: kept within 2 * history_len
    assert len(est.report(P, at(3000)).history) == 10


# ---- standing grievance (grievance_fraction) -----------------------------------


def breach(verification: float, party: str = P) -> list[Signal]:
    """A breach at day 1, under lasting verified cooperation (a > k: a stable system)."""
    return [
        Signal(party, at(0), "cooperation", 1.0, 1.0, "i0", "inspection_accepted"),
        Signal(party, at(1), "threat", 0.72, verification, "r1", "undercounted_notification"),
    ]


def test_a_verified_breach_settles_at_the_richardson_equilibrium() -> None:
    # constant restraint and grievance, so the equilibrium does not move
    p = SuspicionParams(restraint_half_life=1e9, grievance_half_life=1e9,
                        reactivity_half_life=1e9)
    est = estimator(breach(1.0), p)
    r = est.report(P, at(400))
    a = p.restraint + p.restraint_gain * 1.0
    k = p.reactivity + p.reactivity_gain * 0.72
    gp = p.grievance_fraction * p.input_gain * 0.72
    assert r.grievance == pytest.approx(gp, rel=1e-6)
    assert r.threat == pytest.approx(gp, rel=1e-6)  # the fading part is gone after 400 days
    # the followed system: y observed (l = 0), so x* = g_p / a
    x_star, _ = Richardson(k, 0.0, a, a, gp, 0.0).equilibrium()
    assert x_star > 0.0
    assert r.x == pytest.approx(x_star, rel=1e-6)
    assert r.level > 0.03 and abs(r.trend) < 1e-6
    # without a standing share, the same breach is forgotten: back to the baseline
    r0 = estimator(breach(1.0), replace(p, grievance_fraction=0.0)).report(P, at(400))
    assert r0.grievance == 0.0 and r0.x < 1e-6


def test_only_a_verified_breach_leaves_a_standing_grievance() -> None:
    levels = {v: estimator(breach(v)).report(P, at(120)) for v in (0.0, 0.5, 1.0)}
    assert levels[1.0].grievance > 0.0 and levels[1.0].level > 5 * levels[0.5].level
    # a claim that is only believed fades: no standing grievance, back to the baseline
    assert levels[0.5].grievance == 0.0 and levels[0.5].trend < 0.0
    assert levels[0.0].grievance == 0.0 and levels[0.0].level == 0.0
    steady = SuspicionParams(restraint_half_life=1e9)
    assert estimator(breach(0.5), steady).report(P, at(400)).x < 1e-6
    assert estimator(breach(1.0), steady).report(P, at(400)).level > 0.01
    # the standing grievance fades, slowly: half of it after grievance_half_life
    p = SuspicionParams()
    one_year = estimator(breach(1.0)).report(P, at(1 + p.grievance_half_life))
    gp0 = p.grievance_fraction * p.input_gain * 0.72
    assert one_year.grievance == pytest.approx(gp0 / 2, rel=1e-9)


def test_no_breach_returns_to_zero() -> None:
    sigs = [
        Signal(P, at(0), "cooperation", 1.0, 1.0, "i0", "inspection_accepted"),
        Signal(P, at(1), "hostility", 0.5, 1.0, "h1", "hostile_inspection_request"),
    ]
    r = estimator(sigs, SuspicionParams(restraint_half_life=1e9)).report(P, at(400))
    assert r.grievance == 0.0 and r.threat == 0.0 and r.x < 1e-6


def test_grievance_keeps_recompute_equal_to_incremental_and_drivers_exact() -> None:
    params = SuspicionParams(top_drivers=100)
    sigs = [*hostile_week(), *breach(1.0), *breach(0.5, "other"), *verified_cooperation(8.0)]
    sigs.append(Signal(P, at(3.5), "threat", 0.4, 1.0, "late", "inspection_refused"))
    shuffled = list(sigs)
    random.Random(3).shuffle(shuffled)
    est = SuspicionEstimator(params, ME)
    for i, s in enumerate(shuffled):
        est.observe(s)
        est.advance(at(i))
    now = at(40.5)
    assert est.reports(now) == recompute(sigs, params, ME, now)
    r = est.report(P, now)
    drift = r.trend / math.exp(-r.x)
    total = sum(d.contribution for d in r.drivers)
    assert total - params.restraint * r.x == pytest.approx(drift, rel=1e-9)
    assert r.to_json()["grievance"] == r.grievance > 0.0


def test_grievance_fraction_is_a_share() -> None:
    with pytest.raises(ConfigError):
        SuspicionParams.from_mapping({"grievance_fraction": 1.5})
    with pytest.raises(ConfigError):
        SuspicionParams.from_mapping({"grievance_half_life": 0})
    assert SuspicionParams.from_mapping({"grievance_fraction": 1}).grievance_fraction == 1.0


# ---- refusals withdraw goodwill ----------------------------------------------


def test_a_refusal_draws_down_the_restraint_an_ordinary_threat_does_not() -> None:
    coop = verified_cooperation(8.0)
    before = estimator(coop).report(P, at(9.0)).restraint
    refused = estimator([*coop, refusal(8.5)]).report(P, at(9.0)).restraint
    breach = estimator([*coop, Signal(P, at(8.5), "threat", 0.4, 1.0, "b", "undercounted")])
    gain = SuspicionParams().restraint_gain
    assert refused == pytest.approx(before - gain * 0.4 * math.exp(-math.log(2) * 0.5 / 90), rel=1e-9)
    assert breach.report(P, at(9.0)).restraint == pytest.approx(before, rel=1e-12)


def test_restraint_never_falls_below_its_baseline() -> None:
    params = SuspicionParams()
    r = estimator([refusal(1.0), refusal(2.0, "consultation_unanswered")]).report(P, at(3.0))
    assert r.restraint == params.restraint
    assert r.escalation_index == pytest.approx(r.reactivity - params.restraint)


@pytest.mark.parametrize("spent", [False, True])
def test_drivers_still_decompose_the_drift_with_refusals(spent: bool) -> None:
    params = SuspicionParams(top_drivers=100)
    sigs = hostile_week() + verified_cooperation(8.0) + [refusal(9.0)]
    if spent:  # more refusals than goodwill: the account is empty, no restraint shares
        sigs += [refusal(9.1 + i / 10) for i in range(8)]
    r = estimator(sigs, params).report(P, at(12.3))
    drift = r.trend / math.exp(-r.x)
    total = sum(d.contribution for d in r.drivers)
    assert total - params.restraint * r.x == pytest.approx(drift, rel=1e-9)
    assert (r.restraint == params.restraint) is spent


def test_revise_equals_a_fresh_estimator_fed_the_final_signals() -> None:
    import dataclasses
    import random

    rng = random.Random(11)
    sigs = hostile_week() + verified_cooperation(8.0) + [refusal(9.0)]
    sigs += [Signal(P, at(rng.uniform(0, 40)), rng.choice(["threat", "hostility", "cooperation"]),
                    rng.choice([0.2, 0.4, 0.7]), rng.choice([0.0, 0.5, 1.0]), f"x{i}", "r")
             for i in range(40)]
    est = estimator(sigs)
    est.report(P, at(45))  # the cursor moves on, history grows: revise must rewind both
    final = list(sigs)
    for _ in range(5):
        old = rng.sample(final, 3)
        new = [dataclasses.replace(s, verification=1.0 - s.verification) for s in old]
        est.revise(P, old, new)
        final = [s for s in final if s not in old] + new
    fresh = estimator(sorted(final, key=Signal.sort_key))
    assert est.report(P, at(60)).to_json() == fresh.report(P, at(60)).to_json()
    est.revise(P, final, [])
    assert P not in est.parties()


def test_a_signal_beyond_64_bit_times_is_not_taken() -> None:
    # A body time near 2**63 plus a rule's offset: the plot history's times are 64-bit.
    far = [Signal(P, 2**63 + d, "threat", 0.7, 1.0, f"far{d}", "r") for d in (0, 5)]
    est = estimator(hostile_week())
    before = est.report(P, at(20)).to_json()
    assert est.observe_many(far) == 0 and not est.observe(far[0])
    est.revise(P, [], far)
    assert est.report(P, at(20)).to_json() == before


def test_a_signal_after_the_horizon_waits_and_is_fed_once_the_clock_passes_it() -> None:
    late = Signal(P, at(30), "cooperation", 0.5, 1.0, "c", "inspection_accepted")
    est = estimator(hostile_week())
    est.hold_after(at(20))
    assert est.observe(late) and not est.observe(late)  # held (once)
    assert est.report(P, at(20)).to_json() == estimator(hostile_week()).report(P, at(20)).to_json()
    assert est.hold_after(at(29)) == 0 and est.hold_after(at(31)) == 1
    fresh = estimator([*hostile_week(), late])
    assert est.report(P, at(31)).to_json() == fresh.report(P, at(31)).to_json()
    est.hold_after(at(40))
    held = Signal(P, at(50), "threat", 0.7, 1.0, "t", "r")
    est.revise(P, [], [held])
    est.revise(P, [held], [])  # taken back while held: never fed
    assert est.hold_after(at(60)) == 0
    assert est.report(P, at(60)).to_json() == fresh.report(P, at(60)).to_json()


@pytest.mark.parametrize("kw", [{}, {"weight": 0.0}, {"verification": 1.0}, {"kind": "cooperation"},
                                {"at": -5}])
def test_signals_made_for_the_ledgers_equal_checked_ones(kw: dict[str, object]) -> None:
    from trustnet.feedback.records import signal_of

    args: dict[str, object] = {"party": P, "at": 7, "kind": "threat", "weight": 0.5,
                               "verification": 0.4, "ref": "e", "rule": "r", **kw}
    made, checked = signal_of(**args), Signal(**args)  # type: ignore[arg-type]
    assert made == checked and hash(made) == hash(checked) and repr(made) == repr(checked)


@pytest.mark.parametrize("kw", [{"weight": math.nan}, {"weight": -0.1}, {"weight": math.inf},
                                {"verification": 1.5}, {"verification": math.nan},
                                {"party": ""}, {"kind": "rumour"}])
def test_signals_made_for_the_ledgers_still_refuse_what_is_out_of_range(
        kw: dict[str, object]) -> None:
    from trustnet.feedback.records import signal_of

    args: dict[str, object] = {"party": P, "at": 7, "kind": "threat", "weight": 0.5,
                               "verification": 0.4, "ref": "e", "rule": "r", **kw}
    with pytest.raises(FeedbackError) as ei:
        signal_of(**args)  # type: ignore[arg-type]
    assert ei.value.code == "bad_signal"
