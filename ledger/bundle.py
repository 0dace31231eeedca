"""Proof bundles (PROTOCOL §7): one record, provable offline to anyone holding the anchor.

```
BUNDLE = {"version": 1, "chain_id": str, "genesis_hash": bin32, "key": str,
          "value": bin | nil, "proof": PROOF, "header": HEADER, "qc": QC,
          "validator_chain": [{"header": HEADER, "qc": QC, "next_validators": VALIDATORS}, ...]}
```

``build_bundle`` (node side) reads a committed height from the store: the header and QC of
that height, the state proof of the key under its state root, and for every earlier block
that changed the validator set (``next_validators_hash != validators_hash``) its header, QC
and the next set, so a verifier can walk from the genesis set to the set that signed.

``verify_bundle`` (verifier side, no node, no store) checks, in order and naming the first
failure in its ``ProofError``: the version; the chain id against the anchor; the genesis
hash; each validator-chain entry (ascending heights below the record's, its QC under the
current set, its next set hashing to ``next_validators_hash``); the final QC under the set
reached; the state proof against ``header.state_root`` with the value given.

Two forms: binary (a CE-ready object with raw bytes; ``encode_bundle``/``decode_bundle``)
and JSON (``to_json``/``from_json``, bytes as lowercase hex following
``ledger.jsonform.BUNDLE``, the one schema of which fields are bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import encoding, jsonform
from ledger.block import (
    QC,
    Header,
    ValidatorSet,
    validators_from_obj,
    validators_hash,
    validators_to_obj,
    verify_qc,
)
from ledger.crypto import DIGEST_LEN, Suite
from ledger.errors import InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_int, get_list, get_str
from ledger.genesis import Anchor
from ledger.smt import StateTree
from ledger.smt_proof import Proof, verify_proof
from ledger.store import BlockStore

BUNDLE_VERSION = 1
# A validator change is a governance act: a chain sees few. The bound stops a bundle from
# making a verifier check an unbounded number of QCs.
MAX_VALIDATOR_CHAIN = 1024
MAX_KEY_LEN = 512
MAX_VALUE_BYTES = 1 << 20
MAX_BUNDLE_BYTES = 8 << 20
_FIELDS = {
    "version", "chain_id", "genesis_hash", "key", "value", "proof", "header", "qc",
    "validator_chain",
}

_ENTRY_FIELDS = {"header", "qc", "next_validators"}


@dataclass(frozen=True)
class VerifiedRecord:
    """What a valid bundle proves: ``key`` held ``value`` (CE bytes, None = absent) in the
    state after block ``height``, whose header is ``header``."""

    key: str
    value: bytes | None
    height: int
    header: Header


def build_bundle(store: BlockStore, tree: StateTree, key: str, height: int | None = None) -> Any:
    """The binary-form bundle proving ``key``'s value (or absence) after block ``height``
    (default: the head). Genesis has no QC, so ``height`` must be at least 1."""
    head = store.head()[0]
    target = head if height is None else height
    if not 1 <= target <= head:
        raise InvalidInput(f"a bundle needs a committed height in 1..{head}, got {target}")
    if not isinstance(key, str) or len(key) > MAX_KEY_LEN:
        raise InvalidInput(f"state key must be text of at most {MAX_KEY_LEN} characters")
    header = _need(store.header(target), target)
    qc = store.qc(target)
    if qc is None:
        raise LookupError(f"no QC stored for block {target}")
    genesis = _need(store.header(0), 0)
    value, proof = tree.get_with_proof(key, header.state_root)
    chain = []
    for change in store.validator_change_heights(target - 1):
        change_qc = store.qc(change)
        if change_qc is None:
            # A change in the genesis block itself cannot happen (init checks it).
            raise LookupError(f"no QC stored for the validator change at block {change}")
        chain.append(
            {
                "header": _need(store.header(change), change).to_obj(),
                "qc": change_qc.to_obj(),
                "next_validators": validators_to_obj(store.validators_at(change + 1)),
            }
        )
    if len(chain) > MAX_VALIDATOR_CHAIN:
        raise LookupError(f"more than {MAX_VALIDATOR_CHAIN} validator changes to prove")
    return {
        "version": BUNDLE_VERSION,
        "chain_id": header.chain_id,
        "genesis_hash": genesis.hash(store.suite),
        "key": key,
        "value": value,
        "proof": proof.to_obj(),
        "header": header.to_obj(),
        "qc": qc.to_obj(),
        "validator_chain": chain,
    }


def _need(header: Header | None, height: int) -> Header:
    if header is None:
        raise LookupError(f"no header stored at height {height}")
    return header


@dataclass(frozen=True)
class _ChainEntry:
    header: Header
    qc: QC
    next_validators: ValidatorSet


@dataclass(frozen=True)
class _Parsed:
    chain_id: str
    genesis_hash: bytes
    key: str
    value: bytes | None
    proof: Proof
    header: Header
    qc: QC
    chain: tuple[_ChainEntry, ...]


def _parse(obj: Any) -> _Parsed:
    """Strict shape checks of the binary form; wrong shape is a ProofError too."""
    try:
        m = exact_map(obj, "bundle", _FIELDS)
        version = get_int(m, "version", "bundle")
        if version != BUNDLE_VERSION:
            raise ProofError(f"bundle version {version} is not supported (only {BUNDLE_VERSION})")
        value = m["value"]
        if value is not None:
            value = get_bytes(m, "value", "bundle", max_len=MAX_VALUE_BYTES)
        chain = []
        for i, entry in enumerate(get_list(m, "validator_chain", "bundle", MAX_VALIDATOR_CHAIN)):
            e = exact_map(entry, f"bundle.validator_chain[{i}]", _ENTRY_FIELDS)
            chain.append(
                _ChainEntry(
                    Header.from_obj(e["header"]),
                    QC.from_obj(e["qc"]),
                    validators_from_obj(e["next_validators"]),
                )
            )
        return _Parsed(
            chain_id=get_str(m, "chain_id", "bundle", 64),
            genesis_hash=get_bytes(m, "genesis_hash", "bundle", DIGEST_LEN),
            key=get_str(m, "key", "bundle", MAX_KEY_LEN),
            value=value,
            proof=Proof.from_obj(m["proof"]),
            header=Header.from_obj(m["header"]),
            qc=QC.from_obj(m["qc"]),
            chain=tuple(chain),
        )
    except ProofError:
        raise
    except InvalidInput as exc:
        raise ProofError(f"malformed bundle: {exc}") from None


def _check_certified(suite: Suite, header: Header, qc: QC, current: ValidatorSet, where: str,
                     unreached: str) -> None:
    """``header`` is certified by ``qc`` under ``current``, the set the walk has reached."""
    if header.validators_hash != validators_hash(suite, current):
        raise ProofError(f"missing validator change: {where} is certified by {unreached}")
    try:
        verify_qc(suite, qc, header, current)
    except ProofError as exc:
        raise ProofError(f"{where}: {exc}") from None


def verify_bundle(bundle_obj: Any, anchor: Anchor) -> VerifiedRecord:
    """Verify a binary-form bundle against ``anchor``; ProofError says what failed."""
    b = _parse(bundle_obj)
    suite = anchor.suite
    if b.chain_id != anchor.header.chain_id:
        raise ProofError(
            f"wrong chain id: the bundle is for {b.chain_id!r}, "
            f"the anchor for {anchor.header.chain_id!r}"
        )
    if b.genesis_hash != anchor.genesis_hash():
        raise ProofError("bad genesis hash: the bundle's genesis_hash is not the anchor's header")
    current = anchor.validators
    if validators_hash(suite, current) != anchor.header.next_validators_hash:
        raise ProofError("the anchor's validator set does not certify block 1")
    last_height = 0
    for i, entry in enumerate(b.chain):
        h = entry.header
        where = f"validator_chain[{i}] (block {h.height})"
        if h.chain_id != b.chain_id:
            raise ProofError(f"wrong chain id in {where}: {h.chain_id!r}")
        if h.height <= last_height or h.height >= b.header.height:
            raise ProofError(
                f"{where}: validator changes must be at ascending heights below the "
                f"record's block {b.header.height}"
            )
        last_height = h.height
        _check_certified(suite, h, entry.qc, current, where,
                         "a set the chain before it does not reach")
        if validators_hash(suite, entry.next_validators) != h.next_validators_hash:
            raise ProofError(f"{where}: next_validators do not hash to next_validators_hash")
        current = entry.next_validators
    header = b.header
    where = f"block {header.height}"
    if header.chain_id != b.chain_id:
        raise ProofError(f"wrong chain id in the header of {where}: {header.chain_id!r}")
    if header.height < 1:
        raise ProofError("a bundle proves a record after a committed block, height ≥ 1")
    _check_certified(suite, header, b.qc, current, where,
                     "a validator set that validator_chain does not lead to")
    try:
        verify_proof(suite, header.state_root, b.key, b.proof, b.value)
    except ProofError as exc:
        raise ProofError(f"state proof of {b.key!r} at {where}: {exc}") from None
    except InvalidInput as exc:
        raise ProofError(f"malformed state proof: {exc}") from None
    return VerifiedRecord(b.key, b.value, header.height, header)


def to_json(bundle_obj: Any) -> Any:
    """The JSON form: every ``bin`` field of PROTOCOL §7 as lowercase hex."""
    return jsonform.to_json(bundle_obj, jsonform.BUNDLE, "bundle")


def from_json(obj: Any) -> Any:
    """The binary form of a JSON-form bundle (shape checks happen in ``verify_bundle``)."""
    try:
        return jsonform.from_json(obj, jsonform.BUNDLE, "bundle")
    except InvalidInput as exc:
        raise ProofError(f"malformed bundle: {exc}") from None


def encode_bundle(bundle_obj: Any) -> bytes:
    return encoding.encode(bundle_obj)


def decode_bundle(data: bytes) -> Any:
    try:
        return encoding.decode(data, MAX_BUNDLE_BYTES)
    except InvalidInput as exc:
        raise ProofError(f"malformed bundle: {exc}") from None
