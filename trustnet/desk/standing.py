"""Who verified what: the attestations about one entry and its standing in the verified view.

Read for GET /entries/{id} (issue 16 item 3): every attestation held whose `subject` is the
entry (its verdict, method and attester, with the attester's reliability as a source in this
node's beliefs), and every fact of the rule engine resting on the entry, with whether this
node's verified view counts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from trustnet.desk.compliance import fact_key, verified_keys
from trustnet.log.entry import Entry
from trustnet.trust.beliefs import Beliefs

VERDICTS = ("confirm", "refute", "partial", "unverifiable")


def entry_standing(attestations: Iterable[Entry], beliefs: Beliefs, entry_id: str
                   ) -> dict[str, Any]:
    """`{"attestations": [...], "standing": {"verified", "facts": [...]}}` of entry `entry_id`,
    given the attestations held about it (the belief engine indexes them by subject)."""
    atts = []
    for e in attestations:
        b = e.body
        if b.get("subject") != entry_id or b.get("verdict") not in VERDICTS:
            continue
        rel = beliefs.parties.get(e.author_hex)
        atts.append({
            "id": e.id_hex, "attester": e.author_hex, "name": rel.name if rel else None,
            "verdict": b.get("verdict"), "method": b.get("method"),
            "confidence": b.get("confidence"), "ts": e.ts,
            "reliability": rel.reliability.p if rel else 0.0,
        })
    atts.sort(key=lambda a: (a["ts"], a["id"]))
    facts = []
    for pid, belief in sorted(beliefs.parties.items()):
        verified = verified_keys(belief.verified.evidence)
        for c in belief.raw.evidence:
            if entry_id in c.entries:
                facts.append({"party": pid, "rule": c.rule, "at": c.at,
                              "verified": fact_key(c.rule, c.entries) in verified,
                              "credibility": c.credibility, "basis": c.basis})
    return {"attestations": atts,
            "standing": {"verified": any(f["verified"] for f in facts), "facts": facts}}
