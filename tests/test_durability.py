"""Crash safety: SIGKILL a publishing process at random moments; every acknowledged entry is
still there after restart and no seq is ever signed twice (DESIGN 5: no self-inflicted fork)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from trustnet.config.nodedir import init_node_dir
from trustnet.identity import KEY_FILE, Identity
from trustnet.log.entry import ChainHead, check_chain
from trustnet.store.sqlite import Store

PUBLISHER = r"""
import sys
from pathlib import Path
from trustnet.identity import Identity
from trustnet.store.sqlite import Store
node = Path(sys.argv[1])
store = Store.open_dir(node)
me = Identity.load(node / "identity.key")
print("ready", flush=True)
i = 0
while True:
    i += 1
    e = store.append_own(me, "trust", {"subject": "ab" * 32, "level": i % 1000}, 1_790_000_000_000 + i)
    print("ack", e.seq, e.id.hex(), flush=True)
"""


def test_sigkill_never_loses_an_acknowledged_entry_nor_reuses_a_seq(tmp_path: Path, capsys):
    node = tmp_path / "node"
    init_node_dir(node, name="crashy")
    capsys.readouterr()
    me = Identity.load(node / KEY_FILE)
    rng = random.Random(20261126)
    acked: dict[int, str] = {}
    for _ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(node)],
            stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # Kill after a random number of acknowledgements: the next append is in flight.
        for _ in range(rng.randint(1, 40)):
            line = proc.stdout.readline().split()
            assert line[0] == "ack"
            seq, id_hex = int(line[1]), line[2]
            assert acked.setdefault(seq, id_hex) == id_hex, f"seq {seq} signed twice"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()

        with Store.open_dir(node) as store:
            entries = store.range(me.public_key, 0, 10**6)
            head: ChainHead | None = None
            for e in entries:
                check_chain(e, head)  # contiguous, linked: no gap, no second branch
                head = ChainHead.of(e)
            held = {e.seq: e.id.hex() for e in entries}
            for seq, id_hex in acked.items():
                assert held.get(seq) == id_hex, f"acknowledged seq {seq} lost or replaced"
            assert not store.forks()
    assert len(acked) >= 20
