"""Privacy at the edge, applied before anything reaches the bus, a database or a log.

* IP addresses are truncated (IPv4 to /24, IPv6 to /48 by default); the raw address is dropped.
* ``user_id`` and device ids are pseudonymised with keyed BLAKE2b (a MAC) scoped to the app, so the same
  device still matches across its clicks and installs, but the value cannot be reversed or linked
  across apps without PSEUDONYMIZATION_KEY.
* Without consent, no identifier is kept at all.
"""

import functools
import hashlib
import ipaddress

from django.conf import settings


@functools.lru_cache(maxsize=65_536)
def truncate_ip(raw: str | None) -> str:
    """The network prefix of ``raw`` (e.g. 203.0.113.0), or "" when it is not an IP address."""
    if not raw:
        return ""
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    bits = settings.PRIVACY_IPV4_PREFIX_BITS if address.version == 4 else settings.PRIVACY_IPV6_PREFIX_BITS
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False).network_address)


def pseudonymize(app_id: str, kind: str, value: str | None) -> str:
    """A stable, irreversible stand-in for ``value`` within one app ("" for no value)."""
    if not value:
        return ""
    message = f"{app_id}\x1f{kind}\x1f{value.strip().lower()}".encode()
    return hashlib.blake2b(message, key=settings.PSEUDONYMIZATION_KEY_BYTES[:64], digest_size=16).hexdigest()
