"""Per-party suspicion estimator on Richardson dynamics (DESIGN section 8, docs/suspicion.md).

For every party P this node keeps two states, driven by `Signal`s that the
rule engine and the signal module derive from credibility-gated statements:

    dx/dt = k*y + g_p - a*x        x: our suspicion of P
    dy/dt = g + h     - b*y        y: P's hostility as we see it act

- "threat" (adverse evidence about P: what P is seen to do) raises g, the
  fading input to y, and, when verified (v = 1), by `grievance_fraction` the
  standing grievance g_p that acts on x directly; it also pays into the
  reactivity account T, so k = k0 + reactivity_gain * T: credible threats
  make us react more strongly (the fear of DOMAIN.md);
- "hostility" (P's abuse of the rules aimed at us: inspection requests beyond
  quota or without standing, consultation floods, distrust, accusations)
  raises h, the other fading input to y;
- "cooperation" (timely notifications, accepted inspections, answered
  consultations) pays into the goodwill account C and raises the restraint
  a = a0 + restraint_gain * max(C, 0). A refusal to take part in
  verification (`EROSIVE_RULES`) draws `restraint_erosion` times its
  increment out of C. The restraint never falls below a0 > 0.

y is observed, not generated: it does not feed on our own suspicion x (the
coupling l of the mutual Richardson system is 0 in the state we follow), so
the followed system is triangular with eigenvalues -a and -b: when nothing
happens both relax to 0, whatever the coefficients.

Escalation index: the question analysts ask is whether the *relationship*
spirals. It is the largest real part of the eigenvalues of the mutual
Richardson matrix [[-a, k], [l, -b]] with the coefficients in force, where
l and b default to the symmetric assumption l = k, b = a (information
exchange is mutual: what damps our fear damps theirs). With the defaults the
index is k - a = (k0 - a0) + reactivity_gain * T - restraint_gain * C:
negative at rest (k0 < a0), positive while credible threats outweigh verified
cooperation, negative again once verified cooperation (or time) restores it.

Credibility and verification (DOMAIN.md, "From statements to evidence"): a
signal's verification v in [0, 1] is how far this node believes it (the
signal module gates it by the credibility of its sources: a source of
reliability 0 gives v = 0). Its weight enters through the gain of a scalar
Kalman update with prior variance 1 and measurement variance
`unverified_noise * (1 - v) / v`:
    K(v) = v / (v + unverified_noise * (1 - v))
so verified evidence (v = 1) moves the state fully and evidence nobody
credible supports (v = 0) not at all; with the default noise 1, K(v) = v.

g, h, C, T fade with half-lives: grievances, fear and goodwill are not
forever. g_p fades with the much longer `grievance_half_life` (a year): a
verified breach settles x above 0 for months (DOMAIN.md demo: "settles above
its baseline"); evidence that is only believed (v < 1) leaves no standing part.

Time discretisation (the only approximation, and it is part of the model):
time is cut into cells that end at every multiple of `time_unit_ms` (epoch
aligned: midnight UTC for the default day) and at every signal. Within a cell
the slow variables g, h, g_p, a and k are held at their value at the cell's
start and (x, y) follows the *exact* linear flow (the triangular system's closed
form, `richardson.flow_observed`). Because the cell boundaries depend
only on the signals and the grid, the state at time T is a pure function of
the set of signals up to T: the same signals in any arrival order, and any
pattern of `advance`/`report` calls, give bitwise the same numbers.

Out-of-order signals: each party keeps its signals sorted by
`Signal.sort_key()` and a snapshot of the state after each one. A signal at or
after the party's latest one costs the cells since the cursor plus one update;
a late one rewinds that party to the snapshot before it and replays the
signals after it (cost proportional to what follows it). Re-delivered (equal)
signals are ignored, so gossip duplicates are harmless. Signals about this
node itself are ignored.

Level: `1 - exp(-x)` maps x >= 0 into [0, 1); trend is d(level)/dt per time
unit. Pure code: no clock, no I/O; `now_ms` is always passed in.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from trustnet.errors import NotFound
from trustnet.feedback.history import NO_HISTORY, LevelHistory, SuspicionHistory
from trustnet.feedback.records import (
    Driver as Driver,
    PartySuspicion as PartySuspicion,
    Regime as Regime,
    Signal as Signal,
    SignalKind as SignalKind,
    SuspicionParams as SuspicionParams,
)
from trustnet.feedback.richardson import escalation_index, flow_observed
from trustnet.numeric import c_replay, c_walk
from trustnet.statements.regime_common import EROSIVE_RULES as REGIME_EROSIVE  # issue 16 5B

# Refusals to take part in verification: they also withdraw goodwill (module docstring).
EROSIVE_RULES = frozenset({"inspection_refused", "consultation_unanswered"}) | REGIME_EROSIVE
# x and y are capped so a long unchecked spiral saturates instead of overflowing;
# the level is already 1.0 in double precision long before.
_CAP = 1e6


# The plot history holds times as 64-bit integers: a signal outside them (only a body time
# near 2**63 plus a rule's offset makes one: centuries past any report) is not taken.
_T_MAX = 2**63 - 1


def _first(pair: tuple[tuple[int, str, str, str, float, float], Signal]
           ) -> tuple[int, str, str, str, float, float]:
    return pair[0]


class _Snap(NamedTuple):
    """State right after a signal was applied; the slow variables valued at t (a party's
    `_Snaps` hold them as columns and make one when it is read)."""

    t: int
    x: float
    y: float
    g: float  # fading threat input to y
    h: float  # fading hostility input to y
    c: float  # goodwill account C
    p: float  # standing grievance g_p (input to x)
    r: float  # reactivity (threat) account T


class _Snaps:
    """A party's snapshots, one per signal in order, as eight typed arrays: a replay writes
    hundreds per new entry (~900 in `bench views`), and as tuples of Python numbers making
    and dropping them again cost more than the rest of the replay; a `_Snap` is made when
    one is read. 8 + 7 x 8 bytes a snapshot."""

    __slots__ = ("_last", "c", "g", "h", "p", "r", "t", "x", "y")

    def __init__(self) -> None:
        self.t = array("q")
        self.x, self.y, self.g, self.h = array("d"), array("d"), array("d"), array("d")
        self.c, self.p, self.r = array("d"), array("d"), array("d")
        # The last snapshot as an object, read at every signal that comes in order (None:
        # made from the columns when next read)
        self._last: _Snap | None = None

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, i: int) -> _Snap:
        if not isinstance(i, int):  # a slice would read as one snapshot of arrays
            raise TypeError(f"snapshots are read one at a time, not by {type(i).__name__}")
        if i == -1 and self.t:
            if self._last is None:
                self._last = self._made(-1)
            return self._last
        return self._made(i)

    def _made(self, i: int) -> _Snap:
        return _Snap(self.t[i], self.x[i], self.y[i], self.g[i], self.h[i], self.c[i],
                     self.p[i], self.r[i])

    def __iter__(self) -> Iterator[_Snap]:
        return map(_Snap, self.t, self.x, self.y, self.g, self.h, self.c, self.p, self.r)

    def _columns(self) -> tuple[array[Any], ...]:
        return (self.t, self.x, self.y, self.g, self.h, self.c, self.p, self.r)

    def append(self, snap: _Snap) -> None:
        # Written out: the in-order path appends one per signal of a full recompute.
        t, x, y, g, h, c, p, r = snap
        self._last = snap
        self.t.append(t)
        self.x.append(x)
        self.y.append(y)
        self.g.append(g)
        self.h.append(h)
        self.c.append(c)
        self.p.append(p)
        self.r.append(r)

    def truncate(self, start: int) -> None:
        """Drop the snapshots from `start` on (a rewind)."""
        self._last = None
        for column in self._columns():
            del column[start:]

    def take(self, columns: tuple[bytes, ...]) -> None:
        """Append the snapshots the compiled replay made (its eight columns, as bytes)."""
        self._last = None
        for column, data in zip(self._columns(), columns, strict=True):
            column.frombytes(data)


Slow = tuple[float, float, float, float, float]  # g, h, c, g_p, T
# A signal as `_apply_at` applies it: (at, kind: 0 threat 1 hostility 2 other, gain * weight,
# erodes the restraint, standing share of a threat)
Step = tuple[int, int, float, bool, float]
_KIND_CODES = {"threat": 0, "hostility": 1}


def _level(x: float) -> float:
    return -math.expm1(-x)


class _Party:
    __slots__ = ("cur_t", "cur_x", "cur_y", "history", "keys", "seen", "signals", "snaps", "steps")

    def __init__(self) -> None:
        self.keys: list[tuple[int, str, str, str, float, float]] = []
        self.signals: list[Signal] = []
        self.steps: list[Step] = []  # what applying each signal does (`_step`, its gain in)
        self.snaps = _Snaps()
        self.seen: set[Signal] = set()
        self.history = LevelHistory()
        # cursor: state at a grid boundary (or the last snapshot) at or after the last signal
        self.cur_t = 0
        self.cur_x = 0.0
        self.cur_y = 0.0


def kalman_gain(v: float, noise: float) -> float:
    """K(v) = v / (v + noise * (1 - v)): 0 for evidence nobody credible supports, 1 verified."""
    if v <= 0.0:
        return 0.0
    return v / (v + noise * (1.0 - v))


class SuspicionEstimator:
    """Incremental per-party suspicion; deterministic for given signals and times."""

    def __init__(self, params: SuspicionParams | None = None, self_id: str = "") -> None:
        self.params = params or SuspicionParams()
        self.self_id = self_id
        self._parties: dict[str, _Party] = {}
        # Signals later than `_horizon` (`hold_after`), held back per party until it passes
        # them: the walk to a signal costs a step per day between, and a body time may lie
        # centuries ahead. A report at or before the horizon depends only on the signals up
        # to it, so holding them changes nothing it shows.
        self._horizon: int | None = None
        self._later: dict[str, dict[Signal, None]] = {}
        self._later_from = _T_MAX  # no held signal is earlier (a bound: scanned when passed)
        p = self.params
        self._unit = float(p.time_unit_ms)
        self._l_in = math.log(2.0) / p.input_half_life
        self._l_r = math.log(2.0) / p.restraint_half_life
        self._l_gr = math.log(2.0) / p.grievance_half_life
        self._l_k = math.log(2.0) / p.reactivity_half_life

    # ---- model pieces ---------------------------------------------------

    def _gain(self, v: float) -> float:
        return kalman_gain(v, self.params.unverified_noise)

    def _slow(self, s: _Snap, t: int) -> Slow:
        # g, h, c, g_p, T at time t >= s.t, always computed from the snapshot so the
        # result does not depend on how the time since was walked.
        if t == s.t:
            return s.g, s.h, s.c, s.p, s.r
        d = (t - s.t) / self._unit
        fi = math.exp(-self._l_in * d)
        return (s.g * fi, s.h * fi, s.c * math.exp(-self._l_r * d),
                s.p * math.exp(-self._l_gr * d), s.r * math.exp(-self._l_k * d))

    def _coeffs(self, c: float, r: float) -> tuple[float, float, float, float]:
        """(k, l, a, b) in force: the mutual system the escalation index reads."""
        p = self.params
        # max(v, 0.0), without the call (the hot path: every cell of every signal)
        a = p.restraint + p.restraint_gain * (0.0 if c < 0.0 else c)
        k = p.reactivity + p.reactivity_gain * (0.0 if r < 0.0 else r)
        lo = k if p.other_reactivity is None else p.other_reactivity
        b = a if p.other_restraint is None else p.other_restraint
        return k, lo, a, b

    def _cell(self, s: _Snap, t0: int, t1: int, x: float, y: float) -> tuple[float, float]:
        g, h, c, gp, r = self._slow(s, t0)
        k, _, a, b = self._coeffs(c, r)
        # The followed system: y is observed (l = 0), x reacts to it (module docstring).
        x, y = flow_observed(k, a, b, gp, g + h, (t1 - t0) / self._unit, x, y)
        # the system is positive (Metzler matrix, inputs >= 0): clamp rounding
        # (min(max(v, 0.0), _CAP), without the calls)
        x = 0.0 if x < 0.0 else x
        y = 0.0 if y < 0.0 else y
        return (_CAP if x > _CAP else x), (_CAP if y > _CAP else y)

    def _walk(
        self,
        s: _Snap,
        t0: int,
        x: float,
        y: float,
        t: int,
        hist: LevelHistory | None,
    ) -> tuple[int, float, float, float, float]:
        """From (t0, x, y) to t: (last grid boundary or t0, its x, y; x, y at t).

        Each cell is `_cell`, written out here (the hot path of a full recompute and of a
        replay: one or more cells per signal), with the same operations in the same order;
        compiled where built (`trustnet._numeric.walk`: the same floats, times up to 2**52 ms).
        """
        p = self.params
        unit = p.time_unit_ms
        if c_walk is not None:
            try:
                got = c_walk(s.t, s.g, s.h, s.c, s.p, s.r, t0, x, y, t, unit, self._unit,
                             self._l_in, self._l_r, self._l_gr, self._l_k, p.restraint,
                             p.restraint_gain, p.reactivity, p.reactivity_gain,
                             p.other_restraint, _CAP, hist is not None)
            except OverflowError:  # a time beyond 64 bits: walked below
                got = None
            if got is not None:
                last, gx, gy, nx, ny, times, levels = got
                if hist is not None:
                    if times and levels:
                        hist.t.extend(times)
                        hist.level.extend(levels)
                    hist.bound(p.history_len)
                return last, gx, gy, nx, ny
        nxt = (t0 // unit + 1) * unit
        if t0 >= t:  # nxt > t0 >= t: no cell
            if hist is not None:
                hist.bound(p.history_len)
            return t0, x, y, x, y
        if hist is not None:
            add_t, add_level = hist.t.append, hist.level.append  # appends share nothing
        unit_f = self._unit
        l_in, l_r, l_gr, l_k = self._l_in, self._l_r, self._l_gr, self._l_k
        st, sg, sh, sc, sp, sr = s.t, s.g, s.h, s.c, s.p, s.r
        a0, a_gain, k0, k_gain, b_set = (p.restraint, p.restraint_gain, p.reactivity,
                                         p.reactivity_gain, p.other_restraint)
        exp = math.exp
        while True:
            grid = nxt <= t
            if not grid and t0 >= t:
                break
            t1 = nxt if grid else t
            # _slow(s, t0)
            if t0 == st:
                g, h, c, gp, r = sg, sh, sc, sp, sr
            else:
                d = (t0 - st) / unit_f
                fi = exp(-l_in * d)
                g, h, c, gp, r = (sg * fi, sh * fi, sc * exp(-l_r * d), sp * exp(-l_gr * d),
                                  sr * exp(-l_k * d))
            # _coeffs(c, r): k and a (b = a unless set)
            a = a0 + a_gain * (0.0 if c < 0.0 else c)
            k = k0 + k_gain * (0.0 if r < 0.0 else r)
            nx, ny = flow_observed(k, a, a if b_set is None else b_set, gp, g + h,
                                   (t1 - t0) / unit_f, x, y)
            nx = 0.0 if nx < 0.0 else nx
            ny = 0.0 if ny < 0.0 else ny
            nx = _CAP if nx > _CAP else nx
            ny = _CAP if ny > _CAP else ny
            if not grid:
                if hist is not None:
                    hist.bound(p.history_len)
                return t0, x, y, nx, ny
            x, y = nx, ny
            t0 = nxt
            nxt += unit
            if hist is not None:
                add_t(t0)
                add_level(_level(x))
        if hist is not None:
            hist.bound(p.history_len)
        return t0, x, y, x, y

    def _apply(self, base: _Snap | None, step: Step, pt: _Party) -> _Snap:
        """Replay step: walk from the previous snapshot to the signal, then apply it."""
        if base is None:
            return self._apply_at(step, 0.0, 0.0, (0.0, 0.0, 0.0, 0.0, 0.0), pt)
        at = step[0]
        _, _, _, x, y = self._walk(base, base.t, base.x, base.y, at, pt.history)
        return self._apply_at(step, x, y, self._slow(base, at), pt)

    def _step(self, sig: Signal) -> Step:
        """What applying `sig` does (`_apply_at`; kept per signal: a replay reads it again).
        The one place a signal's effect is derived, for the Python and compiled replays."""
        threat = sig.kind == "threat"
        return (sig.at, _KIND_CODES.get(sig.kind, 2), self._gain(sig.verification) * sig.weight,
                threat and sig.rule in EROSIVE_RULES,
                _standing(self.params, sig.verification) if threat else 0.0)

    def _replay(self, pt: _Party, start: int, base: _Snap | None) -> None:
        """Apply `pt`'s signals from `start` on, each from the snapshot before it (`base`,
        None at the first), appending their snapshots (its history cut after `base`).

        Compiled where built (`trustnet._numeric.replay`: every step's walk and `_apply_at`
        in one call, the same floats, and the history's points and bound as `_walk` and
        `_record` leave them, `LevelHistory.splice`): a new statement that moves an old
        fact's verification replays its party from there, ~900 signals per new entry in
        `bench views`."""
        if c_replay is not None:
            p, hist = self.params, pt.history
            n = len(hist)
            try:
                got = c_replay(
                    base, pt.steps[start:], n, hist.t[-1] if n else None,
                    hist.level[-1] if n else None, p.history_len, p.time_unit_ms, self._unit,
                    self._l_in, self._l_r, self._l_gr, self._l_k, p.restraint,
                    p.restraint_gain, p.reactivity, p.reactivity_gain, p.other_restraint, _CAP,
                    p.input_gain, p.restraint_erosion)
            except OverflowError:  # a time beyond 64 bits: replayed below
                got = None
            if got is not None:
                columns, time_bytes, level_bytes, kept, replaced = got
                pt.snaps.take(columns)
                times, levels = array("q"), array("d")  # the points made in C, copied once
                times.frombytes(time_bytes)
                levels.frombytes(level_bytes)
                hist.splice(times, levels, kept, replaced)
                return
        for step in pt.steps[start:]:
            base = self._apply(base, step, pt)
            pt.snaps.append(base)

    def _record(self, pt: _Party, t: int, level: float) -> None:
        pt.history.record(t, level, self.params.history_len)

    # ---- public API -----------------------------------------------------

    def observe(self, signal: Signal) -> bool:
        """Apply one signal; False when it is a duplicate or about this node itself."""
        return self._observe(signal, signal.sort_key())

    def _observe(self, signal: Signal, key: tuple[int, str, str, str, float, float]) -> bool:
        if signal.party == self.self_id or not -_T_MAX <= signal.at <= _T_MAX:
            return False
        pt = self._parties.get(signal.party)
        if pt is None:
            pt = self._parties[signal.party] = _Party()
        if self._horizon is not None and signal.at > self._horizon and signal not in pt.seen:
            later = self._later.setdefault(signal.party, {})
            n = len(later)
            later[signal] = None
            self._later_from = min(self._later_from, signal.at)
            return len(later) > n
        seen = pt.seen
        n = len(seen)
        seen.add(signal)
        if len(seen) == n:
            return False  # a duplicate
        keys = pt.keys
        # bisect_right: at the end when the key sorts at or after the last (signals in order)
        i = len(keys) if not keys or keys[-1] <= key else bisect.bisect_right(keys, key)
        if i == len(pt.keys) and pt.snaps and pt.cur_t <= signal.at:
            # in order: continue from the cached cursor
            last = pt.snaps[-1]
            _, _, _, x, y = self._walk(last, pt.cur_t, pt.cur_x, pt.cur_y, signal.at, pt.history)
            slow = self._slow(last, signal.at)
            pt.keys.append(key)
            pt.signals.append(signal)
            step = self._step(signal)
            pt.steps.append(step)
            pt.snaps.append(self._apply_at(step, x, y, slow, pt))
        else:
            # late (or behind the cursor): rewind to the snapshot before it and replay
            pt.keys.insert(i, key)
            pt.signals.insert(i, signal)
            pt.steps.insert(i, self._step(signal))
            pt.snaps.truncate(i)
            base = pt.snaps[-1] if pt.snaps else None
            pt.history.cut_after(base.t if base is not None else signal.at - 1)
            self._replay(pt, i, base)
        last = pt.snaps[-1]
        pt.cur_t, pt.cur_x, pt.cur_y = last.t, last.x, last.y
        return True

    def _apply_at(self, step: Step, x: float, y: float, slow: Slow, pt: _Party) -> _Snap:
        """Apply one signal's `step` (`_step`) at x, y and the slow variables valued at its
        time; the compiled replay applies the same steps the same way."""
        at, kind, inc, erodes, f = step
        g, h, c, gp, r = slow
        p = self.params
        if kind == 0:  # a threat
            # split: the verified standing share g_p (on x) outlives the fading g (on y)
            g += p.input_gain * inc * (1.0 - f)
            gp += p.input_gain * inc * f
            r += inc
            if erodes:
                c -= p.restraint_erosion * inc
        elif kind == 1:  # hostility
            h += p.input_gain * inc
        else:
            c += inc
        self._record(pt, at, _level(x))
        return _Snap(at, x, y, g, h, c, gp, r)

    def revise(self, party: str, retract: Iterable[Signal], add: Iterable[Signal]) -> None:
        """Take signals back and add others for one party, replaying its state once, from
        the earliest change (a verification or weight that changed rewrites the past).

        The result is what a fresh estimator fed the remaining signals gives: the state
        at a time depends only on the set of signals up to it (module docstring).
        """
        pt = self._parties.get(party)
        kept = set(retract) & set(add)  # taken back and given again: nothing changes
        later = self._later.get(party)
        if later:  # held back: taken back or added there, the estimator untouched
            for sig in retract:
                if sig not in kept:
                    later.pop(sig, None)
            if not later:
                del self._later[party]
        horizon = _T_MAX if self._horizon is None else self._horizon
        held = [sig for sig in add if sig.party == party and party != self.self_id
                and horizon < sig.at <= _T_MAX and sig not in kept
                and (pt is None or sig not in pt.seen)]
        if held:
            if pt is None:
                pt = self._parties[party] = _Party()
            self._later.setdefault(party, {}).update(dict.fromkeys(held))
            self._later_from = min(self._later_from, *(sig.at for sig in held))
        gone = [sig for sig in retract if pt is not None and sig in pt.seen and sig not in kept]
        new = [sig for sig in add if sig.party == party and party != self.self_id
               and (pt is None or sig not in pt.seen) and sig not in kept
               and -_T_MAX <= sig.at <= horizon]
        if not gone and not new:
            return
        if pt is None:
            pt = self._parties[party] = _Party()
        start = len(pt.signals)
        for sig in gone:
            pt.seen.discard(sig)
            i = bisect.bisect_left(pt.keys, sig.sort_key())
            while pt.signals[i] != sig:  # equal keys: find this very signal
                i += 1
            del pt.keys[i], pt.signals[i], pt.steps[i]
            start = min(start, i)
        for sig in new:
            pt.seen.add(sig)
            key = sig.sort_key()
            i = bisect.bisect_right(pt.keys, key)
            pt.keys.insert(i, key)
            pt.signals.insert(i, sig)
            pt.steps.insert(i, self._step(sig))
            start = min(start, i)
        if not pt.signals:
            del self._parties[party]
            return
        earliest = min(sig.at for sig in (*gone, *new))
        pt.snaps.truncate(start)
        base = pt.snaps[-1] if pt.snaps else None
        pt.history.cut_after(base.t if base is not None else earliest - 1)
        self._replay(pt, start, base)
        last = pt.snaps[-1]
        pt.cur_t, pt.cur_x, pt.cur_y = last.t, last.x, last.y

    def observe_many(self, signals: Iterable[Signal]) -> int:
        """Apply signals in time order (cheapest); returns how many were new."""
        keyed = sorted([(s.sort_key(), s) for s in signals], key=_first)
        observe = self._observe
        return sum([observe(s, k) for k, s in keyed])

    def advance(self, now_ms: int) -> None:
        """Move every party's cached state (and its plot history) up to `now_ms`."""
        for pt in self._parties.values():
            if pt.snaps and pt.snaps[-1].t <= now_ms and pt.cur_t < now_ms:
                pt.cur_t, pt.cur_x, pt.cur_y, _, _ = self._walk(
                    pt.snaps[-1], pt.cur_t, pt.cur_x, pt.cur_y, now_ms, pt.history
                )

    def forget(self, party: str) -> None:
        """Drop everything known of `party` (its signals are then fed again from scratch)."""
        self._parties.pop(party, None)
        self._later.pop(party, None)

    def hold_after(self, t: int) -> int:
        """Hold back signals later than `t` from now on, and feed those held that `t` has
        passed (a node calls it with its clock before each update: the reports it makes are
        at or before `t`). Returns how many were fed."""
        self._horizon = t
        if t < self._later_from:  # nothing held is due: no scan
            return 0
        due = [s for held in self._later.values() for s in held if s.at <= t]
        self._later_from = min((s.at for held in self._later.values() for s in held
                                if s.at > t), default=_T_MAX)
        if not due:
            return 0
        for s in due:
            held = self._later[s.party]
            del held[s]
            if not held:
                del self._later[s.party]
        return self.observe_many(due)

    def parties(self) -> tuple[str, ...]:
        """Every party with at least one signal, sorted."""
        return tuple(sorted(self._parties))

    def report(self, party: str, now_ms: int) -> PartySuspicion:
        """The party's suspicion as of `now_ms` (signals after it are not counted)."""
        pt = self._parties.get(party)
        if pt is None:
            raise NotFound(f"no suspicion state for party {party}")
        j = bisect.bisect_right(pt.keys, (now_ms, "\U0010ffff")) - 1
        if j < 0:
            return self._quiet(party, now_ms)
        snap = pt.snaps[j]
        if j == len(pt.snaps) - 1 and pt.cur_t <= now_ms:
            pt.cur_t, pt.cur_x, pt.cur_y, x, y = self._walk(
                snap, pt.cur_t, pt.cur_x, pt.cur_y, now_ms, pt.history
            )
            start = pt.cur_t
        else:
            start, _, _, x, y = self._walk(snap, snap.t, snap.x, snap.y, now_ms, None)
        return self._build(party, pt, j, snap, start, x, y, now_ms)

    def reports(self, now_ms: int) -> dict[str, PartySuspicion]:
        """Reports for every party with a signal at or before `now_ms`, by party id."""
        out: dict[str, PartySuspicion] = {}
        for party in sorted(self._parties):
            pt = self._parties[party]
            if pt.keys and pt.keys[0][0] <= now_ms:
                out[party] = self.report(party, now_ms)
        return out

    def _quiet(self, party: str, now_ms: int) -> PartySuspicion:
        k, lo, a, b = self._coeffs(0.0, 0.0)
        idx = escalation_index(k, lo, a, b)
        return PartySuspicion(party, now_ms, 0.0, 0.0, idx, "stable", a, 0.0, 0.0, 0.0, (),
                              NO_HISTORY, reactivity=k)

    def _build(
        self,
        party: str,
        pt: _Party,
        j: int,
        snap: _Snap,
        start: int,
        x: float,
        y: float,
        now_ms: int,
    ) -> PartySuspicion:
        p = self.params
        g, h, c, gp, r = self._slow(snap, start)  # held values of the current cell
        k, lo, a, b = self._coeffs(c, r)
        idx = escalation_index(k, lo, a, b)
        drift = k * y + gp - a * x
        level = _level(x)
        trend = math.exp(-x) * drift
        # At rest (nothing in force, nothing left to relax) there is no relationship to read.
        at_rest = (x == 0.0 and y == 0.0 and g == 0.0 and h == 0.0 and gp == 0.0
                   and c <= 0.0 and r <= 0.0)
        regime: Regime
        if at_rest:
            regime = "stable"
        elif idx > p.escalating_above:
            regime = "escalating"
        elif idx < p.deescalating_below:
            regime = "de-escalating"
        else:
            regime = "stable"
        drivers = self._drivers(pt, j, start, x, y, g + h)
        hist: SuspicionHistory = pt.history.view(now_ms, level, p.history_len)
        return PartySuspicion(
            party=party,
            at=now_ms,
            level=level,
            trend=trend,
            escalation_index=idx,
            regime=regime,
            restraint=a,
            threat=g + gp,
            hostility=y,
            x=x,
            drivers=drivers,
            history=hist,
            grievance=gp,
            reactivity=k,
        )

    def _drivers(
        self, pt: _Party, j: int, start: int, x: float, y: float, y_in: float
    ) -> tuple[Driver, ...]:
        # Exact decomposition of dx/dt = k*y + g_p - a*x at the current cell: k*y split by
        # each signal's share of the input to y (g + h), g_p and a - a0 by their shares.
        p = self.params
        unit = self._unit
        out: list[tuple[float, str, str, str, float]] = []
        _, _, c, _, r = self._slow(pt.snaps[j], start)
        k = self._coeffs(c, r)[0]
        # The restraint is a0 + gain * max(C, 0): while the goodwill account is
        # positive its signals' shares add up to it; when it is spent they are all 0.
        damping = c > 0.0
        ky = k * y / y_in if y_in > 0.0 else 0.0
        for i in range(j + 1):
            s = pt.signals[i]
            inc = pt.steps[i][2]  # gain * weight
            if inc == 0.0:
                continue
            d = (start - s.at) / unit
            restraint_share = (p.restraint_gain * inc * math.exp(-self._l_r * d) * x
                               if damping else 0.0)
            if s.kind == "threat":
                f = pt.steps[i][4]  # the standing share
                fade_in = math.exp(-self._l_in * d)
                contrib = (ky * p.input_gain * inc * (1.0 - f) * fade_in
                           + p.input_gain * inc * f * math.exp(-self._l_gr * d)
                           + (p.restraint_erosion * restraint_share if _erodes(s) else 0.0))
            elif s.kind == "cooperation":
                contrib = -restraint_share
            else:
                contrib = ky * p.input_gain * inc * math.exp(-self._l_in * d)
            if contrib != 0.0:
                out.append((-abs(contrib), s.ref, s.rule, s.kind, contrib))
        out.sort()
        return tuple(Driver(r_, ru, kd, cb) for _, r_, ru, kd, cb in out[: p.top_drivers])


def _standing(p: SuspicionParams, v: float) -> float:
    # Only an established (verified) breach leaves a standing grievance: a claim that is
    # merely believed fades with the inputs.
    return p.grievance_fraction if v >= 1.0 else 0.0


def _erodes(sig: Signal) -> bool:
    return sig.kind == "threat" and sig.rule in EROSIVE_RULES


def recompute(
    signals: Iterable[Signal], params: SuspicionParams, self_id: str, now_ms: int
) -> dict[str, PartySuspicion]:
    """Full recompute from scratch: the same result `observe` + `reports` give."""
    est = SuspicionEstimator(params, self_id)
    est.observe_many(signals)
    return est.reports(now_ms)
