"""Clicks and impressions: the touchpoint row (privacy applied) and where a click is sent."""

import datetime as dt
import functools
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from apps_registry.models import TrackingLink
from core.metrics import LINK_SUB_PARAMS_LEFT_OUT
from events import privacy
from events.ingestion import useragent
from events.ingestion.schema import DEVICE_ID_KINDS
from events.rows import TouchRow


def touch_row(
    *,
    link: TrackingLink,
    touch_type: str,
    params: dict[str, str],
    ip: str | None,
    user_agent: str,
    timestamp: dt.datetime,
    received_at: dt.datetime,
    origin: str,
    touch_id: uuid.UUID | None = None,
    consent: bool = True,
    request_id: str = "",
) -> TouchRow:
    device = useragent.parse(user_agent)
    sub_params = link.touch_sub_params
    if sub_params is None:  # the touch is kept: a bad link must not cost the click or the redirect
        LINK_SUB_PARAMS_LEFT_OUT.inc()
        sub_params = {}
    device_ids = {}
    if consent:
        app_id = str(link.app_id)
        for kind in DEVICE_ID_KINDS:  # query parameters a network may fill in (see apps_registry.links)
            value = params.get(kind, "")
            if value and not value.startswith("{"):  # an unfilled macro is not an id
                device_ids[kind] = privacy.pseudonymize(app_id, kind, value)
    return TouchRow(
        app_id=link.app_id,
        touch_id=touch_id or uuid.uuid4(),
        touch_type=touch_type,
        timestamp=timestamp,
        received_at=received_at,
        origin=origin,
        link_code=link.code,
        media_source=link.media_source,
        campaign=link.campaign,
        campaign_id=link.campaign_id,
        adset=link.adset,
        adset_id=link.adset_id,
        ad=link.ad,
        ad_id=link.ad_id,
        site_id=_filled(params.get("site_id")) or link.site_id,
        sub_params=sub_params,
        network_click_id=_filled(params.get("click_id")),
        device_id=next(iter(device_ids.values()), ""),
        device_ids=device_ids,
        ip_prefix=privacy.truncate_ip(ip) if consent else "",
        user_agent=user_agent if consent else "",
        platform=device.platform,
        os_name=device.os_name,
        os_version=device.os_version,
        device_model=device.device_model,
        consent=consent,
        request_id=request_id,
    )


def _filled(value: str | None) -> str:
    return "" if not value or value.startswith("{") else value[:256]


def destination(link: TrackingLink, user_agent: str, click_id: str) -> str | None:
    """The store or web URL for the visitor's platform, carrying the click id and the deep link."""
    platform = useragent.parse(user_agent).platform
    url = {"ios": link.ios_url, "android": link.android_url}.get(platform) or link.web_url
    url = url or link.ios_url or link.android_url
    if not url:
        return None
    around = _around_click_id(url, link.deep_link)
    if around is None:
        return _with_click_id(url, link.deep_link, click_id)
    return f"{around[0]}{click_id}{around[1]}"


_CLICK_ID_SLOT = "UMPCLICKIDSLOT"  # letters only: url-encoding, once or twice, leaves it as it is


@functools.lru_cache(maxsize=4096)
def _around_click_id(url: str, deep_link: str) -> tuple[str, str] | None:
    """The destination split where the click id goes (None if the link itself holds the slot text).
    Parsing and re-encoding the URL is a click's costliest step and depends only on the link, so it
    is done once per link; a click id (hex) reads the same encoded once or twice."""
    text = _with_click_id(url, deep_link, _CLICK_ID_SLOT)
    if text.count(_CLICK_ID_SLOT) != 1:
        return None
    before, _, after = text.partition(_CLICK_ID_SLOT)
    return before, after


def _with_click_id(url: str, deep_link: str, click_id: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.netloc == "play.google.com":
        # The Play Store hands `referrer` to the installed app: the SDK reads the click id from it.
        referrer = urlencode({"ump_click_id": click_id, **({"ump_dl": deep_link} if deep_link else {})})
        query.append(("referrer", referrer))
    else:
        query.append(("ump_click_id", click_id))
        if deep_link:
            query.append(("ump_dl", deep_link))
    return urlunsplit(parts._replace(query=urlencode(query)))
