"""The contract runtime: nonces, dispatch, receipts, and that a failed transaction changes
nothing but the sender's nonce."""

from __future__ import annotations

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
from contracts.runtime import BlockContext, Call, Contract, Executor
from contracts.state import DictState, Overlay
from ledger import encoding
from ledger.crypto import ED25519_SHA256
from ledger.tx import OK, SignedTx, TxBody, sign_tx

SUITE = ED25519_SHA256
SECRET = SUITE.generate_secret()
SENDER = SUITE.public_key(SECRET)


def put_then_maybe_fail(call: Call) -> None:
    call.state.put(f"test/{call.args['k']}", call.args["v"])
    call.emit("put", key=call.args["k"])
    if call.args.get("fail"):
        raise ContractError("E_TEST", "asked to fail")


def needs_role(call: Call) -> None:
    call.require_role("platform")
    call.state.put("test/role", 1)


def bad_arg(call: Call) -> None:
    from contracts import args

    args.amount_fen(call.args, "amount")


EXECUTOR = Executor(
    [Contract("t", {"put": put_then_maybe_fail, "role": needs_role, "arg": bad_arg})]
)
CTX = BlockContext("test", SUITE, 1, 1_700_000_000_000)


def tx(nonce: int, call: str, args: dict[str, Any], chain: str = "test") -> SignedTx:
    return sign_tx(SUITE, SECRET, TxBody(chain, SENDER, nonce, call, args))


def run(state: DictState, txs: list[SignedTx]) -> list[str]:
    result = EXECUTOR.execute_block(state, CTX, txs)
    state.apply(result.writes)
    return [r.code for r in result.receipts]


def test_nonces_run_in_sequence_and_replays_are_refused() -> None:
    state = DictState()
    t0 = tx(0, "t.put", {"k": "a", "v": 1})
    assert run(state, [t0, tx(1, "t.put", {"k": "b", "v": 2})]) == [OK, OK]
    assert state.get(keys.nonce(SENDER)) == encoding.encode(2)
    before = dict(state.values)
    assert run(state, [t0]) == [E_NONCE]  # replay of an old transaction
    assert run(state, [tx(5, "t.put", {"k": "c", "v": 3})]) == [E_NONCE]  # a future nonce
    assert state.values == before


def test_failed_call_changes_only_the_nonce() -> None:
    state = DictState()
    result = EXECUTOR.execute_block(state, CTX, [tx(0, "t.put", {"k": "a", "v": 1, "fail": True})])
    assert [r.code for r in result.receipts] == ["E_TEST"]
    assert result.receipts[0].events == ()
    assert result.writes == {keys.nonce(SENDER): encoding.encode(1)}


def test_unknown_call_wrong_chain_missing_role_and_bad_args() -> None:
    state = DictState()
    assert run(state, [tx(0, "t.nope", {})]) == [E_UNKNOWN_CALL]
    assert run(state, [tx(1, "t.put", {"k": "a", "v": 1}, chain="other")]) == [E_CHAIN_ID]
    assert run(state, [tx(1, "t.role", {})]) == [E_FORBIDDEN]
    assert run(state, [tx(2, "t.arg", {"amount": -5})]) == [E_BAD_ARGS]
    assert run(state, [tx(3, "t.arg", {"amount": "5"})]) == [E_BAD_ARGS]
    assert [k for k in state.values if not k.startswith("nonce/")] == []


def test_role_granted_in_state_allows_the_call() -> None:
    state = DictState({keys.role("platform", SENDER): encoding.encode({"granted_height": 0})})
    assert run(state, [tx(0, "t.role", {})]) == [OK]
    assert state.get("test/role") == encoding.encode(1)


def test_later_tx_in_a_block_sees_earlier_writes_and_overlays_isolate() -> None:
    base = DictState({"test/x": encoding.encode(1)})
    block = Overlay(base)
    child = block.child()
    child.put("test/x", 2)
    assert block.get("test/x") == 1 and child.get("test/x") == 2
    child.commit()
    assert block.get("test/x") == 2 and base.get("test/x") == encoding.encode(1)
    value = block.get("test/x")
    value = 3  # rebinding a read value cannot change state
    assert block.get("test/x") == 2 and value == 3


def test_same_block_on_two_fresh_states_is_deterministic() -> None:
    txs = [tx(i, "t.put", {"k": str(i % 3), "v": i, "fail": i % 4 == 0}) for i in range(12)]
    a = EXECUTOR.execute_block(DictState(), CTX, txs)
    b = EXECUTOR.execute_block(DictState(), CTX, txs)
    assert a.writes == b.writes
    assert [r.hash(SUITE) for r in a.receipts] == [r.hash(SUITE) for r in b.receipts]


def test_an_argument_the_call_does_not_take_is_refused_before_its_handler() -> None:
    """A misspelt optional argument must not be ignored: the user walk of 2026-12-03 sent
    ``cross_regoin`` to ``tender.announce`` and got receipt OK with ``cross_region`` false."""
    checked = Executor([Contract("t", {"put": put_then_maybe_fail})],
                       {"t.put": frozenset({"k", "v", "fail"})})
    state = DictState()
    result = checked.execute_block(state, CTX, [
        tx(0, "t.put", {"k": "a", "v": 1, "fial": True}),
        tx(1, "t.put", {"k": "b", "v": 2, "x1": 0, "x2": 0, "x3": 0, "x4": 0}),
        tx(2, "t.put", {"k": "c", "v": 3, "fail": False}),
    ])
    assert [r.code for r in result.receipts] == [E_BAD_ARGS, E_BAD_ARGS, OK]
    assert result.receipts[0].message == (
        "t.put does not take the argument 'fial'; it takes fail, k, v")
    assert result.receipts[1].message.startswith(
        "t.put does not take the arguments 'x1', 'x2', 'x3' and 1 more;")
    # the refused ones ran no handler: only the third wrote, and every nonce moved
    assert sorted(k for k in result.writes if not k.startswith("nonce/")) == ["test/c"]
    assert result.writes[keys.nonce(SENDER)] == encoding.encode(3)
    # unchecked without a table (a test's own contracts): the extra argument is ignored
    assert run(DictState(), [tx(0, "t.put", {"k": "a", "v": 1, "fial": True})]) == [OK]


def test_the_node_s_executor_checks_every_registered_call_s_arguments() -> None:
    from contracts import argnames
    from contracts.registry import default_executor

    executor = default_executor()
    assert sorted(argnames.ARGUMENTS) == executor.calls()
    state = DictState()
    announce = tx(0, "tender.announce", {"tender_id": "T-1", "cross_regoin": True}, "test")
    receipt = executor.execute_block(state, CTX, [announce]).receipts[0]
    assert receipt.code == E_BAD_ARGS
    assert "'cross_regoin'" in receipt.message and "cross_region" in receipt.message
