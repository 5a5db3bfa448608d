"""Privacy at the edge, applied before anything reaches the bus, a database or a log.

* IP addresses are truncated (IPv4 to /24, IPv6 to /48 by default); the raw address is dropped.
* ``user_id`` and device ids are pseudonymised with keyed BLAKE2b (a MAC) scoped to the app, so the same
  device still matches across its clicks and installs, but the value cannot be reversed or linked
  across apps without PSEUDONYMIZATION_KEY. The hashing is C (events/_keyed_blake2.c): the same
  digests as hashlib.blake2b, at under a third of its instructions per value.
* Without consent, no identifier is kept at all.
"""

import functools
import ipaddress
from collections.abc import Callable

from django.conf import settings

try:
    from ._keyed_blake2 import Pseudonymizer, state
except ImportError as error:  # a checkout whose C extension was never built
    raise ImportError("events/_keyed_blake2.c is not built: run `make install`") from error


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


@functools.lru_cache(maxsize=4096)
def _keyed_prefix(key: bytes, app_id: str, kind: str) -> bytes:
    # Keying BLAKE2b costs a compression of the key block; hashing "app_id\x1fkind\x1f" once and
    # starting each value from that state gives the same digest as hashing the whole message at a
    # third of the cost. The key is part of the cache key, so a changed key never reuses a state.
    return state(key, 16, f"{app_id}\x1f{kind}\x1f".encode())


def pseudonymize(app_id: str, kind: str, value: str | None) -> str:
    """A stable, irreversible stand-in for ``value`` within one app ("" for no value)."""
    return pseudonymizer(app_id, kind)(value)


def pseudonymizer(app_id: str, kind: str) -> Callable[[str | None], str]:
    """``pseudonymize`` for one app, one kind of identifier and one request: the keyed state is
    looked up once, and a value repeated in the request (an SDK batch usually comes from one device
    and one user) is hashed once. This runs for two identifiers of every event: it is C, a
    dictionary lookup for a repeat and one compression for a new value (events/_keyed_blake2.c)."""
    return Pseudonymizer(_keyed_prefix(settings.PSEUDONYMIZATION_KEY_BYTES[:64], app_id, kind))
