"""State snapshots: the state after a certified block, served and rebuilt in verified pieces.

What a joining node fetches instead of every block since genesis (``shell.statesync`` moves
the pieces between nodes; this module makes and checks them, with no I/O but a ``KV``).

**The manifest** of height ``H`` is the certified header of block ``H`` exactly as a
PROTOCOL §7 bundle carries it, with block ``H`` itself, its receipts and the next set::

    MANIFEST = {"version": 1, "chain_id": str, "genesis_hash": bin32,
                "header": HEADER, "qc": QC, "validator_chain": [...],   # as in §7
                "block": bin,                # CE of block H (its header is "header")
                "receipts": [RECEIPT, ...],  # block H's receipts, in transaction order
                "next_validators": VALIDATORS,   # the set that certifies block H + 1
                "late_blocks": [{"header": HEADER, "qc": QC}, ...]}  # see below

``late_blocks`` are the blocks of heights ``H - LEADER_MEMORY_MAX + 1 .. H - 1`` decided in
a view above 0, oldest first, each with its QC. Leader choice reads them
(``consensus.quorum.failed_leaders``: a validator that failed to lead lately is passed over),
so a store started at ``H`` without them would choose other leaders than its peers. Each is
checked like the block itself: its QC under the set that certified its height (reached
through the validator changes of ``validator_chain``), its height in the window, its view
above 0. A peer can leave one out (that costs liveness, never safety: replicas that
disagree about who failed agree again from view ``n``, ``consensus.quorum.leader``), not
invent or alter one; so a manifest without the field (from a node older than it) is read as
carrying none rather than refused.

``verify_manifest`` checks the envelope from the genesis anchor with
``ledger.bundle.verify_certified`` (each validator change's QC under the set before it, then
block ``H``'s QC under the set reached), so a snapshot is exactly as trustworthy as a proof
bundle about the same block; then the block against ``tx_root``, the receipts against
``receipts_root`` and the next set against ``next_validators_hash``. Nothing else in it is
believed: a fake height, a wrong header or a QC that does not verify is a ``ProofError``.

**The tree pieces** of ``header.state_root``. The state tree is stored as content-addressed
chunk records (``ledger.smt_layout``: three levels of inner nodes under a node at a depth
that is a multiple of three, lone keys as hints in their parents), so a piece is asked for by
the hash its parent names, starting at the root::

    PIECE = [record: bin, leaves: [[key: str, value: bin], ...]]

``record`` is the chunk record headed by the hash asked for; ``leaves`` the key and CE value
of every lone key its hints name, in the order the hints appear (records in their order,
left hint before right). ``TreeImport.accept`` checks a piece against the hash asked for:
every record hashes to what its parent names (``parse_chunk``), a lone-key record only at
the root (so the layout is the one this node would have written itself), every leaf's key
hashes to its hint's path and its value to its hint's value hash. The inner children below
the chunk are the next hashes to ask for, so each piece is self-verifying from the root down
and the tree is complete exactly when no hash is left to ask: nothing can be left out,
added or changed. Pieces are written to the importing store as they are checked (chunk
records, values by hash, the head index, the key-by-path index); memory holds the
hashes still to ask (depth first: about ``8 × pieces per request`` per level of chunks,
~10 levels at 1M keys) and one batch of records.

**Install** (``install``), once the tree is complete, writes in one batch everything else a
``BlockStore`` needs to start at ``H``: genesis (built from this node's own genesis file,
never from a peer), the certificate chain below ``H`` (each validator change's header, QC and
next set: what this node's own §7 bundles will carry), the late blocks' headers and QCs
(``lv/``, ``q/``), block ``H`` with its QC, receipts and indexes, the sets of ``H`` and
``H + 1``, the state root of ``H``, ``m/base = H`` (heights 1..H-1 are absent:
``HistoryPruned``), ``m/paths = H``, ``m/late`` and last the head pointer. A crash
before that batch leaves a store without a head, which the caller discards.

**Serving** (``build_manifest``, ``export_pieces``): any height whose root this node holds
can be served without preparing anything, because chunks and values are never deleted and
``sp/`` names the key of every path written since ``m/paths`` (``ensure_path_index`` fills
it once from the head index on a store older than the index).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import encoding, schema
from ledger.block import (
    QC,
    Block,
    Header,
    ValidatorSet,
    receipts_root,
    validators_from_obj,
    validators_hash,
    validators_to_obj,
    verify_qc,
)
from ledger.bundle import (
    ENVELOPE_FIELDS,
    ChainEntry,
    certified_at,
    parse_certified,
    verify_certified,
)
from ledger.crypto import DIGEST_LEN, ZERO_HASH, Suite
from ledger.errors import CorruptStore, InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_list
from ledger.genesis import Anchor
from ledger.kv import KV, WriteBatch
from ledger.limits import LEADER_MEMORY_MAX
from ledger.smt import HEAD_INDEX_RECORD
from ledger.smt_layout import (
    CHUNK_LEVELS,
    LEAF_PREFIX,
    LEAF_RECORD_LEN,
    PATH_END,
    children,
    parse_chunk,
)
from ledger.smt_proof import key_path, value_hash
from ledger.store import BlockStore
from ledger.tx import Receipt

SNAPSHOT_VERSION = 1
MANIFEST_FIELDS = {*ENVELOPE_FIELDS, "block", "receipts", "next_validators"}
# Optional: a node older than the late blocks serves manifests without them (read as none).
_MANIFEST_OPTIONAL = frozenset({"late_blocks"})
_LATE_FIELDS = {"header", "qc"}
MAX_MANIFEST_BYTES = 64 << 20
MAX_RECEIPTS = 100_000
MAX_KEY_BYTES = 64 << 10  # a state key is built from call arguments, each at most 8 KiB
MAX_VALUE_BYTES = 32 << 20  # a piece is bounded by the frame anyway; this bounds a leaf
MAX_PENDING_HASHES = 1 << 20  # far above what a depth-first walk of a real tree holds
FLUSH_OPS = 20_000  # records written to the importing store per batch ...
FLUSH_BYTES = 8 << 20  # ... or this many bytes, whichever comes first
PIECE_OVERHEAD_BYTES = 16  # CE framing of a piece and of each leaf, counted in budgets


# ---- the manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """A verified manifest: block ``header.height`` certified from the anchor, with the
    sets that certify it (``validators``) and the next block (``next_validators``)."""

    header: Header
    qc: QC
    chain: tuple[ChainEntry, ...]
    block: Block
    receipts: tuple[Receipt, ...]
    validators: ValidatorSet
    next_validators: ValidatorSet
    late: tuple[tuple[Header, QC], ...] = ()  # ``late_blocks``, each verified

    @property
    def height(self) -> int:
        return self.header.height


def build_manifest(store: BlockStore, height: int) -> bytes:
    """CE bytes of the manifest of block ``height`` (1..head) from ``store``.
    ``HistoryPruned`` / ``LookupError`` when the store does not hold it."""
    certified = certified_at(store, height)
    block = store.block(height)
    receipts = store.receipts(height)
    if block is None or receipts is None:
        raise LookupError(f"block {height} is not held")
    obj = {**certified.head_fields(), **certified.tail_fields(), "block": block.encode(),
           "receipts": [r.to_obj() for r in receipts],
           "next_validators": validators_to_obj(store.validators_at(height + 1)),
           "late_blocks": [{"header": h.to_obj(), "qc": qc.to_obj()}
                           for h, qc in map(store.late_entry, store.late_heights(
                               late_window(height), height - 1))]}
    return encoding.encode(obj)


def late_window(height: int) -> int:
    """The lowest height whose late block a manifest of ``height`` carries."""
    return max(1, height - LEADER_MEMORY_MAX + 1)


def verify_manifest(raw: bytes, anchor: Anchor, max_bytes: int = MAX_MANIFEST_BYTES) -> Manifest:
    """The manifest in ``raw`` checked from ``anchor`` (module docstring); anything that
    does not verify or has the wrong shape is a ``ProofError`` naming what failed."""
    suite = anchor.suite
    try:
        m = exact_map(encoding.decode(raw, max_bytes), "manifest", MANIFEST_FIELDS,
                      _MANIFEST_OPTIONAL)
        certified = parse_certified(m, "manifest")
        block = Block.decode(get_bytes(m, "block", "manifest", max_len=max_bytes))
        receipts = tuple(Receipt.from_obj(r)
                         for r in get_list(m, "receipts", "manifest", MAX_RECEIPTS))
        next_validators = validators_from_obj(m["next_validators"])
        late = []
        entries = get_list(m, "late_blocks", "manifest", LEADER_MEMORY_MAX) \
            if "late_blocks" in m else []
        for i, entry in enumerate(entries):
            e = exact_map(entry, f"manifest.late_blocks[{i}]", _LATE_FIELDS)
            late.append((Header.from_obj(e["header"]), QC.from_obj(e["qc"])))
    except ProofError:
        raise
    except InvalidInput as exc:
        raise ProofError(f"malformed manifest: {exc}") from None
    header = verify_certified(certified, anchor)
    where = f"manifest of block {header.height}"
    if block.header != header:
        raise ProofError(f"{where}: its block is not the certified header's")
    try:
        block.check_tx_root(suite)
    except InvalidInput as exc:
        raise ProofError(f"{where}: {exc}") from None
    ids = block.tx_ids(suite)
    if len(receipts) != len(ids) or any(r.tx_id != t for r, t in zip(receipts, ids,
                                                                       strict=True)):
        raise ProofError(f"{where}: receipts do not follow the block's transactions")
    if receipts_root(suite, receipts) != header.receipts_root:
        raise ProofError(f"{where}: receipts do not match receipts_root")
    if validators_hash(suite, next_validators) != header.next_validators_hash:
        raise ProofError(f"{where}: next_validators do not hash to next_validators_hash")
    _verify_late(late, header, certified.chain, anchor)
    current = anchor.validators
    for entry in certified.chain:
        current = entry.next_validators
    return Manifest(header, certified.qc, certified.chain, block, receipts, current,
                    next_validators, tuple(late))


def _verify_late(late: Sequence[tuple[Header, QC]], header: Header,
                 chain: Sequence[ChainEntry], anchor: Anchor) -> None:
    """``ProofError`` unless every late block is one of ``header``'s chain: in the window below
    it, oldest first, decided in a view above 0, certified by the set of its height."""
    previous = late_window(header.height) - 1
    validators = anchor.validators  # the set that certifies the late block's height
    changes = iter(chain)  # ascending, like the late blocks: one walk for all of them
    change = next(changes, None)
    for late_header, qc in late:
        h = late_header.height
        where = f"manifest of block {header.height}: late block {h}"
        if not previous < h < header.height:
            raise ProofError(f"{where} is out of order or outside heights "
                             f"{late_window(header.height)}..{header.height - 1}")
        if late_header.view == 0 or late_header.chain_id != header.chain_id:
            raise ProofError(f"{where} was decided in view 0 or on another chain")
        while change is not None and change.header.height < h:
            validators = change.next_validators
            change = next(changes, None)
        verify_qc(anchor.suite, qc, late_header, validators)
        previous = h


# ---- tree pieces -------------------------------------------------------------------------


def walk_chunk(record: bytes, top: bytes, suite: Suite) -> tuple[list[bytes], list[bytes]]:
    """The lone keys' INFOs a chunk record's hints name (in piece order) and the inner
    children just below the chunk (left to right), the record checked against ``top``
    (``CorruptStore`` if it does not hash)."""
    members = parse_chunk(record, top, suite.hash)
    if record[:1] == LEAF_PREFIX:
        return [record[1:LEAF_RECORD_LEN]], []
    infos: list[bytes] = []
    below: list[bytes] = []
    row = [top]
    for level in range(CHUNK_LEVELS):
        inner: list[bytes] = []
        for node in row:
            for child, info in children(members[node]):
                if info is not None:
                    infos.append(info)
                elif child != ZERO_HASH:
                    (inner if level + 1 < CHUNK_LEVELS else below).append(child)
        row = inner
    return infos, below


def export_pieces(kv: KV, suite: Suite, tops: Sequence[bytes], max_bytes: int) -> list[Any]:
    """The pieces headed by ``tops``, in order, as many as fit in ``max_bytes`` (always
    the first, when held): stops at the first one this store cannot serve whole (a chunk or
    a leaf's key or value missing), so an empty answer means "not held". ``CorruptStore``
    when a stored record fails its check."""
    out: list[Any] = []
    used = 0
    for top in tops:
        record = kv.get(schema.state_node_key(top))
        if record is None:
            break
        infos, _ = walk_chunk(record, top, suite)
        leaves = []
        size = len(record) + PIECE_OVERHEAD_BYTES
        for info in infos:
            key = kv.get(schema.state_key_by_path_key(info[:PATH_END]))
            value = kv.get(schema.state_value_key(info[PATH_END:]))
            if key is None or value is None:
                return out
            leaves.append([_checked_key(suite, key, info[:PATH_END]), value])
            if value_hash(suite, value) != info[PATH_END:]:
                raise CorruptStore(f"state value {info[PATH_END:].hex()} fails its hash")
            size += len(key) + len(value) + PIECE_OVERHEAD_BYTES
        if out and used + size > max_bytes:
            break
        used += size
        out.append([record, leaves])
    return out


def _checked_key(suite: Suite, raw: bytes, path: bytes) -> str:
    """A key-by-path record of ours: the key whose path it is, or ``CorruptStore``."""
    try:
        key = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptStore(f"the key recorded for path {path.hex()} is not UTF-8") from None
    if key_path(suite, key) != path:
        raise CorruptStore(f"the key recorded for path {path.hex()} is not at that path")
    return key


class TreeImport:
    """Rebuilds the tree of ``root`` in ``kv`` from checked pieces (module docstring).

    ``take(n)`` gives the next hashes to ask a peer for; ``accept(asked, pieces)`` checks
    and writes its answer (the part not answered goes back to be asked again);
    ``give_back(asked)`` returns the hashes of a request that failed. ``done`` once every
    hash of the tree has been checked and ``flush`` has written the last records."""

    def __init__(self, suite: Suite, kv: KV, root: bytes) -> None:
        if len(root) != DIGEST_LEN:
            raise InvalidInput("a state root is 32 bytes")
        self.suite = suite
        self.root = root
        self._kv = kv
        self._todo: list[bytes] = [] if root == ZERO_HASH else [root]  # the last goes first
        self.in_flight = 0
        self._batch: WriteBatch = kv.batch()
        self._batch_bytes = 0
        self.pieces = 0
        self.keys = 0
        self.bytes = 0
        self.last_path = b"\x00" * 4

    @property
    def done(self) -> bool:
        return not self._todo and self.in_flight == 0

    @property
    def waiting(self) -> int:
        """Hashes known and not yet asked for."""
        return len(self._todo)

    def progress(self) -> float:
        """About how much of the key space is behind us: keys sit at uniformly random
        paths and the walk goes left to right, so the last key's path says it."""
        return int.from_bytes(self.last_path[:4], "big") / 2**32

    def take(self, count: int) -> list[bytes]:
        """Up to ``count`` hashes to ask for, leftmost first; they are in flight until
        accepted or given back."""
        if count < 1:
            raise ValueError("take at least one hash")
        tops = self._todo[-count:]
        del self._todo[-count:]
        tops.reverse()
        self.in_flight += len(tops)
        return tops

    def give_back(self, tops: Sequence[bytes]) -> None:
        if len(tops) > self.in_flight:
            raise ValueError("giving back more hashes than are in flight")
        self.in_flight -= len(tops)
        self._todo.extend(reversed(tops))

    def accept(self, asked: Sequence[bytes], pieces: Any) -> int:
        """Check and write the answer to a request for ``asked``: a list of pieces for a
        prefix of it. Returns how many were accepted; the rest go back to be asked again.
        A piece that does not check is a ``ProofError`` (the pieces before it are kept,
        it and the rest go back)."""
        if type(pieces) is not list or len(pieces) > len(asked):
            self.give_back(asked)
            raise ProofError(f"an answer of {len(asked)} state pieces must be a list of at "
                             "most that many")
        for i, piece in enumerate(pieces):
            try:
                self._accept_one(asked[i], piece)
            except ProofError:
                self.give_back(asked[i:])
                raise
            self.in_flight -= 1
        self.give_back(asked[len(pieces):])
        if len(self._batch) >= FLUSH_OPS or self._batch_bytes >= FLUSH_BYTES:
            self.flush()
        return len(pieces)

    def flush(self) -> None:
        """Write the records checked so far (the importing store has no head yet, so what
        is written before the install changes nothing a reader sees)."""
        if len(self._batch):
            self._kv.write(self._batch, sync=False)
            self._batch = self._kv.batch()
            self._batch_bytes = 0

    def _accept_one(self, top: bytes, piece: Any) -> None:
        where = f"state piece {top.hex()[:16]}"
        if not (type(piece) is list and len(piece) == 2 and type(piece[0]) is bytes
                and type(piece[1]) is list):
            raise ProofError(f"{where}: must be [record, leaves]")
        record, leaves = piece
        if record[:1] == LEAF_PREFIX and top != self.root:
            # Only a root holding a single key is stored as a lone-key record; anywhere else
            # the key is a hint in its parent. Another layout would hash the same but not be
            # the one this node's tree reads.
            raise ProofError(f"{where}: a lone-key record below the root")
        try:
            infos, below = walk_chunk(record, top, self.suite)
        except CorruptStore as exc:
            raise ProofError(f"{where}: {exc}") from None
        if len(leaves) != len(infos):
            raise ProofError(f"{where}: {len(leaves)} leaves for {len(infos)} lone keys")
        if len(self._todo) + len(below) > MAX_PENDING_HASHES:
            raise ProofError(f"{where}: the walk holds more than {MAX_PENDING_HASHES} hashes")
        put = self._batch.put
        staged = len(record)
        checked: list[tuple[bytes, bytes, bytes, bytes]] = []
        for info, leaf in zip(infos, leaves, strict=True):
            key, value = self._leaf(where, info, leaf)
            checked.append((info[:PATH_END], info[PATH_END:], key, value))
        for path, digest, key, value in checked:
            put(schema.state_value_key(digest), value)
            put(schema.STATE_HEAD + key, digest)
            put(schema.state_key_by_path_key(path), key)
            staged += len(key) * 2 + len(value) + 4 * DIGEST_LEN
        put(schema.state_node_key(top), record)
        self._todo.extend(reversed(below))
        self._batch_bytes += staged
        self.bytes += staged
        self.pieces += 1
        self.keys += len(checked)
        if checked:
            self.last_path = checked[-1][0]

    def _leaf(self, where: str, info: bytes, leaf: Any) -> tuple[bytes, bytes]:
        """The UTF-8 key and the value of one leaf, checked against its hint's INFO."""
        if not (type(leaf) is list and len(leaf) == 2 and type(leaf[0]) is str
                and type(leaf[1]) is bytes):
            raise ProofError(f"{where}: a leaf must be [key, value]")
        key, value = leaf
        try:
            encoded = key.encode("utf-8")
        except UnicodeEncodeError:
            raise ProofError(f"{where}: a leaf key is not UTF-8 text") from None
        if len(encoded) > MAX_KEY_BYTES or len(value) > MAX_VALUE_BYTES:
            raise ProofError(f"{where}: a leaf over {MAX_KEY_BYTES} key or "
                             f"{MAX_VALUE_BYTES} value bytes")
        if key_path(self.suite, key) != info[:PATH_END]:
            raise ProofError(f"{where}: key {key[:80]!r} is not at its hint's path")
        if value_hash(self.suite, value) != info[PATH_END:]:
            raise ProofError(f"{where}: the value of {key[:80]!r} is not the one the tree "
                             "commits to")
        return encoded, value


# ---- installing a snapshot ---------------------------------------------------------------


def install(kv: KV, doc_obj: Any, genesis: Block, genesis_validators: ValidatorSet,
            manifest: Manifest, tree: TreeImport,
            extra: Mapping[bytes, bytes] | None = None) -> None:
    """Write what makes ``kv`` a store whose chain starts at ``manifest.height`` (module
    docstring), in one synced batch, the head pointer last. ``tree`` must be done, for the
    manifest's state root; ``genesis`` and ``doc_obj`` are this node's own; ``extra``
    (consensus records carried over, an owner record) goes into the same batch."""
    header = manifest.header
    height = header.height
    suite = tree.suite
    if not tree.done or tree.root != header.state_root:
        raise ValueError("the tree of the manifest's state root is not complete")
    if height < 1:
        raise ValueError("a snapshot is of a committed block, height 1 or more")
    tree.flush()
    batch = kv.batch()
    put = batch.put
    put(schema.GENESIS, encoding.encode(doc_obj))
    put(schema.block_key(0), genesis.encode())
    put(schema.block_by_hash_key(genesis.hash(suite)), schema.height_bytes(0))
    put(schema.receipts_key(0), encoding.encode([]))
    put(schema.validators_key(0), encoding.encode(validators_to_obj(genesis_validators)))
    for entry in manifest.chain:
        h = entry.header.height
        put(schema.change_header_key(h), entry.header.encoded)
        put(schema.qc_key(h), entry.qc.encode())
        put(schema.validators_key(h + 1),
            encoding.encode(validators_to_obj(entry.next_validators)))
        put(schema.validator_change_key(h), b"")
    block_hash = header.hash(suite)
    put(schema.block_key(height), manifest.block.encode())
    put(schema.qc_key(height), manifest.qc.encode())
    put(schema.block_by_hash_key(block_hash), schema.height_bytes(height))
    for index, tx_id in enumerate(manifest.block.tx_ids(suite)):
        put(schema.tx_location_key(tx_id), encoding.encode([height, index]))
    put(schema.receipts_key(height), encoding.encode([r.to_obj() for r in manifest.receipts]))
    put(schema.validators_key(height), encoding.encode(validators_to_obj(manifest.validators)))
    put(schema.validators_key(height + 1),
        encoding.encode(validators_to_obj(manifest.next_validators)))
    if header.next_validators_hash != header.validators_hash:
        put(schema.validator_change_key(height), b"")
    for late_header, qc in manifest.late:
        put(schema.late_block_key(late_header.height), late_header.encoded)
        put(schema.qc_key(late_header.height), qc.encode())
    if header.view > 0:
        put(schema.late_block_key(height), header.encoded)
    put(schema.LATE_INDEX_FROM, encoding.encode({"height": late_window(height)}))
    put(schema.state_root_key(height), header.state_root)
    put(schema.BASE, encoding.encode({"height": height}))
    put(schema.PATH_INDEX_FROM, encoding.encode({"height": height}))
    put(schema.HEAD_INDEX, HEAD_INDEX_RECORD)
    for key, value in (extra or {}).items():
        put(key, value)
    put(schema.HEAD, encoding.encode({"height": height, "hash": block_hash}))
    kv.write(batch, sync=True)


# ---- the key-by-path index of an older store -----------------------------------------------


def path_index_from(kv: KV) -> int | None:
    """The height from which ``sp/`` names every key of every root, or None (not built)."""
    raw = kv.get(schema.PATH_INDEX_FROM)
    if raw is None:
        return None
    obj = encoding.decode_trusted(raw)
    if not isinstance(obj, dict) or type(obj.get("height")) is not int:
        raise CorruptStore("the key-by-path index record is malformed")
    return int(obj["height"])


def ensure_path_index(store: BlockStore) -> int:
    """The height from which this store can serve snapshots, building the key-by-path
    index from the head index first on a store written before it existed (then only
    roots from the head on can be named: an older root may hold keys deleted since)."""
    kv = store.kv
    known = path_index_from(kv)
    if known is not None:
        return known
    if store.empty:
        return 0
    head = store.head()[0]
    batch = kv.batch()
    for key, _ in kv.scan(schema.STATE_HEAD):
        name = key[len(schema.STATE_HEAD):]
        batch.put(schema.state_key_by_path_key(key_path(store.suite, name.decode("utf-8"))),
                  name)
        if len(batch) >= FLUSH_OPS:
            kv.write(batch, sync=False)
            batch = kv.batch()
    batch.put(schema.PATH_INDEX_FROM, encoding.encode({"height": head}))
    kv.write(batch, sync=True)
    return head
