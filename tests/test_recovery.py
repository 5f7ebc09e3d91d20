"""What a node directory keeps outside its store for own-log recovery (trustnet/config/ownlog.py):
the `init` marker of a new log, and the learned peers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.nodes import init_node
from trustnet.cli.main import main as cli_main
from trustnet.config.ownlog import (
    MAX_SAVED_PEERS,
    NEW_LOG_FILE,
    PEERS_FILE,
    load_peers,
    own_log_state,
    save_peers,
)
from trustnet.identity import KEY_FILE, Identity
from trustnet.store.schema import DB_FILE
from trustnet.store.sqlite import Store

from .conftest import trust_body

T0 = 1_767_225_600_000


def made(tmp_path: Path) -> tuple[Path, Identity]:
    node_dir = init_node(tmp_path, "n")
    return node_dir, Identity.load(node_dir / KEY_FILE)


def test_init_marks_a_new_log_and_the_first_signature_removes_the_mark(tmp_path: Path) -> None:
    node_dir, me = made(tmp_path)
    assert (node_dir / NEW_LOG_FILE).read_text().startswith(me.party_id)
    with Store.open_dir(node_dir) as store:
        assert own_log_state(node_dir, store, me) == "new"
        store.append_own(me, "trust", trust_body("ab" * 32), T0)
        assert not (node_dir / NEW_LOG_FILE).exists()
        assert own_log_state(node_dir, store, me) == "held"
    for path in node_dir.glob(DB_FILE + "*"):
        path.unlink()  # the store is lost; the key is not
    with Store.open_dir(node_dir) as store:
        assert own_log_state(node_dir, store, me) == "lost"


def test_offline_publish_refuses_a_lost_log(tmp_path: Path, capsys: object) -> None:
    node_dir, _ = made(tmp_path)
    body = json.dumps(trust_body("ab" * 32))
    assert cli_main(["publish", str(node_dir), "trust", "--body", body]) == 0
    for path in node_dir.glob(DB_FILE + "*"):
        path.unlink()
    assert cli_main(["publish", str(node_dir), "trust", "--body", body]) == 1
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "[catching_up]" in err and "--recovered-from" in err


def test_learned_peers_round_trip_bounded_and_a_bad_file_is_ignored(tmp_path: Path) -> None:
    assert load_peers(tmp_path) == []
    urls = [f"http://10.0.0.{i % 250}:{7000 + i}" for i in range(MAX_SAVED_PEERS + 50)]
    save_peers(tmp_path, urls)
    assert load_peers(tmp_path) == urls[:MAX_SAVED_PEERS]
    assert not (tmp_path / (PEERS_FILE + ".tmp")).exists()
    (tmp_path / PEERS_FILE).write_text('{"peers": ["ftp://x", "http://ok:1/", 3]}')
    assert load_peers(tmp_path) == ["http://ok:1"]
    (tmp_path / PEERS_FILE).write_text("{not json")
    assert load_peers(tmp_path) == []
