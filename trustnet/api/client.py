"""A small synchronous HTTP client for the CLI: talks to a running node's API.

`https://` nodes are verified against the system trust store, or against a CA file
(`--cacert`, `$TRUSTNET_CACERT`); the node of a local directory is verified by its own
certificate (pinned: it is reached over loopback, whatever name the certificate carries).
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustnet.config.loader import NodeConfig, read_admin_token
from trustnet.errors import TrustnetError
from trustnet.transport.tls import TLS_VERIFY_FAILED, client_context, resolve

TIMEOUT_S = 30.0
CACERT_ENV = "TRUSTNET_CACERT"
BUSY_WAIT_S = 600.0  # how long a GET keeps asking a node that answers 503 `busy`


class ClientError(TrustnetError):
    """The node could not be reached, or answered with an error."""

    code = "unreachable"


def tls_context(cafile: str | None = None, *, pin: bool = False) -> ssl.SSLContext:
    """How the CLI verifies https:// nodes: `cafile`, else $TRUSTNET_CACERT, else the system."""
    chosen = cafile or os.environ.get(CACERT_ENV) or None
    return _context(chosen, pin and chosen is not None)


@functools.lru_cache(maxsize=16)
def _context(cafile: str | None, pin: bool) -> ssl.SSLContext:
    # Loading a trust store costs milliseconds; testbeds poll their nodes many times a second.
    return client_context(Path(cafile) if cafile else None, pin=pin)


def _request(url: str, *, method: str = "GET", body: Any = None, token: str | None = None,
             tls: ssl.SSLContext | None = None) -> Any:
    """One request; a GET answered 503 `busy` (a heavy view still being computed) or
    `analysis_pending` (the node's first analysis) is asked again after its Retry-After, for
    up to BUSY_WAIT_S."""
    deadline = time.monotonic() + BUSY_WAIT_S
    while True:
        try:
            return _request_once(url, method=method, body=body, token=token, tls=tls)
        except _Busy as busy:
            if method != "GET" or time.monotonic() + busy.retry_after > deadline:
                raise ClientError(f"{url}: {busy.message}", code="busy") from None
            time.sleep(busy.retry_after)


class _Busy(Exception):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def _request_once(url: str, *, method: str, body: Any, token: str | None,
                  tls: ssl.SSLContext | None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        context = (tls or tls_context()) if url.startswith("https://") else None
        with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=context) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())["error"]
            if exc.code == 503 and err["code"] in ("busy", "analysis_pending"):
                retry = exc.headers.get("Retry-After", "")
                raise _Busy(str(err["message"]), min(30.0, float(retry)) if retry.isdigit() else 5.0)
            raise ClientError(f"{url}: {err['message']}", code=err["code"]) from None
        except (ValueError, KeyError, TypeError):
            raise ClientError(f"{url}: HTTP {exc.code} {exc.reason}", code="http_error") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise ClientError(f"{url}: the node's TLS certificate did not verify: "
                              f"{reason.verify_message} (a private CA: --cacert FILE or "
                              f"${CACERT_ENV})", code=TLS_VERIFY_FAILED) from None
        hint = ""
        if url.startswith("http://") and isinstance(reason, ConnectionResetError):
            hint = " (if the node serves TLS, use https://)"  # a TLS port hangs up on plain HTTP
        raise ClientError(f"cannot reach {url}: {reason}{hint}") from None


def get_json(url: str, token: str | None = None, cafile: str | None = None) -> Any:
    """GET a JSON document (with the admin token, for a node whose reads need it)."""
    return _request(url, token=token, tls=tls_context(cafile) if url.startswith("https://") else None)


@dataclass(frozen=True, slots=True)
class NodeClient:
    """A running node's API, with its admin token for writes."""

    base_url: str
    token: str | None = None
    cafile: str | None = None  # CA (or, `pinned`, the node's own certificate) for https://
    pinned: bool = False

    @classmethod
    def for_dir(cls, node_dir: Path, config: NodeConfig) -> NodeClient:
        """The client of the node running on a directory (its listen address and token)."""
        host, port = config.host, config.port
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if port == 0:
            port_file = Path(node_dir) / "node.port"
            try:
                port = int(port_file.read_text().strip())
            except (OSError, ValueError):
                raise ClientError(f"the node on {node_dir} has not written its port yet") from None
        tls_cert = config.section("http").get("tls_cert")
        if isinstance(tls_cert, str) and tls_cert:
            # Over loopback, by the node's own certificate, whatever name it was issued for.
            return cls(f"https://{host}:{port}", read_admin_token(node_dir),
                       str(resolve(tls_cert, Path(node_dir))), pinned=True)
        return cls(f"http://{host}:{port}", read_admin_token(node_dir))

    def _tls(self) -> ssl.SSLContext | None:
        if not self.base_url.startswith("https://"):
            return None
        return tls_context(self.cafile, pin=self.pinned)

    def get(self, path: str, token: str | None = None) -> Any:
        """GET a path of the API (with the admin token when known, or `token`: some details are
        the operator's only)."""
        return _request(self.base_url + path, token=token or self.token, tls=self._tls())

    def publish(self, kind: str, body: dict[str, Any], ts: int | None = None) -> Any:
        """POST /entries: sign and append a statement through the node."""
        data: dict[str, Any] = {"kind": kind, "body": body}
        if ts is not None:
            data["ts"] = ts
        return _request(self.base_url + "/entries", method="POST", body=data, token=self.token,
                        tls=self._tls())

    def rotate_keys(self, seed: bytes, next_digest: bytes, compromised_since: int | None,
                    ts: int | None = None) -> Any:
        """POST /keys/rotate: the node rotates to the committed next key (its seed here)."""
        data: dict[str, Any] = {"key": seed.hex(), "next": next_digest.hex()}
        if compromised_since is not None:
            data["compromised_since"] = compromised_since
        if ts is not None:
            data["ts"] = ts
        return _request(self.base_url + "/keys/rotate", method="POST", body=data, token=self.token)

    def add_peer(self, url: str) -> Any:
        """POST /peers: add a peer."""
        return _request(self.base_url + "/peers", method="POST", body={"url": url}, token=self.token,
                        tls=self._tls())

    def partition(self, peers: list[str]) -> Any:
        """POST /partition: cut the node off from these peers (ids or URLs); [] heals."""
        return _request(self.base_url + "/partition", method="POST", body={"peers": peers},
                        token=self.token, tls=self._tls())
