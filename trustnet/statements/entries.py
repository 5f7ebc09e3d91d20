"""Statements in entries: sign, decode and read an entry's body as its kind's record.

The entry layer (trustnet/log/entry.py) checks the envelope; this module adds the body's
schema on top, so the log does not depend on the statements. A body is parsed once per
entry: the record is kept on the entry (`Entry.parsed`), and the store, the rule
engine, the beliefs and the suspicion model all read it through `statement_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from trustnet.identity import Identity
from trustnet.log.entry import Entry, decode_entry, sign_entry
from trustnet.statements.kinds import Statement, parse_body


def statement_of(entry: Entry) -> Statement:
    """The entry's body as its kind's record (raises `unknown_kind` or `bad_body`)."""
    parsed = entry.parsed
    if parsed is None:
        parsed = parse_body(entry.kind, entry.body)
        # Entry is frozen for its envelope; `parsed` is a cache of a pure function of it.
        object.__setattr__(entry, "parsed", parsed)
    return cast("Statement", parsed)


def sign_statement(
    identity: Identity,
    *,
    seq: int,
    prev: bytes | None,
    ts: int,
    kind: str,
    body: Mapping[str, Any],
) -> Entry:
    """Sign a new entry whose body must pass its kind's schema (checked before signing)."""
    parsed = parse_body(kind, body)
    entry = sign_entry(identity, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
    object.__setattr__(entry, "parsed", parsed)
    return entry


def decode_statement(raw: bytes, *, verify: bool = True) -> Entry:
    """Decode an entry and check its body: every intrinsic check, envelope and schema."""
    entry = decode_entry(raw, verify=verify)
    statement_of(entry)
    return entry
