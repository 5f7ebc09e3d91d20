"""Pre-rotation, rotation and revocation (trustnet/log/keys.py): the key vectors, the store's
handling of forks around a stolen key, and the key files of a node directory."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from trustnet.cli.main import main as cli_main
from trustnet.identity import Identity, load_node_identity
from trustnet.log.bundle import verify_stream
from trustnet.log.entry import ForkProof, decode_entry, decode_fork_proof, sign_entry
from trustnet.log.keys import key_digest
from trustnet.store.sqlite import Store

VECTORS = Path(__file__).parent / "vectors"
KEYS_JSON = VECTORS / "keys.json"
T0 = 1_767_225_600_000
DAY = 86_400_000


def _cases() -> list[dict[str, Any]]:
    return list(json.loads(KEYS_JSON.read_text())["cases"])


def run_case(case: dict[str, Any]) -> tuple[list[str], list[bool]]:
    """Feed a case's entries one by one to an empty store: each result, and the revoked marks
    of the accepted ones in the end."""
    store = Store(None)
    got, accepted = [], []
    for hex_entry in case["entries"]:
        result = store.ingest([bytes.fromhex(hex_entry)], case["now_ms"])
        if result.rejected:
            got.append(result.rejected[0].code)
        else:
            got.append("ok")
            accepted += [e.id for e in result.accepted]
    revoked = []
    for hex_entry in case["entries"]:
        e = decode_entry(bytes.fromhex(hex_entry), verify=False)
        held = store.get(e.id)
        revoked.append(held is not None and store.revoked(held))
    return got, revoked


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_key_vector(case: dict[str, Any]) -> None:
    got, revoked = run_case(case)
    assert got == case["expect"], case["description"]
    if "revoked" in case:
        assert revoked == case["revoked"]
    # `trustnet verify` reads the same rules (in chain order, whatever the file order).
    oks = [bytes.fromhex(h) for h, code in zip(case["entries"], case["expect"], strict=True)
           if code == "ok"]
    assert verify_stream(reversed(oks), case["now_ms"]).ok


def test_generator_reproduces_keys_json_byte_for_byte() -> None:
    spec = importlib.util.spec_from_file_location("trustnet_keys_vectors", VECTORS / "generate_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.render(module.build()) == KEYS_JSON.read_text()


def _seed(n: int) -> Identity:
    return Identity.from_seed(bytes([n]) * 32)


def test_a_stolen_keys_fork_after_compromise_no_longer_counts_but_one_before_does() -> None:
    owner, nxt, fresh = _seed(1), _seed(2), _seed(3)
    store = Store(None)
    store.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    store.append_own(owner, "trust", {"subject": "ab" * 32, "level": 100}, T0 + DAY)
    # The thief signs seq 3 twice, after the theft (day 2).
    head = store.head(owner.author)
    assert head is not None
    x = sign_entry(owner, seq=3, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                   body={"subject": "cd" * 32, "level": -1000})
    y = sign_entry(owner, seq=3, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                   body={"subject": "cd" * 32, "level": 1000})
    store.ingest([x.raw], T0 + 3 * DAY)
    assert store.ingest([y.raw], T0 + 3 * DAY).forks
    assert owner.author in store.forked_authors()
    # The owner rotates with the offline key, disowning what the old key signed after day 2.
    rot = store.append_own(nxt.for_party(owner.author), "rotation",
                           {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                            "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    assert rot.seq == 4
    assert owner.author not in store.forked_authors() and store.forks() == []
    assert [d for _, d in store.all_forks()] == [True]
    assert store.revoked(x) and not store.revoked(rot)
    assert not store.revoked(store.get_by_seq(owner.author, 2))  # type: ignore[arg-type]
    # The thief's key signs nothing any more, not even a fork below the rotation's place.
    late = sign_entry(owner, seq=5, prev=rot.id, ts=T0 + 5 * DAY, kind="trust",
                      body={"subject": "cd" * 32, "level": 1})
    assert store.ingest([late.raw], T0 + 5 * DAY).rejected[0].code == "bad_signature"
    # The same store reopened from its entries alone reaches the same conclusions.
    proof = ForkProof.of(x, y)
    assert decode_fork_proof(proof.encode(), store.evidence_key) == proof


def test_a_fork_before_compromised_since_still_counts() -> None:
    owner, nxt, fresh = _seed(4), _seed(5), _seed(6)
    store = Store(None)
    store.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    a = sign_entry(owner, seq=2, prev=store.head(owner.author).id, ts=T0 + DAY,  # type: ignore[union-attr]
                   kind="trust", body={"subject": "ab" * 32, "level": 1})
    b = sign_entry(owner, seq=2, prev=a.prev, ts=T0 + DAY, kind="trust",
                   body={"subject": "ab" * 32, "level": 2})
    store.ingest([a.raw], T0 + DAY)
    store.ingest([b.raw], T0 + DAY)
    store.append_own(nxt.for_party(owner.author), "rotation",
                     {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                      "compromised_since": T0 + 2 * DAY}, T0 + 3 * DAY)
    assert owner.author in store.forked_authors() and len(store.forks()) == 1


def test_cli_rotates_a_stopped_node_and_the_key_files_follow(tmp_path: Path, capsys: Any) -> None:
    d = tmp_path / "north"
    assert cli_main(["init", str(d), "--listen", "127.0.0.1:0"]) == 0
    party = capsys.readouterr().out.strip()
    assert (d / "next.key").stat().st_mode & 0o077 == 0
    body = json.dumps({"subject": "ab" * 32, "level": 10})
    assert cli_main(["publish", str(d), "trust", "--body", body]) == 0
    offline = tmp_path / "offline.key"
    (d / "next.key").rename(offline)  # the operator moved it offline, as init said
    assert cli_main(["key", "rotate", str(d), "--next-key", str(offline)]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["party"] == party and out["seq"] == 3
    identity = load_node_identity(d)
    assert identity.party_id == party and identity.key_id == out["key"]
    assert (d / "next.key").exists() and (d / "identity.key.3.retired").exists()
    assert cli_main(["publish", str(d), "trust", "--body", body]) == 0
    assert cli_main(["verify", str(d)]) == 0
    capsys.readouterr()
    assert cli_main(["entries", str(d), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["seq"], e["kind"], e["revoked"]) for e in listed] == [
        (1, "keys", False), (2, "trust", False), (3, "rotation", False), (4, "trust", False)]
    # The revealed key cannot rotate again: the new next.key is the only one that can.
    assert cli_main(["key", "rotate", str(d), "--next-key", str(offline)]) == 1
    assert "[bad_rotation]" in capsys.readouterr().err
    # A compromise "since" a future time is refused, and nothing is written.
    assert cli_main(["key", "rotate", str(d), "--compromised-since", "2999-01-01T00:00:00Z"]) == 1
    assert "[bad_rotation]" in capsys.readouterr().err
    with Store.open_dir(d) as store:
        assert store.count() == 4


def test_a_node_that_took_the_thiefs_branch_takes_the_partys_after_its_recovery() -> None:
    owner, nxt, fresh = _seed(7), _seed(8), _seed(9)
    home, other = Store(None), Store(None)  # the party's node; a node the thief reached first
    home.append_own(owner, "keys", {"next": key_digest(nxt.public_key).hex()}, T0)
    home.append_own(owner, "trust", {"subject": "ab" * 32, "level": 1}, T0 + DAY)
    other.ingest(home.export_raw(), T0 + DAY)
    head = home.head(owner.author)
    assert head is not None
    stolen = sign_entry(owner, seq=3, prev=head.id, ts=T0 + 3 * DAY, kind="trust",
                        body={"subject": "ab" * 32, "level": -1000})
    assert other.ingest([stolen.raw], T0 + 3 * DAY).accepted
    mine = home.append_own(owner, "trust", {"subject": "cd" * 32, "level": 5}, T0 + 3 * DAY)
    rot = home.append_own(nxt.for_party(owner.author), "rotation",
                          {"key": nxt.key_id, "next": key_digest(fresh.public_key).hex(),
                           "compromised_since": T0 + 2 * DAY}, T0 + 4 * DAY)
    # The other node sees the fork at seq 3 and the rotation that does not link to its chain.
    first = other.ingest([mine.raw, rot.raw], T0 + 4 * DAY)
    assert first.forks and first.gaps == {owner.author: 2}
    assert [e.id for e in other.displaced()] == [stolen.id]
    # The party's branch comes next (gossip fetches it): both chains agree, the fork is disowned.
    other.ingest(list(home.range(owner.author, 2, 10)), T0 + 4 * DAY)
    assert other.heads() == home.heads()
    assert owner.author not in other.forked_authors()
    assert [d for _, d in other.all_forks()] == [True]
    # The stolen entry coming back from elsewhere does not link any more.
    assert other.ingest([stolen.raw], T0 + 5 * DAY).forks == ()
    assert other.heads() == home.heads()
