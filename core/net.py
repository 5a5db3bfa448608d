"""Who is calling: the client address, honouring only the configured number of trusted proxies."""

import functools
import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The caller's IP. With ``TRUSTED_PROXY_HOPS=n`` the n-th address from the right of
    X-Forwarded-For is used (addresses further left could be forged by the client)."""
    hops = settings.TRUSTED_PROXY_HOPS
    candidate = request.META.get("REMOTE_ADDR")
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    return _canonical(candidate) if candidate else None


@functools.lru_cache(maxsize=65_536)
def _canonical(address: str) -> str | None:
    # Parsing an address costs more than the rest of a click: the same callers come back, so once each.
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:512]
