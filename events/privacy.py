"""Privacy at the edge, applied before anything reaches the bus, a database or a log.

* IP addresses are truncated (IPv4 to /24, IPv6 to /48 by default); the raw address is dropped.
* ``user_id`` and device ids are pseudonymised with keyed BLAKE2b (a MAC, from ``hashlib``) scoped
  to the app and the kind of identifier, so the same device still matches across its clicks and
  installs, but the value cannot be reversed or linked across apps without PSEUDONYMIZATION_KEY.
  BLAKE2b takes keys of at most 64 bytes: only the key's first 64 bytes are used.
* Without consent, no identifier is kept at all.
"""

import functools
import hashlib
import ipaddress

from django.conf import settings

KEY_BYTES = 64  # BLAKE2b's longest key
DIGEST_BYTES = 16


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
def _keyed_state(key: bytes, app_id: str, kind: str) -> "hashlib.blake2b":
    # Keying BLAKE2b costs a compression of the key block: it is done once per app and kind, and
    # every value starts from a copy of this state. The key is part of the cache key, so a changed
    # key never reuses a state.
    state = hashlib.blake2b(key=key, digest_size=DIGEST_BYTES)
    state.update(f"{app_id}\x1f{kind}\x1f".encode())
    return state


class Pseudonymizer:
    """``pseudonymize`` for one app, one kind of identifier and one request: a value repeated in the
    request (an SDK batch usually comes from one device and one user) is hashed once."""

    __slots__ = ("_memo", "_state")

    def __init__(self, state: "hashlib.blake2b"):
        self._state = state
        self._memo: dict[str, str] = {}

    def __call__(self, value: str | None) -> str:
        if not value:
            return ""
        digest = self._memo.get(value)
        if digest is None:
            hashed = self._state.copy()
            hashed.update(value.strip().lower().encode())
            digest = self._memo[value] = hashed.hexdigest()
        return digest


def pseudonymizer(app_id: str, kind: str) -> Pseudonymizer:
    return Pseudonymizer(_keyed_state(settings.PSEUDONYMIZATION_KEY_BYTES[:KEY_BYTES], app_id, kind))


def pseudonymize(app_id: str, kind: str, value: str | None) -> str:
    """A stable, irreversible stand-in for ``value`` within one app ("" for no value)."""
    return pseudonymizer(app_id, kind)(value)
