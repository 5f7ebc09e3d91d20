"""TLS on every hop (issue 18): the node serves its certificate and reloads it on SIGHUP,
verifies https:// peers (a failure is a peer decision, never a retry in the clear), keeps
the admin token off plain HTTP beyond loopback, and believes forwarding headers only from
trusted proxies. Certificates come from a CA made in the test (`ThrowawayCA`)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from tests.daemons import init_node
from tests.harness.wait import wait_sync, wait_until
from trustnet.api.client import ClientError
from trustnet.cli.main import main as cli_main
from trustnet.errors import ConfigError
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig
from trustnet.testbed import cluster as testbed
from trustnet.transport.proxies import TrustedProxies
from trustnet.transport.testca import ThrowawayCA
from trustnet.transport.tls import check_pair, client_context

NOW_MS = int(time.time() * 1000)
FAST = GossipConfig(tick_interval_s=0.1, own_sync_quorum=0)
TIMEOUT_S = 15.0


@pytest.fixture
def ca(tmp_path: Path) -> ThrowawayCA:
    return ThrowawayCA.create(tmp_path / "ca")


def configure(node_dir: Path, http: dict[str, Any] | None = None,
              gossip: dict[str, Any] | None = None) -> None:
    """Append [http] and [gossip] tables to a fresh node.toml."""
    with (node_dir / "node.toml").open("a") as f:
        for name, table in (("http", http), ("gossip", gossip)):
            if table:
                f.write(f"\n[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n"
                                                   for k, v in table.items()))


def tls_node(base: Path, name: str, ca: ThrowawayCA, *, names: tuple[str, ...] = ("localhost", "127.0.0.1"),
             issuer: ThrowawayCA | None = None, trust: Path | None = None) -> Path:
    """A node directory serving a certificate for `names` from `issuer` (default `ca`) and
    verifying its peers against `trust` (default `ca`)."""
    node_dir = init_node(base, name)
    (issuer or ca).issue(node_dir / "tls.pem", node_dir / "tls.key", names)
    configure(node_dir, {"tls_cert": "tls.pem", "tls_key": "tls.key"},
              {"ca_file": str(trust or ca.ca_file)})
    return node_dir


def served_serial(port: int, ca_file: Path) -> int:
    """The serial number of the certificate a new handshake with 127.0.0.1:port sees."""
    context = client_context(ca_file)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


# -- the certificate pair: clear errors with stable codes --------------------------------------


def test_a_good_pair_is_described_for_the_log(tmp_path: Path, ca: ThrowawayCA) -> None:
    cert = ca.issue(tmp_path / "c.pem", tmp_path / "c.key", ("node.example", "127.0.0.1"))
    info = check_pair(tmp_path / "c.pem", tmp_path / "c.key", NOW_MS)
    assert info.serial == f"{cert.serial_number:x}"
    assert info.names == ("node.example", "127.0.0.1")
    assert f"serial {info.serial} for node.example, 127.0.0.1" in info.describe()


def test_bad_pairs_are_refused_with_a_code(tmp_path: Path, ca: ThrowawayCA) -> None:
    def code(cert: Path, key: Path) -> str:
        with pytest.raises(ConfigError) as caught:
            check_pair(cert, key, NOW_MS)
        return caught.value.code

    ca.issue(tmp_path / "a.pem", tmp_path / "a.key")
    ca.issue(tmp_path / "b.pem", tmp_path / "b.key")
    assert code(tmp_path / "a.pem", tmp_path / "b.key") == "tls_key_mismatch"
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    ca.issue(tmp_path / "old.pem", tmp_path / "old.key", not_before=past, days=5)
    assert code(tmp_path / "old.pem", tmp_path / "old.key") == "certificate_expired"
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    ca.issue(tmp_path / "new.pem", tmp_path / "new.key", not_before=future)
    assert code(tmp_path / "new.pem", tmp_path / "new.key") == "certificate_not_yet_valid"
    (tmp_path / "a.key").chmod(0o640)
    assert code(tmp_path / "a.pem", tmp_path / "a.key") == "key_permissions"
    assert code(tmp_path / "none.pem", tmp_path / "b.key") == "tls_file_missing"
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert code(tmp_path / "junk.pem", tmp_path / "b.key") == "bad_certificate"


def test_init_writes_a_checked_pair_and_refuses_a_bad_one(tmp_path: Path, ca: ThrowawayCA,
                                                         capsys: Any) -> None:
    ca.issue(tmp_path / "c.pem", tmp_path / "c.key")
    ca.issue(tmp_path / "d.pem", tmp_path / "d.key")
    assert cli_main(["init", str(tmp_path / "n"), "--tls-cert", str(tmp_path / "c.pem"),
                     "--tls-key", str(tmp_path / "c.key"), "--ca-file", str(ca.ca_file)]) == 0
    toml = (tmp_path / "n" / "node.toml").read_text()
    assert f'tls_cert = "{tmp_path / "c.pem"}"' in toml
    assert f'ca_file = "{ca.ca_file}"' in toml
    capsys.readouterr()
    assert cli_main(["init", str(tmp_path / "m"), "--tls-cert", str(tmp_path / "c.pem"),
                     "--tls-key", str(tmp_path / "d.key")]) == 1
    assert "[tls_key_mismatch]" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()  # nothing half-made
    assert cli_main(["init", str(tmp_path / "m"), "--tls-cert", str(tmp_path / "c.pem")]) == 1
    assert "[tls_incomplete]" in capsys.readouterr().err


def test_run_refuses_an_expired_certificate_at_start(tmp_path: Path, ca: ThrowawayCA,
                                                     capsys: Any) -> None:
    node_dir = tls_node(tmp_path, "n", ca)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    ca.issue(node_dir / "tls.pem", node_dir / "tls.key", not_before=past, days=5)
    capsys.readouterr()
    assert cli_main(["run", str(node_dir)]) == 1
    err = capsys.readouterr().err
    assert "[certificate_expired]" in err and "renew it" in err


def test_a_node_beyond_loopback_without_tls_is_warned_about(tmp_path: Path, caplog: Any) -> None:
    node_dir = init_node(tmp_path, "n")
    toml = node_dir / "node.toml"
    toml.write_text(toml.read_text().replace('listen = "127.0.0.1:0"', 'listen = "0.0.0.0:0"'))
    daemon = Daemon(node_dir, gossip=FAST)  # not started: nothing listens beyond loopback here
    try:
        with caplog.at_level(logging.WARNING, logger="trustnet"):
            daemon._warn_exposure()
    finally:
        daemon.store.close()
    assert "listening on 0.0.0.0:0 without TLS" in caplog.text


# -- trusted proxies and the admin token --------------------------------------------------------


def test_forwarding_headers_count_only_from_trusted_proxies() -> None:
    proxies = TrustedProxies.parse(["127.0.0.1", "10.0.0.0/8"])
    # A stranger's own headers are ignored: it is the client, over what it connected with.
    direct = proxies.client("198.51.100.7", False, ["127.0.0.1"], ["https"])
    assert (direct.address, direct.secure, direct.loopback) == ("198.51.100.7", False, False)
    # Through two trusted proxies: the first untrusted hop from the right is the client; what
    # the client wrote itself (to the left) does not count.
    hop = proxies.client("127.0.0.1", False, ["127.0.0.1, 203.0.113.5, 10.1.2.3"], ["https"])
    assert (hop.address, hop.secure, hop.loopback) == ("203.0.113.5", True, False)
    # No X-Forwarded-Proto: the proxy did not say the client's hop was TLS.
    assert not proxies.client("127.0.0.1", False, ["203.0.113.5"], []).secure
    assert not proxies.client("127.0.0.1", False, ["203.0.113.5"], ["https, http"]).secure
    # Ports and IPv6 brackets are read; garbage vouches for nothing.
    assert proxies.client("10.0.0.1", False, ["[2001:db8::1]:443"]).address == "2001:db8::1"
    assert proxies.client("10.0.0.1", False, ["203.0.113.5:4711"]).address == "203.0.113.5"
    assert proxies.client("10.0.0.1", False, ["<script>"]).address == "unknown"
    with pytest.raises(ConfigError):
        TrustedProxies.parse(["proxy.example"])


async def test_the_token_from_afar_in_the_clear_is_refused_and_the_client_is_rate_limited(
        tmp_path: Path, caplog: Any) -> None:
    node_dir = init_node(tmp_path, "n")
    configure(node_dir, {"trusted_proxies": ["127.0.0.1"], "rate_per_s": 0.001, "rate_burst": 2})
    daemon = Daemon(node_dir, gossip=FAST)
    await daemon.start()
    auth = {"Authorization": f"Bearer {daemon.token}"}
    try:
        async with aiohttp.ClientSession() as session:
            async def status(**headers: str) -> tuple[int, Any]:
                async with session.get(f"{daemon.url}/status", headers=headers) as r:
                    return r.status, await r.json()

            with caplog.at_level(logging.WARNING, logger="trustnet"):
                code, body = await status(**auth, **{"X-Forwarded-For": "203.0.113.5"})
            assert (code, body["error"]["code"]) == (403, "insecure_token")
            assert "treat it as disclosed" in caplog.text  # it was the real token
            # A wrong token is refused the same way (and not reported as a disclosure).
            caplog.clear()
            code, body = await status(**{"Authorization": "Bearer guess",
                                         "X-Forwarded-For": "203.0.113.6"})
            assert (code, body["error"]["code"]) == (403, "insecure_token")
            assert "disclosed" not in caplog.text
            # Each forwarded client has its own bucket (burst 2): 203.0.113.5 spent one above.
            assert (await status(**{"X-Forwarded-For": "203.0.113.5"}))[0] == 200
            assert (await status(**{"X-Forwarded-For": "203.0.113.5"}))[1]["error"]["code"] == \
                "rate_limited"
            assert (await status(**{"X-Forwarded-For": "203.0.113.7"}))[0] == 200
            # The proxy's own requests (loopback, nothing forwarded) may carry the token.
            assert (await status(**auth))[0] == 200
    finally:
        await daemon.stop()
    assert daemon.node.errors == []


def _local_address() -> str | None:
    """A non-loopback address of this machine that can be bound, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            address = str(probe.getsockname()[0])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_the_token_over_plain_http_from_a_real_non_loopback_address_is_refused(
        tmp_path: Path, caplog: Any) -> None:
    address = _local_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to bind")
    node_dir = init_node(tmp_path, "n")
    toml = node_dir / "node.toml"
    toml.write_text(toml.read_text().replace('listen = "127.0.0.1:0"', f'listen = "{address}:0"'))
    daemon = Daemon(node_dir, gossip=FAST)
    with caplog.at_level(logging.WARNING, logger="trustnet"):
        await daemon.start()
    assert f"listening on {address}:0 without TLS" in caplog.text
    url = f"http://{address}:{(node_dir / 'node.port').read_text().strip()}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/entries", json={"kind": "profile", "body": {}},
                                    headers={"Authorization": f"Bearer {daemon.token}"}) as r:
                assert r.status == 403
                assert (await r.json())["error"]["code"] == "insecure_token"
            async with session.get(f"{url}/status") as r:  # reads without a token are served
                assert r.status == 200
    finally:
        await daemon.stop()
    assert daemon.store.count() == 0 and daemon.node.errors == []


# -- serving TLS, verifying peers ---------------------------------------------------------------


async def test_a_plain_http_client_on_the_tls_port_fails_and_the_node_keeps_serving(
        tmp_path: Path, ca: ThrowawayCA) -> None:
    daemon = Daemon(tls_node(tmp_path, "n", ca), gossip=FAST)
    await daemon.start()
    try:
        assert daemon.url is not None and daemon.url.startswith("https://127.0.0.1:")
        plain = daemon.url.replace("https://", "http://")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(plain + "/status") as r:
                    await r.read()
            # Nor does a client that does not trust the CA get through.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with session.get(daemon.url + "/status") as r:
                    await r.read()
            async with session.get(daemon.url + "/status", ssl=client_context(ca.ca_file)) as r:
                assert r.status == 200
                assert (await r.json())["node_id"] == daemon.identity.party_id
    finally:
        await daemon.stop()
    assert daemon.node.errors == []


async def test_a_peer_that_fails_verification_is_not_used_and_peers_says_why(
        tmp_path: Path, ca: ThrowawayCA) -> None:
    stranger_ca = ThrowawayCA.create(tmp_path / "other-ca")
    dirs = {
        "home": tls_node(tmp_path, "home", ca),
        "unknown-ca": tls_node(tmp_path, "unknown-ca", ca, issuer=stranger_ca),
        "other-name": tls_node(tmp_path, "other-name", ca, names=("peer.example",)),
        "plain": init_node(tmp_path, "plain"),
    }
    daemons = {name: Daemon(d, gossip=FAST) for name, d in dirs.items()}
    try:
        for d in daemons.values():
            await d.start()
        home = daemons["home"]
        bad = {n: d for n, d in daemons.items() if n != "home"}
        for name, d in bad.items():
            assert d.url is not None
            await d.node.publish("profile", {"name": name, "role": "state", "urls": []})
            # A plain node reached by https:// (its URL with the scheme an operator expected).
            home.node.add_peer(d.url.replace("http://", "https://"))

        def errors() -> dict[str, str | None]:
            return {p["url"]: p["last_error"] for p in home.node.peers_json()["peers"]
                    if p["kind"] == "url"}

        want = {bad["unknown-ca"].url: "tls_verify_failed", bad["other-name"].url: "tls_verify_failed",
                str(bad["plain"].url).replace("http://", "https://"): "tls_failed"}
        await wait_until(lambda: errors() == want)
        assert home.store.count() == 0  # nothing taken from any of them
        peer = next(p for p in home.node.peers_json()["peers"] if p["url"] == bad["other-name"].url)
        assert peer["state"] == "backoff" and "tls_verify_failed" in peer["reason"]
    finally:
        for d in daemons.values():
            await d.stop()
    for d in daemons.values():
        assert d.node.errors == []


# -- real node processes ------------------------------------------------------------------------


def test_two_real_nodes_gossip_over_tls_and_the_cli_verifies_them(tmp_path: Path, capsys: Any,
                                                                  monkeypatch: Any) -> None:
    bed = testbed.Testbed(tmp_path / "bed", ("north", "south"), peers_per_node=1, tls=True,
                  gossip={"tick_interval_s": 0.2})
    bed.start()
    try:
        north, south = bed.nodes
        assert north.url.startswith("https://") and bed.ca_file is not None
        entry = north.client.publish("profile", {"name": "north", "role": "state", "urls": []})
        assert wait_sync(lambda: bed.holding(entry["id"]) == ["north", "south"], ignore=(ClientError,))
        peers = south.client.get("/peers")["peers"]
        # (a peer started later may have been unreachable at first; never a TLS failure)
        assert all(not str(p["last_error"]).startswith("tls_") for p in peers), peers
        # The CLI: a URL is verified against --cacert; a directory by the node's own certificate.
        capsys.readouterr()
        assert cli_main(["status", south.url, "--json"]) == 1
        assert "[tls_verify_failed]" in capsys.readouterr().err
        assert cli_main(["status", south.url.replace("https://", "http://")]) == 1
        assert "if the node serves TLS, use https://" in capsys.readouterr().err
        assert cli_main(["status", south.url, "--json", "--cacert", str(bed.ca_file)]) == 0
        assert json.loads(capsys.readouterr().out)["entries"] == 2  # and north's key commitment
        monkeypatch.setenv("TRUSTNET_CACERT", str(bed.ca_file))
        assert cli_main(["forks", north.url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
        monkeypatch.delenv("TRUSTNET_CACERT")
        assert cli_main(["peers", str(south.dir), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["count"] >= 1
        assert cli_main(["publish", str(south.dir), "profile", "--body",
                         '{"name": "south", "role": "state", "urls": []}']) == 0
        assert json.loads(capsys.readouterr().out)["seq"] == 2  # after its key commitment (seq 1)
    finally:
        codes = bed.stop()
    assert set(codes.values()) == {0}


def test_sighup_reloads_a_renewed_certificate_and_refuses_a_bad_one(tmp_path: Path) -> None:
    bed = testbed.Testbed(tmp_path / "bed", ("node",), tls=True)
    bed.start()
    try:
        node = bed.nodes[0]
        assert node.proc is not None and bed.ca_file is not None
        first = served_serial(node.port, bed.ca_file)
        ca = ThrowawayCA.load(bed.ca_file.parent)
        renewed = ca.issue(node.dir / "tls.pem", node.dir / "tls.key")
        node.proc.send_signal(signal.SIGHUP)
        assert wait_sync(lambda: served_serial(node.port, bed.ca_file) == renewed.serial_number,
                          ignore=(ClientError,))
        assert renewed.serial_number != first
        # A renewal whose key does not match: refused, the renewed pair keeps serving.
        ca.issue(tmp_path / "other.pem", node.dir / "tls.key")
        node.proc.send_signal(signal.SIGHUP)
        log = node.dir / "node.log"
        assert wait_sync(lambda: "[tls_key_mismatch]" in log.read_text(), ignore=(ClientError,))
        assert node.alive
        assert served_serial(node.port, bed.ca_file) == renewed.serial_number
        assert node.client.get("/status")["node_id"] == node.node_id
    finally:
        codes = bed.stop()
    assert set(codes.values()) == {0}


@pytest.mark.slow
def test_the_demo_meets_its_expectations_over_tls(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parent.parent / "configs" / "scenarios" / "demo.toml"
    done = subprocess.run([sys.executable, "-m", "trustnet", "testbed", "run", str(demo), "--tls",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "all expectations met" in done.stdout
    assert "https://127.0.0.1:" in done.stdout
    logs = "".join(p.read_text() for p in (tmp_path / "out" / "nodes").glob("*/node.log"))
    assert "tls_verify_failed" not in logs and "TLS: certificate serial" in logs


def test_client_context_refuses_a_file_without_certificates(tmp_path: Path) -> None:
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(ConfigError) as caught:
        client_context(tmp_path / "empty.pem")
    assert caught.value.code == "bad_ca_file"
    with pytest.raises(ConfigError) as caught:
        client_context(tmp_path / "missing.pem")
    assert caught.value.code == "tls_file_missing"
    assert ssl.TLSVersion.TLSv1_2 <= client_context().minimum_version
