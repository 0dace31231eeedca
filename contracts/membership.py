"""The consortium's membership records that governance keeps beside the validator set.

Three governance actions (``gov.propose`` / ``gov.vote``, executed like the others):

- ``set_endpoint {pubkey, host, port, kind}``: where a node's peer port listens, so that no
  operator hand-edits every other city's config: ``gov/endpoint/<pubkey hex>`` →
  ``{"host": str, "port": int, "kind": "validator" | "observer"}``. Nodes read the registry
  from their head state and dial from it; an observer (a full node that verifies the chain
  without voting) is admitted by validators when its key is registered here.
- ``clear_endpoint {pubkey}``: removes the entry.
- ``rotate_validator {old, new, new_sig}``: the validator with key ``old`` continues with
  key ``new`` *at the same index* (its place in the set, its name); ``new_sig`` is the new
  key's signature over ``0x6E ‖ CE({"chain_id", "old", "new"})`` (``tags.VALIDATOR_ROTATION``),
  so a key is never put in the set without proof that someone holds it. Its endpoint entry,
  if any, moves to the new key. Like every validator change it takes effect at the height
  after the block that executes it.

Host names are checked for shape only (1..253 characters of letters, digits, ``.-:[]``).
"""

from __future__ import annotations

import re
from typing import Any

from contracts import args as A
from contracts import keys
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_NOT_FOUND, ContractError
from contracts.runtime import Call
from contracts.state import Overlay
from ledger import encoding, tags
from ledger.block import Validator, validators_from_obj, validators_to_obj
from ledger.crypto import Suite

ACTIONS = ("set_endpoint", "clear_endpoint", "rotate_validator")
ENDPOINT_PREFIX = "gov/endpoint/"
KINDS = ("validator", "observer")
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]{1,253}")


def endpoint_key(pubkey: bytes) -> str:
    return ENDPOINT_PREFIX + pubkey.hex()


def rotation_bytes(chain_id: str, old: bytes, new: bytes) -> bytes:
    """What the new key signs when a validator rotates to it."""
    return bytes((tags.VALIDATOR_ROTATION,)) + encoding.encode(
        {"chain_id": chain_id, "old": old, "new": new})


def sign_rotation(suite: Suite, new_secret: bytes, chain_id: str, old: bytes) -> bytes:
    return suite.sign(new_secret, rotation_bytes(chain_id, old, suite.public_key(new_secret)))


def _validators(state: Overlay) -> tuple[Validator, ...]:
    return validators_from_obj(state.get(keys.VALIDATORS))


def check(call: Call, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The normalised payload of a membership action, or a ContractError."""
    suite = call.block.suite
    if action == "set_endpoint":
        pubkey = A.blob(payload, "pubkey", max_len=65)
        suite.check_pubkey(pubkey)
        host = A.text(payload, "host", max_len=253)
        if not _HOST.fullmatch(host):
            raise ContractError(E_BAD_ARGS, f"host {host!r} is not a host name or address")
        port = A.integer(payload, "port", 1, 65535)
        kind = A.text(payload, "kind", max_len=16)
        if kind not in KINDS:
            raise ContractError(E_BAD_ARGS, f"kind must be one of {list(KINDS)}")
        return {"pubkey": pubkey, "host": host, "port": port, "kind": kind}
    if action == "clear_endpoint":
        pubkey = A.blob(payload, "pubkey", max_len=65)
        if not call.state.exists(endpoint_key(pubkey)):
            raise ContractError(E_NOT_FOUND, "no endpoint is registered for that key")
        return {"pubkey": pubkey}
    if action == "rotate_validator":
        old = A.blob(payload, "old", max_len=65)
        new = A.blob(payload, "new", max_len=65)
        sig = A.blob(payload, "new_sig", max_len=64)
        suite.check_pubkey(new)
        vals = _validators(call.state)
        if not any(v.pubkey == old for v in vals):
            raise ContractError(E_NOT_FOUND, "the old key is not a validator")
        if any(v.pubkey == new for v in vals):
            raise ContractError(E_EXISTS, "the new key is already a validator")
        if not suite.verify(new, rotation_bytes(call.block.chain_id, old, new), sig):
            raise ContractError(E_BAD_ARGS, "new_sig is not the new key's signature over the "
                                            "rotation (tag 0x6E)")
        return {"old": old, "new": new, "new_sig": sig}
    raise ContractError(E_BAD_ARGS, f"unknown membership action {action!r}")


def execute(call: Call, action: str, payload: dict[str, Any]) -> None:
    state = call.state
    if action == "set_endpoint":
        state.put(endpoint_key(payload["pubkey"]),
                  {"host": payload["host"], "port": payload["port"], "kind": payload["kind"]})
    elif action == "clear_endpoint":
        state.delete(endpoint_key(payload["pubkey"]))
    elif action == "rotate_validator":
        old, new = payload["old"], payload["new"]
        vals = tuple(Validator(v.name, new) if v.pubkey == old else v
                     for v in _validators(state))
        state.put(keys.VALIDATORS, validators_to_obj(vals))
        entry = state.get(endpoint_key(old))
        if entry is not None:
            state.delete(endpoint_key(old))
            state.put(endpoint_key(new), entry)
