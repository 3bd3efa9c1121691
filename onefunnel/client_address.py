"""The client's address, behind a load balancer or reverse proxy too: the one helper every
place that needs it uses (form rate limits and the consent record, the tracking endpoints'
per-address rate limit, django-ratelimit's ``key="ip"`` through ``RATELIMIT_IP_META_KEY``).

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
peer (``REMOTE_ADDR``) is one of ``ONEFUNNEL_TRUSTED_PROXIES`` (IPs or CIDR networks). Then the
client is the right-most address in the header that is not itself a trusted proxy: addresses
to its left were written by the client and may be anything. With no trusted proxy (the
default) the peer is the client, whatever the headers say. django-ipware reads the header
(ports, brackets, IPv6, IPv4-mapped addresses) and picks the address at that position.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ipware import get_client_ip
from python_ipware.modern.parsers import split_proxy_chain

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED = "HTTP_X_FORWARDED_FOR"


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"ONEFUNNEL_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    """The networks of ``ONEFUNNEL_TRUSTED_PROXIES`` (ImproperlyConfigured for a bad entry)."""
    configured = getattr(settings, "ONEFUNNEL_TRUSTED_PROXIES", ()) or ()
    if isinstance(configured, str):
        configured = [p for p in configured.split(",") if p.strip()]
    return _networks(tuple(str(p) for p in configured))


def _trusted(
    address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, nets: tuple[Network, ...]
) -> bool:
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in nets)


def client_address(peer: str, forwarded: str = "") -> str:
    """The client's address from the peer's and the ``X-Forwarded-For`` header's ("" if
    unknown); for callers without a Django request (the ASGI tracking endpoints)."""
    nets = trusted_proxies()
    if not nets or not forwarded or not _trusted(peer, nets):
        return peer
    chain = split_proxy_chain(forwarded) or []
    if not chain:
        return peer
    # Our own proxies at the right end of the chain (a CDN in front of the load balancer…).
    hops = 0
    while hops < len(chain) - 1 and _trusted(chain[-1 - hops], nets):
        hops += 1
    request = HttpRequest()
    request.META = {"REMOTE_ADDR": peer, _FORWARDED: forwarded}
    found, _routable = get_client_ip(
        request, proxy_count=hops, request_header_order=[_FORWARDED], strict=False
    )
    return found or peer


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request`` ("" if unknown)."""
    return client_address(
        str(request.META.get("REMOTE_ADDR") or ""), str(request.META.get(_FORWARDED) or "")
    )
