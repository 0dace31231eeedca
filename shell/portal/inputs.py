"""What the portal accepts from a URL, checked before anything is read: a clear 400 with the
reason otherwise (``BadRequest``). Identifiers follow the contracts' rules (tender ids and
guarantee numbers ``[A-Za-z0-9._-]{1,64}``, USCCs with their check character); dates are
``YYYY-MM-DD`` read as Beijing calendar days; free text (a region) is bounded in length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from contracts.uscc import valid_uscc
from ledger.verdict import BEIJING

_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEX_ID = re.compile(r"[0-9a-f]{1,128}")
_CURSOR = re.compile(r"[A-Za-z0-9._/-]{1,256}")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
REGION_MAX = 32
QUERY_PARAMS_MAX = 16
DAY = timedelta(days=1)


class BadRequest(ValueError):
    """Input from the URL the portal can't take; ``str()`` says why (answered 400)."""


def record_id(text: str, what: str) -> str:
    if not _ID.fullmatch(text):
        raise BadRequest(f"{what} must be 1-64 characters of A-Z a-z 0-9 . _ - "
                         f"(got {text[:70]!r})")
    return text


def hex_id(text: str, what: str) -> str:
    if not _HEX_ID.fullmatch(text):
        raise BadRequest(f"{what} must be lowercase hex (got {text[:70]!r})")
    return text


def cursor(text: str) -> str:
    """Where a listing goes on: the rest of the last key a page looked at."""
    if not _CURSOR.fullmatch(text):
        raise BadRequest(f"after must be 1-256 characters of A-Z a-z 0-9 . _ / - "
                         f"(got {text[:70]!r})")
    return text


def count(text: str, what: str) -> int:
    """A non-negative integer of at most 12 digits (a position in a list)."""
    if not re.fullmatch(r"[0-9]{1,12}", text):
        raise BadRequest(f"{what} must be a number (got {text[:40]!r})")
    return int(text)


def uscc(text: str) -> str:
    text = text.strip().upper()
    if not valid_uscc(text):
        raise BadRequest(f"{text[:40]!r} is not a valid unified social credit code "
                         "(18 characters, last one a check character)")
    return text


def day_start_ms(text: str, what: str) -> int:
    """00:00 Beijing time of ``YYYY-MM-DD``, in Unix ms."""
    m = _DATE.fullmatch(text)
    if not m:
        raise BadRequest(f"{what} must be a date YYYY-MM-DD (got {text[:40]!r})")
    try:
        moment = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=BEIJING)
    except ValueError:
        raise BadRequest(f"{what} {text!r} is not a calendar date") from None
    return int(moment.timestamp() * 1000)


def day_end_ms(text: str, what: str) -> int:
    """24:00 Beijing time of ``YYYY-MM-DD`` (the next day's 00:00), in Unix ms."""
    return day_start_ms(text, what) + int(DAY.total_seconds() * 1000)


def region(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= REGION_MAX:
        raise BadRequest(f"a region is 1-{REGION_MAX} characters")
    return text


def one_of(text: str, allowed: frozenset[str] | tuple[str, ...], what: str) -> str:
    if text not in allowed:
        raise BadRequest(f"{what} must be one of {', '.join(sorted(allowed))}")
    return text


def single(query: Mapping[str, str], allowed: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters, each given at most once and each one ``allowed``; empty
    values count as not given."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    if len(query) > QUERY_PARAMS_MAX:
        raise BadRequest("too many query parameters")
    for name, value in query.items():
        if name not in allowed:
            raise BadRequest(f"unknown parameter {name[:40]!r}; this page takes "
                             f"{', '.join(allowed) or 'none'}")
        if name in seen:
            raise BadRequest(f"parameter {name!r} given twice")
        seen.add(name)
        if value != "":
            out[name] = value
    return out
