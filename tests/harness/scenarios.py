"""Scenarios played offline: every party's chain in one store, as converged nodes hold it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.conftest import T0
from trustnet.clock import DAY_MS
from trustnet.identity import Identity
from trustnet.log.entry import ChainHead, Entry
from trustnet.log.keys import key_digest, rotation_body
from trustnet.store.keys import commit_first
from trustnet.store.sqlite import Store
from trustnet.testbed.cluster import NetworkState, NodeState
from trustnet.testbed.loader import load_scenario
from trustnet.testbed.model import Scenario
from trustnet.testbed.player import PartyRef, origin_for, play


def offline(path: Path) -> tuple[Any, Store, dict[str, Identity], int, dict[str, str]]:
    """Play a scenario into one store holding every party's chain (what converged nodes hold)."""
    scenario, store, ids, origin, entries, _ = offline_run(path)
    return scenario, store, ids, origin, entries


def offline_run(path: Path | Scenario) -> tuple[Scenario, Store, dict[str, Identity], int,
                                                dict[str, str], OneStore]:
    scenario = path if isinstance(path, Scenario) else load_scenario(path)
    store = Store(None)
    ids = {p: Identity.from_seed(i.to_bytes(32, "big")) for i, p in enumerate(scenario.parties, 1)}
    # Each party's next key, committed before its first statement as a node does (docs/keys.md).
    nexts = {p: Identity.from_seed(hashlib.sha256(b"next" + i.to_bytes(32, "big")).digest())
             for i, p in enumerate(scenario.parties, 1)}

    def publisher(name: str) -> Any:
        def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
            commit_first(store, ids[name], key_digest(nexts[name].public_key), ts, kind, body)
            e = store.append_own(ids[name], kind, body, ts)
            return {"id": e.id_hex, "seq": e.seq}
        return publish

    refs = {p: PartyRef(ids[p].party_id, f"http://{p}.invalid:1", publisher(p)) for p in scenario.parties}
    now = T0 + 200 * DAY_MS
    if scenario.origin_ms is not None:  # a fixed origin: the story ends at its own time
        now = scenario.origin_ms + int(scenario.days * DAY_MS)
    origin = origin_for(scenario, now)
    faults = OneStore(store, ids, now, nexts)
    entries = play(scenario, refs, origin, faults=faults)
    return scenario, store, ids, origin, entries, faults


class OneStore:
    """`Faults` on one store holding every party's chain (what converged nodes hold): network
    faults change nothing here; an equivocation's two versions meet in it as a fork proof."""

    def __init__(self, store: Store, ids: dict[str, Identity], now_ms: int,
                 nexts: dict[str, Identity] | None = None) -> None:
        self.store = store
        self.ids = ids
        self.nexts = nexts or {}
        self.now_ms = now_ms
        self.down: set[str] = set()
        self.log: list[tuple[str, Any]] = []

    def settle(self) -> None:
        self.log.append(("settle", None))

    def state(self) -> NetworkState:
        forked = frozenset(a.hex() for a in self.store.forked_authors())
        heads = tuple(sorted((a.hex(), seq, i.hex()) for a, (seq, i) in self.store.heads().items()
                             if a.hex() not in forked))
        one = NodeState(heads, forked, self.store.count())
        return NetworkState({p: one for p in self.ids if p not in self.down})

    def stop(self, name: str, *, crash: bool) -> None:
        self.log.append(("crash" if crash else "stop", name))
        self.down.add(name)

    def restart(self, name: str) -> None:
        self.log.append(("restart", name))
        self.down.discard(name)

    def partition(self, side: tuple[str, ...]) -> None:
        self.log.append(("partition", side))

    def identity(self, name: str) -> Identity:
        return self.ids[name]

    def head(self, name: str) -> ChainHead | None:
        return self.store.head(self.ids[name].author)

    def deliver(self, sender: str, entry: Entry, to: tuple[str, ...]) -> None:
        self.log.append(("deliver", (sender, entry.id_hex, to)))
        result = self.store.ingest([entry.raw], self.now_ms)
        assert not result.rejected, result.rejected

    def rotate(self, name: str, compromised_since: int | None, ts: int) -> str:
        self.log.append(("rotate", (name, compromised_since)))
        revealed = self.nexts[name].for_party(self.ids[name].author)
        fresh = Identity.from_seed(hashlib.sha256(bytes(revealed.signing_key)).digest())
        e = self.store.append_own(revealed, "rotation",
                                  rotation_body(revealed, key_digest(fresh.public_key),
                                                compromised_since, ts), ts)
        self.ids[name], self.nexts[name] = revealed, fresh
        return e.id_hex
