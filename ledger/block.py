"""Headers, blocks, validator sets and commit certificates (PROTOCOL §4–§5).

``block_hash = Hd(0x30, CE(HEADER))``; ``validators_hash = Hd(0x40, CE(VALIDATORS))``; a QC
carries the commit votes, each a signature over ``0x31 ‖ CE({chain_id, height, view,
block_hash})``. ``verify_qc`` is the one place a QC is judged, for consensus, catch-up,
the store and offline proof bundles alike.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ledger import encoding, tags
from ledger.crypto import DIGEST_LEN, SIG_LEN, ZERO_HASH, Suite
from ledger.errors import InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_int, get_list, get_str
from ledger.limits import BLOCK_DEPTH
from ledger.limits import MAX_BLOCK_BYTES as MAX_BLOCK_BYTES  # re-exported: bounds live there
from ledger.limits import MAX_BLOCK_TXS as MAX_BLOCK_TXS
from ledger.merkle import merkle_root
from ledger.tx import Receipt, SignedTx

MAX_VALIDATORS = 256


def max_faulty(n: int) -> int:
    """``f = (n - 1) // 3``: the most byzantine validators a set of ``n`` tolerates."""
    return (n - 1) // 3


def quorum(n: int) -> int:
    """``(n + f) // 2 + 1`` votes: 3 of 4, 4 of 5, 4 of 6, 5 of 7 (PROTOCOL §5)."""
    return (n + max_faulty(n)) // 2 + 1


@dataclass(frozen=True)
class Validator:
    name: str
    pubkey: bytes

    def to_obj(self) -> dict[str, Any]:
        return {"name": self.name, "pubkey": self.pubkey}

    @classmethod
    def from_obj(cls, obj: Any) -> Validator:
        m = exact_map(obj, "validator", {"name", "pubkey"})
        return cls(
            get_str(m, "name", "validator", 64), get_bytes(m, "pubkey", "validator", max_len=65)
        )


ValidatorSet = tuple[Validator, ...]


def validators_to_obj(validators: Sequence[Validator]) -> list[dict[str, Any]]:
    return [v.to_obj() for v in validators]


def validators_from_obj(obj: Any) -> ValidatorSet:
    if not isinstance(obj, list) or not obj:
        raise InvalidInput("a validator set must be a non-empty array")
    if len(obj) > MAX_VALIDATORS:
        raise InvalidInput(f"a validator set has at most {MAX_VALIDATORS} members")
    vals = tuple(Validator.from_obj(v) for v in obj)
    if len({v.pubkey for v in vals}) != len(vals):
        raise InvalidInput("a validator set lists one public key twice")
    return vals


def validators_hash(suite: Suite, validators: Sequence[Validator]) -> bytes:
    return suite.hd(tags.VALIDATORS, encoding.encode(validators_to_obj(validators)))


_HASH_FIELDS = (
    "prev_hash",
    "tx_root",
    "receipts_root",
    "state_root",
    "validators_hash",
    "next_validators_hash",
)
_HEADER_FIELDS = {"chain_id", "height", "time_ms", "view", "proposer", *_HASH_FIELDS}


@dataclass(frozen=True)
class Header:
    chain_id: str
    height: int
    prev_hash: bytes
    time_ms: int
    view: int
    proposer: int
    tx_root: bytes
    receipts_root: bytes
    state_root: bytes
    validators_hash: bytes
    next_validators_hash: bytes

    def to_obj(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "prev_hash": self.prev_hash,
            "time_ms": self.time_ms,
            "view": self.view,
            "proposer": self.proposer,
            "tx_root": self.tx_root,
            "receipts_root": self.receipts_root,
            "state_root": self.state_root,
            "validators_hash": self.validators_hash,
            "next_validators_hash": self.next_validators_hash,
        }

    @classmethod
    def from_obj(cls, obj: Any) -> Header:
        m = exact_map(obj, "header", _HEADER_FIELDS)
        w = "header"
        return cls(
            chain_id=get_str(m, "chain_id", w),
            height=get_int(m, "height", w),
            prev_hash=get_bytes(m, "prev_hash", w, DIGEST_LEN),
            time_ms=get_int(m, "time_ms", w),
            view=get_int(m, "view", w),
            proposer=get_int(m, "proposer", w),
            tx_root=get_bytes(m, "tx_root", w, DIGEST_LEN),
            receipts_root=get_bytes(m, "receipts_root", w, DIGEST_LEN),
            state_root=get_bytes(m, "state_root", w, DIGEST_LEN),
            validators_hash=get_bytes(m, "validators_hash", w, DIGEST_LEN),
            next_validators_hash=get_bytes(m, "next_validators_hash", w, DIGEST_LEN),
        )

    @cached_property
    def encoded(self) -> bytes:
        return encoding.encode(self.to_obj())

    def hash(self, suite: Suite) -> bytes:
        return suite.hd(tags.BLOCK, self.encoded)

    def with_changes(self, **changes: Any) -> Header:
        return replace(self, **changes)


# CE of a block is {"header": HEADER, "txs": [TX, ...]} (keys sorted): fixmap(2), then the
# two keys as fixstr, so it can be put together from the header's and the txs' encodings.
_BLOCK_HEAD = b"\x82\xa6header"
_BLOCK_TXS = b"\xa3txs"


@dataclass(frozen=True)
class Block:
    header: Header
    txs: tuple[SignedTx, ...]
    # suite name -> tx_root computed from ``txs`` (the app primes it from its execution).
    _tx_roots: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def to_obj(self) -> dict[str, Any]:
        return {"header": self.header.to_obj(), "txs": [t.to_obj() for t in self.txs]}

    @classmethod
    def from_obj(cls, obj: Any) -> Block:
        m = exact_map(obj, "block", {"header", "txs"})
        txs = get_list(m, "txs", "block", MAX_BLOCK_TXS)
        return cls(Header.from_obj(m["header"]), tuple(SignedTx.from_obj(t) for t in txs))

    def encode(self) -> bytes:
        """``CE(to_obj())``, assembled from the header's and each transaction's encoding
        (a transaction keeps the bytes it was decoded from)."""
        txs = encoding.encode_array_of([t.encode() for t in self.txs])
        return b"".join((_BLOCK_HEAD, self.header.encoded, _BLOCK_TXS, txs))

    @classmethod
    def decode(cls, data: bytes) -> Block:
        """Strict decode within the block limits of ``ledger.limits`` (size, transaction
        count, nesting, and every transaction's own limits), which a block of admitted
        transactions always meets."""
        return cls.from_obj(encoding.decode(data, MAX_BLOCK_BYTES, BLOCK_DEPTH))

    def hash(self, suite: Suite) -> bytes:
        return self.header.hash(suite)

    def tx_ids(self, suite: Suite) -> list[bytes]:
        return [t.tx_id(suite) for t in self.txs]

    def computed_tx_root(self, suite: Suite) -> bytes:
        """The Merkle root of this block's transactions (not the header's claim), once."""
        root = self._tx_roots.get(suite.name)
        if root is None:
            root = self._tx_roots[suite.name] = tx_root(suite, self.txs)
        return root

    def remember_tx_root(self, suite: Suite, root: bytes) -> None:
        """Record ``root`` as computed from exactly ``self.txs`` under ``suite`` (by a caller
        that just computed it from the same tuple)."""
        self._tx_roots[suite.name] = root

    def check_tx_root(self, suite: Suite) -> None:
        if self.computed_tx_root(suite) != self.header.tx_root:
            raise InvalidInput(f"block {self.header.height}: tx_root does not match its txs")


def extends_problem(suite: Suite, chain_id: str, parent: Header, block: Block) -> str | None:
    """The one rule for "``block`` extends ``parent``", or what breaks it: the chain id, the
    next height, ``prev_hash`` the parent's hash, a strictly later time, at most
    ``MAX_BLOCK_TXS`` transactions, none twice. The replica (``consensus.checks``), the chain
    app (``ChainApp.validate``) and the store's commit (``BlockStore.check_block``) all ask
    this; each adds only what is its own (the replica and the store check the ``tx_root``
    before anything runs, the app the roots its execution computes)."""
    h = block.header
    if h.chain_id != chain_id:
        return f"block is for chain {h.chain_id!r}, not {chain_id!r}"
    if h.height != parent.height + 1:
        return f"block height {h.height} does not extend the head at height {parent.height}"
    if h.prev_hash != parent.hash(suite):
        return "block prev_hash is not the head's hash"
    if h.time_ms <= parent.time_ms:
        return f"block time_ms {h.time_ms} is not after the parent's {parent.time_ms}"
    if len(block.txs) > MAX_BLOCK_TXS:
        return f"block has more than {MAX_BLOCK_TXS} transactions"
    ids = block.tx_ids(suite)
    if len(set(ids)) != len(ids):
        return "block contains one transaction twice"
    return None


# Recent Merkle roots by (suite, leaves): a block's tx_root and receipts_root are computed
# by the executing app and again by the store's commit checks, over the same leaves. Keyed
# by the leaves themselves, so a hit is exactly the root a recomputation would give.
_ROOTS_KEPT = 8
_roots: OrderedDict[tuple[str, tuple[bytes, ...]], bytes] = OrderedDict()


def _root_of(suite: Suite, leaves: tuple[bytes, ...]) -> bytes:
    key = (suite.name, leaves)
    root = _roots.get(key)
    if root is None:
        root = _roots[key] = merkle_root(suite, leaves)
        if len(_roots) > _ROOTS_KEPT:
            _roots.popitem(last=False)
    return root


def tx_root(suite: Suite, txs: Sequence[SignedTx]) -> bytes:
    return _root_of(suite, tuple(t.tx_id(suite) for t in txs))


def receipts_root(suite: Suite, receipts: Sequence[Receipt]) -> bytes:
    return _root_of(suite, tuple(r.hash(suite) for r in receipts))


def commit_vote_bytes(chain_id: str, height: int, view: int, block_hash: bytes) -> bytes:
    body = {"chain_id": chain_id, "height": height, "view": view, "block_hash": block_hash}
    return bytes((tags.COMMIT_VOTE,)) + encoding.encode(body)


@dataclass(frozen=True)
class QC:
    """A commit certificate: ``votes`` is ``((index, sig), ...)`` sorted by index."""

    height: int
    view: int
    block_hash: bytes
    votes: tuple[tuple[int, bytes], ...]

    def to_obj(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "view": self.view,
            "block_hash": self.block_hash,
            "votes": [[i, s] for i, s in self.votes],
        }

    @classmethod
    def from_obj(cls, obj: Any) -> QC:
        m = exact_map(obj, "qc", {"height", "view", "block_hash", "votes"})
        votes = []
        for v in get_list(m, "votes", "qc", MAX_VALIDATORS):
            if not (
                isinstance(v, list)
                and len(v) == 2
                and type(v[0]) is int
                and type(v[1]) is bytes
                and len(v[1]) == SIG_LEN
            ):
                raise InvalidInput("qc.votes must be [index, 64-byte signature] pairs")
            votes.append((v[0], v[1]))
        return cls(
            height=get_int(m, "height", "qc"),
            view=get_int(m, "view", "qc"),
            block_hash=get_bytes(m, "block_hash", "qc", DIGEST_LEN),
            votes=tuple(votes),
        )

    def encode(self) -> bytes:
        return encoding.encode(self.to_obj())

    @classmethod
    def decode(cls, data: bytes) -> QC:
        return cls.from_obj(encoding.decode(data))


def verify_qc(suite: Suite, qc: QC, header: Header, validators: Sequence[Validator]) -> None:
    """Raise ProofError unless ``qc`` certifies ``header`` under ``validators`` (§5)."""
    if qc.block_hash != header.hash(suite):
        raise ProofError(f"QC for height {qc.height} names another block than its header")
    if qc.height != header.height:
        raise ProofError(f"QC height {qc.height} differs from header height {header.height}")
    if header.validators_hash != validators_hash(suite, validators):
        raise ProofError(f"header {header.height} is certified by another validator set")
    need = quorum(len(validators))
    if len(qc.votes) < need:
        raise ProofError(f"QC has {len(qc.votes)} votes, below the quorum of {need}")
    message = commit_vote_bytes(header.chain_id, qc.height, qc.view, qc.block_hash)
    last = -1
    for index, sig in qc.votes:
        if index <= last:
            raise ProofError("QC votes are not sorted by index or list an index twice")
        if index >= len(validators):
            raise ProofError(f"QC vote index {index} is outside the validator set")
        last = index
        if not suite.verify(validators[index].pubkey, message, sig):
            raise ProofError(f"QC vote of validator {index} does not verify")


def genesis_prev_hash() -> bytes:
    return ZERO_HASH
