"""Strict field checks for decoding typed values from CE maps or JSON.

Each typed value's ``from_obj`` names its exact fields; anything missing, extra or of the
wrong type or length is an InvalidInput that says which field failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.errors import InvalidInput


def exact_map(
    obj: Any, what: str, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"{what} must be a map, got {type(obj).__name__}")
    keys = set(obj)
    missing = required - keys
    if missing:
        raise InvalidInput(f"{what} is missing field(s) {sorted(missing)}")
    extra = keys - required - optional
    if extra:
        raise InvalidInput(f"{what} has unknown field(s) {sorted(map(str, extra))}")
    return dict(obj)


def get_int(obj: Mapping[str, Any], key: str, what: str, minimum: int = 0) -> int:
    v = obj[key]
    if type(v) is not int:
        raise InvalidInput(f"{what}.{key} must be an integer, got {type(v).__name__}")
    if v < minimum:
        raise InvalidInput(f"{what}.{key} must be ≥ {minimum}, got {v}")
    return v


def get_str(obj: Mapping[str, Any], key: str, what: str, max_len: int = 256) -> str:
    v = obj[key]
    if type(v) is not str:
        raise InvalidInput(f"{what}.{key} must be text, got {type(v).__name__}")
    if len(v) > max_len:
        raise InvalidInput(f"{what}.{key} is longer than {max_len} characters")
    return v


def get_bytes(
    obj: Mapping[str, Any], key: str, what: str, length: int | None = None, max_len: int = 1 << 20
) -> bytes:
    v = obj[key]
    if type(v) is not bytes:
        raise InvalidInput(f"{what}.{key} must be bytes, got {type(v).__name__}")
    if length is not None and len(v) != length:
        raise InvalidInput(f"{what}.{key} must be {length} bytes, got {len(v)}")
    if len(v) > max_len:
        raise InvalidInput(f"{what}.{key} is longer than {max_len} bytes")
    return v


def get_list(obj: Mapping[str, Any], key: str, what: str, max_len: int) -> list[Any]:
    v = obj[key]
    if type(v) is not list:
        raise InvalidInput(f"{what}.{key} must be an array, got {type(v).__name__}")
    if len(v) > max_len:
        raise InvalidInput(f"{what}.{key} has {len(v)} items, above the bound of {max_len}")
    return v
