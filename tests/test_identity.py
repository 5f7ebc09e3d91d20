"""Ed25519 identities and key files (trustnet/identity.py, DESIGN section 2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.signing
import pytest

from trustnet.errors import IdentityError
from trustnet.identity import KEY_FILE, Identity, is_party_id

SEED = bytes(range(32))


def test_from_seed_is_deterministic() -> None:
    a, b = Identity.from_seed(SEED), Identity.from_seed(SEED)
    assert a.public_key == b.public_key
    assert len(a.public_key) == 32
    assert a.party_id == a.public_key.hex()
    assert is_party_id(a.party_id)
    assert a.sign(b"m") == b.sign(b"m")  # Ed25519 signatures are deterministic


def test_from_seed_refuses_wrong_length() -> None:
    for seed in (b"", bytes(31), bytes(33)):
        with pytest.raises(IdentityError) as info:
            Identity.from_seed(seed)
        assert info.value.code == "bad_key"


def test_generate_gives_distinct_keys_that_sign() -> None:
    a, b = Identity.generate(), Identity.generate()
    assert a.public_key != b.public_key
    sig = a.sign(b"hello")
    assert len(sig) == 64
    nacl.signing.VerifyKey(a.public_key).verify(b"hello", sig)


def test_is_party_id() -> None:
    pid = Identity.from_seed(SEED).party_id
    assert is_party_id(pid)
    assert not is_party_id(pid.upper())
    assert not is_party_id(pid[:-1])
    assert not is_party_id(pid + "0")
    assert not is_party_id(bytes.fromhex(pid))
    assert not is_party_id("g" * 64)


def test_save_writes_mode_0600_and_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    ident = Identity.from_seed(SEED)
    ident.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == SEED.hex() + "\n"
    assert Identity.load(path).public_key == ident.public_key


def test_save_refuses_overwrite(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    Identity.from_seed(SEED).save(path)
    with pytest.raises(IdentityError) as info:
        Identity.generate().save(path)
    assert info.value.code == "bad_key"
    assert "refusing to overwrite" in info.value.message
    assert Identity.load(path).public_key == Identity.from_seed(SEED).public_key


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o601, 0o610])
def test_load_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / KEY_FILE
    Identity.from_seed(SEED).save(path)
    os.chmod(path, mode)
    with pytest.raises(IdentityError) as info:
        Identity.load(path)
    assert info.value.code == "key_permissions"
    assert f"chmod 600 {path}" in info.value.message


def test_load_accepts_owner_only_modes(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    Identity.from_seed(SEED).save(path)
    os.chmod(path, 0o400)
    assert Identity.load(path).public_key == Identity.from_seed(SEED).public_key


def _key_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not hex at all",
        "zz" * 32,
        SEED.hex()[:-1],  # odd number of digits
        "é" * 64,
    ],
)
def test_load_refuses_malformed_hex(tmp_path: Path, text: str) -> None:
    with pytest.raises(IdentityError) as info:
        Identity.load(_key_file(tmp_path, text))
    assert info.value.code == "bad_key"


@pytest.mark.parametrize("length", [16, 31, 33, 64])
def test_load_refuses_wrong_length(tmp_path: Path, length: int) -> None:
    with pytest.raises(IdentityError) as info:
        Identity.load(_key_file(tmp_path, bytes(length).hex() + "\n"))
    assert info.value.code == "bad_key"
    assert f"holds {length} bytes" in info.value.message


def test_load_tolerates_surrounding_whitespace(tmp_path: Path) -> None:
    path = _key_file(tmp_path, "  " + SEED.hex() + "\n\n")
    assert Identity.load(path).public_key == Identity.from_seed(SEED).public_key


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IdentityError) as info:
        Identity.load(tmp_path / "nope" / KEY_FILE)
    assert info.value.code == "missing_key"


def test_identity_error_json_shape() -> None:
    err = IdentityError("boom", code="key_permissions")
    assert err.to_json() == {"error": {"code": "key_permissions", "message": "boom"}}
    assert str(err) == "key_permissions: boom"
