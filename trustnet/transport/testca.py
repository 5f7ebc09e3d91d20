"""A throwaway certificate authority, for testbeds, tests and benchmarks over TLS.

`ThrowawayCA.create(folder)` makes a CA key and certificate (ca.pem); `issue(...)` signs a
server certificate for the given names and addresses (127.0.0.1 and localhost for a
testbed) and writes it with its key (mode 0600). Nodes set `[gossip] ca_file` to ca.pem,
so they verify each other exactly as nodes on the internet verify a real CA's
certificates. Never for production: the CA key sits next to its certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
LOCAL_NAMES = ("localhost", "127.0.0.1")


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(general)


@dataclass(frozen=True, slots=True)
class ThrowawayCA:
    """A CA key and certificate in memory, with ca.pem written under `folder`."""

    folder: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM): what nodes and clients trust."""
        return self.folder / CA_FILE

    @classmethod
    def create(cls, folder: Path, name: str = "trustnet throwaway CA", days: int = 30) -> ThrowawayCA:
        """A new CA valid from an hour ago for `days`; writes ca.pem (and ca.key, 0600)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = cls(folder, key, cert)
        ca.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(folder / CA_KEY_FILE, _key_pem(key))
        return ca

    @classmethod
    def load(cls, folder: Path) -> ThrowawayCA:
        """The CA written under `folder` by `create` (to issue more certificates)."""
        folder = Path(folder)
        key = serialization.load_pem_private_key((folder / CA_KEY_FILE).read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{folder / CA_KEY_FILE} is not this module's CA key")
        return cls(folder, key, x509.load_pem_x509_certificate((folder / CA_FILE).read_bytes()))

    def issue(self, cert_file: Path, key_file: Path, names: tuple[str, ...] = LOCAL_NAMES, *,
              not_before: dt.datetime | None = None, days: float = 30.0,
              key: ec.EllipticCurvePrivateKey | None = None) -> x509.Certificate:
        """Sign a server certificate for `names` (DNS names or IP addresses); writes the
        certificate (PEM) and its key (PEM, mode 0600). `not_before`/`days` make expired or
        future certificates for tests; `key` reuses a key (a renewal)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0])).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(_san(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        Path(cert_file).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_private(Path(key_file), _key_pem(key))
        return cert
