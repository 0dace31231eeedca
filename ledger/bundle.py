"""Proof bundles (PROTOCOL §7), and the certified header that §7, §8 and §9 bundles share.

Every bundle kind carries the same envelope: ``version``, ``chain_id``, ``genesis_hash``,
``header``, ``qc`` and ``validator_chain`` (``[{"header", "qc", "next_validators"}, ...]``).
``Certified`` is that envelope parsed; ``certified_at`` reads it from a store (node side);
``verify_certified`` is the one check of it (verifier side): chain id and genesis hash
against the anchor, each validator-chain entry (ascending heights below the header's, its
QC under the current set, its next set hashing to ``next_validators_hash``), then the final
QC under the set reached. ``ledger.inclusion`` (§8) and ``ledger.multi`` (§9) use these three
and add only what their kind proves.

A §7 bundle proves one state record::

    BUNDLE = {"version": 1, "chain_id": str, "genesis_hash": bin32, "key": str,
              "value": bin | nil, "proof": PROOF, "header": HEADER, "qc": QC,
              "validator_chain": [...]}

``build_bundle`` (node side) reads it from the store and the state tree; ``verify_bundle``
(no node, no store) checks the envelope and then the state proof of ``key`` against
``header.state_root`` with the value given, naming the first failure in its ``ProofError``.

Two forms: binary (a CE-ready object with raw bytes; ``encode_bundle``/``decode_bundle``)
and JSON (``to_json``/``from_json``, schema-typed bytes as lowercase hex following
``ledger.jsonform.BUNDLE``).
"""

from __future__ import annotations

from collections.abc import Mapping
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
MAX_CHAIN_ID_LEN = 64
ENVELOPE_FIELDS = frozenset({"version", "chain_id", "genesis_hash", "header", "qc",
                             "validator_chain"})
_FIELDS = {*ENVELOPE_FIELDS, "key", "value", "proof"}
_ENTRY_FIELDS = {"header", "qc", "next_validators"}


@dataclass(frozen=True)
class ChainEntry:
    """One validator change: the block that made it, its QC, and the set it hands over to."""

    header: Header
    qc: QC
    next_validators: ValidatorSet

    def to_obj(self) -> dict[str, Any]:
        return {"header": self.header.to_obj(), "qc": self.qc.to_obj(),
                "next_validators": validators_to_obj(self.next_validators)}


@dataclass(frozen=True)
class Certified:
    """The envelope every bundle kind shares: a header, its QC, and the validator changes
    that lead from the genesis set to the set that signed that QC."""

    chain_id: str
    genesis_hash: bytes
    header: Header
    qc: QC
    chain: tuple[ChainEntry, ...]

    def head_fields(self) -> dict[str, Any]:
        """``version``, ``chain_id``, ``genesis_hash``: what a bundle's map starts with."""
        return {"version": BUNDLE_VERSION, "chain_id": self.chain_id,
                "genesis_hash": self.genesis_hash}

    def tail_fields(self) -> dict[str, Any]:
        """``header``, ``qc``, ``validator_chain``: what a bundle's map ends with."""
        return {"header": self.header.to_obj(), "qc": self.qc.to_obj(),
                "validator_chain": [e.to_obj() for e in self.chain]}


@dataclass(frozen=True)
class VerifiedRecord:
    """What a valid bundle proves: ``key`` held ``value`` (CE bytes, None = absent) in the
    state after block ``height``, whose header is ``header``."""

    key: str
    value: bytes | None
    height: int
    header: Header


# ---- node side ---------------------------------------------------------------------------


def certified_at(store: BlockStore, height: int | None = None) -> Certified:
    """The envelope of a bundle about block ``height`` (default: the head); genesis has no
    QC, so ``height`` must be at least 1."""
    head = store.head()[0]
    target = head if height is None else height
    if type(target) is not int or not 1 <= target <= head:
        raise InvalidInput(f"a bundle needs a committed height in 1..{head}, got {target}")
    header = _need(store.header(target), target)
    qc = store.qc(target)
    if qc is None:
        raise LookupError(f"no QC stored for block {target}")
    genesis = _need(store.header(0), 0)
    chain = []
    for change in store.validator_change_heights(target - 1):
        # Held in full, or (below a snapshot-started store's base) as the certificate chain.
        chain.append(ChainEntry(*store.change_entry(change)))
        if len(chain) > MAX_VALIDATOR_CHAIN:
            raise LookupError(f"more than {MAX_VALIDATOR_CHAIN} validator changes to prove")
    return Certified(header.chain_id, genesis.hash(store.suite), header, qc, tuple(chain))


def _need(header: Header | None, height: int) -> Header:
    if header is None:
        raise LookupError(f"no header stored at height {height}")
    return header


def check_key(key: Any) -> str:
    """A state key a bundle may name: text of at most ``MAX_KEY_LEN`` characters."""
    if type(key) is not str or len(key) > MAX_KEY_LEN:
        raise InvalidInput(f"state key must be text of at most {MAX_KEY_LEN} characters")
    return key


def make_bundle(certified: Certified, key: str, value: bytes | None, proof: Proof) -> Any:
    """The binary-form §7 bundle of these parts (fields in the order PROTOCOL §7 lists)."""
    return {**certified.head_fields(), "key": key, "value": value, "proof": proof.to_obj(),
            **certified.tail_fields()}


def build_bundle(store: BlockStore, tree: StateTree, key: str, height: int | None = None) -> Any:
    """The binary-form bundle proving ``key``'s value (or absence) after block ``height``
    (default: the head). Genesis has no QC, so ``height`` must be at least 1."""
    certified = certified_at(store, height)
    value, proof = tree.get_with_proof(check_key(key), certified.header.state_root)
    return make_bundle(certified, key, value, proof)


# ---- verifier side -----------------------------------------------------------------------


def parse_certified(m: Mapping[str, Any], what: str) -> Certified:
    """The envelope fields of a bundle map ``m`` (binary form), strictly typed; wrong shape
    is an InvalidInput naming the field, a version other than 1 a ProofError."""
    version = get_int(m, "version", what)
    if version != BUNDLE_VERSION:
        raise ProofError(f"{what} version {version} is not supported (only {BUNDLE_VERSION})")
    chain = []
    for i, entry in enumerate(get_list(m, "validator_chain", what, MAX_VALIDATOR_CHAIN)):
        e = exact_map(entry, f"{what}.validator_chain[{i}]", _ENTRY_FIELDS)
        chain.append(ChainEntry(Header.from_obj(e["header"]), QC.from_obj(e["qc"]),
                                validators_from_obj(e["next_validators"])))
    return Certified(
        chain_id=get_str(m, "chain_id", what, MAX_CHAIN_ID_LEN),
        genesis_hash=get_bytes(m, "genesis_hash", what, DIGEST_LEN),
        header=Header.from_obj(m["header"]),
        qc=QC.from_obj(m["qc"]),
        chain=tuple(chain),
    )


def check_certified(suite: Suite, header: Header, qc: QC, current: ValidatorSet, where: str,
                     unreached: str) -> None:
    """``header`` is certified by ``qc`` under ``current``, the set the walk has reached."""
    if header.validators_hash != validators_hash(suite, current):
        raise ProofError(f"missing validator change: {where} is certified by {unreached}")
    try:
        verify_qc(suite, qc, header, current)
    except ProofError as exc:
        raise ProofError(f"{where}: {exc}") from None


def verify_certified(c: Certified, anchor: Anchor) -> Header:
    """Raise ProofError unless ``c.header`` is certified starting from ``anchor`` (the
    checks PROTOCOL §7 lists, in its order); returns the header."""
    suite = anchor.suite
    if c.chain_id != anchor.header.chain_id:
        raise ProofError(
            f"wrong chain id: the bundle is for {c.chain_id!r}, "
            f"the anchor for {anchor.header.chain_id!r}"
        )
    if c.genesis_hash != anchor.genesis_hash():
        raise ProofError("bad genesis hash: the bundle's genesis_hash is not the anchor's header")
    current = anchor.validators
    if validators_hash(suite, current) != anchor.header.next_validators_hash:
        raise ProofError("the anchor's validator set does not certify block 1")
    last_height = 0
    for i, entry in enumerate(c.chain):
        h = entry.header
        where = f"validator_chain[{i}] (block {h.height})"
        if h.chain_id != c.chain_id:
            raise ProofError(f"wrong chain id in {where}: {h.chain_id!r}")
        if h.height <= last_height or h.height >= c.header.height:
            raise ProofError(
                f"{where}: validator changes must be at ascending heights below the "
                f"bundle's block {c.header.height}"
            )
        last_height = h.height
        check_certified(suite, h, entry.qc, current, where,
                         "a set the chain before it does not reach")
        if validators_hash(suite, entry.next_validators) != h.next_validators_hash:
            raise ProofError(f"{where}: next_validators do not hash to next_validators_hash")
        current = entry.next_validators
    header = c.header
    where = f"block {header.height}"
    if header.chain_id != c.chain_id:
        raise ProofError(f"wrong chain id in the header of {where}: {header.chain_id!r}")
    if header.height < 1:
        raise ProofError("a bundle proves something about a committed block, height ≥ 1")
    check_certified(suite, header, c.qc, current, where,
                     "a validator set that validator_chain does not lead to")
    return header


def verify_state_entry(suite: Suite, header: Header, key: str, value: bytes | None,
                       proof: Proof) -> None:
    """The state proof of ``key`` (present with ``value``, absent when None) against
    ``header.state_root``, its failure named with the key and block (§7, §9)."""
    where = f"block {header.height}"
    try:
        verify_proof(suite, header.state_root, key, proof, value)
    except ProofError as exc:
        raise ProofError(f"state proof of {key!r} at {where}: {exc}") from None
    except InvalidInput as exc:
        raise ProofError(f"malformed state proof of {key!r}: {exc}") from None


def _parse(obj: Any) -> tuple[Certified, str, bytes | None, Proof]:
    """Strict shape checks of the binary form; wrong shape is a ProofError too."""
    try:
        m = exact_map(obj, "bundle", _FIELDS)
        certified = parse_certified(m, "bundle")
        value = m["value"]
        if value is not None:
            value = get_bytes(m, "value", "bundle", max_len=MAX_VALUE_BYTES)
        key = get_str(m, "key", "bundle", MAX_KEY_LEN)
        return certified, key, value, Proof.from_obj(m["proof"])
    except ProofError:
        raise
    except InvalidInput as exc:
        raise ProofError(f"malformed bundle: {exc}") from None


def verify_bundle(bundle_obj: Any, anchor: Anchor) -> VerifiedRecord:
    """Verify a binary-form bundle against ``anchor``; ProofError says what failed."""
    certified, key, value, proof = _parse(bundle_obj)
    header = verify_certified(certified, anchor)
    verify_state_entry(anchor.suite, header, key, value, proof)
    return VerifiedRecord(key, value, header.height, header)


def verify_unanchored(bundle_obj: Any, suite: Suite) -> VerifiedRecord:
    """The state proof of a binary-form bundle against the header it carries, with no
    anchor: the header and its certificate are the serving node's word (a reader with the
    anchor calls ``verify_bundle``)."""
    certified, key, value, proof = _parse(bundle_obj)
    header = certified.header
    verify_state_entry(suite, header, key, value, proof)
    return VerifiedRecord(key, value, header.height, header)


# ---- the two forms (shared by §7, §8 and §9) ----------------------------------------------


def json_form(obj: Any, schema: jsonform.Schema, what: str) -> Any:
    """The JSON form of a binary-form bundle of any kind: schema-typed bytes as hex."""
    return jsonform.to_json(obj, schema, what)


def binary_form(obj: Any, schema: jsonform.Schema, what: str) -> Any:
    """The binary form of a JSON-form bundle; bad hex or an unknown field is a ProofError
    (``malformed <what>``); other shape checks happen when the bundle is verified."""
    try:
        return jsonform.from_json(obj, schema, what)
    except InvalidInput as exc:
        raise ProofError(f"malformed {what}: {exc}") from None


def decode_form(data: bytes, what: str) -> Any:
    """A bundle of any kind from its CE bytes (canonical, at most ``MAX_BUNDLE_BYTES``)."""
    try:
        return encoding.decode(data, MAX_BUNDLE_BYTES)
    except InvalidInput as exc:
        raise ProofError(f"malformed {what}: {exc}") from None


def to_json(bundle_obj: Any) -> Any:
    """The JSON form: every ``bin`` field of PROTOCOL §7 as lowercase hex."""
    return json_form(bundle_obj, jsonform.BUNDLE, "bundle")


def from_json(obj: Any) -> Any:
    """The binary form of a JSON-form bundle (shape checks happen in ``verify_bundle``)."""
    return binary_form(obj, jsonform.BUNDLE, "bundle")


def encode_bundle(bundle_obj: Any) -> bytes:
    return encoding.encode(bundle_obj)


def decode_bundle(data: bytes) -> Any:
    return decode_form(data, "bundle")
