"""Statement streams for tests of kept (incremental) analyses against fresh ones."""

from __future__ import annotations

import random
from typing import Any

from trustnet.bench.beliefs import _Gen, generate
from trustnet.log.entry import Entry, sign_entry
from trustnet.statements.entries import statement_of
from trustnet.statements.figures import DAY_MS, HOUR_MS
from trustnet.statements.kinds import InspectionReport


def _sign(parties: int, seed: int, who: str, k: int, kind: str, body: dict[str, Any], ts: int
          ) -> Entry:
    ident = next(x for x in _Gen(parties, seed).ids if x.party_id == who)
    return sign_entry(ident, seq=900_000 + k, prev=b"\x02" * 32, ts=ts, kind=kind, body=body)


def shuffled_stream(n: int, parties: int, seed: int) -> list[tuple[Entry, object]]:
    """The benchmark's statement mix, with notifications that cover its observations (by
    area, or by a name the observation gives), in a shuffled order; then half the
    inspection answers after everything else, and one report about another host than its
    request's (incoherent once the request is known) before that request."""
    entries, _pids = generate(n, parties, seed)
    rng = random.Random(seed)
    extra: list[Entry] = []
    seen = [e for e in entries if e.kind == "observation"]
    for k, o in enumerate(seen[::3]):
        ob = dict(o.body)
        named = k % 2 == 1
        if named:  # the same sighting, named: covered by the activity's notification
            ob["activity"] = f"N-{k}"
            extra.append(_sign(parties, seed, o.author_hex, k, "observation", ob, o.ts))
        troops = ob["troops"] // 2 if k % 3 else ob["troops"]  # undercounted, or not
        note = {
            "activity": f"N-{k}", "type": "exercise",
            "start": ob["at"] - DAY_MS, "end": ob["at"] + DAY_MS,
            "area": f"  {ob['area'].upper()} " if not named else "elsewhere",
            "troops": troops, "tanks": troops // 50, "acv": 0, "artillery": 0,
            "amphibious": 0, "sorties": 0, "observers_invited": k % 4 == 0,
        }
        ts = ob["at"] - 50 * DAY_MS if k % 5 else ob["at"] + HOUR_MS  # in time, or late
        extra.append(_sign(parties, seed, ob["subject"], 1000 + k, "notification", note, ts))
    parsed = [(e, statement_of(e)) for e in [*entries, *extra]]
    rng.shuffle(parsed)
    answers = [x for x in parsed if x[0].kind == "inspection_response"][::2]
    parsed = [x for x in parsed if x not in answers] + answers
    report, body = next((e, b) for e, b in parsed if isinstance(b, InspectionReport))
    request = next(i for i, (e, _b) in enumerate(parsed) if e.id_hex == body.request)
    other = next(x.party_id for x in _Gen(parties, seed).ids
                 if x.party_id not in (report.author_hex, body.host))
    odd = _sign(parties, seed, report.author_hex, 5000, "inspection_report", {**dict(report.body), "host": other},
                report.ts)
    parsed.insert(max(0, request - 1), (odd, statement_of(odd)))
    return parsed
