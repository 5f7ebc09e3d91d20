"""Ed25519 identities (DESIGN section 2).

A party's id is the lowercase hex of its inception public key, for life.
`identity.key` holds the current signing key's 32-byte seed as hex, mode 0600;
a key file that the group or others can read is refused, as ssh refuses one.
`next.key` holds the pre-committed next key (trustnet/log/keys.py), to be kept
offline; after a rotation `party.id` names the party the new key signs for.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nacl.signing

from trustnet.errors import IdentityError

KEY_FILE = "identity.key"
NEXT_KEY_FILE = "next.key"
PARTY_FILE = "party.id"
ENTRY_DOMAIN = b"trustnet/v1/entry"


@dataclass(frozen=True, slots=True)
class Identity:
    """A signing key and the party it signs for (its own key, until the party rotates)."""

    signing_key: nacl.signing.SigningKey
    party: bytes | None = None  # the inception key, when this is a rotated key

    @classmethod
    def generate(cls) -> Identity:
        """A new random identity."""
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """The identity whose 32-byte seed is `seed` (deterministic: tests, vectors)."""
        if len(seed) != 32:
            raise IdentityError(f"a seed is 32 bytes, got {len(seed)}")
        return cls(nacl.signing.SigningKey(seed))

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key."""
        return bytes(self.signing_key.verify_key)

    @property
    def author(self) -> bytes:
        """The party's 32-byte id: the inception key, which entries carry as `author`."""
        return self.public_key if self.party is None else self.party

    @property
    def party_id(self) -> str:
        """The party id: lowercase hex of the inception key."""
        return self.author.hex()

    @property
    def key_id(self) -> str:
        """The signing key's id: lowercase hex of its public key (gossip request signatures)."""
        return self.public_key.hex()

    def for_party(self, party: bytes) -> Identity:
        """This key, signing for `party` (after a rotation)."""
        return Identity(self.signing_key, None if party == self.public_key else party)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of `message`."""
        return self.signing_key.sign(message).signature

    def save(self, path: Path) -> None:
        """Write the seed as hex to `path`, created with mode 0600 and never overwritten."""
        seed_hex = bytes(self.signing_key).hex() + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise IdentityError(f"{path} exists already; refusing to overwrite a key") from None
        with os.fdopen(fd, "w") as f:
            f.write(seed_hex)
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, path: Path) -> Identity:
        """Read a key file, refusing one that is readable by group or others."""
        try:
            st = path.stat()
        except FileNotFoundError:
            raise IdentityError(f"no key file at {path}", code="missing_key") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise IdentityError(
                f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {path}",
                code="key_permissions",
            )
        text = path.read_text(encoding="ascii", errors="replace").strip()
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            raise IdentityError(f"{path} does not hold a hex seed") from None
        if len(seed) != 32:
            raise IdentityError(f"{path} holds {len(seed)} bytes; a seed is 32")
        return cls.from_seed(seed)


def load_node_identity(node_dir: Path) -> Identity:
    """The identity a node directory signs with: `identity.key`, for the party in `party.id`."""
    identity = Identity.load(node_dir / KEY_FILE)
    party_file = node_dir / PARTY_FILE
    if party_file.exists():
        text = party_file.read_text(encoding="ascii", errors="replace").strip()
        if not is_party_id(text):
            raise IdentityError(f"{party_file} does not hold a party id", code="bad_key_file")
        return identity.for_party(bytes.fromhex(text))
    return identity


def is_party_id(value: object) -> bool:
    """True when `value` is a party id: 64 lowercase hex characters."""
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(c in "0123456789abcdef" for c in value)
    )
