"""Who a request comes from, and whether its hop was encrypted, behind trusted reverse proxies.

A node behind Caddy or nginx sees every request come from the proxy. `[http]
trusted_proxies` lists the proxies' addresses (or CIDRs) whose `X-Forwarded-For` and
`X-Forwarded-Proto` headers the node believes. The client is found by walking
`X-Forwarded-For` from the right (the entry the nearest proxy appended) past every
trusted proxy; the first address that is not one is the client, since anything to its
left was written by the client itself. Headers from an untrusted peer are ignored: the
TCP peer is the client and the hop is TLS only if the node's own socket is.

The result feeds the per-client rate limit (`[http] rate_per_s`), the address charged
for unauthenticated gossip failures, and the `insecure_token` rule: the admin token may
arrive in the clear only from loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trustnet.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Client:
    """A request's client as far as trusted proxies vouch for it."""

    address: str  # an IP address, or "unknown" (a trusted proxy sent no usable address)
    secure: bool  # the client's own hop was TLS (to this node, or to the trusted proxy)
    forwarded: bool  # found through trusted proxies' headers

    @property
    def loopback(self) -> bool:
        """True for 127.0.0.0/8 and ::1 (this machine)."""
        return _loopback(self.address)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _address(text: str) -> str | None:
    """An IP address from one X-Forwarded-For item ("203.0.113.5", "[2001:db8::1]:443",
    "203.0.113.5:1234"), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str], where: str = "[http] trusted_proxies") -> TrustedProxies:
        """From addresses and CIDRs ("127.0.0.1", "10.0.0.0/8", "::1"); ConfigError otherwise."""
        nets: list[Network] = []
        for value in values:
            try:
                nets.append(ipaddress.ip_network(value.strip(), strict=False))
            except ValueError:
                raise ConfigError(f"{where}: {value!r} is not an IP address or CIDR "
                                  "(e.g. 127.0.0.1 or 10.0.0.0/8)") from None
        return cls(tuple(nets))

    def trusts(self, address: str) -> bool:
        """True when `address` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, remote: str, tls: bool, forwarded_for: Sequence[str] = (),
               forwarded_proto: Sequence[str] = ()) -> Client:
        """The client of a request from TCP peer `remote` (`tls`: over this node's TLS), given
        every X-Forwarded-For and X-Forwarded-Proto header value it carried."""
        if not self.trusts(remote):
            return Client(remote, tls, False)
        hops = [item for value in forwarded_for for item in value.split(",") if item.strip()]
        address = remote
        for item in reversed(hops):
            found = _address(item)
            if found is None:
                address = UNKNOWN  # a trusted proxy wrote something unusable: vouch for nothing
                break
            address = found
            if not self.trusts(found):
                break
        protos = [p.strip().lower() for value in forwarded_proto for p in value.split(",")
                  if p.strip()]
        # Secure only when the proxies say https on every hop they report; no header: the
        # proxy did not say, so the client's hop may have been plain HTTP.
        secure = bool(protos) and all(p == "https" for p in protos) if hops else tls
        return Client(address, secure, bool(hops))
