"""Who may send transactions at all: the chain is permissioned.

A sender is *known* when the state names its public key: a validator of the next block's set
(``gov/validators``, who also send the beacon's commitments and reveals), a holder of any
governance role (``role/<role>/<hex>``), a key bound to an entity whose attestation is in
force and lists it (``identity.entity_of_key``), or an evaluation expert's key
(``expert/key/<hex>``: experts sign score sheets and reports, and decline, from it). A new
entity's first key becomes known through the attestor's binding. An unknown key can't get a
transaction into the pool or a block, so a stranger can't write nonce entries or failed
receipts onto the chain.

``sender_known(state, pubkey, now_ms)`` reads committed state (a ``StateReader``: CE bytes by
key, or an ``Overlay`` over it whose memo a caller shares across many questions:
``contracts.agents.SenderCheck``). The node's admission asks it about the head state; the
chain application about the state a block runs on. Deterministic: ``now_ms`` is a block
time, never a clock.
"""

from __future__ import annotations

from typing import Any

from contracts import experts, keys
from contracts.governance import ROLES
from contracts.identity import entity_of_key
from contracts.state import Overlay, StateReader, reading_view


def is_validator_key(view: Overlay, pubkey: bytes) -> bool:
    """Whether ``pubkey`` is a key of the next block's validator set (``gov/validators``)."""
    return pubkey in (view.get_derived(keys.VALIDATORS, _validator_keys) or ())


def _validator_keys(validators: Any) -> frozenset[bytes]:
    """The public keys a ``gov/validators`` list names."""
    if not isinstance(validators, list):
        return frozenset()
    return frozenset(v["pubkey"] for v in validators
                     if isinstance(v, dict) and type(v.get("pubkey")) is bytes)


def sender_known(state: StateReader | Overlay, pubkey: bytes, now_ms: int) -> bool:
    view = reading_view(state)
    if is_validator_key(view, pubkey):
        return True
    # Most senders are entities' keys (every bidder is one, and new to the node's cache of
    # checked reads): asked before the roles, their binding is found at once and the nine
    # reads of keys they do not hold (each a store lookup and a walk) are not made.
    if entity_of_key(view, pubkey, now_ms) is not None:
        return True
    if any(view.exists(keys.role(role, pubkey)) for role in ROLES):
        return True
    return view.exists(experts.key_index(pubkey))
