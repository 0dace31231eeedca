"""Unified social credit codes (统一社会信用代码, GB 32100-2015): the key of every entity.

A code is 18 characters over ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (31 symbols: no I, O, S,
V, Z). Positions 0–16 carry weights ``3^i mod 31``; the check character (position 17) is
``31 - (Σ value·weight mod 31)``, where 31 stands for ``0``. Lower case is not accepted: a
code is compared as bytes everywhere on chain, so one spelling only.
"""

from __future__ import annotations

from operator import mul

from contracts.errors import ContractError

E_BAD_USCC = "E_BAD_USCC"  # not a well-formed unified social credit code

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LEN = 18
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_SYMBOLS = frozenset(ALPHABET)
WEIGHTS = tuple(pow(3, i, 31) for i in range(USCC_LEN - 1))


def check_char(first17: str) -> str:
    """The check character for the first 17 characters (which must be in the alphabet)."""
    if len(first17) != len(WEIGHTS):
        raise ValueError(f"a check character is computed over {len(WEIGHTS)} characters")
    # Σ value·weight with map: every sender check of a bid or guarantee validates codes,
    # and map over C callables costs half the generator it replaces.
    total = sum(map(mul, map(_VALUE.__getitem__, first17), WEIGHTS))
    check = 31 - total % 31
    return ALPHABET[0 if check == 31 else check]


def valid_uscc(code: object) -> bool:
    """True for a well-formed code with the right check character."""
    if type(code) is not str or len(code) != USCC_LEN:
        return False
    if not _SYMBOLS.issuperset(code):
        return False
    return check_char(code[:-1]) == code[-1]


def require_uscc(code: object) -> str:
    """The code itself, or ``ContractError(E_BAD_USCC)``."""
    if not isinstance(code, str) or not valid_uscc(code):
        raise ContractError(E_BAD_USCC, f"{code!r} is not a valid unified social credit code")
    return code
