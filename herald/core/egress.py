"""Where Herald may send a webhook: the URL's form, and the addresses its host resolves to
(a guard against server-side request forgery).

A webhook URL is chosen by a tenant, so without a check a tenant could have Herald's workers
call the loopback, the private network they sit in, or a cloud's metadata service
(169.254.169.254). Every address a host resolves to must be global unicast; the check runs
when an endpoint is registered and again before each send, and the send then connects to
the very address it checked (no second lookup a rebinding DNS server could answer
differently).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "RESOLVE_TIMEOUT_SECONDS",
    "EgressRefused",
    "IPAddress",
    "WebhookTarget",
    "check_url",
    "refusal",
    "resolve",
    "send_addresses",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_TIMEOUT_SECONDS = 5.0
SCHEMES = {"http": 80, "https": 443}

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class EgressRefused(ValueError):
    """The URL, or an address its host resolves to, is not one Herald sends to."""


class WebhookTarget:
    """A webhook URL taken apart: its host (a name or an address literal) and port.
    Raises :class:`EgressRefused` saying what is wrong with the URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        parts = _split(url)
        host = parts.hostname
        if not host:
            raise EgressRefused("the URL has no host")
        self.scheme = parts.scheme
        self.host = host
        self.port = _port(parts)
        self.path = parts.path or "/"
        if parts.query:
            self.path += f"?{parts.query}"

    @property
    def host_header(self) -> str:
        """``Host`` as the URL names it (the default port left out)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> str:
        """The URL with its host replaced by ``address``: a connection to exactly it."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError as err:
        raise EgressRefused(f"the URL is not valid: {err}") from None
    if parts.scheme not in SCHEMES:
        raise EgressRefused("the URL's scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused(
            "the URL may not hold credentials; the signature authenticates Herald's requests"
        )
    if parts.fragment:
        raise EgressRefused("the URL may not have a fragment (#...)")
    return parts


def _port(parts: SplitResult) -> int:
    port = parts.port
    if port == 0:
        raise EgressRefused("the URL's port must be between 1 and 65535")
    return port if port is not None else SCHEMES[parts.scheme]


def refusal(address: IPAddress) -> str | None:
    """Why Herald does not send to ``address`` (``"a loopback address"``), or ``None`` for
    a global unicast address. An IPv6 address that carries an IPv4 one (mapped, 6to4,
    NAT64) is judged by the IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (reason := refusal(embedded)) is not None:
            return f"an IPv6 address carrying {embedded}, {reason}"
        if address in _IPV4_COMPATIBLE and not (address.is_loopback or address.is_unspecified):
            return "an IPv4-compatible IPv6 address (deprecated, not routed)"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (such as a cloud metadata service)"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (not address.is_global, "not a globally routable address"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` (a name or an address literal) resolves to, each once, in the
    resolver's order."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise EgressRefused(f"{host} did not resolve within {RESOLVE_TIMEOUT_SECONDS:g}s") from None
    except (OSError, UnicodeError) as err:
        raise EgressRefused(f"{host} does not resolve ({err})") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise EgressRefused(f"{host} resolves to no address")
    return addresses


async def check_url(url: str, *, allow_private_networks: bool) -> WebhookTarget:
    """``url`` checked as an endpoint is registered: its form, and unless private networks
    are allowed (then nothing is looked up) every address its host resolves to. Raises
    :class:`EgressRefused` naming what is refused and why."""
    target = WebhookTarget(url)
    if not allow_private_networks:
        await send_addresses(target, allow_private_networks=False)
    return target


async def send_addresses(target: WebhookTarget, *, allow_private_networks: bool) -> list[IPAddress]:
    """The addresses to connect to for ``target``, each global unicast unless private
    networks are allowed. Raises :class:`EgressRefused` naming the address refused and why."""
    addresses = await resolve(target.host, target.port)
    if allow_private_networks:
        return addresses
    for address in addresses:
        reason = refusal(address)
        if reason is None:
            continue
        if str(address) == target.host:
            raise EgressRefused(f"{address} is {reason}; Herald sends only to public addresses")
        raise EgressRefused(
            f"{target.host} resolves to {address}, {reason}; Herald sends only to public addresses"
        )
    return addresses
