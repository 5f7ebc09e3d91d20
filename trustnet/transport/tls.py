"""TLS for the node's HTTP hops: the server's certificate, reloaded on SIGHUP, and the client's
verification of `https://` peers.

Server side (`[http] tls_cert`, `tls_key`): `ServerTls` checks the pair at start (the key
file's mode like identity.key, the certificate's dates, that the key matches it) and owns
the `ssl.SSLContext` the node listens with. `reload()` checks the files again on a scratch
context first and only then loads them into the live context: new handshakes get the new
certificate, established connections keep theirs, and a bad renewal leaves the old pair
serving (the caller logs why).

Client side (`[gossip] ca_file`): `client_context` verifies peers against the system trust
store, or against `ca_file` alone when it is set (a private CA for a closed network).
Every hop is TLS 1.2 or later. A verification failure is a `TransportError` with code
`tls_verify_failed` (another handshake failure: `tls_failed`); nothing retries in the clear.
"""

from __future__ import annotations

import datetime as dt
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from trustnet.clock import DAY_MS
from trustnet.errors import ConfigError

MIN_VERSION = ssl.TLSVersion.TLSv1_2
EXPIRY_WARNING_DAYS = 14
# Transport codes for a failed TLS hop (the protocol records them like any contact failure).
TLS_VERIFY_FAILED = "tls_verify_failed"
TLS_FAILED = "tls_failed"


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What an operator needs to know of the certificate being served."""

    serial: str  # hex
    subject: str
    names: tuple[str, ...]  # subjectAltName DNS names and IP addresses
    not_before_ms: int
    not_after_ms: int

    def describe(self) -> str:
        """One line for the log."""
        until = dt.datetime.fromtimestamp(self.not_after_ms / 1000, dt.UTC).strftime("%Y-%m-%d")
        names = ", ".join(self.names) or self.subject
        return f"certificate serial {self.serial} for {names}, valid until {until}"

    def days_left(self, now_ms: int) -> float:
        """Days until the certificate expires (negative: expired)."""
        return (self.not_after_ms - now_ms) / DAY_MS


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def read_certificate(path: Path, now_ms: int) -> CertInfo:
    """The first certificate of a PEM file (the leaf), checked to be valid at `now_ms`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no certificate file at {path}", code="tls_file_missing") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code="tls_file_missing") from None
    try:
        cert = x509.load_pem_x509_certificates(data)[0]
    except (ValueError, IndexError):
        raise ConfigError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                          code="bad_certificate") from None
    before, after = cert.not_valid_before_utc, cert.not_valid_after_utc
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*san.get_values_for_type(x509.DNSName),
                 *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        pass
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    info = CertInfo(f"{cert.serial_number:x}", str(cn[0].value) if cn else cert.subject.rfc4514_string(),
                    tuple(names), _ms(before), _ms(after))
    if now_ms > info.not_after_ms:
        raise ConfigError(f"{path}: the certificate expired on "
                          f"{after:%Y-%m-%d %H:%M} UTC; renew it (then SIGHUP reloads it)",
                          code="certificate_expired")
    if now_ms < info.not_before_ms:
        raise ConfigError(f"{path}: the certificate is not valid before {before:%Y-%m-%d %H:%M} "
                          "UTC (is this machine's clock right?)", code="certificate_not_yet_valid")
    return info


def check_key_file(path: Path) -> None:
    """Refuse a private key file that is missing or readable by group or others (as identity.key
    and ssh do)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"no TLS key file at {path}", code="tls_file_missing") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {path}`", code="key_permissions")


def _no_password() -> bytes:
    return b""  # an encrypted key fails to load (a daemon cannot ask for its passphrase)


def _load_pair(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(str(cert), str(key), password=_no_password)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ConfigError(f"{key} is not the private key of the certificate in {cert}",
                              code="tls_key_mismatch") from None
        raise ConfigError(f"cannot load {key} with {cert}: {exc.reason or exc} (the key must be "
                          "an unencrypted PEM private key)", code="bad_tls_key") from None


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    return context


def check_pair(cert: Path, key: Path, now_ms: int) -> CertInfo:
    """Check a certificate and key pair as the node would load it (no context kept)."""
    check_key_file(key)
    info = read_certificate(cert, now_ms)
    _load_pair(_server_context(), cert, key)
    return info


class ServerTls:
    """The listening side's TLS context over a certificate and key pair, reloadable."""

    def __init__(self, cert: Path, key: Path, now_ms: int) -> None:
        self.cert = Path(cert)
        self.key = Path(key)
        self.info = check_pair(self.cert, self.key, now_ms)
        self.context = _server_context()
        _load_pair(self.context, self.cert, self.key)

    def reload(self, now_ms: int) -> CertInfo:
        """Load the files again (after a renewal); ConfigError leaves the served pair as it was."""
        info = check_pair(self.cert, self.key, now_ms)
        # Checked on a scratch context: the live one is only touched with a pair that loads.
        _load_pair(self.context, self.cert, self.key)
        self.info = info
        return info


def client_context(ca_file: Path | None = None, *, pin: bool = False) -> ssl.SSLContext:
    """A context that verifies servers: against the system store, or `ca_file` alone.

    `pin`: `ca_file` is the server's own certificate, trusted as it is whatever name the
    server is reached by (the CLI talking to the node of a local directory over loopback).
    """
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except FileNotFoundError:
        raise ConfigError(f"no CA file at {ca_file}", code="tls_file_missing") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"{ca_file} holds no PEM certificate to trust: {exc}",
                          code="bad_ca_file") from None
    context.minimum_version = MIN_VERSION
    if pin:
        context.check_hostname = False  # the certificate itself is the only one trusted
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def resolve(path: str, base: Path) -> Path:
    """A path from node.toml: relative ones are relative to the node directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(base) / p
