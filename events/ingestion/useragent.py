"""A small user-agent parser: platform, OS, OS version and device model for the common mobile and
desktop browsers and the SDKs' own agents. Unknown agents give empty fields, never an error."""

import functools
import re
from typing import NamedTuple


class Device(NamedTuple):
    platform: str
    os_name: str
    os_version: str
    device_model: str


_IOS = re.compile(r"\((iPhone|iPad|iPod)[^)]*?OS (\d+(?:[_.]\d+)*)")
_ANDROID = re.compile(r"Android (\d+(?:\.\d+)*)(?:; ([^;)]+?))?(?: Build/[^;)]*)?[;)]")
_WINDOWS = re.compile(r"Windows NT (\d+\.\d+)")
_MACOS = re.compile(r"Mac OS X (\d+(?:[_.]\d+)*)")
_NONE = Device("", "", "", "")


@functools.lru_cache(maxsize=4096)
def parse(user_agent: str | None) -> Device:
    if not user_agent:
        return _NONE
    if match := _IOS.search(user_agent):
        return Device("ios", "iOS", match.group(2).replace("_", "."), match.group(1))
    if match := _ANDROID.search(user_agent):
        model = (match.group(2) or "").strip()
        return Device("android", "Android", match.group(1), "" if model in {"K", "wv"} else model)
    if match := _WINDOWS.search(user_agent):
        return Device("web", "Windows", match.group(1), "")
    if match := _MACOS.search(user_agent):
        return Device("web", "macOS", match.group(1).replace("_", "."), "")
    if "Linux" in user_agent or "CrOS" in user_agent:
        return Device("web", "Linux", "", "")
    return _NONE
