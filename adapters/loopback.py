"""Whether a request comes straight from this machine: for endpoints that serve only it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_direct_loopback(remote: str | None, headers: Mapping[str, str]) -> bool:
    """True for a loopback peer that is not a reverse proxy relaying someone else."""
    return is_loopback(remote) and not any(name in headers for name in PROXY_HEADERS)


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (IPv4-mapped too); False for anything else or unknown."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
