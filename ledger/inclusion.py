"""Inclusion bundles (PROTOCOL §8): a signed transaction and its receipt, proven offline.

```
INCLUSION = {"version": 1, "chain_id": str, "genesis_hash": bin32,
             "index": int, "count": int,
             "tx": bin, "tx_path": PATH, "receipt": bin, "receipt_path": PATH,
             "header": HEADER, "qc": QC, "validator_chain": [...]}
```

``tx`` is ``CE({"body", "sig"})`` and ``receipt`` is ``CE(RECEIPT)``; ``tx_path`` and
``receipt_path`` are RFC 9162 audit paths (``ledger.merkle``) of item ``index`` of ``count``
in ``header.tx_root`` (leaf ``tx_id``) and ``header.receipts_root`` (leaf ``Hd(0x22,
receipt)``). ``build_inclusion`` (node side) reads the committed block of a transaction;
``verify_inclusion_bundle`` (no node) checks, in PROTOCOL §8's order and naming the first
failure: the certified header (``ledger.bundle.verify_certified``), the canonical decoding of
``tx`` and ``receipt``, the signature, ``tx_path``, the receipt's ``tx_id``, ``receipt_path``.
A header does not commit to ``count``: a valid bundle proves that the transaction and its
receipt are in the block, at matching positions, not the block's exact size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import encoding, jsonform, tags
from ledger.block import Header
from ledger.bundle import (
    ENVELOPE_FIELDS,
    Certified,
    binary_form,
    certified_at,
    decode_form,
    json_form,
    parse_certified,
    verify_certified,
)
from ledger.crypto import DIGEST_LEN
from ledger.errors import CorruptStore, InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_int, get_list
from ledger.genesis import Anchor
from ledger.merkle import MAX_PATH_LEN, audit_path, verify_inclusion
from ledger.store import BlockStore
from ledger.tx import MAX_TX_BYTES, Receipt, SignedTx

WHAT = "inclusion bundle"
# A receipt carries a message (≤ 4 KiB) and the events of one transaction.
MAX_RECEIPT_BYTES = 1 << 20
_FIELDS = {*ENVELOPE_FIELDS, "index", "count", "tx", "tx_path", "receipt", "receipt_path"}


@dataclass(frozen=True)
class VerifiedInclusion:
    """What a valid inclusion bundle proves: ``tx`` (id ``tx_id``) was committed in block
    ``height`` (header ``header``) at ``index`` of ``count``, with outcome ``receipt``."""

    tx: SignedTx
    tx_id: bytes
    receipt: Receipt
    index: int
    count: int
    height: int
    header: Header


def make_inclusion(certified: Certified, index: int, count: int, tx: bytes,
                   tx_path: Sequence[bytes], receipt: bytes,
                   receipt_path: Sequence[bytes]) -> Any:
    """The binary-form §8 bundle of these parts (fields in PROTOCOL §8's order)."""
    return {**certified.head_fields(), "index": index, "count": count,
            "tx": tx, "tx_path": list(tx_path), "receipt": receipt,
            "receipt_path": list(receipt_path), **certified.tail_fields()}


def build_inclusion(store: BlockStore, tx_id: bytes) -> Any:
    """The binary-form bundle proving the committed transaction ``tx_id`` and its receipt;
    LookupError when no committed transaction has that id."""
    if type(tx_id) is not bytes or len(tx_id) != DIGEST_LEN:
        raise InvalidInput(f"a transaction id is {DIGEST_LEN} bytes")
    location = store.tx_location(tx_id)
    if location is None:
        raise LookupError(f"transaction {tx_id.hex()} is not committed")
    height, index = location
    certified = certified_at(store, height)
    block = store.block(height)
    receipts = store.receipts(height)
    if block is None or receipts is None:
        raise LookupError(f"block {height} is not stored")
    suite = store.suite
    ids = block.tx_ids(suite)
    if index >= len(ids) or ids[index] != tx_id or receipts[index].tx_id != tx_id:
        raise CorruptStore(f"tx index of {tx_id.hex()} points at another transaction")
    receipt_hashes = [r.hash(suite) for r in receipts]
    return make_inclusion(certified, index, len(ids), block.txs[index].encode(),
                          audit_path(suite, ids, index), receipts[index].encode(),
                          audit_path(suite, receipt_hashes, index))


@dataclass(frozen=True)
class _Parsed:
    certified: Certified
    index: int
    count: int
    tx: bytes
    tx_path: tuple[bytes, ...]
    receipt: bytes
    receipt_path: tuple[bytes, ...]


def _path(m: dict[str, Any], name: str) -> tuple[bytes, ...]:
    items = get_list(m, name, WHAT, MAX_PATH_LEN)
    for i, item in enumerate(items):
        if type(item) is not bytes or len(item) != DIGEST_LEN:
            raise InvalidInput(f"{WHAT}.{name}[{i}] must be {DIGEST_LEN} bytes")
    return tuple(items)


def _parse(obj: Any) -> _Parsed:
    """Strict shape checks of the binary form; wrong shape is a ProofError too."""
    try:
        m = exact_map(obj, WHAT, _FIELDS)
        return _Parsed(
            certified=parse_certified(m, WHAT),
            index=get_int(m, "index", WHAT),
            count=get_int(m, "count", WHAT),
            tx=get_bytes(m, "tx", WHAT, max_len=MAX_TX_BYTES),
            tx_path=_path(m, "tx_path"),
            receipt=get_bytes(m, "receipt", WHAT, max_len=MAX_RECEIPT_BYTES),
            receipt_path=_path(m, "receipt_path"),
        )
    except ProofError:
        raise
    except InvalidInput as exc:
        raise ProofError(f"malformed {WHAT}: {exc}") from None


def _decode(b: _Parsed) -> tuple[SignedTx, Receipt]:
    try:
        tx = SignedTx.decode(b.tx)
    except InvalidInput as exc:
        raise ProofError(f"malformed {WHAT}: tx is not a canonical transaction: {exc}") from None
    try:
        receipt = Receipt.from_obj(encoding.decode(b.receipt, MAX_RECEIPT_BYTES))
    except InvalidInput as exc:
        raise ProofError(f"malformed {WHAT}: receipt is not a canonical receipt: {exc}") from None
    return tx, receipt


def verify_inclusion_bundle(obj: Any, anchor: Anchor) -> VerifiedInclusion:
    """Verify a binary-form inclusion bundle against ``anchor``; ProofError says what failed."""
    b = _parse(obj)
    header = verify_certified(b.certified, anchor)
    tx, receipt = _decode(b)
    suite = anchor.suite
    if not tx.verify_signature(suite):
        raise ProofError("the transaction's signature does not verify under its sender")
    tx_id = tx.tx_id(suite)
    try:
        verify_inclusion(suite, tx_id, b.index, b.count, b.tx_path, header.tx_root)
    except ProofError as exc:
        raise ProofError(f"tx_path in block {header.height}'s tx_root: {exc}") from None
    if receipt.tx_id != tx_id:
        raise ProofError(
            f"the receipt is for another transaction ({receipt.tx_id.hex()}, "
            f"not {tx_id.hex()})"
        )
    receipt_hash = suite.hd(tags.RECEIPT, b.receipt)
    try:
        verify_inclusion(suite, receipt_hash, b.index, b.count, b.receipt_path,
                         header.receipts_root)
    except ProofError as exc:
        raise ProofError(f"receipt_path in block {header.height}'s receipts_root: {exc}") from None
    return VerifiedInclusion(tx, tx_id, receipt, b.index, b.count, header.height, header)


def to_json(obj: Any) -> Any:
    """The JSON form: ``tx``, ``receipt``, path entries and every other ``bin`` as hex."""
    return json_form(obj, jsonform.INCLUSION, WHAT)


def from_json(obj: Any) -> Any:
    return binary_form(obj, jsonform.INCLUSION, WHAT)


def encode_inclusion(obj: Any) -> bytes:
    return encoding.encode(obj)


def decode_inclusion(data: bytes) -> Any:
    return decode_form(data, WHAT)
