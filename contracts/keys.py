"""State keys of the runtime and governance core (the trading contracts add their own in
their modules; ``contracts/STATE_KEYS.md`` lists every key and its value schema).

Keys are text ``namespace/part/...``; public keys and hashes appear as lowercase hex.
"""

from __future__ import annotations


def nonce(sender: bytes) -> str:
    """Next expected nonce of a sender: int."""
    return f"nonce/{sender.hex()}"


def role(role_name: str, member: bytes) -> str:
    """A role grant: ``{"granted_height": int}``; absent when not granted."""
    return f"role/{role_name}/{member.hex()}"


def param(name: str) -> str:
    """A chain parameter (int or text), changed only by a governance vote."""
    return f"param/{name}"


def frozen(subject: str) -> str:
    """A freeze on an account (public key hex) or an entity (USCC): ``{"reason", "height"}``."""
    return f"frozen/{subject}"


VALIDATORS = "gov/validators"  # CE array of {"name", "pubkey"}: the set for the next block
# ``true`` on a demonstration chain (genesis field ``demo``); absent elsewhere. Written only
# by genesis: no transaction can write it, so no vote can make a chain a demo chain.
DEMO_CHAIN = "gov/demo_chain"
