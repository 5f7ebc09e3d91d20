"""Own-log recovery under attack and after losses, mounted on real `trustnet run` processes.

Each scenario builds fresh node directories under `base` (the testbed's machinery),
does what an adversary or an accident does, then asks the victim to sign (`POST
/entries`, retried until it answers 201 or the budget runs out) and reports what
happened: how long signing was refused, the seq it signed, and whether that seq
forks the victim's own log (a seq it had signed before the loss). Shared by
`scripts/attacks/lying-head.py`, `scripts/attacks/store-loss.py` and the tests that
keep both attacks failing (tests/test_recovery_attacks.py).

- `lying_head`: a peer answers `/gossip/head` with seq 10**12 and no proof, and
  `/gossip/fetch` with `more: true` and nothing (or HTTP 500): DESIGN 12 says such a
  claim does not count, so it must not keep the victim from signing.
- `store_loss`: the victim's store.sqlite is deleted (and, optionally, its saved
  peers) while its key survives: it must recover its seq from a peer that holds its
  log, configured or merely learned, and sign seq n+1, never seq 1 again.
- `fresh_first_post`: a node just made by `init` signs on its first request.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from trustnet.api.client import ClientError
from trustnet.config.loader import load_config, write_config
from trustnet.testbed.cluster import Testbed, TestbedNode

GOSSIP: dict[str, Any] = {"tick_interval_s": 0.2, "backoff_max_ms": 2000}
BUDGET_S = 30.0
PEERS_FILE = "peers.json"


def _supports(setting: str) -> bool:
    """True when this build's `[gossip]` knows `setting` (the scripts also measure old builds)."""
    from trustnet.protocol.config import GossipConfig

    return setting in {f.name for f in dataclasses.fields(GossipConfig)}


def _body(level: int) -> dict[str, Any]:
    return {"subject": "ab" * 32, "level": level}


def _status(node: TestbedNode) -> dict[str, Any]:
    result: dict[str, Any] = node.client.get("/status")
    return result


def _wait(bed: Testbed, check: Any, what: str, timeout_s: float = 30.0) -> None:
    if not bed.wait_for(check, timeout_s):
        raise TimeoutError(f"timed out waiting for {what}")


def wait_answering(bed: Testbed, node: TestbedNode) -> None:
    """Wait until a (re)started node answers /status (ready to sign or not)."""
    _wait(bed, lambda: bool(_status(node)["node_id"]), f"{node.name} answering")


def _set_peers(node: TestbedNode, peers: tuple[str, ...]) -> None:
    config = load_config(node.dir)
    write_config(node.dir, dataclasses.replace(config, peers=peers))


def _lose_store(node: TestbedNode) -> None:
    for path in node.dir.glob("store.sqlite*"):
        path.unlink()


def sign_within(node: TestbedNode, budget_s: float) -> dict[str, Any]:
    """POST /entries until 201 or the budget ends: the seq signed (or None), the seconds
    it took, and the refusals' codes."""
    started = time.monotonic()
    refused: dict[str, int] = {}
    while True:
        try:
            made = node.client.publish("trust", _body(999))
            return {"signed_seq": int(made["seq"]), "seconds": round(time.monotonic() - started, 2),
                    "refused": refused}
        except ClientError as exc:
            refused[exc.code] = refused.get(exc.code, 0) + 1
        if time.monotonic() - started > budget_s:
            return {"signed_seq": None, "seconds": round(time.monotonic() - started, 2),
                    "refused": refused}
        time.sleep(0.1)


def _outcome(result: dict[str, Any], held: int) -> dict[str, Any]:
    seq = result["signed_seq"]
    result["own_seq_before_loss"] = held
    result["forked"] = seq is not None and seq <= held
    result["outcome"] = ("never signed within the budget" if seq is None else
                         f"FORKED its own log (signed seq {seq} again)" if seq <= held else
                         f"signed seq {seq}, continuing its log")
    return result


def _publish(node: TestbedNode, n: int) -> list[str]:
    return [str(node.client.publish("trust", _body(i))["id"]) for i in range(n)]


def lying_head(base: Path, *, fetch: str = "more", head: str = "claim", honest: bool = True,
               lose_store: bool = False,
               entries: int = 3, budget_s: float = BUDGET_S,
               deadline_ms: int = 5000) -> dict[str, Any]:
    """A victim that signed `entries` restarts with a lying peer beside (or instead of) an
    honest one; can it sign again, and at which seq?"""
    from trustnet.bench.liars import LyingPeer

    names = ("victim", "honest") if honest else ("victim",)
    gossip = dict(GOSSIP)
    if _supports("own_recovery_deadline_ms"):
        gossip["own_recovery_deadline_ms"] = deadline_ms
    bed = Testbed(base, names, peers_per_node=1, gossip=gossip)
    with LyingPeer(fetch="500" if fetch == "500" else "more",
                   head="500" if head == "500" else "claim") as liar:
        try:
            bed.start()
            victim = bed.nodes[0]
            ids = _publish(victim, entries)
            if honest:
                _wait(bed, lambda: all(bed.holding(i) == list(names) for i in ids),
                      "the honest peer holding the victim's log")
            bed.stop_node(victim)
            if lose_store:
                _lose_store(victim)
            _set_peers(victim, (*load_config(victim.dir).peers, liar.url))
            bed.start_node(victim)
            wait_answering(bed, victim)
            result = sign_within(victim, budget_s)
            result["liar_requests"] = dict(liar.requests)
            result["recovery"] = victim.client.get("/peers").get("recovery")
        finally:
            bed.stop()
    result["scenario"] = (f"liar (head: {head}, fetch: {fetch})"
                          + (" + honest peer" if honest else " alone")
                          + (", store lost" if lose_store else ", store kept"))
    return _outcome(result, entries)


def store_loss(base: Path, *, configured: bool, lose_peers_file: bool = False, entries: int = 5,
               budget_s: float = BUDGET_S) -> dict[str, Any]:
    """The victim signs `entries`, its store.sqlite is deleted (and with `lose_peers_file`
    its saved peers), its key survives; it restarts. Its only peer holds its log and was
    either configured (`configured`) or dialled the victim (the victim learned it)."""
    bed = Testbed(base, ("victim", "peer"), peers_per_node=1, gossip=dict(GOSSIP))
    bed.create()
    victim, peer = bed.nodes
    if not configured:
        _set_peers(victim, ())  # others dial it; it knows them only from peer exchange
    try:
        bed.start()
        ids = _publish(victim, entries)
        _wait(bed, lambda: all("peer" in bed.holding(i) for i in ids), "the peer holding the log")

        def learned() -> bool:
            urls = {p.get("url") for p in victim.client.get("/peers")["peers"]}
            saved = victim.dir / PEERS_FILE
            persisted = configured or not _supports("own_recovery_deadline_ms") or (
                saved.exists() and peer.url in saved.read_text())
            return peer.url in urls and persisted

        _wait(bed, learned, "the victim knowing its peer")
        bed.stop_node(victim)
        _lose_store(victim)
        if lose_peers_file:
            (victim.dir / PEERS_FILE).unlink(missing_ok=True)
        bed.start_node(victim)
        wait_answering(bed, victim)
        result = sign_within(victim, budget_s)
        result["recovery"] = victim.client.get("/peers").get("recovery")
        if result["signed_seq"] is not None:
            _wait(bed, lambda: bool(peer.client.get("/forks")["forks"]) or all(
                "peer" in bed.holding(i) for i in _ids_of(victim)), "the peer hearing of it")
        result["forks_at_peer"] = len(peer.client.get("/forks")["forks"])
    finally:
        bed.stop()
    result["scenario"] = (("configured" if configured else "learned") + " peer, store lost"
                          + (", saved peers lost too" if lose_peers_file else ""))
    return _outcome(result, entries)


def _ids_of(node: TestbedNode) -> list[str]:
    rows = node.client.get(f"/entries?author={node.node_id}&limit=1000")["entries"]
    return [str(r["id"]) for r in rows]


def fresh_first_post(base: Path) -> dict[str, Any]:
    """A node just made by `init`, with a configured peer, asked to sign the moment it
    answers: it has nothing to recover."""
    bed = Testbed(base, ("fresh", "other"), peers_per_node=1, gossip=dict(GOSSIP))
    bed.create()
    fresh = bed.nodes[0]
    try:
        bed.start_node(fresh)
        wait_answering(bed, fresh)
        started = time.monotonic()
        try:
            made = fresh.client.publish("trust", _body(1))
            result: dict[str, Any] = {"first_post": 201, "signed_seq": int(made["seq"])}
        except ClientError as exc:
            result = {"first_post": exc.code, "signed_seq": None}
        result["seconds"] = round(time.monotonic() - started, 2)
    finally:
        bed.stop()
    result["scenario"] = "fresh init node, first POST /entries"
    return result
