"""Which completion-callback URLs are acceptable.

A callback makes the service send a request wherever a caller says, so by default it may not reach
the service's own neighbourhood (loopback, private, link-local and other special ranges) unless an
operator lists the host in ``APP_CALLBACK_ALLOWED_HOSTS``. The address check runs at submission for
literal addresses, and again at every delivery against what the name resolves to then.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from cv_evaluator.domain.errors import InvalidArgument

MAX_CALLBACK_URL = 2048


def parse_allowed_hosts(raw: str) -> frozenset[str]:
    return frozenset(host.strip().lower() for host in raw.split(",") if host.strip())


def forbidden_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not ip.is_global or ip.is_multicast


def callback_host(url: str) -> str:
    host = urlsplit(url).hostname
    return (host or "").lower()


def check_callback_url(url: str, allowed_hosts: frozenset[str]) -> None:
    """Raise ``InvalidArgument`` unless ``url`` is an acceptable callback target."""
    if len(url) > MAX_CALLBACK_URL:
        raise InvalidArgument(
            f"callback_url is longer than {MAX_CALLBACK_URL} characters",
            details={"field": "callback_url"},
        )
    parts = urlsplit(url)
    host = callback_host(url)
    if parts.scheme not in {"http", "https"} or not host:
        raise InvalidArgument(
            "callback_url must be an http or https URL with a host",
            details={"field": "callback_url"},
        )
    if host in allowed_hosts:
        return
    if host == "localhost" or host.endswith(".localhost") or forbidden_address(host):
        raise InvalidArgument(
            "callback_url points to a private or local address; an operator can allow the host "
            "with APP_CALLBACK_ALLOWED_HOSTS",
            details={"field": "callback_url", "host": host},
        )
