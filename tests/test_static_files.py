"""Production serves the static files itself (WhiteNoise), compressed and with long cache headers:
collectstatic as the image runs it, then the files as a browser asks for them."""

import gzip

import brotli
import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client, override_settings

PRODUCTION_STORAGE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def collected(tmp_path):
    with override_settings(
        STATIC_ROOT=tmp_path,
        STORAGES=PRODUCTION_STORAGE,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
        WHITENOISE_MAX_AGE=3600,
        DEBUG=False,
    ):
        call_command("collectstatic", "--noinput", verbosity=0)
        yield tmp_path


def test_hashed_files_are_served_compressed_and_cached_for_a_year(collected):
    hashed = staticfiles_storage.url("sdk/ump.js")
    assert hashed != "/static/sdk/ump.js" and hashed.endswith(".js"), "the pages link the hashed name"
    plain = (collected / "sdk" / "ump.js").read_bytes()
    client = Client()

    for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response = client.get(hashed, HTTP_ACCEPT_ENCODING=f"{encoding}, deflate")
        assert response.status_code == 200
        assert response["Content-Encoding"] == encoding
        assert response["Cache-Control"] == "max-age=315360000, public, immutable"
        assert "Accept-Encoding" in response["Vary"]
        assert decode(b"".join(response.streaming_content)) == plain

    unhashed = client.get("/static/sdk/ump.js", HTTP_ACCEPT_ENCODING="gzip")
    assert unhashed.status_code == 200
    assert unhashed["Cache-Control"] == "max-age=3600, public"  # customers' sites load it by this name
    admin_css = client.get(staticfiles_storage.url("admin/css/base.css"), HTTP_ACCEPT_ENCODING="br")
    assert admin_css["Content-Encoding"] == "br" and "immutable" in admin_css["Cache-Control"]
