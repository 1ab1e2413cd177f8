"""Where webhooks may be sent: public http(s) addresses only, unless settings allow private ones.

A target is checked when the subscription is saved and again, on the addresses actually connected
to, at every delivery: DNS can change between the two (DNS rebinding).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeTarget(Exception):
    """The target may not be delivered to (now)."""


class UnresolvableTarget(UnsafeTarget):
    pass


class PrivateTarget(UnsafeTarget):
    pass


def allow_private_targets() -> bool:
    return settings.WEBHOOK_ALLOW_PRIVATE_TARGETS


# IPv6 ranges that carry an IPv4 address in their last 32 bits: a packet to them reaches (through
# a translator or a tunnel) that IPv4 address, so they are public only if it is.
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, but some stacks still route it
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052, the well-known prefix
# Refused whatever they carry: the NAT64 prefix for local use (RFC 8215; where the IPv4 address
# sits depends on the local prefix length) and the deprecated site-local range (RFC 3879).
NEVER_PUBLIC = (ipaddress.ip_network("64:ff9b:1::/48"), ipaddress.ip_network("fec0::/10"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address wraps (NAT64, 6to4, Teredo, IPv4-compatible)."""
    if ip in NAT64 or ip in IPV4_COMPATIBLE:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:  # 2002::/16
        return [ip.sixtofour]
    if ip.teredo is not None:  # 2001::/32: the Teredo server and the (de-obfuscated) client
        return list(ip.teredo)
    return []


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:  # ::ffff:0:0/96 is the IPv4 address itself
            ip = ip.ipv4_mapped
        elif any(ip in network for network in NEVER_PUBLIC) or not all(
            address_is_public(str(v4)) for v4 in embedded_ipv4(ip)
        ):
            return False
    # is_global is False for loopback, private, link-local (cloud metadata: 169.254.169.254),
    # shared (100.64/10), reserved and unspecified ranges.
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableTarget(f"Could not resolve {host}: {exc}") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def split_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a target URL, or ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("Enter an http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("The URL must not contain credentials.")
    port = parts.port  # ValueError for a bad port
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def safe_addresses(host: str, port: int) -> list[str]:
    """The addresses a delivery may connect to; PrivateTarget if any of them is not public."""
    addresses = resolve(host, port)
    if allow_private_targets():
        return addresses
    unsafe = [a for a in addresses if not address_is_public(a)]
    if unsafe:
        # One private address is enough to refuse: an attacker controls which one is used.
        raise PrivateTarget(f"{host} resolves to a non-public address ({unsafe[0]}).")
    return addresses


def check_target(url: str) -> None:
    """Validation at subscription time (ValueError with a message for the client).

    A name that does not resolve yet is accepted: it is checked again at every delivery.
    """
    _, host, port = split_target(url)
    if allow_private_targets():
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if not address_is_public(host):
            raise ValueError("The target must be a public address.")
        return
    if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        raise ValueError("The target must be a public address.")
    try:
        safe_addresses(host, port)
    except PrivateTarget:
        raise ValueError("The target must resolve to public addresses only.") from None
    except UnresolvableTarget:
        pass
