"""The contracts' per-block memo of decoded records (``Overlay.get_shared`` /
``get_derived``) and the cheaper helpers beside it: never stale, never a mutable object
another transaction could see, and the same answers as the code they replace."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from contracts import opening, sealing
from contracts.errors import ContractError
from contracts.params import text_set
from contracts.runtime import BlockContext, Call, Contract, Executor
from contracts.state import DictState, Overlay, frozen
from contracts.uscc import _VALUE, ALPHABET, WEIGHTS, check_char, valid_uscc
from ledger import encoding
from ledger.crypto import ED25519_SHA256
from ledger.tx import OK, SignedTx, TxBody, sign_tx

SUITE = ED25519_SHA256
RECORD = {"name": "t", "lots": [{"lot": 1, "tags": ["a"]}], "n": 1, "blob": b"x"}


def thaw(value: Any) -> Any:
    """A frozen value back as plain dicts and lists (for comparing with ``get``)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def state_with(key: str, value: Any) -> DictState:
    return DictState({key: encoding.encode(value)})


def test_a_shared_value_is_the_decoded_value_deeply_frozen() -> None:
    view = Overlay(state_with("r", RECORD))
    shared = view.get_shared("r")
    assert thaw(shared) == view.get("r") == RECORD
    with pytest.raises(TypeError):
        shared["n"] = 2
    with pytest.raises(TypeError):
        shared["lots"][0]["lot"] = 2
    with pytest.raises(AttributeError):
        shared["lots"][0]["tags"].append("b")
    assert view.get_shared("absent") is None


def test_a_block_decodes_a_shared_value_once_for_its_transactions() -> None:
    block = Overlay(state_with("r", RECORD))
    first = block.child().get_shared("r")
    assert block.child().get_shared("r") is first
    assert Overlay(state_with("r", RECORD)).get_shared("r") is not first  # another block


def test_a_write_is_seen_at_once_and_a_dropped_write_is_forgotten() -> None:
    block = Overlay(state_with("r", RECORD))
    before = block.get_shared("r")
    failed = block.child()
    failed.put("r", {**RECORD, "n": 2})
    assert failed.get_shared("r")["n"] == 2  # the transaction sees its own write
    assert block.child().get_shared("r")["n"] == 1  # dropped: never committed
    assert thaw(block.get_shared("r")) == thaw(before)
    ok = block.child()
    ok.put("r", {**RECORD, "n": 3})
    ok.commit()
    assert block.child().get_shared("r")["n"] == 3
    deleted = block.child()
    deleted.delete("r")
    assert deleted.get_shared("r") is None
    assert block.get_shared("r")["n"] == 3


def test_each_derivation_is_remembered_apart() -> None:
    view = Overlay(state_with("r", RECORD))

    def name(v: Any) -> str:
        return str(v["name"])

    assert view.get_derived("r", name) == "t"
    assert thaw(view.get_shared("r")) == RECORD
    assert view.get_derived("absent", name) is None


def test_a_handler_that_mutates_a_shared_value_stops_the_block() -> None:
    """A bug, not a refusal: TypeError is not a ContractError, so no receipt hides it."""

    def mutate(call: Call) -> None:
        call.state.get_shared("r")["n"] = 5

    secret = SUITE.generate_secret()
    executor = Executor([Contract("t", {"m": mutate})])
    ctx = BlockContext("test", SUITE, 1, 1_700_000_000_000)
    txs: list[SignedTx] = [
        sign_tx(SUITE, secret, TxBody("test", SUITE.public_key(secret), 0, "t.m", {}))]
    with pytest.raises(TypeError):
        executor.execute_block(state_with("r", RECORD), ctx, txs)


def test_frozen_leaves_scalars_as_they_are() -> None:
    for v in (None, True, 0, -5, "x", b"y"):
        assert frozen(v) is v


def _old_check_char(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    check = 31 - total % 31
    return ALPHABET[0 if check == 31 else check]


def _old_valid_uscc(code: object) -> bool:
    if type(code) is not str or len(code) != 18:
        return False
    if any(ch not in _VALUE for ch in code):
        return False
    return _old_check_char(code[:-1]) == code[-1]


def test_the_uscc_check_gives_the_answers_it_gave() -> None:
    rng = random.Random(7)
    symbols = ALPHABET + "IOSVZaz-é "
    for _ in range(5000):
        first = "".join(rng.choice(ALPHABET) for _ in range(17))
        assert check_char(first) == _old_check_char(first)
        good = first + check_char(first)
        assert valid_uscc(good) and _old_valid_uscc(good)
        noisy = "".join(rng.choice(symbols) for _ in range(rng.choice((17, 18, 19))))
        assert valid_uscc(noisy) == _old_valid_uscc(noisy)
    with pytest.raises(ValueError):
        check_char(ALPHABET[:16])
    with pytest.raises(KeyError):
        check_char("I" * 17)


def test_bid_set_xor_is_the_bytewise_xor() -> None:
    rng = random.Random(3)
    for _ in range(1000):
        a, b = rng.randbytes(32), rng.randbytes(32)
        assert opening.xor(a, b) == bytes(x ^ y for x, y in zip(a, b, strict=True))
    assert opening.xor(opening.ZERO, opening.ZERO) == opening.ZERO
    with pytest.raises(ValueError):
        opening.xor(bytes(32), bytes(31))


def test_text_set_remembered_is_the_same_set() -> None:
    assert text_set(" works, goods,,services ") == frozenset({"works", "goods", "services"})
    assert text_set("") == frozenset()


def test_a_commitment_from_the_summary_hash_is_the_commitment() -> None:
    sealed = bytes(range(256)) * 16
    args = ("chain", "T-1", 3, "91350100M000100Y43", bytes(32))
    assert sealing.commitment(SUITE, *args, sealed) == sealing.commitment_of_hashes(
        SUITE, *args, SUITE.hash(sealed))


def test_a_refused_bid_leaves_the_block_state_as_it_was() -> None:
    """A ContractError after a shared read changes nothing: receipts as before."""

    def read_then_fail(call: Call) -> None:
        call.state.put("r", {**RECORD, "n": 9})
        assert call.state.get_shared("r")["n"] == 9
        raise ContractError("E_TEST", "asked to fail")

    def read(call: Call) -> None:
        call.emit("n", n=call.state.get_shared("r")["n"])

    secret = SUITE.generate_secret()
    sender = SUITE.public_key(secret)
    executor = Executor([Contract("t", {"fail": read_then_fail, "read": read})])
    ctx = BlockContext("test", SUITE, 1, 1_700_000_000_000)
    txs = [sign_tx(SUITE, secret, TxBody("test", sender, n, call, {}))
           for n, call in enumerate(("t.read", "t.fail", "t.read"))]
    result = executor.execute_block(state_with("r", RECORD), ctx, txs)
    assert [r.code for r in result.receipts] == [OK, "E_TEST", OK]
    assert [r.events for r in result.receipts] == [({"type": "n", "n": 1},), (),
                                                   ({"type": "n", "n": 1},)]
    assert "r" not in result.writes
