"""Which web origins may send recordings for a site.

A site lists its domains as host names, optionally with a port
(`shop.example.com`, `localhost:8080`) or a leading wildcard for subdomains
(`*.example.com`, which does not match `example.com` itself).
"""

import re
from urllib.parse import urlsplit

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$")
MAX_DOMAINS = 50


class DomainError(ValueError):
    """A domain entry is not a host name the product can match."""


def normalize_domains(domains: list[str]) -> list[str]:
    cleaned = sorted({d.strip().lower().rstrip(".") for d in domains if d.strip()})
    if not cleaned:
        raise DomainError("List at least one domain, e.g. shop.example.com.")
    if len(cleaned) > MAX_DOMAINS:
        raise DomainError(f"A site can have at most {MAX_DOMAINS} domains.")
    for domain in cleaned:
        if "://" in domain or "/" in domain:
            raise DomainError(f"'{domain}' is a URL; give only the host name, e.g. example.com.")
        if not _DOMAIN.match(domain):
            raise DomainError(f"'{domain}' is not a valid host name.")
    return cleaned


def origin_allowed(origin: str, domains: list[str]) -> bool:
    """Whether a browser `Origin` header belongs to one of `domains`."""
    try:
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in {"http", "https"} or not host:
        return False
    return any(_matches(host, port, domain) for domain in domains)


def _matches(host: str, port: int | None, domain: str) -> bool:
    name, _, wanted_port = domain.partition(":")
    if wanted_port and str(port) != wanted_port:
        return False
    if name.startswith("*."):
        return host.endswith(name[1:])
    return host == name
