"""What an attacker sends, built byte by byte: deep and wide CE values and validly signed
transactions whose ``args`` the project's own encoder would refuse to build, plus the
largest transaction the limits admit (the honest worst case)."""

from __future__ import annotations

from typing import Any

import msgpack

from ledger import limits, tags
from ledger.crypto import Suite
from ledger.tx import SignedTx, TxBody, sign_tx

CHAIN = "attack-chain"


def pack(value: Any) -> bytes:
    """Plain msgpack (canonical for the flat values used here)."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def nested_maps(depth: int, leaf: bytes = b"\x01") -> bytes:
    """CE of ``{"a": {"a": ... leaf}}`` with ``depth`` maps, written without recursion."""
    return b"\x81\xa1a" * depth + leaf


def nested_arrays(depth: int, leaf: bytes = b"\xc0") -> bytes:
    """CE of ``[[...[leaf]...]]`` with ``depth`` arrays."""
    return b"\x91" * depth + leaf


def crafted_tx(suite: Suite, secret: bytes, args_ce: bytes, nonce: int = 0,
               chain_id: str = CHAIN) -> bytes:
    """A canonical, validly signed transaction whose ``args`` are the bytes ``args_ce``:
    what a client with its own encoder can send, whatever our encoder allows."""
    sender = suite.public_key(secret)
    body = (b"\x85" + pack("args") + args_ce + pack("call") + pack("sys.noop")
            + pack("chain_id") + pack(chain_id) + pack("nonce") + pack(nonce)
            + pack("sender") + pack(sender))
    sig = suite.sign(secret, bytes((tags.TX_SIGN,)) + body)
    return b"\x82\xa4body" + body + b"\xa3sig\xc4\x40" + sig


def signature_of_crafted_verifies(suite: Suite, data: bytes) -> bool:
    """Whether the signature in a crafted transaction verifies over its body bytes (the
    check the attack passed before the limits)."""
    body = data[len(b"\x82\xa4body"): -len(b"\xa3sig\xc4\x40") - 64]
    sender = msgpack.unpackb(data, raw=False)["body"]["sender"]
    return suite.verify(sender, bytes((tags.TX_SIGN,)) + body, data[-64:])


def worst_case_args(budget_bytes: int) -> dict[str, Any]:
    """Args at every limit at once, encoding to at most ``budget_bytes``: the deepest
    allowed nesting (maps and arrays), the longest key, the widest container, the longest
    text (multi-byte UTF-8) and byte string, and both ends of the integer range."""
    deep: Any = [limits.INT_MIN, limits.INT_MAX, None, True]
    for level in range(limits.MAX_ARGS_DEPTH - 2):  # the list above and args: 2 levels
        deep = {"k" * limits.MAX_ARGS_KEY_BYTES: deep} if level % 2 else [deep]
    text = "界" * (limits.MAX_ARGS_STR_BYTES // 3)  # 3 bytes each in UTF-8
    args: dict[str, Any] = {
        "deep": deep,
        "wide": list(range(limits.MAX_ARGS_ITEMS)),
        "text": text,
    }
    used = len(pack(args))
    blobs = 0
    while used + limits.MAX_ARGS_STR_BYTES + 16 <= budget_bytes:
        args[f"blob{blobs:02d}"] = bytes([blobs]) * limits.MAX_ARGS_STR_BYTES
        used += limits.MAX_ARGS_STR_BYTES + 16
        blobs += 1
    rest = budget_bytes - len(pack(args)) - 16
    if rest > 0:
        args["tail"] = b"\xff" * rest
    return args


def worst_case_tx(suite: Suite, secret: bytes, nonce: int) -> SignedTx:
    """A transaction at every args limit and within 400 bytes of ``MAX_TX_BYTES``."""
    overhead = 400  # body fields other than args, the signature, map framing
    args = worst_case_args(limits.MAX_TX_BYTES - overhead)
    body = TxBody(CHAIN, suite.public_key(secret), nonce, "sys.noop", args)
    return sign_tx(suite, secret, body)
