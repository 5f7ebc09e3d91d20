"""`trustnet run DIR`: a node directory brought to life, with explicit start and stop.

`Daemon` composes the layers for one node directory: config, identity, store
(taking the directory's writer lock), HTTP transport, node, API; `start()`
binds the server (port 0: a free one, written to DIR/node.port) and starts
gossip; `stop()` stops gossip, lets in-flight requests finish, closes the
store and releases the lock. Many daemons fit in one process (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import random
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from trustnet import __version__, heap
from trustnet.analysis.live import LiveAnalysis, install_views
from trustnet.analysis.views import Analysis, NodeViews
from trustnet.api.access import API_KEY
from trustnet.api.app import build_app
from trustnet.api.views import ApiViews
from trustnet.clock import Clock, SystemClock
from trustnet.config.keyfiles import adopt_rotation, next_digest
from trustnet.config.loader import NodeConfig, load_config, read_admin_token
from trustnet.config.ownlog import NEW_LOG_FILE, OwnLog, load_peers, own_log_state, save_peers
from trustnet.errors import ConfigError, TrustnetError
from trustnet.identity import KEY_FILE, PARTY_FILE, Identity, load_node_identity
from trustnet.log.entry import Entry
from trustnet.node.core import Node
from trustnet.node.settings import load_settings
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.store.workers import IngestPool
from trustnet.transport.http import ConnectionGuard, ConnectionLimits, HttpTransport
from trustnet.transport.tls import EXPIRY_WARNING_DAYS, ServerTls, client_context, resolve

PORT_FILE = "node.port"
SHUTDOWN_GRACE_S = 5.0
PUSH_GRACE_S = 2.0  # after the server drained: time for the last pushes to go out
# Open files kept back from inbound connections: the store, logs, outbound gossip (<= 64).
RESERVED_FILES = 128


class Daemon:
    """One node directory served over HTTP."""

    def __init__(self, node_dir: Path, *, clock: Clock | None = None,
                 rng: random.Random | None = None, gossip: GossipConfig | None = None,
                 recovered_from: Path | None = None, log_lost: bool = False) -> None:
        """`recovered_from`: import this node's own log from a bundle and skip recovery;
        `log_lost`: the operator declares the log lost and lets the node sign on top of
        what it holds (from seq 1 if nothing): a fork if the old log ever surfaces."""
        self.dir = Path(node_dir)
        self.config: NodeConfig = load_config(self.dir)
        self.identity = load_node_identity(self.dir)
        self.token = read_admin_token(self.dir)
        self.clock = clock or SystemClock()
        # Every table of node.toml, checked now: a bad value fails the start, naming its key.
        self.settings = load_settings(self.config)
        ca_file = self.settings.ca_file
        self.gossip_config = gossip or self.settings.gossip
        self.http = self.settings.http
        self.log = logging.getLogger(f"trustnet.daemon.{self.config.name or self.identity.party_id[:8]}")
        # Certificates are judged by wall time, as every TLS peer judges them (not the node's
        # injected clock, which tests and replays may set anywhere).
        self.tls: ServerTls | None = None
        if self.http.tls_cert:
            self.tls = ServerTls(resolve(self.http.tls_cert, self.dir),
                                 resolve(self.http.tls_key, self.dir), SystemClock().now_ms())
        peer_tls = client_context(resolve(ca_file, self.dir) if ca_file else None)
        self.store = Store.open_dir(self.dir)
        # Large batches are checked on worker processes, spawned at the first that needs them.
        self.ingest_pool = IngestPool(self.settings.ingest.worker_count())
        try:
            self.own_log: OwnLog = self._own_log(recovered_from, log_lost)
            self.transport = HttpTransport(self.identity, self.clock, tls=peer_tls, log=self.log)
            self.node = Node(
                self.identity, self.store, self.transport,
                clock=self.clock,
                rng=rng or random.Random(int.from_bytes(os.urandom(8), "big")),
                config=self.gossip_config,
                peers=self.config.peers,
                anchors=self.config.anchors,
                # DESIGN 12: a new log (init) or the operator's word: nothing to recover.
                recover_own=self.own_log != "new" and recovered_from is None and not log_lost,
                save_peers=lambda urls: save_peers(self.dir, urls),
                next_digest=next_digest(self.dir),
                witness=self.settings.witness,
                backdate_tolerance_ms=self.settings.trust.backdate_tolerance_s * 1000,
            )
            self.node.on_rotated = self._adopt_rotation
            saved = load_peers(self.dir)
            for url in saved:
                self.node.protocol.peers.add(url, "saved", self.clock.now_ms())
            self.views = ApiViews()
            self.node_views: NodeViews | None = None
            self.analysis: Analysis | None = None
            self.live: LiveAnalysis | None = None
            self._install_views()
            self.app = build_app(self.node, name=self.config.name, token=self.token, views=self.views,
                                 http=self.http)
        except BaseException:
            self.store.close()
            raise
        self.runner: web.AppRunner | None = None
        self.server: asyncio.Server | None = None
        self.guard = ConnectionGuard(self._limits(), self.log)
        self.url: str | None = None

    def _own_log(self, recovered_from: Path | None, log_lost: bool) -> OwnLog:
        """What this directory knows of its own log; imports a recovery bundle first."""
        if recovered_from is not None:
            from trustnet.log.bundle import import_bundle

            report = import_bundle(self.store, recovered_from, self.clock.now_ms(),
                                   spill_dir=self.dir)
            if report.stream_error is not None:
                raise ConfigError(f"--recovered-from {recovered_from}: "
                                  f"{report.stream_error.message}", code="bad_bundle")
            head = self.store.head(self.identity.author)
            if head is None and not log_lost:
                raise ConfigError(
                    f"--recovered-from {recovered_from}: the bundle holds no entry of this "
                    "node's own log (add --i-know-the-log-is-lost to sign from seq 1 anyway)",
                    code="bad_bundle")
            self.log.warning("own log recovered from %s by the operator: %d entries stored, "
                             "%d rejected, own seq now %d; signing enabled without asking peers",
                             recovered_from, report.accepted, report.rejected_count,
                             0 if head is None else head.seq)
        state = own_log_state(self.dir, self.store, self.identity)
        if log_lost:
            self.log.warning("--i-know-the-log-is-lost: signing on top of own seq %d without "
                             "recovering; if a peer holds later entries of this key, the node "
                             "will be a proven equivocator", self._own_seq())
        elif state == "lost" and recovered_from is None:
            self.log.warning("this node's key has signed before (no %s) but its store holds "
                             "none of its entries: signing is refused until a peer delivers "
                             "them (or restart with --recovered-from BUNDLE)", NEW_LOG_FILE)
        return state

    def _adopt_rotation(self, entry: Entry, identity: Identity) -> None:
        """The rotation is committed: the key files follow (trustnet/config/keyfiles.py)."""
        try:
            adopt_rotation(self.dir, entry.seq, identity, bytes.fromhex(str(entry.body["next"])))
        except (OSError, TrustnetError) as exc:
            # The node signs with the new key from memory; a restart needs the files fixed.
            self.log.error("rotation at seq %d is committed but the key files of %s were not "
                           "updated (%s): put the revealed next key in %s and the party id %s in "
                           "%s before restarting", entry.seq, self.dir, exc, KEY_FILE,
                           identity.party_id, PARTY_FILE)

    def _own_seq(self) -> int:
        head = self.store.head(self.identity.author)
        return 0 if head is None else head.seq

    def _limits(self) -> ConnectionLimits:
        """[http]'s connection limits, the total lowered to fit RLIMIT_NOFILE."""
        cap = self.http.max_connections
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft - RESERVED_FILES < cap:
            fitted = max(16, soft - RESERVED_FILES)
            self.log.warning("[http] max_connections %d lowered to %d: this process may open "
                             "%d files (ulimit -n), %d kept for the store and gossip", cap,
                             fitted, soft, RESERVED_FILES)
            cap = fitted
        return ConnectionLimits(header_timeout_s=self.http.header_timeout_s,
                                max_connections=cap,
                                max_per_address=self.http.max_connections_per_address)

    def _install_views(self) -> None:
        """Contributed views (beliefs, suspicion) over this node's store."""
        made = install_views(self.views, self.store, self.identity.party_id, self.settings,
                             self.clock, self.dir, self.log)
        self.node_views, self.analysis, self.live = made.views, made.analysis, made.live
        # belief and suspicion gauges per party on /metrics, ranked and capped by the live
        # analysis' worker with each view it publishes
        self.node.metrics.gauges = made.gauges

    async def start(self) -> str:
        """Bind the HTTP server, start gossip; returns the node's URL."""
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S,
                                    keepalive_timeout=self.http.keepalive_timeout_s)
        await self.runner.setup()
        # aiohttp's protocol behind the connection guard (caps, header timeout): served
        # directly rather than through a TCPSite, which takes aiohttp's factory as it is.
        loop = asyncio.get_running_loop()
        handler = self.runner.server
        assert handler is not None  # set up above
        try:
            self.server = await loop.create_server(
                self.guard.factory(handler), self.config.host or None, self.config.port,
                backlog=128, ssl=self.tls.context if self.tls else None,
                # a TLS handshake never finished holds a descriptor like a silent request head
                ssl_handshake_timeout=self.http.header_timeout_s if self.tls else None)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.config.listen}: {exc.strerror} (set `listen` in "
                f"{self.dir / 'node.toml'}; port 0 picks a free one)", code="cannot_listen",
            ) from None
        host, port = self._bound()
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        self.url = f"{'https' if self.tls else 'http'}://{shown}:{port}"
        self.transport.set_url(self.url)
        (self.dir / PORT_FILE).write_text(f"{port}\n")
        self.ingest_pool.start()
        self.store.use_pool(self.ingest_pool)
        await self.node.start()
        # What starting made (modules, settings, the server) is held for the process's life:
        # frozen out of the collector's full passes, before the first catch-up starts
        # (trustnet.heap).
        heap.freeze_started()
        if self.live is not None:  # the first analysis starts now, off the event loop
            self.live.start()
        self.log.info("node %s (%s) listening on %s, %d peers configured, %d entries held",
                      self.config.name, self.identity.party_id[:16], self.url,
                      len(self.config.peers), self.store.count())
        self.log.info("ingest: %s", f"{self.ingest_pool.size} worker processes for batches of "
                      f"{self.ingest_pool.min_batch} entries or more" if self.ingest_pool.size
                      else "in this process ([ingest] workers = 0)")
        self._warn_exposure()
        return self.url

    def _warn_exposure(self) -> None:
        """Tell the operator what crosses the network in the clear, and what expires soon."""
        if self.tls is not None:
            self.log.info("TLS: %s", self.tls.info.describe())
            days = self.tls.info.days_left(SystemClock().now_ms())
            if days < EXPIRY_WARNING_DAYS:
                self.log.warning("the TLS certificate expires in %.1f days: renew it, then "
                                 "`kill -HUP` this node to load it", days)
        elif not _loopback(self.config.host):
            self.log.warning(
                "listening on %s without TLS: everything this node says and hears, and any admin "
                "token sent to it, crosses the network in the clear (admin requests from beyond "
                "loopback are refused: insecure_token). Set [http] tls_cert and tls_key, or put "
                "a TLS proxy in front (README: Exposing a node)", self.config.listen)

    def reload_tls(self) -> bool:
        """Load the certificate and key again (SIGHUP); a bad pair keeps the old one serving."""
        if self.tls is None:
            self.log.info("SIGHUP: no [http] tls_cert configured; nothing to reload")
            return False
        try:
            info = self.tls.reload(SystemClock().now_ms())
        except ConfigError as exc:
            self.log.error("SIGHUP: TLS certificate not reloaded, still serving %s: [%s] %s",
                           self.tls.info.describe(), exc.code, exc.message)
            return False
        self.log.info("SIGHUP: TLS reloaded: %s (new connections use it)", info.describe())
        days = info.days_left(SystemClock().now_ms())
        if days < EXPIRY_WARNING_DAYS:
            self.log.warning("the reloaded TLS certificate expires in %.1f days", days)
        return True

    def _bound(self) -> tuple[str, int]:
        assert self.server is not None
        for sock in self.server.sockets:
            addr = sock.getsockname()
            if isinstance(addr, tuple):
                return str(addr[0]), int(addr[1])
        raise RuntimeError("the server did not bind")

    async def stop(self) -> None:
        """Finish in-flight requests, let their pushes go out, stop gossip, close the store
        (idempotent). A write acknowledged during the grace period still reaches peers."""
        await self.app[API_KEY].hub.close()  # event streams end; no new long-lived work
        if self.server is not None:  # no new connections
            server, self.server = self.server, None
            server.close()
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()
        if self.node.running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.idle(), PUSH_GRACE_S)
        await self.node.stop()
        if self.analysis is not None:
            self.analysis.close()
        if self.live is not None:
            await self.live.aclose()
        (self.dir / PORT_FILE).unlink(missing_ok=True)
        self.store.use_pool(None)
        self.ingest_pool.stop()
        self.store.close()
        self.log.info("stopped cleanly")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- logging -------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(fmt: str, level: str, name: str) -> None:
    """Configure the process's log output (stderr) for an operator."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)-7s {name} %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger("trustnet")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


async def serve(node_dir: Path, *, recovered_from: Path | None = None,
                log_lost: bool = False, stop_requested: Callable[[], bool] | None = None,
                clock: Clock | None = None) -> int:
    """Run until SIGINT or SIGTERM, then stop cleanly; the exit status.

    `stop_requested` says whether a stop signal came before this was called (the CLI notes
    signals from its first moment): the node then stops as soon as it can, exit 0.
    """
    config = load_config(node_dir)
    setup_logging(config.log_format, config.log_level, config.name or "node")
    daemon = Daemon(node_dir, recovered_from=recovered_from, log_lost=log_lost, clock=clock)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload_tls)
    try:
        if stop_requested is not None and stop_requested():
            daemon.log.info("signal received while starting, stopping")
            return 0
        # A signal during start sets `stopping`: the node stops right after it started.
        url = await daemon.start()
        print(json.dumps({"node_id": daemon.identity.party_id, "url": url, "version": __version__}),
              flush=True)
        await stopping.wait()
        daemon.log.info("signal received, stopping")
    finally:
        started = time.monotonic()
        await daemon.stop()
        daemon.log.debug("shutdown took %.2f s", time.monotonic() - started)
    return 0
