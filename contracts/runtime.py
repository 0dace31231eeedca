"""The contract runtime: dispatch, nonces, receipts, roles and parameters.

``Executor.execute_block(reader, ctx, txs)`` runs a block's transactions in order over one
block overlay and returns the block's writes and receipts. For each transaction:

1. a body naming another chain is refused (``E_CHAIN_ID``) and changes nothing;
2. its nonce must equal the sender's next nonce (``nonce/<sender>``, starting at 0); a
   replayed, stale or future nonce is refused (``E_NONCE``) and changes nothing;
3. otherwise the sender's nonce is bumped whatever happens next, and ``call`` =
   ``"contract.method"`` is dispatched to the handler registered for it, in a child overlay
   that is committed only if the handler returns. A ``ContractError`` drops the child's
   writes and becomes the receipt's code, so a failed transaction changes nothing but the
   sender's nonce.

Signatures are not checked here: the node checks each transaction's signature once, on entry
to the pool or when a proposed block brings one it has not seen, before execution.

The calls themselves, their arguments, senders and codes: ``contracts/CALLS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import keys
from contracts.errors import (
    E_BAD_ARGS,
    E_CHAIN_ID,
    E_FORBIDDEN,
    E_NONCE,
    E_UNKNOWN_CALL,
    ContractError,
)
from contracts.state import Overlay, StateReader
from ledger.crypto import Suite
from ledger.errors import InvalidInput
from ledger.tx import OK, Receipt, SignedTx

MAX_EVENTS_PER_TX = 64


@dataclass(frozen=True)
class BlockContext:
    """What a contract may know about the block it runs in. ``time_ms`` is "now"."""

    chain_id: str
    suite: Suite
    height: int
    time_ms: int
    proposer: int = 0


@dataclass
class Call:
    """One transaction's call as a handler sees it."""

    state: Overlay
    block: BlockContext
    sender: bytes
    tx_id: bytes
    args: Mapping[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def now_ms(self) -> int:
        return self.block.time_ms

    def emit(self, event_type: str, **attrs: Any) -> None:
        if len(self.events) >= MAX_EVENTS_PER_TX:
            raise ContractError(E_BAD_ARGS, "too many events from one transaction")
        self.events.append({"type": event_type, **attrs})

    def param(self, name: str) -> Any:
        return param(self.state, name)

    def has_role(self, role_name: str, member: bytes | None = None) -> bool:
        return has_role(self.state, role_name, self.sender if member is None else member)

    def require_role(self, role_name: str) -> None:
        if not self.has_role(role_name):
            raise ContractError(E_FORBIDDEN, f"the sender does not hold the role {role_name!r}")


def param(state: Overlay, name: str) -> Any:
    """A chain parameter; a missing one is a broken genesis, not a caller's error."""
    value = state.get(keys.param(name))
    if value is None:
        raise KeyError(f"chain parameter {name!r} is not set in state")
    return value


def has_role(state: Overlay, role_name: str, member: bytes) -> bool:
    return state.exists(keys.role(role_name, member))


Handler = Callable[[Call], None]


@dataclass(frozen=True)
class Contract:
    """A contract module: a name and its methods."""

    name: str
    methods: Mapping[str, Handler]


@dataclass(frozen=True)
class BlockResult:
    writes: dict[str, bytes | None]
    receipts: list[Receipt]


def unknown_arguments(call: str, given: Mapping[str, Any], takes: frozenset[str]) -> str:
    """The refusal of arguments ``call`` does not take: the first three by name, and what
    it does take (a misspelling is then plain to see)."""
    unknown = sorted(name for name in given if name not in takes)
    named = ", ".join(repr(name) for name in unknown[:3])
    more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
    listed = ", ".join(sorted(takes)) if takes else "no arguments"
    noun = "argument" if len(unknown) == 1 else "arguments"
    return f"{call} does not take the {noun} {named}{more}; it takes {listed}"


class Executor:
    """Runs transactions through the registered contracts (deterministic, no I/O)."""

    def __init__(self, contracts: Sequence[Contract],
                 arguments: Mapping[str, frozenset[str]] | None = None) -> None:
        """``arguments``: call -> the argument names it takes (``contracts.argnames``); a
        transaction giving any other is refused ``E_BAD_ARGS`` before its handler runs. A
        call it does not name is not checked (a test's own contracts)."""
        self._handlers: dict[str, Handler] = {}
        for contract in contracts:
            for method, handler in contract.methods.items():
                self._handlers[f"{contract.name}.{method}"] = handler
        self._arguments = dict(arguments or {})

    def calls(self) -> list[str]:
        return sorted(self._handlers)

    def execute_block(
        self, reader: StateReader, ctx: BlockContext, txs: Sequence[SignedTx]
    ) -> BlockResult:
        block_state = Overlay(reader)
        receipts = [self.execute_tx(block_state, ctx, tx) for tx in txs]
        return BlockResult(block_state.writes, receipts)

    def execute_tx(self, block_state: Overlay, ctx: BlockContext, tx: SignedTx) -> Receipt:
        body = tx.body
        tx_id = tx.tx_id(ctx.suite)
        if body.chain_id != ctx.chain_id:
            return Receipt(tx_id, E_CHAIN_ID, f"transaction is for chain {body.chain_id!r}")
        nonce_key = keys.nonce(body.sender)
        expected = block_state.get(nonce_key) or 0
        if body.nonce != expected:
            return Receipt(tx_id, E_NONCE, f"nonce {body.nonce} given, {expected} expected")
        block_state.put(nonce_key, expected + 1)

        handler = self._handlers.get(body.call)
        if handler is None:
            return Receipt(tx_id, E_UNKNOWN_CALL, f"no contract method {body.call!r}")
        takes = self._arguments.get(body.call)
        if takes is not None and not takes.issuperset(body.args):
            return Receipt(tx_id, E_BAD_ARGS, unknown_arguments(body.call, body.args, takes))
        tx_state = block_state.child()
        call = Call(tx_state, ctx, body.sender, tx_id, body.args)
        try:
            handler(call)
        except ContractError as exc:
            return Receipt(tx_id, exc.code, exc.message)
        except InvalidInput as exc:
            return Receipt(tx_id, E_BAD_ARGS, str(exc))
        tx_state.commit()
        return Receipt(tx_id, OK, "", tuple(call.events))
