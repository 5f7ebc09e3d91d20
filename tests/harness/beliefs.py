"""The belief worlds: the six parties of the demo story, their chains really signed (tests of DESIGN 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.world import World as BaseWorld
from trustnet.log.entry import Entry
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.trust.beliefs import Beliefs, compute_beliefs

T0 = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp() * 1000)  # the activity starts


DEC_1 = int(datetime(2024, 12, 1, tzinfo=UTC).timestamp() * 1000)
AREA = "Southern Plain"
DIGEST = "ab" * 32
NOW = T0 + 30 * DAY_MS
NORTH = ("north-1", "north-2", "north-3")
SOUTH = ("south-1", "south-2", "south-3")


class World(BaseWorld):
    """Parties by name, each with its own chain of really signed entries."""


    def profile(self, name: str, ts: int = DEC_1) -> Entry:
        return self.post(name, "profile", {"name": name, "role": "state", "urls": []}, ts)

    def trust(self, name: str, subject: str, level: int, ts: int = DEC_1) -> Entry:
        return self.post(name, "trust", {"subject": self.party(subject), "level": level}, ts)

    def exchange(self, name: str, ts: int = DEC_1) -> Entry:
        unit = {
            "unit": "1st brigade",
            "location": "Capital",
            "personnel": 4000,
            "tanks": 90,
            "acv": 120,
            "artillery": 36,
            "aircraft": 0,
            "helicopters": 12,
        }
        valid_from = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
        return self.post(name, "annual_exchange", {"valid_from": valid_from, "units": [unit]}, ts)

    def notify(self, name: str, ts: int, *, troops: int, tanks: int, area: str = AREA,
               activity: str = "Shield-25") -> Entry:
        return self.post(
            name,
            "notification",
            {
                "activity": activity,
                "type": "exercise",
                "start": T0,
                "end": T0 + 10 * DAY_MS,
                "area": area,
                "troops": troops,
                "tanks": tanks,
                "acv": 0,
                "artillery": 0,
                "amphibious": 0,
                "sorties": 0,
                "observers_invited": False,
            },
            ts,
        )

    def observe(self, name: str, subject: str, ts: int, *, troops: int, tanks: int = 0,
                area: str = AREA, confidence: int = 700) -> Entry:
        body = {
            "subject": self.party(subject),
            "area": area,
            "at": ts,
            "troops": troops,
            "tanks": tanks,
            "acv": 0,
            "artillery": 0,
            "method": "aerial",
            "confidence": confidence,
            "evidence": [DIGEST],
        }
        return self.post(name, "observation", body, ts)

    def inspect(self, name: str, host: str, ts: int, area: str = AREA) -> Entry:
        body = {"host": self.party(host), "area": area, "grounds": "observed build-up"}
        return self.post(name, "inspection_request", body, ts)

    def report(self, name: str, request: Entry, host: str, ts: int, *, troops: int, tanks: int,
               verdict: str, activity: str | None = None) -> Entry:
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

    def beliefs(self, viewer: str, now: int = NOW, **kw: Any) -> Beliefs:
        return compute_beliefs(self.entries, self.party(viewer), now, **kw)


def baseline(w: World) -> None:
    """Step 1 of the demo, and who relies on whom: each bloc on its own members; the
    moderates north-3 and south-3 (who attest the report) also on each other, and south-3
    on north-1, the inspector."""
    for p in (*NORTH, *SOUTH):
        w.profile(p)
        w.exchange(p)
    for bloc in (NORTH, SOUTH):
        for a in bloc:
            for b in bloc:
                if a != b:
                    w.trust(a, b, 800)
    w.trust("south-3", "north-1", 600)
    w.trust("south-3", "north-3", 600)
    w.trust("north-3", "south-3", 600)


def demo(w: World) -> dict[str, Entry]:
    """DOMAIN.md "just under the threshold", steps 2-5 (after `baseline`)."""
    s = {}
    s["notification"] = w.notify("south-1", T0 - 42 * DAY_MS, troops=12_500, tanks=250)
    s["observation"] = w.observe("north-2", "south-1", T0 + 2 * DAY_MS, troops=20_000, tanks=350)
    s["request"] = w.consult("north-1", "south-1", T0 + 3 * DAY_MS)
    s["reply"] = w.reply("south-1", s["request"], T0 + 3 * DAY_MS + 20 * HOUR_MS)
    s["inspection"] = w.inspect("north-1", "south-1", T0 + 4 * DAY_MS)
    s["response"] = w.respond("south-1", s["inspection"], T0 + 4 * DAY_MS + 10 * HOUR_MS, True)
    s["report"] = w.report(
        "north-1", s["inspection"], "south-1", T0 + 6 * DAY_MS,
        troops=16_000, tanks=320, verdict="inconsistent", activity="Shield-25",
    )
    for p in ("north-3", "south-3"):
        w.attest(p, s["report"], T0 + 7 * DAY_MS)
    return s
