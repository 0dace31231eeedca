"""Checked access to a call's arguments: every failure is ``E_BAD_ARGS`` with the reason.

Amounts are integer fen and times integer milliseconds; a negative or non-integer amount is
refused here, before any contract logic runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.errors import E_BAD_ARGS, ContractError

MAX_TEXT = 512
MAX_INT = (1 << 63) - 1


def _missing(name: str) -> ContractError:
    return ContractError(E_BAD_ARGS, f"argument {name!r} is missing")


def text(
    args: Mapping[str, Any], name: str, max_len: int = MAX_TEXT, optional: bool = False
) -> str:
    if name not in args:
        if optional:
            return ""
        raise _missing(name)
    v = args[name]
    if type(v) is not str:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be text")
    if not optional and not v:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must not be empty")
    if len(v) > max_len:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} is longer than {max_len} characters")
    return v


def integer(args: Mapping[str, Any], name: str, minimum: int = 0, maximum: int = MAX_INT) -> int:
    if name not in args:
        raise _missing(name)
    v = args[name]
    if type(v) is not int:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be an integer")
    if not minimum <= v <= maximum:
        raise ContractError(
            E_BAD_ARGS, f"argument {name!r} must be in [{minimum}, {maximum}], got {v}"
        )
    return v


def boolean(args: Mapping[str, Any], name: str, default: bool | None = None) -> bool:
    """``true`` or ``false``; ``default`` when absent and one is given, else missing."""
    if name not in args:
        if default is not None:
            return default
        raise _missing(name)
    v = args[name]
    if type(v) is not bool:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be true or false")
    return v


def amount_fen(args: Mapping[str, Any], name: str) -> int:
    """A money amount in fen: a non-negative integer."""
    return integer(args, name, 0)


def blob(
    args: Mapping[str, Any], name: str, length: int | None = None, max_len: int = 4096
) -> bytes:
    if name not in args:
        raise _missing(name)
    v = args[name]
    if type(v) is not bytes:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be bytes")
    if length is not None and len(v) != length:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be {length} bytes, got {len(v)}")
    if len(v) > max_len:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} is longer than {max_len} bytes")
    return v


def text_list(
    args: Mapping[str, Any], name: str, max_items: int = 64, max_len: int = 128
) -> list[str]:
    if name not in args:
        raise _missing(name)
    v = args[name]
    if type(v) is not list or not all(type(x) is str and 0 < len(x) <= max_len for x in v):
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be an array of short texts")
    if len(v) > max_items:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} has more than {max_items} items")
    return list(v)


def mapping(args: Mapping[str, Any], name: str) -> dict[str, Any]:
    if name not in args:
        raise _missing(name)
    v = args[name]
    if type(v) is not dict:
        raise ContractError(E_BAD_ARGS, f"argument {name!r} must be a map")
    return dict(v)
