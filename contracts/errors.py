"""Stable receipt codes of the runtime, and the exception contracts raise to refuse a call.

Codes are part of the API (clients match on them): never rename one. Each contract module
lists its own codes next to its handlers; the runtime's are here. The comment on each
constant is its meaning in ``contracts/CALLS.md``, which lists the codes of every call.
"""

from __future__ import annotations

E_CHAIN_ID = "E_CHAIN_ID"  # the transaction names another chain
E_NONCE = "E_NONCE"  # replayed, stale or future nonce
E_UNKNOWN_CALL = "E_UNKNOWN_CALL"  # no such contract or method
E_BAD_ARGS = "E_BAD_ARGS"  # an argument is missing, not taken, of the wrong type or out of bounds
E_FORBIDDEN = "E_FORBIDDEN"  # the sender lacks the role, or is not the party, the call needs
E_FROZEN = "E_FROZEN"  # the sender (or the entity it acts for) is frozen
E_NOT_FOUND = "E_NOT_FOUND"  # the record the call names does not exist
E_EXISTS = "E_EXISTS"  # the record the call would create already exists
E_STATE = "E_STATE"  # the record is in a state that does not allow this call


class ContractError(Exception):
    """Refuse a call: the transaction's writes are dropped and the receipt carries ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
