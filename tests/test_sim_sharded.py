"""The sharded simulator (`trustnet sim --engine sharded|ray`): the nodes split over shards,
messages between shards batched per phase, results that do not depend on the split."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from trustnet.sim.cli import main
from trustnet.sim.config import SimConfig
from trustnet.sim.engine import SimError
from trustnet.sim.sharded import LocalCluster, ShardedSimulator


def _run(cfg: SimConfig, workers: int) -> dict[str, Any]:
    cluster = LocalCluster(cfg, workers)
    out = ShardedSimulator(cfg, cluster).run().to_json()
    out.pop("peak_rss_mb")  # what this process used so far: not part of the run
    return out


@pytest.mark.parametrize("cfg", [
    SimConfig(nodes=150, seed=5, drop_rate=0.05, churn=0.05, byzantine=0.1, in_sync_rounds=2,
              settle_rounds=3),
    SimConfig(nodes=120, seed=2, mode="drain", publishers=3, in_sync_rounds=1),
    SimConfig(nodes=100, seed=3, authors=20, byzantine=0.1, byzantine_mode="forge",
              in_sync_rounds=1, settle_rounds=2),
], ids=["loss-churn-mixed", "drain", "forge-authors"])
def test_results_do_not_depend_on_the_number_of_shards(cfg: SimConfig) -> None:
    one = _run(cfg, 1)
    assert one["reached"] == cfg.honest and one["rounds"] is not None
    assert one["messages"] > 0 and one["graylisting"]["honest_pairs"] == 0
    # Every figure, round by round: the same events reached every node in the same order.
    assert _run(cfg, 3) == one
    assert _run(cfg, 7) == one


def test_byzantine_nodes_are_graylisted_across_shards() -> None:
    cfg = SimConfig(nodes=120, seed=4, byzantine=0.1, in_sync_rounds=1, settle_rounds=2)
    out = _run(cfg, 4)
    g = out["graylisting"]
    assert g["byzantine"] == 12 and g["honest_pairs"] == 0
    # Forging nodes are caught at once (bad signatures), by honest nodes of other shards too.
    assert g["by_behaviour"]["forge"]["graylisted"] == g["by_behaviour"]["forge"]["nodes"]


def test_cli_sharded_engine_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "90", "--peers", "4", "--in-sync-rounds", "1", "--engine",
                 "sharded", "--workers", "3", "--json", "--progress"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out.strip().splitlines()[-1])
    assert data["engine"] == "sharded" and data["workers"] == 3
    assert len(data["worker_peak_rss_mb"]) == 3
    assert data["reached"] == 90 and data["rounds"] == data["rounds_to_all"]
    assert err.count("honest nodes hold it") >= data["rounds"]  # --progress with --json


def test_cli_refuses_bad_engine_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "60", "--workers", "2", "--json"]) == 2  # local engine
    assert json.loads(capsys.readouterr()[0])["error"]["code"] == "bad_option"
    assert main(["--nodes", "60", "--engine", "sharded", "--workers", "0"]) == 2
    assert main(["--nodes", "60", "--engine", "sharded", "--address", "auto"]) == 2
    assert "[bad_option]" in capsys.readouterr()[1]


def test_ray_engine_without_ray_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["--nodes", "60", "--engine", "ray", "--json"]) == 2
    out, err = capsys.readouterr()
    error = json.loads(out.strip().splitlines()[-1])["error"]
    assert error["code"] == "ray_missing"
    assert "pip install 'trustnet[ray]'" in error["message"]
    assert "[ray_missing]" in err
    from trustnet.sim.ray_engine import load_ray

    with pytest.raises(SimError) as info:
        load_ray()
    assert info.value.code == "ray_missing"
