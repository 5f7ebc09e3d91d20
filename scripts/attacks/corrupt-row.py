"""Fault (issue 11, item 10): a stored entry corrupted on disk, then fetched by a peer.

A node holds a five-entry chain of another party; one bit of seq 3 flips on disk (the
store file is edited while the node is down). A stranger then fetches the chain from the
real `trustnet run` process and checks every entry it gets, as a peer would before
penalising the sender. Before the fix the corrupted entry was served (and the honest
node blamed for it); now it is set aside (`quarantined` in /status) and never served.

    .venv/bin/python scripts/attacks/corrupt-row.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from trustnet.bench.stranger import Stranger, get, print_figure
from trustnet.errors import EntryError
from trustnet.log.entry import decode_entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.store.sqlite import Store
from trustnet.testbed.cluster import Testbed

T0 = 1_767_225_600_000


def run(base: Path) -> dict[str, object]:
    """Corrupt, serve, check; the figure."""
    author = Stranger.fresh()
    entries, prev = [], None
    for seq in range(1, 6):
        entry = sign_entry(author.identity, seq=seq, prev=prev, ts=T0 + seq, kind="profile",
                           body={"name": f"x{seq}", "role": "state", "urls": []})
        entries.append(entry)
        prev = entry.id
    bed = Testbed(base, ("target",))
    bed.create()
    node = bed.nodes[0]
    with Store.open_dir(node.dir) as store:
        store.ingest(entries, T0 + 10)
    key = author.identity.public_key
    with sqlite3.connect(node.dir / "store.sqlite") as db:
        (raw,) = db.execute("SELECT raw FROM entries WHERE seq=3 AND author=?", (key,)).fetchone()
        db.execute("UPDATE entries SET raw=? WHERE seq=3 AND author=?",
                   (raw[:-1] + bytes([raw[-1] ^ 1]), key))
    bed.start()
    try:
        status, reply = Stranger.fresh().post(node.url, m.FETCH,
                                              m.encode(m.Fetch(((key, 0, 10),))))
        served = m.decode_reply(m.FETCH, reply) if status == 200 else None
        codes = []
        for raw_entry in served.entries if isinstance(served, m.Entries) else ():
            try:
                decode_entry(raw_entry)
                codes.append("ok")
            except EntryError as exc:
                codes.append(exc.code)
        _, raw_status = get(node.url, "/status")
        return {"fetch_status": status, "served": codes,
                "invalid_served": sum(c != "ok" for c in codes),
                "quarantined": json.loads(raw_status).get("quarantined")}
    finally:
        bed.stop()


def main(argv: list[str] | None = None) -> int:
    """Run it and print the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trustnet-attack-") as tmp:
        figure = run(Path(tmp))
    print_figure(figure, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
