"""Identity (``identity.*``): attestations of entities and the public keys bound to them.

An attestor (role ``attestor``) attests an entity, keyed by its USCC: name, entity type,
certificate issuer and serial, validity ``[valid_from_ms, valid_to_ms)``, the attestor and
the bound keys. The attestation is *in force* when ``valid_from_ms ≤ now < valid_to_ms``
and it is not revoked. Mutual recognition (身份互认): an attestation by any attestor counts
for every platform and every contract; there is one current attestation per entity.

- ``attest``: a new attestation, or a renewal. While another attestor's attestation is in
  force the call is refused (``E_EXISTS``): that attestor renews or revokes it first. The
  replaced attestation is kept under ``id/history/<uscc>/<version>``.
- ``bind_key`` / ``unbind_key``: by the attestor of the current attestation; an entity may
  also unbind one of its own keys by sending from any of its bound keys (a lost or leaked key
  is cut off at once, without waiting for the attestor).
- ``rotate_key``: sent by a bound key, with the new key's signature over
  ``0x6F ‖ CE({"chain_id", "uscc", "old_key", "new_key"})`` (proof that the entity holds the
  new key): the sending key is unbound and the new key bound in one step.
- ``revoke``: by the attestor of the current attestation; the record stays, marked revoked.

A key is bound to at most one entity whose attestation is in force. ``entity_of_key`` does
not look at freezes: callers check ``governance.is_frozen`` for the key and the entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts import args as A
from contracts.errors import (
    E_BAD_ARGS,
    E_EXISTS,
    E_FORBIDDEN,
    E_FROZEN,
    E_NOT_FOUND,
    E_STATE,
    ContractError,
)
from contracts.experts import key_index as expert_key_index
from contracts.governance import is_frozen, require_unfrozen_sender
from contracts.periods import DAY_MS
from contracts.runtime import Call, Contract
from contracts.state import Overlay, frozen
from contracts.uscc import require_uscc
from ledger import encoding, tags
from ledger.crypto import SIG_LEN

E_NOT_ATTESTED = "E_NOT_ATTESTED"  # no attestation of the entity (or of the key) in force
E_BAD_SIGNATURE = "E_BAD_SIGNATURE"  # the new key's co-signature does not verify


def entity_key(uscc: str) -> str:
    """The current attestation of an entity (schema in STATE_KEYS.md)."""
    return f"id/entity/{uscc}"


def history_key(uscc: str, version: int) -> str:
    return f"id/history/{uscc}/{version}"


def key_binding_key(pubkey: bytes) -> str:
    """``{"uscc", "since_ms"}``: the entity a public key is bound to."""
    return f"id/key/{pubkey.hex()}"


# --- queries other contracts call ---


def attestation(state: Overlay, uscc: str) -> dict[str, Any] | None:
    value = state.get(entity_key(uscc))
    return dict(value) if value is not None else None


def in_force(att: Mapping[str, Any], now_ms: int) -> bool:
    return bool(
        att["valid_from_ms"] <= now_ms < att["valid_to_ms"]
        and (att["revoked_ms"] == 0 or now_ms < att["revoked_ms"])
    )


def is_attested(state: Overlay, uscc: str, now_ms: int) -> bool:
    """True when the entity's attestation is in force at ``now_ms``."""
    att = attestation(state, uscc)
    return att is not None and in_force(att, now_ms)


def entity_of_key(state: Overlay, pubkey: bytes, now_ms: int) -> str | None:
    """The USCC whose attestation in force binds this key, else None.

    Every sender check asks this, several times a transaction for a bid: the binding and
    the attestation are read through ``Overlay.get_derived``, so a block decodes each once
    for the same bytes and keeps only the immutable facts asked here."""
    uscc = state.get_derived(key_binding_key(pubkey), _bound_uscc)
    if uscc is None:
        return None
    att = state.get_derived(entity_key(uscc), _key_terms)
    if att is None or not in_force(att, now_ms) or pubkey not in att["keys"]:
        return None
    return uscc


def _bound_uscc(binding: Any) -> str:
    """The entity a key binding (``{"uscc", "since_ms"}``) names."""
    return str(binding["uscc"])


_KEY_TERMS = ("valid_from_ms", "valid_to_ms", "revoked_ms", "keys")


def _key_terms(att: Any) -> Mapping[str, Any]:
    """What ``entity_of_key`` asks of an attestation, frozen: the terms ``in_force`` reads
    and the bound keys."""
    terms: Mapping[str, Any] = frozen({name: att[name] for name in _KEY_TERMS})
    return terms


def require_entity_sender(call: Call) -> str:
    """The entity the sending key acts for (attested, key and entity not frozen)."""
    return require_entity_key(call, call.sender, "the sender")


def require_entity_key(call: Call, key: bytes, who: str) -> str:
    """The entity ``key`` acts for (attested, key and entity not frozen); ``who`` names the
    key in a refusal (the sender, or the key a one-time bid agent acts for)."""
    require_unfrozen_sender(call.state, key)
    uscc = entity_of_key(call.state, key, call.now_ms)
    if uscc is None:
        raise ContractError(E_NOT_ATTESTED, f"{who} is not a key of an attested entity")
    if is_frozen(call.state, uscc):
        raise ContractError(E_FROZEN, f"entity {uscc} is frozen")
    return uscc


def rotation_message(chain_id: str, uscc: str, old_key: bytes, new_key: bytes) -> bytes:
    """What the new key signs when an entity rotates ``old_key`` to it."""
    body = {"chain_id": chain_id, "uscc": uscc, "old_key": old_key, "new_key": new_key}
    return bytes((tags.KEY_ROTATION,)) + encoding.encode(body)


# --- helpers ---


def _require_attestor(call: Call) -> None:
    call.require_role("attestor")
    require_unfrozen_sender(call.state, call.sender)


def _current(call: Call, uscc: str) -> dict[str, Any]:
    att = attestation(call.state, uscc)
    if att is None:
        raise ContractError(E_NOT_FOUND, f"entity {uscc} has no attestation")
    return att


def _require_own_attestation(call: Call, att: dict[str, Any]) -> None:
    if att["attestor"] != call.sender:
        raise ContractError(E_FORBIDDEN, "only the attestor of the current attestation may")


def _bind(call: Call, att: dict[str, Any], pubkey: bytes) -> None:
    """Add a key to the attestation (not yet written) and write its binding."""
    call.block.suite.check_pubkey(pubkey)
    if pubkey in att["keys"]:
        raise ContractError(E_EXISTS, "the key is already bound to this entity")
    other = entity_of_key(call.state, pubkey, call.now_ms)
    if other is not None and other != att["uscc"]:
        raise ContractError(E_EXISTS, f"the key is bound to entity {other}")
    if call.state.exists(expert_key_index(pubkey)):
        raise ContractError(E_EXISTS, "the key is an evaluation expert's: an entity binds "
                                      "keys of its own")
    if len(att["keys"]) + 1 > int(call.param("keys_per_entity_max")):
        raise ContractError(E_STATE, "the entity has the most keys allowed")
    att["keys"] = [*att["keys"], pubkey]
    call.state.put(key_binding_key(pubkey), {"uscc": att["uscc"], "since_ms": call.now_ms})


def _unbind(call: Call, att: dict[str, Any], pubkey: bytes) -> None:
    if pubkey not in att["keys"]:
        raise ContractError(E_NOT_FOUND, "the key is not bound to this entity")
    att["keys"] = [k for k in att["keys"] if k != pubkey]
    binding = call.state.get(key_binding_key(pubkey))
    if binding is not None and binding["uscc"] == att["uscc"]:
        call.state.delete(key_binding_key(pubkey))


# --- handlers ---


def attest(call: Call) -> None:
    """Attest an entity, or renew its attestation (the one replaced goes to
    ``id/history/<uscc>/<version>`` and its keys are unbound first).

    Who: a key holding the role `attestor`, not frozen; while another attestor's attestation
    of the entity is in force, only that attestor (``E_EXISTS`` otherwise).

    Args:
        uscc: the entity.
        name: its registered name.
        entity_type: e.g. enterprise, public institution.
        cert_issuer: who issued the certificate the attestation rests on.
        cert_serial: that certificate's serial number.
        valid_from_ms: start of validity.
        valid_to_ms: end of validity (excluded): after the start, at most
            ``attestation_max_days`` later.
        keys (array of public keys): bound to the entity now, distinct; none bound to another
            entity in force; at most ``keys_per_entity_max``.
    """
    _require_attestor(call)
    a = call.args
    uscc = require_uscc(a.get("uscc"))
    valid_from_ms = A.integer(a, "valid_from_ms")
    valid_to_ms = A.integer(a, "valid_to_ms")
    if valid_to_ms <= valid_from_ms:
        raise ContractError(E_BAD_ARGS, "valid_to_ms must be after valid_from_ms")
    max_days = int(call.param("attestation_max_days"))
    if valid_to_ms - valid_from_ms > max_days * DAY_MS:
        raise ContractError(E_BAD_ARGS, f"an attestation is valid for at most {max_days} days")
    new_keys = a.get("keys")
    if type(new_keys) is not list or not all(type(k) is bytes for k in new_keys):
        raise ContractError(E_BAD_ARGS, "argument 'keys' must be an array of public keys")
    if len(set(new_keys)) != len(new_keys):
        raise ContractError(E_BAD_ARGS, "argument 'keys' lists a key twice")

    old = attestation(call.state, uscc)
    version = 0
    if old is not None:
        if in_force(old, call.now_ms) and old["attestor"] != call.sender:
            raise ContractError(E_EXISTS, f"entity {uscc} holds another attestor's attestation")
        version = int(old["version"]) + 1
        call.state.put(history_key(uscc, int(old["version"])), old)
        for k in old["keys"]:
            _unbind(call, old, k)
    att: dict[str, Any] = {
        "uscc": uscc,
        "name": A.text(a, "name", max_len=256),
        "entity_type": A.text(a, "entity_type", max_len=64),
        "cert_issuer": A.text(a, "cert_issuer", max_len=256),
        "cert_serial": A.text(a, "cert_serial", max_len=128),
        "valid_from_ms": valid_from_ms,
        "valid_to_ms": valid_to_ms,
        "attestor": call.sender,
        "keys": [],
        "revoked_ms": 0,
        "revoke_reason": "",
        "version": version,
        "attested_ms": call.now_ms,
    }
    for k in new_keys:
        _bind(call, att, k)
    call.state.put(entity_key(uscc), att)
    call.emit("identity.attested", uscc=uscc, version=version)


def bind_key(call: Call) -> None:
    """Bind one more key to an entity whose attestation is in force.

    Who: the attestor of the current attestation (role `attestor`, not frozen).

    Args:
        uscc: the entity.
        pubkey: the key; not bound to another entity in force, at most
            ``keys_per_entity_max`` keys per entity.
    """
    _require_attestor(call)
    uscc = require_uscc(call.args.get("uscc"))
    att = _current(call, uscc)
    _require_own_attestation(call, att)
    if not in_force(att, call.now_ms):
        raise ContractError(E_NOT_ATTESTED, f"the attestation of {uscc} is not in force")
    _bind(call, att, A.blob(call.args, "pubkey", max_len=65))
    call.state.put(entity_key(uscc), att)
    call.emit("identity.key_bound", uscc=uscc)


def unbind_key(call: Call) -> None:
    """Unbind a key from an entity: a lost or leaked key is cut off at once.

    Who: the attestor of the current attestation (role `attestor`, not frozen), or any key
    bound to the entity itself (without waiting for the attestor).

    Args:
        uscc: the entity.
        pubkey: the key to unbind (bound to this entity).
    """
    uscc = require_uscc(call.args.get("uscc"))
    att = _current(call, uscc)
    pubkey = A.blob(call.args, "pubkey", max_len=65)
    if att["attestor"] == call.sender and call.has_role("attestor"):
        require_unfrozen_sender(call.state, call.sender)
    elif call.sender not in att["keys"]:
        raise ContractError(E_FORBIDDEN, "only the attestor or the entity's own keys may")
    _unbind(call, att, pubkey)
    call.state.put(entity_key(uscc), att)
    call.emit("identity.key_unbound", uscc=uscc)


def rotate_key(call: Call) -> None:
    """Replace the sending key by a new one in one step (the sender is unbound, the new key
    bound).

    Who: a key bound to an entity whose attestation is in force; key and entity not frozen.

    Args:
        new_key: the new public key (not bound to another entity in force).
        new_key_sig: the new key's signature over
            ``0x6F ‖ CE({"chain_id", "uscc", "old_key", "new_key"})`` (``rotation_message``):
            proof that the entity holds it.
    """
    require_unfrozen_sender(call.state, call.sender)
    uscc = entity_of_key(call.state, call.sender, call.now_ms)
    if uscc is None:
        raise ContractError(E_NOT_ATTESTED, "the sender is not a key of an attested entity")
    new_key = A.blob(call.args, "new_key", max_len=65)
    sig = A.blob(call.args, "new_key_sig", length=SIG_LEN)
    call.block.suite.check_pubkey(new_key)
    message = rotation_message(call.block.chain_id, uscc, call.sender, new_key)
    if not call.block.suite.verify(new_key, message, sig):
        raise ContractError(E_BAD_SIGNATURE, "the new key's signature does not verify")
    att = _current(call, uscc)
    _unbind(call, att, call.sender)
    _bind(call, att, new_key)
    call.state.put(entity_key(uscc), att)
    call.emit("identity.key_rotated", uscc=uscc)


def revoke(call: Call) -> None:
    """Revoke the current attestation from this block on; the record stays, marked revoked.

    Who: the attestor of the current attestation (role `attestor`, not frozen).

    Args:
        uscc: the entity.
        reason: why (free text, public).
    """
    _require_attestor(call)
    uscc = require_uscc(call.args.get("uscc"))
    att = _current(call, uscc)
    _require_own_attestation(call, att)
    if att["revoked_ms"] != 0:
        raise ContractError(E_STATE, f"the attestation of {uscc} is already revoked")
    att["revoked_ms"] = call.now_ms
    att["revoke_reason"] = A.text(call.args, "reason")
    call.state.put(entity_key(uscc), att)
    call.emit("identity.revoked", uscc=uscc)


CONTRACT = Contract(
    "identity",
    {
        "attest": attest,
        "bind_key": bind_key,
        "unbind_key": unbind_key,
        "rotate_key": rotate_key,
        "revoke": revoke,
    },
)
