"""What a visitor's browser tells about itself: browser, OS, device type, country."""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import iptocc
from ua_parser import parse

MAX_USER_AGENT = 1024


@dataclass(frozen=True)
class ClientInfo:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str  # desktop, mobile, tablet, bot or unknown


def _version(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    return ".".join(present) if present else None


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> ClientInfo:
    user_agent = user_agent[:MAX_USER_AGENT]
    result = parse(user_agent)
    ua, os, device = result.user_agent, result.os, result.device
    return ClientInfo(
        browser=ua.family if ua else None,
        browser_version=_version(ua.major, ua.minor) if ua else None,
        os=os.family if os else None,
        os_version=_version(os.major, os.minor) if os else None,
        device_type=_device_type(
            user_agent, device.family if device else None, os.family if os else None
        ),
    )


def _device_type(user_agent: str, device: str | None, os: str | None) -> str:
    if not user_agent:
        return "unknown"
    if device == "Spider":
        return "bot"
    if (
        device == "iPad"
        or "Tablet" in (device or "")
        or (os == "Android" and "Mobile" not in user_agent)
    ):
        return "tablet"
    if "Mobi" in user_agent or device == "iPhone":
        return "mobile"
    return "desktop"


def country_of(address: str) -> str | None:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    code: str | None = iptocc.country_code(address)
    return code


def anonymize_ip(address: str) -> str | None:
    """Zero the host part: the last octet of IPv4, all but the first 48 bits of IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
