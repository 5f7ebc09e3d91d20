"""A small world of named parties for tests: each with its own chain of really signed entries."""

from __future__ import annotations

import hashlib
from typing import Any

from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements import sign_statement

AREA = "Southern Plain"
DIGEST = "ab" * 32


class World:
    """Parties by name (deterministic keys), each with its own chain; every entry kept in order."""

    def __init__(self) -> None:
        self.ids: dict[str, Identity] = {}
        self.heads: dict[str, tuple[int, bytes | None]] = {}
        self.entries: list[Entry] = []

    def party(self, name: str) -> str:
        return self.identity(name).party_id

    def identity(self, name: str) -> Identity:
        if name not in self.ids:
            self.ids[name] = Identity.from_seed(hashlib.sha256(name.encode()).digest())
        return self.ids[name]

    def post(
        self, name: str, kind: str, body: dict[str, Any], ts: int, *, validate: bool = True
    ) -> Entry:
        seq, prev = self.heads.get(name, (0, None))
        sign = sign_statement if validate else sign_entry
        e = sign(self.identity(name), seq=seq + 1, prev=prev, ts=ts, kind=kind, body=body)
        self.heads[name] = (seq + 1, e.id)
        self.entries.append(e)
        return e

    def consult(self, name: str, subject: str, ts: int) -> Entry:
        body = {"subject": self.party(subject), "concern": "large concentration", "area": AREA}
        return self.post(name, "consultation_request", body, ts)

    def reply(self, name: str, request: Entry, ts: int) -> Entry:
        body = {"request": request.id_hex, "explanation": "below threshold"}
        return self.post(name, "consultation_reply", body, ts)

    def respond(self, name: str, request: Entry, ts: int, accept: bool) -> Entry:
        body = {"request": request.id_hex, "accept": accept, "reason": "" if accept else "no"}
        return self.post(name, "inspection_response", body, ts)

    def attest(self, name: str, subject: Entry, ts: int, verdict: str = "confirm") -> Entry:
        body = {
            "subject": subject.id_hex,
            "verdict": verdict,
            "method": "inspection",
            "confidence": 900,
            "evidence": [DIGEST],
            "note": "",
        }
        return self.post(name, "attestation", body, ts)
