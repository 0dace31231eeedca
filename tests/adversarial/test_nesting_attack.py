"""Attack: one transaction halts the chain (review finding 1).

Before: a 3 KB transaction whose ``args`` nest ~990 maps deep passed the strict decoder
and the signature check; the leader then died encoding its proposal (``RecursionError``
in the canonical encoder) and so did every next leader. A 40-deep one committed, and its
block was then refused forever by the block's JSON form ("nested deeper than 32").
Now: both are refused when the transaction is decoded, whatever path it arrives by, and
the encoder cannot recurse past its bound on any input, however deep the caller's stack.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ledger import encoding, jsonform, limits
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import EncodingError, InvalidInput
from ledger.tx import SignedTx
from tests.adversarial.attacks import (
    crafted_tx,
    nested_arrays,
    nested_maps,
    signature_of_crafted_verifies,
)

SUITES = [ED25519_SHA256, SM2_SM3]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("depth", [990, 40, limits.MAX_ARGS_DEPTH + 1])
def test_a_deeply_nested_signed_transaction_is_refused_at_decode(suite: Suite,
                                                                 depth: int) -> None:
    secret = suite.generate_secret()
    data = crafted_tx(suite, secret, nested_maps(depth))
    assert signature_of_crafted_verifies(suite, data)  # the attack is validly signed
    if depth == 990:
        assert len(data) < 4 * 1024  # and small: the review's 3 KB transaction
    with pytest.raises(InvalidInput, match=f"args may nest at most {limits.MAX_ARGS_DEPTH}"):
        SignedTx.decode(data)


@pytest.mark.parametrize("wrap", [nested_maps, nested_arrays], ids=["maps", "arrays"])
def test_args_at_the_depth_limit_are_admitted_and_survive_every_stage(wrap: Any) -> None:
    suite = ED25519_SHA256
    # args is the first map; the rest of the nesting is inside its one value
    inner = wrap(limits.MAX_ARGS_DEPTH - 1)
    data = crafted_tx(suite, suite.generate_secret(), b"\x81\xa1x" + inner)
    tx = SignedTx.decode(data)
    assert tx.verify_signature(suite)
    assert encoding.encode(tx.to_obj()) == data  # re-encodes (what a leader does)
    as_json = jsonform.to_json(tx.to_obj(), jsonform.TX)  # served as JSON
    assert SignedTx.from_obj(jsonform.from_json(as_json, jsonform.TX)) == tx


def test_the_json_path_applies_the_same_args_limits() -> None:
    """A transaction submitted as JSON reaches ``SignedTx.from_obj`` with args jsonform
    accepted (up to its 32 levels); the args limits still refuse what the CE path does."""
    suite = ED25519_SHA256
    args: Any = 1
    for _ in range(limits.MAX_ARGS_DEPTH + 2):
        args = {"a": args}
    obj = {"body": {"chain_id": "c", "sender": suite.public_key(suite.generate_secret()).hex(),
                    "nonce": 0, "call": "sys.noop", "args": args}, "sig": "00" * 64}
    value = jsonform.from_json(obj, jsonform.TX)
    with pytest.raises(InvalidInput, match="nested deeper than 16"):
        SignedTx.from_obj(value)


@pytest.mark.parametrize("bad, reason", [
    ({"k": "x" * (limits.MAX_ARGS_STR_BYTES + 1)}, "text longer"),
    ({"k": "é" * (limits.MAX_ARGS_STR_BYTES // 2 + 1)}, "text longer"),  # counted in UTF-8
    ({"k": b"x" * (limits.MAX_ARGS_STR_BYTES + 1)}, "byte string longer"),
    ({"k" * (limits.MAX_ARGS_KEY_BYTES + 1): 1}, "map key longer"),
    ({"k": list(range(limits.MAX_ARGS_ITEMS + 1))}, "items"),
    ({"k": {str(i): i for i in range(limits.MAX_ARGS_ITEMS + 1)}}, "items"),
    ({"k": 1 << 64}, "64-bit"),
    ({"k": -(1 << 63) - 1}, "64-bit"),
    ({"k": 1.5}, "float"),
    ({"k": (1, 2)}, "tuple"),
    ({"k": "\ud800" * 40}, "not valid Unicode"),
    ({1: 1}, "not text"),
])
def test_args_outside_the_limits_are_refused_with_the_reason(bad: dict[Any, Any],
                                                            reason: str) -> None:
    body = {"chain_id": "c", "sender": b"k" * 32, "nonce": 0, "call": "a.b", "args": bad}
    with pytest.raises(InvalidInput, match=reason):
        SignedTx.from_obj({"body": body, "sig": bytes(64)})


def test_args_at_every_limit_at_once_are_admitted() -> None:
    at_limit = {
        "t": "界" * (limits.MAX_ARGS_STR_BYTES // 3),
        "b": bytes(limits.MAX_ARGS_STR_BYTES),
        "k" * limits.MAX_ARGS_KEY_BYTES: limits.INT_MAX,
        "l": [limits.INT_MIN] * limits.MAX_ARGS_ITEMS,
    }
    body = {"chain_id": "c", "sender": b"k" * 32, "nonce": 0, "call": "a.b", "args": at_limit}
    tx = SignedTx.from_obj({"body": body, "sig": bytes(64)})
    assert SignedTx.decode(tx.encode()) == tx


def _frames_below() -> int:
    frame, n = sys._getframe(1), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1  # type: ignore[assignment]
    return n


def _at_stack_depth(frames: int, fn: Any) -> Any:
    """Call ``fn`` with about ``frames`` Python frames below it (a leader deep in its event
    loop, its replica and its effect handlers)."""
    if frames <= 0:
        return fn()
    return _at_stack_depth(frames - 1, fn)


@pytest.mark.parametrize("depth", [limits.MAX_CE_DEPTH + 1, 990, 5000])
def test_the_encoder_refuses_deep_values_without_recursing_into_them(depth: int) -> None:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    # Leave the encoder 45 frames: its walk needs at most 34 (one per level, up to the bound).
    spare = sys.getrecursionlimit() - _frames_below() - 45
    with pytest.raises(EncodingError, match="nested deeper than 32"):
        _at_stack_depth(spare, lambda: encoding.encode(value))
    # Nor does a cycle recurse forever.
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(EncodingError, match="nested deeper"):
        encoding.encode(cycle)


def test_the_encoder_and_decoder_agree_on_the_bound() -> None:
    for wrap in (nested_maps, nested_arrays):
        ok = wrap(limits.MAX_CE_DEPTH)
        assert encoding.encode(encoding.decode(ok)) == ok
        with pytest.raises(EncodingError, match="nested deeper than 32"):
            encoding.decode(wrap(limits.MAX_CE_DEPTH + 1))
    value: Any = []
    for _ in range(limits.MAX_CE_DEPTH - 1):
        value = [value]
    encoding.encode(value)
    with pytest.raises(EncodingError):
        encoding.encode([value])
