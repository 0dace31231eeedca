"""The canonical-data limits: one set of bounds for every value that crosses an edge.

Each bound is applied where outside data enters (the strict decoders, ``SignedTx`` and
``Block`` decoding, the pool) and they are chosen to be *consistent*: whatever one edge
admits, every later stage can carry. A transaction within these limits can be encoded,
batched into a block, proposed in a consensus message, stored, served as JSON
(``ledger.jsonform``, 32 levels) and decoded again, by construction. The arithmetic that
makes that true is checked when this module is imported.

Nesting (a container is a map or an array; a scalar has depth 0, ``{}`` depth 1):

- ``MAX_ARGS_DEPTH = 16``: the deepest ``args`` a contract reads has 3 levels
  (``tender.announce``: args, its ``lots`` array, each lot's map). 16 leaves room for new
  calls while a block's JSON form, where ``args`` sits 4 levels down
  (``BLOCK_ARGS_JSON_DEPTH``), stays within jsonform's 32.
- ``TX_DEPTH = 18``: ``{"body": {"args": ARGS}}``, the two maps around ``args``.
- ``BLOCK_DEPTH = 20``: ``{"txs": [TX]}``, the block map and its transaction array.
- ``MESSAGE_DEPTH = 21``: a consensus message map carrying a block.
- ``MAX_CE_DEPTH = 32``: any CE value; the encoder and the decoder refuse deeper ones. 11
  levels above the deepest protocol structure, for records that embed part of a call's
  args; and the encoder's recursion stays within 33 Python frames, far below the
  interpreter's limit (a 990-deep value used to raise ``RecursionError`` while a leader
  encoded its proposal, halting the chain).

Inside ``args`` (``check_args``, run by every transaction decode):

- ``MAX_ARGS_ITEMS = 1024`` entries in one map or array: the longest list a contract
  accepts is a tender's ``lots``, at most 256 (the governance bound of
  ``tender_lots_max``); four times that.
- ``MAX_ARGS_KEY_BYTES = 128`` for a map key (UTF-8): keys are field names, the longest a
  contract uses has under 32 bytes.
- ``MAX_ARGS_STR_BYTES = 8192`` for one text (UTF-8) or byte string: the largest field a
  contract accepts is a sealed bid summary of 4,136 bytes (nonce, the 4,096-byte padded
  plaintext, tag); about twice that.
- integers within CE's 64-bit range, ``[-2**63, 2**64 - 1]``; no other types than CE's.

Sizes (encoded bytes):

- ``MAX_TX_BYTES = 64 KiB``: one signed transaction; ample for every call, small enough
  that a block holds hundreds of the largest.
- ``MAX_BLOCK_TXS = 10,000`` transactions in a block (the replica proposes 1,000 by
  default).
- ``MAX_BLOCK_BYTES = 16 MiB``: one encoded block; a consensus message allows 1 MiB more
  and a peer frame 32 MiB.
- ``BLOCK_ENVELOPE_BYTES = 4 KiB`` kept for the header and framing around a block's
  transactions (a header encodes to under 1.5 KiB: a chain id of at most 1 KiB, six
  hashes, five integers), so ``MAX_BLOCK_TX_BYTES = MAX_BLOCK_BYTES - 4 KiB`` of
  transactions always make a block within ``MAX_BLOCK_BYTES``; the pool's ``take`` never
  returns more.
- ``MAX_CE_BYTES = MAX_BLOCK_BYTES + 1 MiB``: the default bound of the CE decoder, the
  largest block with what wraps it (a consensus message; a replica's prepared record, a
  block and a certificate of at most 256 votes); a peer frame (32 MiB) holds it.

Consensus:

- ``LEADER_MEMORY_MAX = 10,000`` heights: the largest value of the chain parameter
  ``leader_memory_heights`` (``consensus.quorum.failed_leaders``). Every replica keeps the
  committed headers of this many heights that were decided in a view above 0, and reads
  them from its store on start, so a later vote raising the parameter finds every replica
  holding the same headers.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import InvalidInput

MAX_ARGS_DEPTH = 16
TX_DEPTH = 2 + MAX_ARGS_DEPTH
BLOCK_DEPTH = 2 + TX_DEPTH
MESSAGE_DEPTH = 1 + BLOCK_DEPTH
MAX_CE_DEPTH = 32

# ``ledger.jsonform`` counts the root as 0 and a scalar inside a container one deeper; in a
# block's JSON form, ``args`` sits at 4 (block, txs, tx, body), so an args leaf is at most
# 4 + MAX_ARGS_DEPTH deep and must stay within jsonform's bound.
BLOCK_ARGS_JSON_DEPTH = 4
JSON_MAX_DEPTH = 32  # ``ledger.jsonform.MAX_DEPTH``, restated here; a test keeps them equal

MAX_ARGS_ITEMS = 1024
MAX_ARGS_KEY_BYTES = 128
MAX_ARGS_STR_BYTES = 8 * 1024
INT_MIN = -(1 << 63)
INT_MAX = (1 << 64) - 1

MAX_TX_BYTES = 64 * 1024
MAX_BLOCK_TXS = 10_000
MAX_BLOCK_BYTES = 16 * 1024 * 1024
BLOCK_ENVELOPE_BYTES = 4 * 1024
MAX_BLOCK_TX_BYTES = MAX_BLOCK_BYTES - BLOCK_ENVELOPE_BYTES
MAX_CE_BYTES = MAX_BLOCK_BYTES + (1 << 20)
LEADER_MEMORY_MAX = 10_000


def _check_consistent() -> None:
    """The bounds must nest; a mistake here would let one edge admit what another refuses."""
    if not MESSAGE_DEPTH <= MAX_CE_DEPTH:
        raise AssertionError("a consensus message carrying a block must be encodable")
    if not BLOCK_ARGS_JSON_DEPTH + MAX_ARGS_DEPTH <= JSON_MAX_DEPTH:
        raise AssertionError("a block's JSON form must stay within jsonform's depth")
    if not MAX_ARGS_STR_BYTES < MAX_TX_BYTES <= MAX_BLOCK_TX_BYTES:
        raise AssertionError("a field fits a transaction and a transaction fits a block")


_check_consistent()


def check_args(args: Any, what: str = "tx body.args") -> None:
    """Raise InvalidInput unless ``args`` is a map holding only CE values within the args
    limits. Iterative (an explicit stack), so no input can exhaust the Python stack."""
    if type(args) is not dict:
        raise InvalidInput(f"{what} must be a map")
    stack: list[tuple[Any, int]] = [(args, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_ARGS_DEPTH:
            raise InvalidInput(f"{what} is nested deeper than {MAX_ARGS_DEPTH} levels")
        if len(container) > MAX_ARGS_ITEMS:
            raise InvalidInput(
                f"{what} has a map or array of {len(container)} items, above {MAX_ARGS_ITEMS}")
        if type(container) is dict:
            for key, value in container.items():
                if type(key) is not str:
                    raise InvalidInput(f"{what} has a map key that is not text: {key!r}")
                if _utf8_len(key, what) > MAX_ARGS_KEY_BYTES:
                    raise InvalidInput(
                        f"{what} has a map key longer than {MAX_ARGS_KEY_BYTES} bytes")
                _check_value(value, depth, stack, what)
        else:
            for value in container:
                _check_value(value, depth, stack, what)


def _check_value(value: Any, depth: int, stack: list[tuple[Any, int]], what: str) -> None:
    t = type(value)
    if t is dict or t is list:
        stack.append((value, depth + 1))
    elif t is str:
        if _utf8_len(value, what) > MAX_ARGS_STR_BYTES:
            raise InvalidInput(f"{what} has a text longer than {MAX_ARGS_STR_BYTES} bytes")
    elif t is bytes:
        if len(value) > MAX_ARGS_STR_BYTES:
            raise InvalidInput(f"{what} has a byte string longer than {MAX_ARGS_STR_BYTES} bytes")
    elif t is int:
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidInput(f"{what} has an integer outside the 64-bit range")
    elif value is not None and t is not bool:
        raise InvalidInput(f"{what} holds a {t.__name__}, which has no canonical encoding")


def _utf8_len(text: str, what: str) -> int:
    if text.isascii():  # the common case, without building the encoding
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} has a text that is not valid Unicode") from None
