"""The evaluation expert pool (``expert.*``): experts registered under opaque codes by the
expert-pool role (provincial pool, 省综合评标专家库; DOMAIN.md "Evaluation committees").

An expert record holds what a draw needs and nothing that names the person: the opaque
``code`` (public), the key the expert signs score sheets with, specialties, the region of
the pool it was registered in, its employer (USCC), the USCCs it declared a relation to, and
its status (``active``, ``suspended``, ``retired``). Who holds a code is kept off chain.
An expert of one region's pool may sit anywhere (remote evaluation).

Every change makes a new version; the one it replaces is kept under
``expert/<code>/v/<version>`` with the instant it stopped being current, so a draw can read
an expert *as of its request* (``as_of``): a draw seats an expert only if it is eligible
both as of the request and now (``contracts.committee``), so a change made after a draw's
seed is public can only take an expert out, never put one in (see ``contracts.beacon``).
Relations only grow: a declared relation is never withdrawn.

Calls:
- ``expert.register {code, pubkey, specialties, region, employer, relations?}`` — role
  ``expert_pool``; codes and keys are unique.
- ``expert.update {code, status?, specialties?, region?, employer?, relations?, pubkey?}``
  — role ``expert_pool``; only the fields given change (relations given are added).
- ``expert.declare {uscc}`` — the expert itself, from its key: declares a relation (回避).

Pool index per specialty (``contracts.lists``): ``expert/spec/<specialty>`` holds the count,
``expert/spec/<specialty>/<i>`` the i-th code registered with that specialty. A draw ranges
over the positions that existed when it was requested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from contracts import args as A
from contracts import lists
from contracts.errors import E_BAD_ARGS, E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, ContractError
from contracts.governance import require_unfrozen_sender
from contracts.runtime import Call, Contract
from contracts.uscc import require_uscc

StateGet = Callable[[str], Any]

STATUSES = ("active", "suspended", "retired")
ACTIVE = "active"
_CODE = re.compile(r"[A-Za-z0-9._-]{1,32}")


def expert_key(code: str) -> str:
    return f"expert/{code}"


def version_key(code: str, version: int) -> str:
    """An earlier version of an expert, with ``until_ms``: when it stopped being current."""
    return f"expert/{code}/v/{version}"


def key_index(pubkey: bytes) -> str:
    """``{"code"}``: the expert a key belongs to."""
    return f"expert/key/{pubkey.hex()}"


def pool_index(specialty: str) -> str:
    return f"expert/spec/{specialty}"


# --- queries (the draw and the evaluation read these) ---


def current(get: StateGet, code: str) -> dict[str, Any] | None:
    value = get(expert_key(code))
    return dict(value) if value is not None else None


def as_of(get: StateGet, code: str, t_ms: int) -> dict[str, Any] | None:
    """The expert's record as it stood at ``t_ms`` (None if not yet registered then)."""
    rec = current(get, code)
    while rec is not None and rec["since_ms"] > t_ms:
        if rec["version"] == 1:
            return None
        older = get(version_key(code, rec["version"] - 1))
        if older is None:
            raise KeyError(f"expert {code} lost version {rec['version'] - 1}")
        rec = dict(older)
    return rec


def code_of_key(get: StateGet, pubkey: bytes) -> str | None:
    found = get(key_index(pubkey))
    return None if found is None else str(found["code"])


def pool_size(get: StateGet, specialty: str) -> int:
    return lists.length(get, pool_index(specialty))


def pool_code(get: StateGet, specialty: str, position: int) -> str:
    return str(lists.item(get, pool_index(specialty), position))


def conflicted(rec: dict[str, Any], parties: frozenset[str]) -> bool:
    """Employed by, or related to, one of the parties (tenderer, agent, bidders)."""
    return rec["employer"] in parties or any(r in parties for r in rec["relations"])


# --- handlers ---


def _code(a: Any, name: str = "code") -> str:
    code = A.text(a, name, max_len=32)
    if not _CODE.fullmatch(code):
        raise ContractError(E_BAD_ARGS, f"an expert code is 1–32 of [A-Za-z0-9._-]: {code!r}")
    return code


def _specialties(call: Call) -> list[str]:
    limit = int(call.param("expert_specialties_max"))
    items = A.text_list(call.args, "specialties", max_items=limit, max_len=32)
    if not items or len(set(items)) != len(items) or not all(_CODE.fullmatch(x) for x in items):
        raise ContractError(E_BAD_ARGS, "specialties are distinct codes of [A-Za-z0-9._-]")
    return sorted(items)


def _relations(call: Call, held: list[str]) -> list[str]:
    given = A.text_list(call.args, "relations", max_items=64, max_len=18)
    merged = sorted(set(held) | {require_uscc(x) for x in given})
    limit = int(call.param("expert_relations_max"))
    if len(merged) > limit:
        raise ContractError(E_BAD_ARGS, f"an expert declares at most {limit} relations")
    return merged


def _pubkey(call: Call) -> bytes:
    """A key of the expert's own: no other expert's, and bound to no entity (user walk: an
    expert registered with the tenderer's key was seated as an independent expert and
    scored its own tender, taking the representative's seat too); ``identity`` refuses to
    bind an expert's key in turn."""
    from contracts.identity import key_binding_key

    pubkey = A.blob(call.args, "pubkey", max_len=65)
    call.block.suite.check_pubkey(pubkey)
    if call.state.exists(key_index(pubkey)):
        raise ContractError(E_EXISTS, "the key belongs to an expert already")
    binding = call.state.get(key_binding_key(pubkey))
    if binding is not None:
        raise ContractError(E_EXISTS, f"the key is bound to entity {binding.get('uscc')}: an "
                                      "expert signs with a key of its own")
    return pubkey


def _require_pool(call: Call) -> None:
    require_unfrozen_sender(call.state, call.sender)
    call.require_role("expert_pool")


def register(call: Call) -> None:
    """Register an expert in the pool under an opaque code; it is ``active`` and indexed
    under each of its specialties.

    Who: a key holding the role `expert_pool` (the provincial pool), not frozen.

    Args:
        code: the expert's public code, new.
        pubkey: the key the expert signs with (score sheets, report, decline); no other
            expert's.
        specialties: distinct specialty codes of ``[A-Za-z0-9._-]``, 1 to
            ``expert_specialties_max``.
        region: the region of the pool it is registered in.
        employer: its employer's USCC (never seated on that employer's tenders).
        relations (optional): USCCs it has declared a relation to, at most
            ``expert_relations_max``.
    """
    _require_pool(call)
    code = _code(call.args)
    if call.state.exists(expert_key(code)):
        raise ContractError(E_EXISTS, f"expert {code} is registered")
    pubkey = _pubkey(call)
    rec: dict[str, Any] = {
        "code": code,
        "key": pubkey,
        "specialties": _specialties(call),
        "region": A.text(call.args, "region", max_len=32),
        "employer": require_uscc(A.text(call.args, "employer", max_len=18)),
        "relations": _relations(call, []) if "relations" in call.args else [],
        "status": ACTIVE,
        "version": 1,
        "since_ms": call.now_ms,
        "registered_ms": call.now_ms,
    }
    for specialty in rec["specialties"]:
        lists.append(call.state, pool_index(specialty), code)
    call.state.put(key_index(pubkey), {"code": code})
    call.state.put(expert_key(code), rec)
    call.emit("expert.registered", code=code, region=rec["region"])


def _new_version(call: Call, rec: dict[str, Any]) -> dict[str, Any]:
    """Keep the current version in history; the caller changes and saves the next one."""
    call.state.put(version_key(rec["code"], rec["version"]), {**rec, "until_ms": call.now_ms})
    return {**rec, "version": rec["version"] + 1, "since_ms": call.now_ms}


def _load(call: Call, code: str) -> dict[str, Any]:
    rec = current(call.state.get, code)
    if rec is None:
        raise ContractError(E_NOT_FOUND, f"no expert {code}")
    return rec


def update(call: Call) -> None:
    """Change an expert: a new version (the old one kept with the instant it ended); only
    the fields given change.

    Who: a key holding the role `expert_pool`, not frozen.

    Args:
        code: the expert.
        status (optional): ``active``, ``suspended`` or ``retired``.
        specialties (optional): the new specialties (new ones are indexed).
        region (optional): the new region.
        employer (optional): the new employer's USCC.
        relations (optional): relations to add (relations only grow).
        pubkey (optional): a new signing key, no other expert's.
    """
    _require_pool(call)
    rec = _new_version(call, _load(call, _code(call.args)))
    a = call.args
    if "status" in a:
        status = A.text(a, "status", max_len=16)
        if status not in STATUSES:
            raise ContractError(E_BAD_ARGS, f"status must be one of {list(STATUSES)}")
        rec["status"] = status
    if "specialties" in a:
        specialties = _specialties(call)
        for specialty in sorted(set(specialties) - set(rec["specialties"])):
            lists.append(call.state, pool_index(specialty), rec["code"])
        rec["specialties"] = specialties
    if "region" in a:
        rec["region"] = A.text(a, "region", max_len=32)
    if "employer" in a:
        rec["employer"] = require_uscc(A.text(a, "employer", max_len=18))
    if "relations" in a:
        rec["relations"] = _relations(call, rec["relations"])
    if "pubkey" in a:
        pubkey = _pubkey(call)
        call.state.delete(key_index(rec["key"]))
        call.state.put(key_index(pubkey), {"code": rec["code"]})
        rec["key"] = pubkey
    call.state.put(expert_key(rec["code"]), rec)
    call.emit("expert.updated", code=rec["code"], version=rec["version"])


def declare(call: Call) -> None:
    """Declare a relation to an entity (回避): the expert will never sit on its tenders.

    Who: the expert itself, from its registered key (not frozen).

    Args:
        uscc: the related entity (not declared already; at most ``expert_relations_max``).
    """
    require_unfrozen_sender(call.state, call.sender)
    code = code_of_key(call.state.get, call.sender)
    if code is None:
        raise ContractError(E_FORBIDDEN, "the sender is not an expert's key")
    uscc = require_uscc(A.text(call.args, "uscc", max_len=18))
    rec = _load(call, code)
    if uscc in rec["relations"]:
        raise ContractError(E_EXISTS, f"the relation to {uscc} is declared")
    rec = _new_version(call, rec)
    limit = int(call.param("expert_relations_max"))
    if len(rec["relations"]) >= limit:
        raise ContractError(E_BAD_ARGS, f"an expert declares at most {limit} relations")
    rec["relations"] = sorted([*rec["relations"], uscc])
    call.state.put(expert_key(code), rec)
    call.emit("expert.declared", code=code)


CONTRACT = Contract("expert", {"register": register, "update": update, "declare": declare})
