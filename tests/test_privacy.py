"""Pseudonyms: keyed BLAKE2b of the app, the kind of identifier and the normalised value. Every stored
pseudonym was made with this function; a device matches across old and new data only if it never
changes, so fixed vectors pin it."""

import pytest

from events import privacy

# Made by the implementation that stored the first pseudonyms (a 65-byte key: only 64 bytes count).
FIXED_KEY = b"unmogrowp-fixed-vector-pseudonymization-key-0123456789-abcdefghij"
APP = "7d2c1a8e-0b4f-4e55-9a3c-5f1e2d3c4b5a"
FIXED_VECTORS = [
    (APP, "idfa", " 6D92078A-8246-4BA4-AE5B-76104861E7DC ", "f100d85707475514d56d3f64aa506777"),
    (APP, "user", "Customer-8812", "7ea6221cfda2738e4aef2c64e70e0ca2"),
    ("other-app", "gaid", "İSTANBUL Straße", "99edd2cb03e1a02674047a3f975dee9b"),
    ("a", "web_id", "x" * 300, "62b42651c2bafbeb7b12b0a47b7e7c29"),
]


@pytest.fixture
def fixed_key(settings):
    settings.PSEUDONYMIZATION_KEY_BYTES = FIXED_KEY


@pytest.mark.parametrize(("app_id", "kind", "value", "expected"), FIXED_VECTORS)
def test_stored_pseudonyms_stay_valid(fixed_key, app_id, kind, value, expected):
    assert privacy.pseudonymize(app_id, kind, value) == expected


def test_only_the_first_64_bytes_of_the_key_count(settings):
    settings.PSEUDONYMIZATION_KEY_BYTES = FIXED_KEY[:64]
    app_id, kind, value, expected = FIXED_VECTORS[0]
    assert privacy.pseudonymize(app_id, kind, value) == expected
    settings.PSEUDONYMIZATION_KEY_BYTES = b"another" + FIXED_KEY[7:]
    assert privacy.pseudonymize(app_id, kind, value) != expected


def test_a_pseudonym_is_scoped_to_app_and_kind_and_normalised(fixed_key):
    expected = privacy.pseudonymize("app-1", "user", "customer-8812")
    assert privacy.pseudonymize("app-1", "user", "  CUSTOMER-8812 ") == expected
    assert privacy.pseudonymize("app-2", "user", "customer-8812") != expected
    assert privacy.pseudonymize("app-1", "idfa", "customer-8812") != expected
    assert privacy.pseudonymize("app-1", "user", "") == privacy.pseudonymize("app-1", "user", None) == ""


def test_a_pseudonymizer_remembers_its_values(fixed_key):
    pseudonymizer = privacy.pseudonymizer("app-1", "idfa")
    first = pseudonymizer("Device-1")
    assert pseudonymizer("Device-1") is first == privacy.pseudonymize("app-1", "idfa", "device-1")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("not an ip", ""),
        (None, ""),
    ],
)
def test_ip_addresses_keep_only_their_network(raw, expected):
    assert privacy.truncate_ip(raw) == expected
