"""The keys of a development instance: random, made on its first run, kept in VAR_DIR.

A key published in the source signs a forged admin token that every instance left on defaults
accepts, so development makes its own. They live in one file, readable by its owner only. It is
written whole under a temporary name and then hard-linked into place, which fails when another
process linked its file first; the loser reads the winner's keys. So every process sharing a VAR_DIR
(``make run``'s commands in turn, the tests' subprocesses at once) uses the same keys, and no process
ever reads a half-written file. Production never reads this file: its keys come from the environment.
"""

import functools
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

NAMES = ("SECRET_KEY", "JWT_SIGNING_KEY", "SDK_SIGNING_KEY", "PSEUDONYMIZATION_KEY")
FILE_NAME = "development-keys.json"
# The pseudonymization key every development instance shared before they had keys of their own. A
# VAR_DIR that already holds data keeps it: its stored pseudonyms were made with it, and the
# pseudonyms of new events must match them.
LEGACY_PSEUDONYMIZATION_KEY = "django-insecure-development-only-pseudonymization_key-never-use-in-production"


@functools.cache
def development_keys(var_dir: Path) -> dict[str, str]:
    """Every key in NAMES for the instance whose files are in ``var_dir``, made on the first call."""
    path = var_dir / FILE_NAME
    if path.exists():
        return _read(path)
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        return _create(var_dir, path)
    except OSError as error:
        raise ImproperlyConfigured(
            f"Cannot write the development keys to {path}: {error}. Set VAR_DIR to a writable directory, or set "
            f"{', '.join(NAMES)} in the environment."
        ) from error


def _create(var_dir: Path, path: Path) -> dict[str, str]:
    keys = {name: secrets.token_urlsafe(64) for name in NAMES}
    if (var_dir / "db.sqlite3").exists() or (var_dir / "clickhouse").exists():
        keys["PSEUDONYMIZATION_KEY"] = LEGACY_PSEUDONYMIZATION_KEY
    temporary = var_dir / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            json.dump(keys, file)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read(path)
        return keys
    finally:
        temporary.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, str]:
    try:
        keys = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"The development keys in {path} cannot be read: {error}.") from error
    missing = [name for name in NAMES if not isinstance(keys.get(name), str) or not keys[name]]
    if missing:
        raise ImproperlyConfigured(
            f"The development keys in {path} lack {', '.join(missing)}. Set them in the environment, or move the "
            "file away to have new keys made (pseudonyms stored so far then stop matching new ones)."
        )
    return {name: keys[name] for name in NAMES}
