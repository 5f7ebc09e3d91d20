"""The command line: every command of the foundation, its output contract and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import T0, chain, ident
from trustnet.cli.main import main
from trustnet.config.loader import load_config
from trustnet.log.entry import sign_entry
from trustnet.store.sqlite import Store

NOTIFICATION = {
    "activity": "ex-1", "type": "exercise", "start": T0 + 50 * 86_400_000,
    "end": T0 + 55 * 86_400_000, "area": "sector 4", "troops": 12_500, "tanks": 250, "acv": 0,
    "artillery": 0, "amphibious": 0, "sorties": 0, "observers_invited": False,
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def node(tmp_path: Path, capsys) -> Path:
    d = tmp_path / "north-1"
    code, out, _ = run(capsys, "init", str(d), "--name", "north-1", "--listen", "127.0.0.1:0",
                       "--peer", "http://127.0.0.1:7999", "--anchor", "ab" * 32)
    assert code == 0
    assert len(out.strip().splitlines()[-1]) == 64
    return d


def test_init_writes_config_key_and_token(node: Path):
    assert (node / "identity.key").stat().st_mode & 0o777 == 0o600
    assert (node / "admin.token").stat().st_mode & 0o777 == 0o600
    config = load_config(node)
    assert (config.name, config.listen, config.peers, config.anchors) == (
        "north-1", "127.0.0.1:0", ("http://127.0.0.1:7999",), ("ab" * 32,))


def test_init_refuses_a_non_empty_directory_and_bad_arguments(tmp_path: Path, node: Path, capsys):
    code, _, err = run(capsys, "init", str(node))
    assert code == 1 and "[exists]" in err
    code, _, err = run(capsys, "init", str(tmp_path / "x"), "--listen", "nowhere")
    assert code == 1 and "[bad_config]" in err
    code, _, err = run(capsys, "init", str(tmp_path / "y"), "--anchor", "zz")
    assert code == 1 and "[bad_config]" in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_publish_prints_id_and_seq_and_entries_lists_it(node: Path, capsys):
    code, out, _ = run(capsys, "publish", str(node), "notification", "--body", json.dumps(NOTIFICATION))
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["seq"] == 2 and len(result["id"]) == 64  # seq 1 commits to the next key (pre-rotation)
    code, out, _ = run(capsys, "entries", str(node), "--json", "--kind", "notification")
    items = json.loads(out)
    assert [i["id"] for i in items] == [result["id"]]
    assert items[0]["body"] == NOTIFICATION
    code, out, _ = run(capsys, "status", str(node), "--json")
    status = json.loads(out)
    assert (status["entries"], status["own_seq"], status["forks"]) == (2, 2, 0)


@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("notification", "{bad json", "bad_argument"),
        ("notification", "[1, 2]", "bad_argument"),
        ("notification", json.dumps({**NOTIFICATION, "troops": 1.5}), "bad_body"),
        ("notification", json.dumps({**NOTIFICATION, "troops": -1}), "bad_body"),
        ("nonsense", "{}", "unknown_kind"),
    ],
)
def test_publish_rejects_bad_input_with_a_code_and_stores_nothing(node, capsys, kind, body, code):
    status, _, err = run(capsys, "publish", str(node), kind, "--body", body)
    assert status == 1 and f"[{code}]" in err and "Traceback" not in err
    with Store.open_dir(node) as store:
        assert store.count() == 0


def test_export_import_verify_round_trip(tmp_path: Path, node: Path, capsys):
    for i in range(5):
        run(capsys, "publish", str(node), "trust", "--body", json.dumps({"subject": "cd" * 32, "level": i}))
    bundle = tmp_path / "out.bundle"
    assert run(capsys, "export", str(node), str(bundle))[0] == 0
    code, out, _ = run(capsys, "verify", str(bundle))
    assert code == 0 and json.loads(out)["entries"] == 6  # and the next-key commitment
    other = tmp_path / "other"
    run(capsys, "init", str(other))
    code, out, _ = run(capsys, "import", str(other), str(bundle))
    assert code == 0 and json.loads(out)["stored"] == 6
    code, out, _ = run(capsys, "import", str(other), str(bundle))
    assert code == 0 and json.loads(out)["duplicates"] == 6
    assert run(capsys, "verify", str(other))[0] == 0


def test_import_keeps_the_valid_entries_around_a_bad_one(tmp_path: Path, node: Path, capsys):
    alice, bob = ident(1), ident(2)
    a, b = chain(alice, 4), chain(bob, 3)
    forged = bytearray(b[1].raw)
    forged[-3] ^= 0x40
    other = sign_entry(ident(3), seq=1, prev=None, ts=T0, kind="trust", body={"subject": "ab" * 32, "level": 1})
    bundle = tmp_path / "mixed.bundle"
    bundle.write_bytes(b"".join([a[0].raw, a[1].raw, bytes(forged), a[2].raw, a[3].raw, b[0].raw, other.raw]))
    before = run(capsys, "import", str(node), str(tmp_path / "nothing"))  # missing file: a clear error
    assert before[0] == 1 and "[bad_bundle]" in before[2]
    code, out, err = run(capsys, "import", str(node), str(bundle))
    assert code == 1
    assert "rejected entry 2" in err and "[bad_signature]" in err
    summary = json.loads(out)
    assert (summary["stored"], summary["rejected"]) == (6, 1)
    with Store.open_dir(node) as store:
        assert store.count() == 6
        assert store.head(bob.public_key).seq == 1


def test_import_of_a_truncated_bundle_keeps_what_came_before(tmp_path: Path, node: Path, capsys):
    a = chain(ident(1), 3)
    bundle = tmp_path / "cut.bundle"
    bundle.write_bytes(a[0].raw + a[1].raw + a[2].raw[:40])
    code, out, err = run(capsys, "import", str(node), str(bundle))
    assert code == 1 and "[bad_bundle]" in err and "truncated" in err
    assert json.loads(out)["stored"] == 2


def test_verify_reports_a_broken_chain(tmp_path: Path, capsys):
    a = chain(ident(1), 3)
    bundle = tmp_path / "gap.bundle"
    bundle.write_bytes(a[0].raw + a[2].raw)
    code, out, err = run(capsys, "verify", str(bundle))
    assert code == 1 and "[bad_seq]" in err and json.loads(out)["invalid"] == 1


def test_forks_command_lists_equivocations(tmp_path: Path, node: Path, capsys):
    alice = ident(1)
    a = chain(alice, 2)
    b2 = sign_entry(alice, seq=2, prev=a[0].id, ts=T0 + 1, kind="trust", body={"subject": "cd" * 32, "level": 1})
    bundle = tmp_path / "fork.bundle"
    bundle.write_bytes(a[0].raw + a[1].raw + b2.raw)
    run(capsys, "import", str(node), str(bundle))
    code, out, _ = run(capsys, "forks", str(node), "--json")
    forks = json.loads(out)
    assert code == 0 and forks[0]["author"] == alice.party_id and forks[0]["seq"] == 2


def test_a_world_readable_key_is_refused(node: Path, capsys):
    os.chmod(node / "identity.key", 0o644)
    code, _, err = run(capsys, "publish", str(node), "trust", "--body", json.dumps({"subject": "cd" * 32, "level": 1}))
    assert code == 1 and "[key_permissions]" in err and "chmod 600" in err


def test_a_broken_config_is_a_clear_error(node: Path, capsys):
    (node / "node.toml").write_text("name = 'x'\nlisten = 5\n")
    code, _, err = run(capsys, "status", str(node))
    assert code == 1 and "[bad_config]" in err and "listen" in err
    (node / "node.toml").write_text("this is = = not toml")
    assert "[bad_config]" in run(capsys, "status", str(node))[2]


def test_the_console_script_runs_as_a_module_with_help(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "trustnet", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "publish" in out.stdout and "init" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "trustnet", "status", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "[no_node]" in bad.stderr and "Traceback" not in bad.stderr


def test_io_errors_are_clear_and_long_lists_are_summarised(tmp_path: Path, node: Path, capsys):
    code, _, err = run(capsys, "export", str(node), str(tmp_path / "missing" / "x.bundle"))
    assert code == 1 and "[io_error]" in err and "Traceback" not in err
    junk = tmp_path / "junk.bundle"
    junk.write_bytes(bytes(range(1, 100)))  # 99 msgpack integers: 99 bad entries
    code, out, err = run(capsys, "verify", str(junk))
    assert code == 1 and json.loads(out)["invalid"] == 99
    assert err.count("invalid entry") == 20 and "... and 79 more invalid entries (79 bad_encoding)" in err


def test_sim_and_bench_take_their_own_options(capsys):
    code, out, _ = run(capsys, "sim", "--nodes", "60", "--json")
    result = json.loads(out)
    assert code == 0 and result["rounds_to_all"] <= result["bound"]
    with pytest.raises(SystemExit) as exc:
        main(["bench", "trust", "--help"])
    assert exc.value.code == 0 and "--n" in capsys.readouterr().out
