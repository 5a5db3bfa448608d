"""The pseudonyms' C BLAKE2b (events/_keyed_blake2.c) against hashlib's, the reference it must equal:
every stored pseudonym was made with one or the other, and a device matches across them only if
both give the very same digest."""

import hashlib
import string

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from events import _keyed_blake2, privacy

KEY = bytes(range(1, 65))


@pytest.fixture(params=["portable", "avx2"])
def compression(request):
    """Each test below runs with both compressions: AVX2 where the CPU has it, the portable C one
    everywhere else."""
    try:
        before = _keyed_blake2.select(request.param)
    except ValueError:
        pytest.skip("this CPU has no AVX2")
    yield request.param
    _keyed_blake2.select(before)


def digest(key: bytes, prefix: bytes, value: str, digest_size: int = 16) -> str:
    return _keyed_blake2.Pseudonymizer(_keyed_blake2.state(key, digest_size, prefix))(value)


def reference(key: bytes, prefix: bytes, value: str, digest_size: int = 16) -> str:
    return hashlib.blake2b(prefix + value.strip().lower().encode(), key=key, digest_size=digest_size).hexdigest()


@pytest.mark.parametrize("prefix_length", [0, 1, 41, 127, 128, 129, 255, 256, 300])
def test_every_length_across_block_boundaries_gives_hashlibs_digest(prefix_length, compression):
    prefix = bytes(i % 251 for i in range(prefix_length))
    for length in [*range(1, 300), 383, 384, 385, 1024]:
        value = "".join(string.ascii_letters[(i * 7) % 52] for i in range(length))
        assert digest(KEY, prefix, value) == reference(KEY, prefix, value), length


def test_strip_and_lower_are_pythons_own_for_every_ascii_character_and_beyond(compression):
    prefix = b"app\x1fidfa\x1f"
    for code in range(128):
        value = f"{chr(code)}Ab{chr(code)}z{chr(code)}"
        assert digest(KEY, prefix, value) == reference(KEY, prefix, value), code
    for value in ["ÄBC", " Straße ", "\u00a0X\u2003", "İSTANBUL", "😀" * 300, "\x85x\x85", "   "]:
        assert digest(KEY, prefix, value) == reference(KEY, prefix, value), value


@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.binary(min_size=1, max_size=64),
    digest_size=st.integers(1, 64),
    prefix=st.binary(),
    value=st.text(min_size=1),
)
def test_any_key_size_prefix_and_value_gives_hashlibs_digest(compression, key, digest_size, prefix, value):
    assert digest(key, prefix, value, digest_size) == reference(key, prefix, value, digest_size)


def test_a_pseudonymizer_remembers_its_values_and_gives_nothing_for_no_value():
    pseudonymizer = _keyed_blake2.Pseudonymizer(_keyed_blake2.state(KEY, 16, b"p"))
    first = pseudonymizer("Device-1")
    assert pseudonymizer("Device-1") is first == reference(KEY, b"p", "Device-1")
    assert pseudonymizer("") == pseudonymizer(None) == ""


def test_bad_arguments_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="key must be 1 to 64 bytes"):
        _keyed_blake2.state(b"", 16, b"")
    with pytest.raises(ValueError, match="digest_size 1 to 64"):
        _keyed_blake2.state(KEY, 65, b"")
    with pytest.raises(ValueError, match="takes the bytes that state"):
        _keyed_blake2.Pseudonymizer(b"not a state")
    pseudonymizer = _keyed_blake2.Pseudonymizer(_keyed_blake2.state(KEY, 16, b""))
    with pytest.raises(TypeError, match="takes str or None, not bytes"):
        pseudonymizer(b"bytes")
    with pytest.raises(TypeError, match="takes one value"):
        pseudonymizer("a", "b")
    with pytest.raises(ValueError, match='takes "portable"'):
        _keyed_blake2.select("sse")


def test_a_pseudonym_is_keyed_blake2b_of_app_kind_and_the_normalised_value(settings):
    key = settings.PSEUDONYMIZATION_KEY_BYTES[:64]
    expected = reference(key, b"app-1\x1fuser\x1f", "Customer-8812")
    assert privacy.pseudonymize("app-1", "user", "  CUSTOMER-8812 ") == expected
    assert privacy.pseudonymize("app-2", "user", "customer-8812") != expected
    assert privacy.pseudonymize("app-1", "idfa", "customer-8812") != expected
    assert privacy.pseudonymize("app-1", "user", "") == privacy.pseudonymize("app-1", "user", None) == ""
