"""Where a webhook may be sent: the destination check (server-side request forgery).

A tenant chooses the URL; the deployment's workers make the request. Left unchecked, a URL could
make them read the cloud's metadata service (credentials), the database's port on loopback, or
another machine of the operator's network. The rule, applied to every address the host resolves
to, both when an endpoint is registered or changed (422) and again at every delivery (a name
can be made to resolve elsewhere after its check, DNS rebinding):

* an address is allowed when it is a public one (``ipaddress``'s ``is_global``: not loopback,
  link-local, private, shared (100.64.0.0/10, where Alibaba Cloud's metadata service lives),
  documentation, multicast or reserved) and not a cloud metadata address, or when it lies in one
  of the networks the operator lists in ``JIXIAO_WEBHOOK_ALLOWED_NETWORKS`` (government intranets
  use private ranges; the tests list 127.0.0.1/32 for their receiver). Nothing else opens them;
* a name resolving to several addresses is refused when any of them is refused;
* the delivery connects to the very address that was checked (the URL's host is replaced by it,
  with the name kept in ``Host`` and, for https, as the TLS server name, so the certificate is
  still verified against the name): no second resolution can pick another one.

An IPv4 address written inside IPv6 (``::ffff:127.0.0.1``, NAT64 ``64:ff9b::a9fe:a9fe``) is judged
as the IPv4 address it reaches.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: metadata services of the clouds a deployment may run on, refused even where is_global says yes
#: (AWS, GCP, Azure, OpenStack: 169.254.169.254 (link-local anyway); AWS IPv6; Alibaba Cloud
#: 100.100.100.200 (shared space anyway); Oracle 192.0.0.192; Tencent Cloud metadata.tencentyun.com
#: resolves to 169.254.0.23)
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.0.23", "100.100.100.200", "192.0.0.192", "fd00:ec2::254"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_CHARS = 2000


class DestinationRefused(ValueError):
    """A URL that may not be delivered to, with the reason (said to the tenant: no internal detail
    beyond the address its own URL resolved to)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: where to connect, and what to say to the server."""

    url: str
    host: str
    port: int
    #: the checked address the delivery connects to
    address: Address

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address (the name goes in ``Host``)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{literal}:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    @property
    def host_header(self) -> str:
        default = 443 if urlsplit(self.url).scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in spec if n.strip())


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """The operator's allow-list (comma-separated CIDRs or addresses); ValueError when one is not."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return _networks(tuple(items))


def _effective(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: Address, allowed: Iterable[Network]) -> str | None:
    """Why ``address`` may not be delivered to, or None when it may."""
    real = _effective(address)
    for network in allowed:
        if real.version == network.version and real in network:
            return None
    if real in METADATA:
        return f"{address} is a cloud metadata address"
    if real.is_loopback:
        return f"{address} is a loopback address"
    if real.is_link_local:
        return f"{address} is a link-local address"
    if real.is_unspecified or real.is_multicast or real.is_reserved:
        return f"{address} is not a unicast address"
    if not real.is_global:
        return f"{address} is a private or special-purpose address (the operator may allow its network)"
    return None


def split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL a webhook may have: http or https, a host, no credentials."""
    if len(url) > MAX_URL_CHARS:
        raise DestinationRefused(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("the URL must be http or https")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("the URL may not carry credentials (the signature authenticates the sender)")
    if parts.fragment:
        raise DestinationRefused("the URL may not have a fragment")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (an address literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"the host {host} does not resolve ({exc})") from None
    seen: dict[Address, None] = {}
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # an IPv6 scope id is not part of the address
        seen[ipaddress.ip_address(raw)] = None
    if not seen:
        raise DestinationRefused(f"the host {host} does not resolve")
    return list(seen)


def check(url: str, allowed: Iterable[Network]) -> Target:
    """The destination to connect to for ``url``, or :class:`DestinationRefused`."""
    _, host, port = split(url)
    networks = tuple(allowed)
    addresses = resolve(host, port)
    for address in addresses:
        why = refusal(address, networks)
        if why is not None:
            shown = "" if host == str(address) else f"{host} resolves to "
            raise DestinationRefused(f"{shown}{why}: webhooks are not delivered there")
    return Target(url=url, host=host, port=port, address=addresses[0])


def allowed_networks() -> tuple[Network, ...]:
    """The deployment's allow-list (``JIXIAO_WEBHOOK_ALLOWED_NETWORKS``)."""
    from app.settings import get_settings

    return parse_networks(get_settings().webhook_allowed_networks)
