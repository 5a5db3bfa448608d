"""Builds events/_keyed_blake2.c into an extension module beside it, with the C compiler and flags
this Python was built with (``make install`` runs it; so does the Docker image's builder stage).

``python -m events.build_native`` -- needs a C compiler and Python's headers, no third-party tool.
"""

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

SOURCE = Path(__file__).with_name("_keyed_blake2.c")


def target() -> Path:
    return SOURCE.with_name("_keyed_blake2" + sysconfig.get_config_var("EXT_SUFFIX"))


def main() -> None:
    config = sysconfig.get_config_vars()
    command = [
        *shlex.split(config.get("CC") or "cc"),
        *shlex.split(config.get("CCSHARED") or "-fPIC"),
        "-O2",
        "-Wall",
        "-Werror",
        f"-I{sysconfig.get_paths()['include']}",
        "-shared",
        str(SOURCE),
        "-o",
        str(target()),
    ]
    print(" ".join(command))
    sys.exit(subprocess.call(command))  # noqa: S603 (the compiler this Python was built with)


if __name__ == "__main__":
    main()
