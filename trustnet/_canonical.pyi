from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

# Whether `data` is one minimally encoded msgpack value of the kinds an entry may hold
# (trustnet/_canonical.c). str contents are not checked as UTF-8: call it only on bytes that
# msgpack unpacked without error (as `trustnet.log.entry.decode_fields` does).
def scan(data: bytes, /) -> bool: ...

# A raw entry's envelope and the payload's fields before the body, in their shortest forms:
# (payload, sig, author, seq, prev, ts, kind), or None when it has not that shape. Checks
# nothing else (`trustnet.log.entry.peek_entry`).
def head(raw: bytes, /) -> tuple[bytes, bytes, bytes, int, bytes | None, int, str] | None: ...

# A callable making an object of `cls` with the named slots set, one positional argument
# each, in one call: `object.__new__(cls)` and each slot descriptor's `__set__`. Only plain
# `__slots__` members of a class `object.__new__` makes (TypeError otherwise).
# `track` false: the objects made are left out of the cyclic collector's walks (for records
# no cycle can pass through).
def maker(cls: type[_T], names: tuple[str, ...], track: bool = True, /) -> Callable[..., _T]: ...

# The author `head` would read of a raw entry (its kind's text not checked), or None.
def author(raw: bytes, /) -> bytes | None: ...

# A descriptor: the bytes slot `source` of `cls` as lowercase hex, made when first read and
# kept in the slot `cache` (None until then), interned with `intern` (`Entry.id_hex`).
def hex_of(cls: type[Any], source: str, cache: str, intern: bool, /) -> Any: ...

class Checker:
    # A status byte per entry: 0 every check `trustnet.store.workers.check` runs passes, 1 all
    # but the signature, 0x40 not shown here (the Python checks decide).
    def check(self, raws: list[Any], keys: list[Any], /) -> bytes: ...

# The ingest workers' checks of whole entries: `programs` (kind -> body program,
# `trustnet.statements.fastparse.c_programs`), the signing domain, the largest entry, and the
# path of a loaded library holding libsodium's crypto_sign_ed25519_verify_detached.
def checker(programs: dict[bytes, tuple[Any, ...]], domain: bytes, max_bytes: int,
            library: str, /) -> Checker: ...

# How many of the (sig, message, key) items verify, libsodium called from C with nothing
# between two calls (the benchmarks' strictest baseline).
def verify_many(items: list[tuple[bytes, bytes, bytes]], library: str, /) -> int: ...
