"""`trustnet sim --engine ray` on a real local Ray instance (2 CPUs, not local mode): the
same seeded run gives the same figures as the sharded engine in this process.

Ray is in the `test` extra (scripts/test installs it); this module is skipped only where
ray cannot be installed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from trustnet.sim.cli import main
from trustnet.sim.config import SimConfig
from trustnet.sim.ray_engine import RayCluster
from trustnet.sim.sharded import LocalCluster, ShardedSimulator

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'trustnet[ray]')")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray instance for the module: 2 CPUs, workers in their own processes."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield
    finally:
        ray.shutdown()


def _json(sim: ShardedSimulator) -> dict[str, Any]:
    out = sim.run().to_json()
    out.pop("peak_rss_mb")
    return out


@pytest.mark.timeout(300)
def test_ray_shards_give_the_in_process_figures(local_ray: None) -> None:
    cfg = SimConfig(nodes=160, seed=5, drop_rate=0.05, churn=0.05, byzantine=0.1,
                    in_sync_rounds=2, settle_rounds=3)
    cluster = RayCluster(cfg, workers=2)
    try:
        assert cluster.workers == 2 and len(cluster.actors) == 2
        on_ray = _json(ShardedSimulator(cfg, cluster))
    finally:
        cluster.close()
    in_process = _json(ShardedSimulator(cfg, LocalCluster(cfg, 1)))
    assert on_ray["reached"] == in_process["reached"] == cfg.honest
    assert on_ray["rounds"] == in_process["rounds"] is not None
    assert on_ray == in_process  # every figure, round by round


@pytest.mark.timeout(300)
def test_cli_ray_engine(local_ray: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "90", "--peers", "4", "--in-sync-rounds", "1", "--engine", "ray",
                 "--workers", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr()[0].strip().splitlines()[-1])
    assert data["engine"] == "ray" and data["workers"] == 2 and data["reached"] == 90
    assert len(data["worker_peak_rss_mb"]) == 2 and min(data["worker_peak_rss_mb"]) > 0
    assert ray.is_initialized()  # a Ray instance the engine did not start is left running
