"""The initial contract state of a chain: parameters, validators, committee and roles.

``genesis_state(doc)`` returns CE-encoded values by state key. ``doc`` is a
``ledger.genesis.GenesisDoc`` (or anything with the same attributes, ``GenesisLike``):
every parameter of ``params.DEFAULTS``, overridden by ``doc.params`` (an unknown name or a
value of the wrong type is refused with ``ValueError``); ``gov/validators``; every committee
key as role ``committee`` (and ``gov/committee``); ``doc.roles`` (role name → member keys);
``gov/demo_chain`` = true when ``doc.demo`` declares a demonstration chain. A parameter of
``params.DEMO_ONLY`` (the demo days) away from its default on a chain that is not a demo
chain is refused (DOMAIN.md: demo days exist only on a chain whose genesis says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from contracts import keys
from contracts.errors import ContractError
from contracts.governance import ROLES, grant_role
from contracts.params import DEFAULTS, DEMO_ONLY, check_param
from contracts.state import DictState, Overlay
from ledger.block import Validator, validators_from_obj, validators_to_obj


class GenesisLike(Protocol):
    @property
    def chain_id(self) -> str: ...
    @property
    def time_ms(self) -> int: ...

    @property
    def validators(self) -> Sequence[Validator]: ...
    @property
    def committee(self) -> Sequence[bytes]: ...
    @property
    def roles(self) -> Mapping[str, Sequence[bytes]]: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def demo(self) -> bool: ...


def genesis_state(doc: GenesisLike) -> dict[str, bytes]:
    """CE bytes by key of the state before block 1."""
    state = Overlay(DictState())
    values: dict[str, int | str] = dict(DEFAULTS)
    for name, value in doc.params.items():
        try:
            checked_name, checked_value = check_param(name, value)
        except ContractError as exc:
            raise ValueError(f"genesis params: {exc.message}") from exc
        values[checked_name] = checked_value
    for name in DEMO_ONLY:
        if values[name] != DEFAULTS[name] and not doc.demo:
            raise ValueError(
                f"genesis params: {name} is for demonstration chains only (genesis field demo)"
            )
    for name, value in values.items():
        state.put(keys.param(name), value)
    if doc.demo:
        state.put(keys.DEMO_CHAIN, True)

    vals = validators_from_obj(validators_to_obj(list(doc.validators)))
    state.put(keys.VALIDATORS, validators_to_obj(vals))

    if not doc.committee:
        raise ValueError("genesis needs at least one committee member")
    for member in doc.committee:
        grant_role(state, "committee", bytes(member), 0)
    for role, members in doc.roles.items():
        if role not in ROLES:
            raise ValueError(f"genesis roles: unknown role {role!r}")
        for member in members:
            if not state.exists(keys.role(role, bytes(member))):
                grant_role(state, role, bytes(member), 0)
    return {k: v for k, v in state.writes.items() if v is not None}
