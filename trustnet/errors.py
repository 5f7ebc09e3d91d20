"""One exception root with stable, machine-readable codes.

Every rejection of outside input (an entry, a bundle, a key file, a config, a
request, a command-line argument) raises a subclass of `TrustnetError` whose
`code` is part of the public contract: tools match on it, people read `message`.
"""

from __future__ import annotations


class TrustnetError(Exception):
    """Root of every error trustnet raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_json(self) -> dict[str, dict[str, str]]:
        """The HTTP error body: `{"error": {"code", "message"}}`."""
        return {"error": {"code": self.code, "message": self.message}}


class EntryError(TrustnetError):
    """An entry breaks the format, its signature or its chain (DESIGN section 3).

    Codes: bad_encoding, too_large, bad_version, bad_signature, bad_seq, bad_prev,
    bad_timestamp, unknown_kind, bad_body.
    """

    code = "bad_encoding"


class ForkProofError(TrustnetError):
    """A fork proof does not prove an equivocation."""

    code = "bad_fork_proof"


class IdentityError(TrustnetError):
    """A key file is missing, malformed or readable by others."""

    code = "bad_key"


class ConfigError(TrustnetError):
    """node.toml or a command-line argument is invalid."""

    code = "bad_config"


class StoreError(TrustnetError):
    """The store cannot be opened or written (locked, corrupt, not a node directory)."""

    code = "store_error"


class BundleError(TrustnetError):
    """A bundle file cannot be read as a stream of entries."""

    code = "bad_bundle"


class NotFound(TrustnetError):
    """Something asked for by id does not exist."""

    code = "not_found"
