"""A whole scenario run on a testbed of real node processes (`trustnet testbed run`):
start the nodes, play, settle, sample each node's series, check, report, stop; with
`compare`, the compared scenario first on its own testbed. Shows progress as it goes.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from trustnet.clock import DAY_MS, HOUR_MS
from trustnet.identity import Identity
from trustnet.log.entry import ChainHead, Entry
from trustnet.testbed.cluster import NetworkState
from trustnet.testbed.expect import Run, Series, check, wanted_views
from trustnet.testbed.loader import load_scenario
from trustnet.testbed.model import Scenario, ScenarioError
from trustnet.testbed.player import PartyRef, clock_offset, count_actions, origin_for, play
from trustnet.testbed.report import fmt_value, write_report


class Progress:
    """Actions done of a total with the time elapsed: one updating line on a terminal,
    plain lines otherwise (logs, CI)."""

    def __init__(self, stream: TextIO | None = None, *, log: Callable[[str], None] | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._log = log or (lambda line: print(line, file=self.stream, flush=True))
        self._clock = clock
        self._started = clock()
        self._phase = ""
        self._detail = ""
        self._done = 0
        self._total = 0
        self._shown = False  # a bar is on the terminal's current line

    def phase(self, name: str, total: int) -> None:
        """Start counting a new phase (playing, sampling) of `total` actions."""
        self.end()
        self._phase, self._detail, self._done, self._total = name, "", 0, total
        self._started = self._clock()

    def advance(self, detail: str = "") -> None:
        """One action done."""
        self._done += 1
        self._detail = detail
        if self.tty:
            self._draw()
        else:
            elapsed = self._clock() - self._started
            self._log(f"  [{self._done}/{self._total} {elapsed:5.1f} s] {detail}".rstrip())

    def note(self, line: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        shown = self._shown
        if shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
        self._log(line)
        if shown:
            self._draw()

    def end(self) -> None:
        """Finish the current bar's line."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        filled = int(20 * self._done / max(self._total, 1))
        line = (f"{self._phase} [{'#' * filled}{'.' * (20 - filled)}] {self._done}/{self._total}"
                f" {self._clock() - self._started:5.1f} s  {self._detail}")
        self.stream.write("\r\x1b[K" + line[: width - 1])
        self.stream.flush()
        self._shown = True


class TestbedFaults:
    """`Faults` on a running testbed (real processes)."""

    __test__ = False  # not a pytest class

    def __init__(self, testbed: Any, settle_timeout_s: float = 60.0) -> None:
        self.testbed = testbed
        self.settle_timeout_s = settle_timeout_s
        self.crashed: set[str] = set()

    def settle(self) -> None:
        """Wait until every side agrees (ScenarioError `not_converged` at the timeout)."""
        if not self.testbed.settle(self.settle_timeout_s):
            raise ScenarioError(f"the nodes did not agree within {self.settle_timeout_s:g} s",
                                code="not_converged")

    def state(self) -> NetworkState:
        """What every live node holds."""
        state: NetworkState = self.testbed.state()
        return state

    def stop(self, name: str, *, crash: bool) -> None:
        """Stop a node (SIGTERM, or SIGKILL for a crash)."""
        self.testbed.stop_node(self.testbed.node(name), crash=crash)
        if crash:
            self.crashed.add(name)

    def restart(self, name: str) -> None:
        """Start a node again and wait until it is ready."""
        self.testbed.restart(self.testbed.node(name))
        self.crashed.discard(name)

    def partition(self, side: tuple[str, ...]) -> None:
        """Cut `side` off; () heals."""
        self.testbed.partition(side)

    def identity(self, name: str) -> Identity:
        """The party's key, from its node directory."""
        ident: Identity = self.testbed.identity(self.testbed.node(name))
        return ident

    def head(self, name: str) -> ChainHead | None:
        """The party's head as its own node holds it."""
        head: ChainHead | None = self.testbed.own_head(self.testbed.node(name))
        return head

    def deliver(self, sender: str, entry: Entry, to: tuple[str, ...]) -> None:
        """A signed gossip push from the sender's identity to each running node in `to`."""
        from trustnet.api.client import ClientError

        identity = self.identity(sender)
        for name in to:
            node = self.testbed.node(name)
            if not node.alive:
                continue
            try:
                ack = self.testbed.push(node, identity, [entry])
            except ClientError as exc:
                if exc.code == "partitioned":  # across a partition from the sender: gossip
                    continue                   # brings it after the heal
                raise
            if ack.rejected:
                raise ScenarioError(f"{name} rejected the equivocating entry {entry.id_hex[:16]}")

    def rotate(self, name: str, compromised_since: int | None, ts: int) -> str:
        """`trustnet key rotate` through the party's running node (admin API)."""
        from trustnet.config.keyfiles import fresh_next_key
        from trustnet.identity import NEXT_KEY_FILE
        from trustnet.log.keys import key_digest

        node = self.testbed.node(name)
        revealed = Identity.load(node.dir / NEXT_KEY_FILE)
        fresh = fresh_next_key(node.dir)
        result = node.client.rotate_keys(bytes(revealed.signing_key), key_digest(fresh.public_key),
                                         compromised_since, ts)
        return str(result["id"])


def run_scenario(scenario: Scenario, out: Path, *, keep: bool = False,
                 log: Callable[[str], None] = print, say: Callable[[str], None] = print,
                 tick_s: float = 0.25, progress: Progress | None = None, tls: bool = False) -> int:
    """Start a testbed, play, sample, check, report; 0 when every expectation holds.
    `tls`: the nodes serve and verify TLS (a throwaway CA for the run).

    With `compare`, the compared scenario is played first on its own testbed (its
    report in OUT/compared/), then this one, and the report shows both side by side.
    """
    bar = progress or Progress(log=log)
    compared: Run | None = None
    compared_ok = True
    if scenario.compare is not None:
        other = load_scenario(Path(scenario.compare), _compared=True)
        bar.note(f"== first the scenario it is compared with: {other.title}")
        code, compared = _run_once(other, out / "compared", log=log, say=say, tick_s=tick_s,
                                   bar=bar, keep=False, hint=False, tls=tls,
                                   sample_extra=wanted_views(scenario, as_compared=True))
        if compared is None:
            return 1
        compared_ok = code == 0
        bar.note(f"== now {scenario.title}")
    code, _ = _run_once(scenario, out, log=log, say=say, tick_s=tick_s, bar=bar, keep=keep,
                        tls=tls, compared=compared, compared_report="compared/report.md" if compared else None)
    if not compared_ok:
        say("== the compared scenario failed some of its own expectations "
            f"(see {out / 'compared' / 'report.md'})")
    return code if compared_ok else 1


def _run_once(scenario: Scenario, out: Path, *, log: Callable[[str], None],
              say: Callable[[str], None], tick_s: float, bar: Progress, keep: bool,
              tls: bool = False,
              compared: Run | None = None, compared_report: str | None = None,
              sample_extra: set[tuple[str, str]] | None = None,
              hint: bool = True) -> tuple[int, Run | None]:
    from trustnet.clock import SystemClock
    from trustnet.testbed.cluster import Testbed, describe

    if (out / "nodes").exists() and any((out / "nodes").iterdir()):
        # A story is backdated onto empty nodes: old stores would refuse it (and be mixed in).
        log(f"trustnet: error [bad_scenario]: {out / 'nodes'} holds nodes of an earlier run; "
            "choose a new --out or remove it")
        return 1, None
    # Back-off short enough that a healed partition or a restarted node is retried soon.
    # Replay mode: the story's entries are backdated to its days (docs/scenarios.md, Time), so
    # its nodes judge them by their signed ts; a real node would judge them by receipt.
    # A fixed origin: the nodes' clocks run in the story's time (the story ends at their now).
    wall = SystemClock().now_ms()
    testbed = Testbed(out / "nodes", scenario.parties, peers_per_node=3,
                      gossip={"tick_interval_s": tick_s, "backoff_max_ms": 2000},
                      trust={"replay": True}, tls=tls,
                      clock_offset_ms=clock_offset(scenario, wall), witnesses=scenario.witnesses)
    faults = TestbedFaults(testbed)
    bar.note(f"== {scenario.title}: starting {len(scenario.parties)} nodes in {out / 'nodes'}")
    try:
        testbed.start(progress=lambda line: bar.note("  " + line))
        say(describe(testbed))
        refs = {
            n.name: PartyRef(n.node_id, n.url, _publisher(n.client))
            for n in testbed.nodes
        }
        origin = origin_for(scenario, wall)
        since = (f"origin {datetime.fromtimestamp(origin / 1000, UTC):%Y-%m-%d}, fixed"
                 if scenario.origin_ms is not None else f"origin {scenario.days:g} days ago")
        bar.note(f"== playing {len(scenario.steps)} steps: {count_actions(scenario)} statements "
                 f"and faults ({since})")
        bar.phase("playing ", count_actions(scenario))
        snapshots: dict[str, NetworkState] = {}
        try:
            entries = play(scenario, refs, origin, progress=bar.advance, faults=faults,
                           snapshots=snapshots)
            bar.end()
            bar.note("== waiting until the nodes agree on what they hold")
            started = time.monotonic()
            faults.settle()
        except ScenarioError as exc:
            bar.end()
            log(f"trustnet: error [{exc.code}]: {exc.message}")
            return 1, None
        bar.note(f"  settled in {time.monotonic() - started:.1f} s")
        end = testbed.state()
        live = [n for n in testbed.nodes if n.alive]
        views = {(n, p) for n, p in wanted_views(scenario) | (sample_extra or set())
                 if testbed.node(n).alive}
        bar.note(f"== sampling {len(views)} series (a node's view of a party over "
                 f"{scenario.days:g} days)")
        bar.phase("sampling", len(views))
        series = sample(scenario, testbed, origin, refs, views=views, progress=bar.advance)
        bar.end()
        ids = {p: r.id for p, r in refs.items()}
        results = check(scenario, series, origin, ids=ids, end=end, snapshots=snapshots,
                        compared=compared)
        nodes = [n.to_json() for n in testbed.nodes]
        files = write_report(out, scenario, origin, series, results, nodes, entries, end=end,
                             snapshots=snapshots, compared=compared,
                             compared_report=compared_report)
        for r in results:
            say(f"  {'ok    ' if r.ok else 'FAILED'}  {r.what}  ({fmt_value(r.left)} vs {fmt_value(r.right)})")
        ok = all(r.ok for r in results)
        say(f"== {'all expectations met' if ok else 'SOME EXPECTATIONS FAILED'}")
        say(f"report:  {files[1]}")
        for plot in files[2:]:
            say(f"plot:    {plot}")
        say(f"series:  {files[0]}")
        say(f"nodes:   {out / 'nodes'} (each node's store, config and node.log; "
            f"`trustnet beliefs {out / 'nodes' / scenario.focus}` reads one)")
        if keep:
            say("nodes keep running; their dashboards:")
            for n in live:
                say(f"  {n.name:<10} {n.url}/")
            say("Ctrl-C stops them all")
            try:
                while all(n.alive for n in live):
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        elif hint:
            say("dashboards: run with --keep (scripts/demo: without --no-wait) to leave the nodes "
                "running and open each node's URL")
        return (0 if ok else 1), Run(scenario, origin, series, ids, end, snapshots)
    finally:
        import signal as _signal

        bar.end()
        # A second Ctrl-C must not leave nodes behind: stopping is bounded, let it finish.
        previous = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        codes = testbed.stop()
        _signal.signal(_signal.SIGINT, previous)
        bad = {k: v for k, v in codes.items() if v != 0 and k not in faults.crashed}
        log("== nodes stopped" + (f" (unclean exits: {bad})" if bad else " cleanly")
            + (f"; crashed by the scenario: {', '.join(sorted(faults.crashed))}"
               if faults.crashed else ""))


def _publisher(client: Any) -> Callable[[str, dict[str, Any], int], dict[str, Any]]:
    def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
        result: dict[str, Any] = client.publish(kind, body, ts)
        return result

    return publish


def sample(scenario: Scenario, testbed: Any, origin_ms: int, refs: dict[str, PartyRef], *,
           views: set[tuple[str, str]] | None = None,
           progress: Callable[[str], None] | None = None) -> Series:
    """The (node, party) views the report needs (default `wanted_views`), each over the
    scenario's time line, from the live nodes.

    Nodes compute their series independently: a few requests run at once.
    """
    wanted = sorted(views if views is not None else wanted_views(scenario))
    step_ms = int(scenario.sample_hours * HOUR_MS)
    end = origin_ms + int(scenario.days * DAY_MS)
    live = {n.name: n for n in testbed.nodes if n.alive}
    series: Series = {name: {} for name in live}

    def fetch(node: Any, party: str) -> list[dict[str, Any]]:
        data = node.client.get(f"/series/{refs[party].id}?from={origin_ms}&to={end}&step={step_ms}")
        samples: list[dict[str, Any]] = data["samples"]
        return samples

    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = {pool.submit(fetch, live[n], p): (n, p) for n, p in wanted if n in live}
        for job in as_completed(jobs):
            name, party = jobs[job]
            series[name][party] = job.result()
            if progress:
                progress(f"{name} sees {party}")
    return series
