"""The rule engine's world: parties posting really signed statements, and evidence pickers (tests of DESIGN 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.world import World as BaseWorld
from trustnet.log.entry import Entry
from trustnet.statements.evidence import Evidence
from trustnet.statements.figures import DAY_MS
from trustnet.statements.rules import evaluate

T0 = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp() * 1000)  # the activity starts
AREA = "Southern Plain"
DIGEST = "ab" * 32


class World(BaseWorld):
    """Parties by name, each with its own chain of really signed entries."""


    # -- statements ----------------------------------------------------------------------

    def notify(
        self,
        name: str,
        ts: int,
        *,
        activity: str = "Shield-25",
        type: str = "exercise",
        start: int = T0,
        end: int = T0 + 10 * DAY_MS,
        area: str = AREA,
        troops: int = 0,
        tanks: int = 0,
        acv: int = 0,
        artillery: int = 0,
        amphibious: int = 0,
        sorties: int = 0,
        observers: bool = False,
    ) -> Entry:
        return self.post(
            name,
            "notification",
            {
                "activity": activity,
                "type": type,
                "start": start,
                "end": end,
                "area": area,
                "troops": troops,
                "tanks": tanks,
                "acv": acv,
                "artillery": artillery,
                "amphibious": amphibious,
                "sorties": sorties,
                "observers_invited": observers,
            },
            ts,
        )

    def observe(
        self,
        name: str,
        subject: str,
        ts: int,
        *,
        at: int | None = None,
        area: str = AREA,
        troops: int = 0,
        tanks: int = 0,
        acv: int = 0,
        artillery: int = 0,
        activity: str | None = None,
    ) -> Entry:
        body: dict[str, Any] = {
            "subject": self.party(subject),
            "area": area,
            "at": ts if at is None else at,
            "troops": troops,
            "tanks": tanks,
            "acv": acv,
            "artillery": artillery,
            "method": "aerial",
            "confidence": 700,
            "evidence": [DIGEST],
        }
        if activity is not None:
            body["activity"] = activity
        return self.post(name, "observation", body, ts)

    def consult(self, name: str, subject: str, ts: int) -> Entry:
        return self.post(
            name,
            "consultation_request",
            {
                "subject": self.party(subject),
                "concern": "large concentration",
                "area": AREA,
            },
            ts,
        )

    def reply(self, name: str, request: Entry, ts: int) -> Entry:
        return self.post(
            name,
            "consultation_reply",
            {
                "request": request.id_hex,
                "explanation": "below threshold",
            },
            ts,
        )

    def inspect(self, name: str, host: str, ts: int, area: str = AREA) -> Entry:
        return self.post(
            name,
            "inspection_request",
            {
                "host": self.party(host),
                "area": area,
                "grounds": "observed build-up",
            },
            ts,
        )

    def respond(self, name: str, request: Entry, ts: int, accept: bool) -> Entry:
        return self.post(
            name,
            "inspection_response",
            {
                "request": request.id_hex,
                "accept": accept,
                "reason": "" if accept else "no",
            },
            ts,
        )

    def report(
        self,
        name: str,
        request: Entry,
        host: str,
        ts: int,
        *,
        troops: int = 0,
        tanks: int = 0,
        verdict: str = "inconsistent",
        activity: str | None = None,
    ) -> Entry:
        body: dict[str, Any] = {
            "request": request.id_hex,
            "host": self.party(host),
            "troops": troops,
            "tanks": tanks,
            "acv": 0,
            "artillery": 0,
            "verdict": verdict,
            "evidence": [DIGEST],
        }
        if activity is not None:
            body["activity"] = activity
        return self.post(name, "inspection_report", body, ts)

    def exchange(self, name: str, ts: int, valid_from_year: int) -> Entry:
        valid_from = int(datetime(valid_from_year, 1, 1, tzinfo=UTC).timestamp() * 1000)
        return self.post(
            name,
            "annual_exchange",
            {
                "valid_from": valid_from,
                "units": [
                    {
                        "unit": "1st brigade",
                        "location": "Capital",
                        "personnel": 4000,
                        "tanks": 90,
                        "acv": 120,
                        "artillery": 36,
                        "aircraft": 0,
                        "helicopters": 12,
                    }
                ],
            },
            ts,
        )

    def evaluate(self, now: int, **kw: Any) -> list[Evidence]:
        return evaluate(self.entries, now, **kw)


def rules(evidence: list[Evidence], party: str | None = None) -> list[str]:
    """The rules of `evidence` (about `party`), in order."""
    return [e.rule for e in evidence if party is None or e.party == party]


def one(evidence: list[Evidence], rule: str) -> Evidence:
    """The one piece of evidence of `rule` (fails unless exactly one)."""
    found = [e for e in evidence if e.rule == rule]
    assert len(found) == 1, (rule, evidence)
    return found[0]
