"""`trustnet sim --engine ray`: the shards of a sharded simulation in Ray actors.

Each of the K shards (`trustnet.sim.shard.Shard`) lives in one Ray actor, on this machine
(a local Ray instance started here with K CPUs) or on a Ray cluster (`--address`: `auto`
for the cluster this host joined with `ray start`, or `ray://HOST:10001`). A phase is one
call per actor; its K batches are K return values (`num_returns=K`) handed by reference
to the next phase's calls, so a batch goes from actor to actor through Ray's object store
and the coordinator here only sees the counters. The round model, and so every figure
but memory and wall time, is the sharded engine's (`--engine sharded`): the same at any K.

Ray is optional (`pip install 'trustnet[ray]'`); without it `--engine ray` fails with the
code `ray_missing` and says how to install it. Every host of a cluster needs the same
trustnet and ray installed (docs/sim.md).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

from trustnet.sim.config import SimConfig
from trustnet.sim.engine import SimError
from trustnet.sim.shard import Shard, ShardStats

INSTALL_HINT = "pip install 'trustnet[ray]' (or pip install ray)"


def load_ray() -> Any:
    """The `ray` module, or SimError `ray_missing` saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise SimError(f"--engine ray needs Ray, which is not installed here: {INSTALL_HINT}",
                       code="ray_missing") from exc


class RayCluster:
    """K shards, one per Ray actor (one CPU each)."""

    def __init__(self, config: SimConfig, workers: int | None = None,
                 address: str | None = None) -> None:
        ray = self.ray = load_ray()
        self._owned = not ray.is_initialized()
        if self._owned:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report sent
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "logging_level": "ERROR"}
            if address:
                options["address"] = address
            else:
                options["num_cpus"] = workers or os.cpu_count() or 1
            ray.init(**options)
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = workers
        actor = ray.remote(num_cpus=1)(Shard)
        self.actors = [actor.remote(config, k, workers) for k in range(workers)]
        ray.get([a.ping.remote() for a in self.actors])  # built (errors surface here)

    def _split(self, refs: Any) -> list[Any]:
        return list(refs) if self.workers > 1 else [refs]

    def call(self, method: str, *args: Any) -> list[Any]:
        """`method(*args)` on every shard, results in shard order."""
        return list(self.ray.get([getattr(a, method).remote(*args) for a in self.actors]))

    def exchange(self, round_no: int, tick: bool, down: Sequence[int],
                 up: Sequence[int]) -> list[ShardStats]:
        """The three phases; batch (j, i) goes from actor j to actor i by reference."""
        k = range(self.workers)
        many = {"num_returns": self.workers}
        if self.workers == 1:  # one actor: a single return value is the list itself
            (actor,) = self.actors
            out = self.ray.get(actor.send_phase.remote(round_no, tick, list(down), list(up)))
            back = self.ray.get(actor.serve_phase.remote(*out))
            return [self.ray.get(actor.reply_phase.remote(*back))]
        outs = [self._split(a.send_phase.options(**many).remote(round_no, tick, list(down),
                                                                 list(up)))
                for a in self.actors]
        backs = [self._split(a.serve_phase.options(**many).remote(*[outs[j][i] for j in k]))
                 for i, a in enumerate(self.actors)]
        return list(self.ray.get([a.reply_phase.remote(*[backs[j][i] for j in k])
                                  for i, a in enumerate(self.actors)]))

    def close(self) -> None:
        """Stop the actors, and the local Ray instance when this engine started it."""
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self._owned:
            self._owned = False
            self.ray.shutdown()
