"""Data consent (``consent.*``, 数据确认与授权): an entity lets a platform use a data set.

An entity, sending from one of its bound keys, grants a platform (a key holding the role
``platform``) access to a named data set it owns, for a scope (purposes, ``"*"`` for any)
until ``valid_to_ms``; it may revoke the grant at any time. The record under
``consent/<uscc>/<platform hex>/<dataset>`` is the proof of authorisation: a later grant
replaces the earlier one, and a revocation marks it (``revoked_ms``) without deleting it.
"""

from __future__ import annotations

import re
from typing import Any

from contracts import args as A
from contracts.errors import E_BAD_ARGS, E_NOT_FOUND, E_STATE, ContractError
from contracts.identity import require_entity_sender
from contracts.periods import DAY_MS
from contracts.runtime import Call, Contract, has_role
from contracts.state import Overlay

E_NOT_PLATFORM = "E_NOT_PLATFORM"  # the grantee does not hold the role platform

_DATASET = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
ANY_PURPOSE = "*"


def consent_key(uscc: str, platform: bytes, dataset: str) -> str:
    return f"consent/{uscc}/{platform.hex()}/{dataset}"


def consent_in_force(
    state: Overlay, uscc: str, platform: bytes, dataset: str, purpose: str, now_ms: int
) -> bool:
    """True when the entity's grant to the platform covers the data set and purpose now."""
    rec = state.get(consent_key(uscc, platform, dataset))
    if rec is None:
        return False
    if not rec["from_ms"] <= now_ms < rec["to_ms"]:
        return False
    if rec["revoked_ms"] != 0 and now_ms >= rec["revoked_ms"]:
        return False
    return ANY_PURPOSE in rec["scope"] or purpose in rec["scope"]


def _dataset(call: Call) -> str:
    dataset = A.text(call.args, "dataset", max_len=64)
    if not _DATASET.fullmatch(dataset):
        raise ContractError(E_BAD_ARGS, "a data set name is lowercase [a-z0-9_.-], at most 64")
    return dataset


def grant(call: Call) -> None:
    """Grant a platform access to a data set the entity owns, in force from now; a later
    grant replaces the earlier one.

    Who: a key bound to an entity whose attestation is in force (key and entity not frozen):
    the entity grants.

    Args:
        platform: the grantee's public key, which must hold the role ``platform``
            (``E_NOT_PLATFORM``).
        dataset: the data set's name: lowercase ``[a-z0-9_.-]``, starting with a letter or
            digit.
        scope: the purposes allowed, distinct (``"*"``: any purpose).
        valid_to_ms: end of the grant: after now, at most ``consent_max_days`` away.
    """
    uscc = require_entity_sender(call)
    platform = A.blob(call.args, "platform", max_len=65)
    if not has_role(call.state, "platform", platform):
        raise ContractError(E_NOT_PLATFORM, "the grantee is not a platform")
    dataset = _dataset(call)
    scope = A.text_list(call.args, "scope", max_items=32, max_len=64)
    if not scope or len(set(scope)) != len(scope):
        raise ContractError(E_BAD_ARGS, "argument 'scope' must list distinct purposes")
    valid_to_ms = A.integer(call.args, "valid_to_ms")
    max_days = int(call.param("consent_max_days"))
    if not call.now_ms < valid_to_ms <= call.now_ms + max_days * DAY_MS:
        raise ContractError(E_BAD_ARGS, f"valid_to_ms must be within {max_days} days from now")
    rec: dict[str, Any] = {
        "scope": sorted(scope),
        "from_ms": call.now_ms,
        "to_ms": valid_to_ms,
        "granted_by": call.sender,
        "revoked_ms": 0,
    }
    call.state.put(consent_key(uscc, platform, dataset), rec)
    call.emit("consent.granted", uscc=uscc, platform=platform, dataset=dataset)


def revoke(call: Call) -> None:
    """End a grant now; the record stays, marked revoked.

    Who: a key bound to the granting entity, attestation in force (key and entity not frozen).

    Args:
        platform: the grantee's public key.
        dataset: the data set's name.
    """
    uscc = require_entity_sender(call)
    platform = A.blob(call.args, "platform", max_len=65)
    dataset = _dataset(call)
    key = consent_key(uscc, platform, dataset)
    rec = call.state.get(key)
    if rec is None:
        raise ContractError(E_NOT_FOUND, "no such consent")
    if rec["revoked_ms"] != 0:
        raise ContractError(E_STATE, "the consent is already revoked")
    rec = dict(rec)
    rec["revoked_ms"] = call.now_ms
    call.state.put(key, rec)
    call.emit("consent.revoked", uscc=uscc, platform=platform, dataset=dataset)


CONTRACT = Contract("consent", {"grant": grant, "revoke": revoke})
