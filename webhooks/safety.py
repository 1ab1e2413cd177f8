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


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
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
