"""The block store: committed blocks, QCs, receipts, indexes, validator sets and the state.

One committed block is ONE ``WriteBatch`` written with ONE ``kv.write(batch, sync=True)``:
the state tree's nodes, values, head values and root (``StateTree.apply`` stages them into
the batch), the block, its QC, its receipts, the height / hash / tx-id indexes, the validator
set of the next height, and last the new head pointer (``schema.HEAD``). LevelDB applies a
batch atomically, so after a crash at any point the store reopens at the last complete block.
(``LevelKV`` first appends the batch's large write-once values to its value log and syncs
it, ``ledger.valuelog``; LevelDB's batch then holds pointers to them, so the block still
appears whole or not at all.)

Before anything is staged, ``commit_block`` checks that the block extends the head (height
+1, ``prev_hash``, strictly later ``time_ms``, same chain id), its tx_root and receipts_root,
that no transaction in it was committed before or appears twice, that the QC is valid under
the validator set of that height (``verify_qc``), that ``next_validators`` hashes to the
header's ``next_validators_hash``, and that the state root the tree computes from
``state_writes`` is the header's ``state_root``. Any mismatch raises ``InvalidInput`` (or
``ProofError`` for the QC) and writes nothing.

Two ways for a caller to spare work it has already done, without weakening the checks:
``staged``, the tree update its execution computed (``StateTree.stage``) for exactly these
writes, is adopted when the tree is still at the root it was computed on (else the writes
are applied again); its root is checked against the header as a recomputed one would be.
``qc_verified=True`` says the caller (the replica that assembled or checked the QC) has
verified its signatures: the QC must still name this block, but its quorum of signatures
is not checked a second time. Untrusted paths (catch-up from peers, audit, restore) leave
it False.

Reads check what they load against its hash: a block whose header hash is not the indexed
hash, a QC naming another block, receipts that do not hash to the header's receipts_root,
a validator set that does not hash to the header's, a head state value that is not the
tree's (``state_value``, through ``StateTree.get``), a recorded head state root that is not
the head header's (refused at open): ``CorruptStore``, never returned. LevelDB's own
checksums are on as well (``ledger.kv``).

Heights beyond the head read as ``None``. A store started from a snapshot at height ``B``
(``ledger.snapshot``) holds genesis, block ``B`` and everything after it in full, and of the
heights below ``B`` only the validator changes' headers, QCs and next sets (the certificate
chain a proof bundle carries) and the headers and QCs of the blocks decided in a view above 0
of the ``LEADER_MEMORY_MAX`` heights below ``B`` (``late_heights``, ``late_entry``: leader
choice reads them); ``base`` is ``B`` (0 for a store grown from genesis), and a
read of a block, header, QC, receipts or state root strictly between 0 and ``base`` raises
``HistoryPruned`` naming the oldest height held, never ``None`` (the block exists, just not
here). Validator sets: ``validators_at(h)`` is the set
that certifies block ``h``; after block ``h`` is committed ``validators_at(h + 1)`` exists
(the set for the next proposal). Heights where the set changes (``next_validators_hash !=
validators_hash``) are indexed under ``schema.VALIDATOR_CHANGE`` for proof bundles.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ledger import encoding, schema
from ledger.block import (
    QC,
    Block,
    Header,
    ValidatorSet,
    extends_problem,
    receipts_root,
    tx_root,
    validators_from_obj,
    validators_hash,
    validators_to_obj,
    verify_qc,
)
from ledger.crypto import DIGEST_LEN, ZERO_HASH, Suite
from ledger.errors import CorruptStore, HistoryPruned, InvalidInput, ProofError
from ledger.kv import KV
from ledger.limits import LEADER_MEMORY_MAX
from ledger.smt import (
    HEAD_INDEX_RECORD,
    StagedUpdate,
    StateTree,
    stored_root,
    upgrade_head_index,
)
from ledger.tx import Receipt, SignedTx

_T = TypeVar("_T")

_CACHE_HEADERS = 4096
_CACHE_VALIDATOR_SETS = 64


class BlockStore:
    """Committed blocks over a ``KV``, with the state tree that shares its write batches.

    ``tree`` is the ``StateTree`` the store applies state writes through (created here over
    the same KV when not given); the chain application reads the head state from it.
    """

    def __init__(self, kv: KV, suite: Suite, tree: StateTree | None = None) -> None:
        self.kv = kv
        self.suite = suite
        self._headers: OrderedDict[int, Header] = OrderedDict()
        self._validators: OrderedDict[int, ValidatorSet] = OrderedDict()
        self._head: tuple[int, bytes] | None = None
        self._chain_id: str | None = None
        self.base = 0  # the lowest height held in full besides genesis (module docstring)
        raw = kv.get(schema.HEAD)
        if raw is not None:
            self._head = _decode_head(raw)
        root = ZERO_HASH
        if self._head is not None:
            self.base = _decode_base(kv.get(schema.BASE), self._head[0])
            stored = stored_root(kv, self._head[0])
            header = self._load_header(self._head[0])
            if stored is None or stored != header.state_root:
                raise CorruptStore(f"the state root recorded for the head height "
                                   f"{self._head[0]} is missing or not its header's")
            root = stored
            self._chain_id = header.chain_id
            upgrade_head_index(kv, suite)  # once, on a store older than value-hash heads
            if kv.get(schema.LATE_INDEX_FROM) is None:  # once, on a store older than ``lv/``
                self._index_late_blocks()
        if tree is None:
            tree = StateTree(suite, kv, root)
        elif tree.root != root:
            raise CorruptStore("the state tree given is not at the head's state root")
        self.tree = tree

    # ---- reads ---------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        return self._head is None

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            raise LookupError("the store holds no chain yet")
        return self._chain_id

    def head(self) -> tuple[int, bytes]:
        """``(height, block hash)`` of the last complete block."""
        if self._head is None:
            raise LookupError("the store holds no chain yet")
        return self._head

    def head_header(self) -> Header:
        return self._load_header(self.head()[0])

    def header(self, height: int) -> Header | None:
        if not self._held(height):
            return None
        return self._load_header(height)

    def block(self, height: int) -> Block | None:
        if not self._held(height):
            return None
        return self._load_block(height)

    def change_entry(self, height: int) -> tuple[Header, QC, ValidatorSet]:
        """The validator change made by block ``height`` (a height that
        ``validator_change_heights`` names): its header, QC and the set it hands over to,
        held in full or, below ``base``, as the certificate chain; each checked against the
        others."""
        if self._within(height):
            header = self._load_header(height)
        else:
            header = self._read(schema.change_header_key(height),
                                f"header of the validator change at {height}",
                                lambda raw: Header.from_obj(encoding.decode(raw)))
        qc = self._read(schema.qc_key(height), f"QC of block {height}", QC.decode)
        if header.height != height or qc.height != height or (
                qc.block_hash != header.hash(self.suite)):
            raise CorruptStore(f"header or QC of the validator change at {height} is not "
                               "that block's")
        nxt = self._read(schema.validators_key(height + 1), f"validator set of {height + 1}",
                         lambda raw: validators_from_obj(encoding.decode(raw)))
        if validators_hash(self.suite, nxt) != header.next_validators_hash:
            raise CorruptStore(f"validator set of height {height + 1} does not match block "
                               f"{height}'s next_validators_hash")
        return header, qc, nxt

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        height = self.height_of(block_hash)
        return None if height is None else self._load_block(height)

    def height_of(self, block_hash: bytes) -> int | None:
        raw = self.kv.get(schema.block_by_hash_key(block_hash))
        if raw is None:
            return None
        height = schema.height_from(raw)
        return height if self._within(height) else None

    def qc(self, height: int) -> QC | None:
        """The QC of block ``height`` (None at genesis, which has none, and beyond the head)."""
        if not self._held(height) or height == 0:
            return None
        qc = self._read(schema.qc_key(height), f"QC of block {height}", QC.decode)
        if qc.height != height or qc.block_hash != self._load_header(height).hash(self.suite):
            raise CorruptStore(f"QC stored for block {height} names another block")
        return qc

    def tx_location(self, tx_id: bytes) -> tuple[int, int] | None:
        """``(height, index)`` of a committed transaction, or None."""
        raw = self.kv.get(schema.tx_location_key(tx_id))
        if raw is None:
            return None
        obj = encoding.decode_trusted(raw)
        if not (isinstance(obj, list) and len(obj) == 2 and all(type(x) is int for x in obj)):
            raise CorruptStore(f"tx index entry of {tx_id.hex()} is malformed")
        height, index = obj
        return (height, index) if self._within(height) else None

    def tx(self, tx_id: bytes) -> SignedTx | None:
        loc = self.tx_location(tx_id)
        if loc is None:
            return None
        block = self._load_block(loc[0])
        if loc[1] >= len(block.txs) or block.txs[loc[1]].tx_id(self.suite) != tx_id:
            raise CorruptStore(f"tx index of {tx_id.hex()} points at another transaction")
        return block.txs[loc[1]]

    def receipts(self, height: int) -> list[Receipt] | None:
        if not self._held(height):
            return None
        found = self._read(schema.receipts_key(height), f"receipts of block {height}",
                           _decode_receipts)
        if receipts_root(self.suite, found) != self._load_header(height).receipts_root:
            raise CorruptStore(f"receipts of block {height} do not match its receipts_root")
        return found

    def receipt(self, tx_id: bytes) -> Receipt | None:
        loc = self.tx_location(tx_id)
        if loc is None:
            return None
        found = self.receipts(loc[0]) or []
        if loc[1] >= len(found) or found[loc[1]].tx_id != tx_id:
            raise CorruptStore(f"tx index of {tx_id.hex()} points at another receipt")
        return found[loc[1]]

    def validators_at(self, height: int) -> ValidatorSet:
        """The set that certifies block ``height`` (up to head + 1)."""
        cached = self._validators.get(height)
        if cached is not None:
            return cached
        head = self.head()[0]
        if 0 < height < self.base:
            raise HistoryPruned(height, self.base, "the validator set of height")
        if not 0 <= height <= head + 1:
            raise LookupError(f"no validator set for height {height} (head is {head})")
        vals = self._read(schema.validators_key(height), f"validator set of height {height}",
                          lambda raw: validators_from_obj(encoding.decode(raw)))
        expected = (
            self._load_header(height).validators_hash
            if height <= head
            else self._load_header(head).next_validators_hash
        )
        if validators_hash(self.suite, vals) != expected:
            raise CorruptStore(f"validator set of height {height} does not match its header")
        _remember(self._validators, height, vals, _CACHE_VALIDATOR_SETS)
        return vals

    def validator_change_heights(self, up_to: int) -> Iterator[int]:
        """Heights ``h ≤ up_to`` whose block names a different set for ``h + 1``."""
        head = self.head()[0] if self._head is not None else -1
        for key, _ in self.kv.scan(schema.VALIDATOR_CHANGE):
            height = schema.height_from(key[len(schema.VALIDATOR_CHANGE):])
            if height > up_to or height > head:
                break
            yield height

    def late_heights(self, low: int, high: int) -> list[int]:
        """The heights ``low..high`` whose block was decided in a view above 0, oldest first
        (``schema.LATE_BLOCK``): what ``consensus.quorum.failed_leaders`` reads. Below ``base``
        they are the ones a snapshot's manifest carried (``ledger.snapshot``)."""
        found = []
        for key, _ in self.kv.scan(schema.LATE_BLOCK, schema.late_block_key(max(low, 0))):
            height = schema.height_from(key[len(schema.LATE_BLOCK):])
            if height > high:
                break
            found.append(height)
        return found

    def late_entry(self, height: int) -> tuple[Header, QC]:
        """The header and QC of block ``height``, a height ``late_heights`` names, from its
        ``lv/`` record (never the whole block: a snapshot's manifest and a replica's start
        read up to ``LEADER_MEMORY_MAX`` of them); checked against the QC and, for a block
        held in full, against the height's indexed block hash."""
        header = self._read(schema.late_block_key(height),
                            f"header of block {height}, decided in a view above 0",
                            lambda raw: Header.from_obj(encoding.decode(raw)))
        qc = self._read(schema.qc_key(height), f"QC of block {height}", QC.decode)
        block_hash = header.hash(self.suite)
        if header.height != height or header.view == 0 or qc.height != height or (
                qc.block_hash != block_hash) or (self._within(height) and self.kv.get(
                    schema.block_by_hash_key(block_hash)) != schema.height_bytes(height)):
            raise CorruptStore(f"the record of block {height} as decided in a view above 0 "
                               "is not that block's")
        return header, qc

    def _index_late_blocks(self) -> None:
        """Write ``lv/`` for a store older than it, from the headers of the last
        ``LEADER_MEMORY_MAX`` heights held (all that leader choice reads; a manifest built
        from this store carries what the index names)."""
        head = self.head()[0]
        low = max(1, self.base, head - LEADER_MEMORY_MAX + 1)
        batch = self.kv.batch()
        for height in range(low, head + 1):
            header = self._load_header(height)
            if header.view > 0:
                batch.put(schema.late_block_key(height), header.encoded)
        batch.put(schema.LATE_INDEX_FROM, encoding.encode({"height": low}))
        self.kv.write(batch, sync=True)

    def state_value(self, key: str) -> bytes | None:
        """CE bytes of state ``key`` at the head, checked against the head's state root
        (``StateTree.get``): a damaged index entry is ``CorruptStore``, never an answer."""
        return self.tree.get(key)

    def state_root_at(self, height: int) -> bytes | None:
        if height == 0 and self.base > 0:  # genesis is held, its state is not
            raise HistoryPruned(0, self.base, "the state of height")
        if not self._held(height):
            return None
        root = stored_root(self.kv, height)
        if root is None or root != self._load_header(height).state_root:
            raise CorruptStore(f"state root of height {height} is missing or not its header's")
        return root

    def genesis_doc_obj(self) -> Any:
        """The binary form of the genesis document this chain was created from."""
        raw = self.kv.get(schema.GENESIS)
        if raw is None:
            raise LookupError("the store holds no genesis document")
        return encoding.decode(raw)

    # ---- writes --------------------------------------------------------------------------

    def commit_genesis(
        self,
        block: Block,
        state: Mapping[str, bytes],
        validators: ValidatorSet,
        genesis_doc_obj: Any,
    ) -> None:
        """Write the genesis block and state into an empty store (one synced batch)."""
        if self._head is not None:
            raise InvalidInput("the store already holds a chain")
        h = block.header
        empty = self.suite.hash(b"")
        if h.height != 0 or h.prev_hash != ZERO_HASH or block.txs:
            raise InvalidInput("genesis must be height 0 with a zero prev_hash and no txs")
        if h.tx_root != empty or h.receipts_root != empty:
            raise InvalidInput("genesis tx_root and receipts_root must be H(b'')")
        vals_hash = validators_hash(self.suite, validators)
        if h.validators_hash != vals_hash or h.next_validators_hash != vals_hash:
            raise InvalidInput("genesis validators_hash and next_validators_hash must be the set's")
        self._stage_and_write(block, None, [], state, validators, genesis_doc_obj)

    def commit_block(
        self,
        block: Block,
        qc: QC,
        receipts: Sequence[Receipt],
        state_writes: Mapping[str, bytes | None],
        next_validators: ValidatorSet,
        *,
        staged: StagedUpdate | None = None,
        qc_verified: bool = False,
    ) -> None:
        """Commit the block after the head in one synced batch, or raise and write nothing.

        ``staged``: the tree update already computed for ``state_writes`` (used if the tree
        is still at its parent root); ``qc_verified``: the caller verified the QC's
        signatures (see the module docstring)."""
        self.check_block(block, qc, receipts, next_validators, qc_verified=qc_verified)
        self._stage_and_write(block, qc, receipts, state_writes, next_validators, None, staged)

    def check_block(
        self, block: Block, qc: QC, receipts: Sequence[Receipt], next_validators: ValidatorSet,
        *, qc_verified: bool = False,
    ) -> None:
        """Every check of ``commit_block`` but the state root (which needs the tree)."""
        h = block.header
        where = f"block {h.height}"
        problem = extends_problem(self.suite, self.chain_id, self.head_header(), block)
        if problem is not None:
            raise InvalidInput(f"{where}: {problem}")
        ids = block.tx_ids(self.suite)
        if block.computed_tx_root(self.suite) != h.tx_root:
            raise InvalidInput(f"{where}: tx_root does not match its transactions")
        for tx_id in ids:
            if self.tx_location(tx_id) is not None:
                raise InvalidInput(f"{where} contains transaction {tx_id.hex()}, already committed")
        if len(receipts) != len(ids) or any(
            r.tx_id != t for r, t in zip(receipts, ids, strict=True)
        ):
            raise InvalidInput(f"{where}: receipts do not follow its transactions one to one")
        if receipts_root(self.suite, receipts) != h.receipts_root:
            raise InvalidInput(f"{where}: receipts_root does not match its receipts")
        if validators_hash(self.suite, next_validators) != h.next_validators_hash:
            raise InvalidInput(f"{where}: next_validators do not hash to next_validators_hash")
        if not qc_verified:
            verify_qc(self.suite, qc, h, self.validators_at(h.height))
        elif qc.height != h.height or qc.block_hash != h.hash(self.suite):
            raise ProofError(f"{where}: the QC given as verified is for another block")

    def _stage_and_write(
        self,
        block: Block,
        qc: QC | None,
        receipts: Sequence[Receipt],
        state_writes: Mapping[str, bytes | None],
        next_validators: ValidatorSet,
        genesis_doc_obj: Any,
        staged: StagedUpdate | None = None,
    ) -> None:
        h = block.header
        tree = self.tree
        if tree.pending:
            # Commits are synchronous: a pending apply here is a broken invariant.
            raise RuntimeError("the state tree has an unwritten apply pending")
        batch = self.kv.batch()
        assert len(batch) == 0
        assert (self._head is None) == (qc is None) and h.height == (
            0 if self._head is None else self._head[0] + 1)
        if not self._reusable(staged, state_writes, h.height):
            staged = tree.stage(state_writes, h.height)
        assert staged is not None and tree.can_adopt(staged)
        root = tree.adopt(staged, batch)
        if root != h.state_root:
            tree.discard_pending()
            raise InvalidInput(
                f"block {h.height}: state root after its writes is {root.hex()}, "
                f"the header says {h.state_root.hex()}"
            )
        block_hash = h.hash(self.suite)
        put = batch.put
        put(schema.block_key(h.height), block.encode())
        if qc is not None:
            put(schema.qc_key(h.height), qc.encode())
        put(schema.block_by_hash_key(block_hash), schema.height_bytes(h.height))
        # CE([height, index]): fixarray(2), then the two integers.
        location = b"\x92" + encoding.encode_int(h.height)
        for index, tx in enumerate(block.txs):
            put(schema.tx_location_key(tx.tx_id(self.suite)), location + encoding.encode_int(index))
        put(schema.receipts_key(h.height), encoding.encode_array_of([r.encode() for r in receipts]))
        next_vals = encoding.encode(validators_to_obj(next_validators))
        if genesis_doc_obj is not None:
            put(schema.validators_key(0), next_vals)
            put(schema.GENESIS, encoding.encode(genesis_doc_obj))
            # Every key this tree writes is named by its path (``sp/``) from genesis on.
            put(schema.PATH_INDEX_FROM, encoding.encode({"height": 0}))
            put(schema.HEAD_INDEX, HEAD_INDEX_RECORD)
            put(schema.LATE_INDEX_FROM, encoding.encode({"height": 0}))
        put(schema.validators_key(h.height + 1), next_vals)
        if h.view > 0:
            put(schema.late_block_key(h.height), h.encoded)
        if h.next_validators_hash != h.validators_hash:
            put(schema.validator_change_key(h.height), b"")
        # The head pointer goes last: it is what makes the block visible after a reopen.
        put(schema.HEAD, encoding.encode({"height": h.height, "hash": block_hash}))
        try:
            self.kv.write(batch, sync=True)
        except BaseException:
            tree.discard_pending()
            raise
        tree.confirm_written()
        assert tree.written_root == h.state_root and tree.pending == 0
        self._head = (h.height, block_hash)
        self._chain_id = h.chain_id
        _remember(self._headers, h.height, h, _CACHE_HEADERS)
        _remember(self._validators, h.height + 1, tuple(next_validators), _CACHE_VALIDATOR_SETS)

    def _reusable(self, staged: StagedUpdate | None, writes: Mapping[str, bytes | None],
                  height: int) -> bool:
        """Whether ``staged`` is this block's update on the tree as it is now."""
        return (staged is not None and self.tree.can_adopt(staged) and staged.height == height
                and staged.writes == dict(writes))

    # ---- loading with checks -------------------------------------------------------------

    def _within(self, height: int) -> bool:
        """Whether block ``height`` is held in full: genesis, or ``base`` to the head."""
        return self._head is not None and 0 <= height <= self._head[0] and not (
            0 < height < self.base)

    def _held(self, height: int) -> bool:
        """``_within`` for the public readers: a height strictly between 0 and ``base`` is
        ``HistoryPruned`` (the block exists, not here), never an answer of "none"."""
        if 0 < height < self.base and self._head is not None:
            raise HistoryPruned(height, self.base)
        return self._within(height)

    def _load_header(self, height: int) -> Header:
        cached = self._headers.get(height)
        if cached is not None:
            return cached
        return self._load_block(height).header

    def _read(self, key: bytes, what: str, decode: Callable[[bytes], _T]) -> _T:
        """A stored record of ours: missing or undecodable is a corrupt store, never input."""
        raw = self.kv.get(key)
        if raw is None:
            raise CorruptStore(f"{what}: missing from the store")
        try:
            return decode(raw)
        except InvalidInput as exc:
            raise CorruptStore(f"{what} does not decode: {exc}") from None

    def _load_block(self, height: int) -> Block:
        block = self._read(schema.block_key(height), f"block {height}", Block.decode)
        h = block.header
        block_hash = h.hash(self.suite)
        indexed = self.kv.get(schema.block_by_hash_key(block_hash))
        if h.height != height or indexed != schema.height_bytes(height):
            raise CorruptStore(
                f"block stored at height {height} hashes to {block_hash.hex()}, "
                "which is not the indexed hash of that height"
            )
        if self._head is not None and height == self._head[0] and block_hash != self._head[1]:
            raise CorruptStore(f"block {height} is not the head block the store recorded")
        if tx_root(self.suite, block.txs) != h.tx_root:
            raise CorruptStore(f"block {height}: its transactions do not match its tx_root")
        _remember(self._headers, height, h, _CACHE_HEADERS)
        return block


def _decode_receipts(raw: bytes) -> list[Receipt]:
    obj = encoding.decode(raw, 1 << 30)
    if not isinstance(obj, list):
        raise InvalidInput("receipts must be an array")
    return [Receipt.from_obj(r) for r in obj]


def _decode_base(raw: bytes | None, head: int) -> int:
    if raw is None:
        return 0
    try:
        obj = encoding.decode(raw)
    except InvalidInput as exc:
        raise CorruptStore(f"base record does not decode: {exc}") from None
    if not isinstance(obj, dict) or set(obj) != {"height"} or type(obj["height"]) is not int \
            or not 0 <= obj["height"] <= head:
        raise CorruptStore("base record is malformed or above the head")
    return int(obj["height"])


def head_height_of(kv: KV) -> int | None:
    """The height of the head a store's records name, or None for a store with no chain
    (read without opening a ``BlockStore``)."""
    raw = kv.get(schema.HEAD)
    return None if raw is None else _decode_head(raw)[0]


def _decode_head(raw: bytes) -> tuple[int, bytes]:
    try:
        obj = encoding.decode(raw)
    except InvalidInput as exc:
        raise CorruptStore(f"head record does not decode: {exc}") from None
    if (
        not isinstance(obj, dict)
        or set(obj) != {"height", "hash"}
        or type(obj["height"]) is not int
        or type(obj["hash"]) is not bytes
        or len(obj["hash"]) != DIGEST_LEN
    ):
        raise CorruptStore("head record is malformed")
    return obj["height"], obj["hash"]


def _remember(cache: OrderedDict[int, Any], key: int, value: Any, bound: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > bound:
        cache.popitem(last=False)
