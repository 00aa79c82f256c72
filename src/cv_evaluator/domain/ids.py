"""Opaque, URL-safe, time-ordered identifiers with a kind prefix.

Layout: ``<prefix>_<26 chars>``; the 26 characters are a ULID (48-bit millisecond time + 80 random
bits in Crockford base32), so ids sort by creation time and never collide in practice. The prefix
lets the API tell "unknown id" (404) from "an id of the wrong kind" (400).
"""

from __future__ import annotations

import os
import re
import time
from enum import StrEnum

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_RE = re.compile(r"^(?P<prefix>[a-z]+)_(?P<body>[0-9A-HJKMNP-TV-Z]{26})$")


class IdKind(StrEnum):
    CV = "cv"
    PROJECT = "prj"
    JOB = "job"
    MAINTENANCE_RUN = "mnt"
    BACKUP = "bkp"
    MAINTENANCE_CHANGE = "mch"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(kind: IdKind, *, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{kind.value}_{_encode(ms, 10)}{_encode(rand, 16)}"


def kind_of(identifier: str) -> IdKind | None:
    """The kind named by a well-formed id, or None when the string is not an id of ours."""
    match = _ID_RE.match(identifier)
    if match is None:
        return None
    try:
        return IdKind(match.group("prefix"))
    except ValueError:
        return None
