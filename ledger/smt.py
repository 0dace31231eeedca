"""The state tree (PROTOCOL §6) kept in a ``KV``: batched updates, reads at any root, proofs.

The hashes are fixed by ``ledger.smt_proof`` (which also verifies proofs); this module owns
how the tree is stored and updated.

Storage (``ledger.schema``), all written into the caller's block ``WriteBatch``:

| key | value |
|---|---|
| ``state_node_key(h)`` | the chunk headed by node ``h`` (below); every load is checked |
| ``state_value_key(vh)`` | CE bytes of a value, addressed by ``Hd(0x12, CE)`` |
| ``state_head_key(key)`` | CE bytes of the key's value at the newest root (deleted with the key) |
| ``state_root_key(height)`` | the root after the block at ``height`` |

An inner node (a subtree holding two keys or more) is ``0x11 ‖ left ‖ right ‖ flags ‖
hints``: the first 65 bytes are the preimage of its hash; bit 0 (1) of ``flags`` says the
left (right) child holds a single key, whose ``path ‖ value_hash`` (the preimage of that
child's hash after the ``0x10`` tag) follows in ``hints``, left first. A lone key thus
lives in its parent and costs no read of its own; only a root holding a single key is
stored by itself, as ``0x10 ‖ path ‖ value_hash``.

Inner nodes are stored in chunks of ``CHUNK_LEVELS`` (3) levels: an inner node at a depth
that is a multiple of 3 heads a chunk, and its record, keyed by its hash, is the
concatenation of the chunk's inner nodes level by level, left to right: itself, then its
inner children, then theirs (empty sides and lone keys are not nodes of their own). A
block's update thus writes about a third as many records as it changes nodes (at 1M keys
~3,800 records instead of ~11,400 for 1,000 keys), which is what LevelDB's per-record cost
(the write, the log, compaction) follows. A node below a chunk's top is read through the
record of its chunk's top (an update or a proof passes through that top on the way down,
so it always knows it); reading a chunk checks every node in it against the hash its parent
names, and the hints against the leaf hashes, so a chunk read back is exactly the chunk
written. A new chunk takes its unchanged nodes from memory, or else from the record of the
chunk it replaces at the same place.

Chunks and values are content-addressed and never deleted, so every past root stays
readable and provable (an archive node; there is no pruning). The empty tree is ``ZERO``
and is never stored.

Life of a block's update::

    root = tree.apply(writes, batch, height)   # stages into batch, returns the new root
    ...                                         # may apply the next block on top (pipelining)
    kv.write(batch)                             # caller: one fsync with block, QC, receipts
    tree.confirm_written()                      # the oldest pending apply is now on disk
    # or, if the block is abandoned (view change): tree.discard_pending()

``apply`` keeps the nodes, values and head values it staged in an in-memory pending layer,
so reads, proofs and further applies see the new root at once while the KV is untouched
until the caller writes the batch. ``confirm_written`` retires the oldest layer into the
caches; ``discard_pending`` drops every layer and returns to ``written_root``.

An update sorts the written paths and walks the tree once, splitting the sorted run at each
node, so each touched node is read and rehashed once per block whatever number of keys
under it changed. Deleting collapses the tree back: a subtree left with one key is that
key's leaf again. Below the top levels of a block each write is alone in its subtree and
goes down and back up its path in a loop (``_update_one``).

Memory: the inner nodes of the newest tree above ``pinned_depth`` stay in memory for good
(at most ``2**pinned_depth`` of them, ~200 bytes each); superseded ones are dropped as
blocks are confirmed. With the default 24, a state of up to a few million keys keeps
nearly all its inner nodes in memory (1M keys: ~1.4M nodes, ~300 MB), so an update reads
almost nothing from the KV; ``pinned_depth=20`` halves that memory at 1M keys for about
1.4 node reads per written key. A smaller state pins only what it has. Deeper or older
nodes go through a small two-generation cache (an approximate LRU whose hits cost two dict
lookups). A tree opened on a big store warms the pinned levels as blocks pass (each update
pins the path it reads).

A ``StateTree`` is used by one thread at a time (the node's executor).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping
from itertools import repeat
from operator import itemgetter

from ledger import schema, tags
from ledger.crypto import DIGEST_LEN, ED25519_SHA256, ZERO_HASH, Suite
from ledger.errors import CorruptStore, InvalidInput
from ledger.kv import KV, WriteBatch
from ledger.smt_proof import (
    PATH_BITS,
    Proof,
    ProofLeaf,
    key_path,
    leaf_hash,
    path_bit,
    value_hash,
)

__all__ = ["CHUNK_LEVELS", "DEFAULT_CACHE_NODES", "DEFAULT_PINNED_DEPTH", "StateTree",
           "stored_root"]

DEFAULT_PINNED_DEPTH = 24
# Inner nodes are stored in chunks of this many levels, one record per chunk (see above).
CHUNK_LEVELS = 3
# Deeper and past nodes: ~250 bytes each in memory.
DEFAULT_CACHE_NODES = 1 << 16

_LEAF = tags.STATE_LEAF
_INNER = tags.STATE_NODE
_PREIMAGE_LEN = 1 + 2 * DIGEST_LEN
_INFO_LEN = 2 * DIGEST_LEN  # path ‖ value_hash of a lone key
_LEAF_PREFIX = bytes((_LEAF,))
_VALUE_PREFIX = bytes((tags.STATE_VALUE,))
_INNER_PREFIX = bytes((_INNER,))
_FLAG_BYTES = tuple(bytes((flags,)) for flags in range(4))
_INNER_BASE_LEN = _PREIMAGE_LEN + 1  # preimage and flags
_INNER_LEN_BY_FLAGS = tuple(_INNER_BASE_LEN + bin(flags).count("1") * _INFO_LEN
                            for flags in range(4))

# A subtree as an update sees it: (hash, info). ``info`` is ``path ‖ value_hash`` when the
# subtree holds a single key, None when it is ZERO or holds several.
_Ref = tuple[bytes, bytes | None]
# One write, sorted by path: (path as int, info, leaf hash); info and hash None delete.
_Write = tuple[int, bytes | None, bytes | None]
# One key of a subtree being rebuilt: (path as int, info, leaf hash).
_Live = tuple[int, bytes, bytes]
_by_path = itemgetter(0)


def stored_root(kv: KV, height: int) -> bytes | None:
    """The state root recorded after the block at ``height``, or None if there is none."""
    root = kv.get(schema.state_root_key(height))
    if root is not None and len(root) != DIGEST_LEN:
        raise CorruptStore(f"state root at height {height} is {len(root)} bytes")
    return root


class _Layer:
    """What one ``apply`` staged and the KV does not hold yet."""

    __slots__ = ("chunks", "heads", "nodes", "pinned_new", "pinned_old", "root", "values")

    def __init__(self, root: bytes, nodes: dict[bytes, bytes], chunks: dict[bytes, bytes],
                 values: dict[bytes, bytes], heads: dict[str, bytes | None],
                 pinned_new: dict[bytes, bytes], pinned_old: list[bytes]) -> None:
        self.root = root
        self.nodes = nodes  # every new node by its hash, as the tree reads them
        self.chunks = chunks  # the chunk records staged in the batch, by chunk root
        self.values = values
        self.heads = heads
        self.pinned_new = pinned_new  # new inner nodes above the pinned depth
        self.pinned_old = pinned_old  # the inner nodes above it that they supersede


class StateTree:
    """The state tree over a KV, at ``root`` (the newest root, pending or written).

    ``root`` at construction must be the root whose head values ``state_head_key`` holds,
    i.e. the root at the store's head height (``stored_root(kv, head_height)``), or ZERO
    on an empty store; ``get`` reads those head values, ``get_at`` works at any root.
    """

    def __init__(self, suite: Suite, kv: KV, root: bytes = ZERO_HASH,
                 pinned_depth: int = DEFAULT_PINNED_DEPTH,
                 cache_nodes: int = DEFAULT_CACHE_NODES) -> None:
        if type(root) is not bytes or len(root) != DIGEST_LEN:
            raise InvalidInput(f"state root must be {DIGEST_LEN} bytes")
        if not 0 <= pinned_depth <= PATH_BITS or cache_nodes < 2:
            raise ValueError("pinned_depth must be in 0..256 and cache_nodes at least 2")
        self.suite = suite
        self._hash = suite.hash
        # The hot loops call hashlib's SHA-256 directly when the suite is SHA-256: a
        # Python frame per hash is a good part of a node's cost.
        self._sha256 = hashlib.sha256 if suite is ED25519_SHA256 else None
        self._kv = kv
        self._written_root = root
        self._layers: deque[_Layer] = deque()
        self._pinned_depth = pinned_depth
        self._pinned: dict[bytes, bytes] = {}
        self._generation_nodes = cache_nodes // 2
        self._hot: dict[bytes, bytes] = {}
        self._cold: dict[bytes, bytes] = {}
        self.node_loads = 0  # nodes read from the KV (cache misses), for benchmarks
        # Where the running apply collects its new nodes and pinned-set changes.
        self._out: dict[bytes, bytes] = {}
        self._chunk_roots: dict[bytes, bytes | None] = {}  # new chunk root -> old one there
        self._pinned_new: dict[bytes, bytes] = {}
        self._pinned_old: list[bytes] = []

    @property
    def root(self) -> bytes:
        """The newest root: the last apply's, written or not."""
        return self._layers[-1].root if self._layers else self._written_root

    @property
    def written_root(self) -> bytes:
        """The newest root whose batch the caller has confirmed written."""
        return self._written_root

    @property
    def pinned_nodes(self) -> int:
        """Inner nodes held in memory for good (for metrics)."""
        return len(self._pinned)

    @property
    def pending(self) -> int:
        """Number of applies staged but not yet confirmed written."""
        return len(self._layers)

    # -- reads ------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """CE bytes of ``key``'s value at ``root`` (from the head index), or None."""
        for layer in reversed(self._layers):
            if key in layer.heads:
                return layer.heads[key]
        try:
            head = schema.state_head_key(key)
        except (AttributeError, UnicodeEncodeError) as exc:
            raise InvalidInput(f"state key must be UTF-8 text: {key!r}") from exc
        return self._kv.get(head)

    def get_at(self, root: bytes, key: str) -> bytes | None:
        """CE bytes of ``key``'s value under any past or pending ``root``, or None."""
        return self.get_with_proof(key, root)[0]

    def prove(self, key: str, root: bytes | None = None) -> Proof:
        """A proof of ``key``'s presence or absence under ``root`` (default: ``self.root``)."""
        return self.get_with_proof(key, root)[1]

    def get_with_proof(self, key: str, root: bytes | None = None) -> tuple[bytes | None, Proof]:
        """``key``'s value under ``root`` (default ``self.root``) and the proof of it."""
        path = key_path(self.suite, key)
        node, info = self._ref(self.root if root is None else root)
        siblings: list[bytes] = []
        chunk_root = node
        for depth in range(PATH_BITS + 1):
            if node == ZERO_HASH:
                return None, Proof(None, tuple(siblings))
            if info is not None:
                leaf = ProofLeaf(info[:32], info[32:])
                value = self._value(leaf.value_hash) if leaf.path == path else None
                return value, Proof(leaf, tuple(siblings))
            if depth % CHUNK_LEVELS == 0:
                chunk_root = node
            raw = self._load(node, depth, False, chunk_root)
            if raw[0] != _INNER:
                raise CorruptStore(f"state node {node.hex()} is a lone key without a hint")
            (left, left_info), (right, right_info) = _children(raw)
            if path_bit(path, depth):
                siblings.append(left)
                node, info = right, right_info
            else:
                siblings.append(right)
                node, info = left, left_info
        raise CorruptStore(f"state tree is deeper than {PATH_BITS} levels on {key!r}'s path")

    # -- updates ----------------------------------------------------------------------

    def apply(self, writes: Mapping[str, bytes | None], batch: WriteBatch, height: int) -> bytes:
        """Apply one block's ``writes`` (CE bytes, None deletes) on top of ``root``.

        Puts every new node, value, head value and ``state_root_key(height)`` into
        ``batch`` and returns the new root, which becomes ``root`` at once (see the module
        docstring for ``confirm_written`` / ``discard_pending``). Invalid input changes
        nothing.
        """
        if type(height) is not int or height < 0:
            raise InvalidInput(f"height must be a non-negative integer, got {height!r}")
        suite = self.suite
        sha = self._sha256
        items: list[_Write] = []
        values: dict[bytes, bytes] = {}
        heads: dict[str, bytes | None] = {}
        for key, value in writes.items():
            path = key_path(suite, key)
            if value is None:
                items.append((int.from_bytes(path, "big"), None, None))
            elif type(value) is bytes:
                if sha is not None:  # value_hash and leaf_hash, inlined
                    digest = sha(_VALUE_PREFIX + value).digest()
                    lone = path + digest
                    leaf = sha(_LEAF_PREFIX + lone).digest()
                else:
                    digest = value_hash(suite, value)
                    lone = path + digest
                    leaf = leaf_hash(suite, path, digest)
                values[digest] = value
                items.append((int.from_bytes(path, "big"), lone, leaf))
            else:
                raise InvalidInput(f"value of {key!r} must be CE bytes or None")
            heads[key] = value
        items.sort(key=_by_path)
        ints = [item[0] for item in items]
        nodes: dict[bytes, bytes] = {}
        pinned_new: dict[bytes, bytes] = {}
        pinned_old: list[bytes] = []
        new_root = self.root
        chunk_roots: dict[bytes, bytes | None] = {}
        chunks: dict[bytes, bytes] = {}
        if items:
            self._out, self._pinned_new, self._pinned_old = nodes, pinned_new, pinned_old
            self._chunk_roots = chunk_roots
            node, info = self._ref(new_root)
            new_root, info = self._update(node, info, 0, items, ints, 0, len(items), node)
            if info is not None:  # a lone key at the root has no parent to hint it
                nodes[new_root] = chunks[new_root] = _LEAF_PREFIX + info
            chunks.update(self._chunk_records(chunk_roots, nodes))

        # One list extend per record kind: a method call per put costs as much as the put.
        ops = batch.ops
        node_prefix, value_prefix = schema.STATE_NODE, schema.STATE_VALUE
        ops.extend([(node_prefix + node_hash, raw) for node_hash, raw in chunks.items()])
        ops.extend([(value_prefix + digest, value) for digest, value in values.items()])
        head_key = schema.state_head_key
        ops.extend([(head_key(key), head) for key, head in heads.items()])
        ops.append((schema.state_root_key(height), new_root))
        self._layers.append(_Layer(new_root, nodes, chunks, values, heads, pinned_new,
                                   pinned_old))
        return new_root

    def confirm_written(self) -> None:
        """The batch of the oldest pending ``apply`` is on disk: retire its layer."""
        if not self._layers:
            raise RuntimeError("confirm_written called with no pending apply")
        layer = self._layers.popleft()
        pinned = self._pinned
        # ~10,000 removals a block: drained by a zero-length deque, the loop runs in C.
        deque(map(pinned.pop, layer.pinned_old, repeat(None)), maxlen=0)
        pinned.update(layer.pinned_new)
        self._written_root = layer.root

    def discard_pending(self) -> None:
        """Forget every apply not confirmed written; ``root`` goes back to ``written_root``."""
        self._layers.clear()

    def _ref(self, node: bytes) -> _Ref:
        """A root as a subtree reference (its info read from the node itself)."""
        if node == ZERO_HASH:
            return node, None
        raw = self._load(node, 0, False, node)
        return node, (raw[1:_PREIMAGE_LEN] if raw[0] == _LEAF else None)

    def _update(self, node: bytes, info: bytes | None, depth: int, items: list[_Write],
                ints: list[int], lo: int, hi: int, chunk_root: bytes) -> _Ref:
        """The subtree ``node`` at ``depth`` after the (non-empty) run ``items[lo:hi]``.

        ``chunk_root``: the node heading the stored chunk that holds ``node``.
        """
        if hi - lo == 1:
            return self._update_one(node, info, depth, items[lo], chunk_root)
        if node == ZERO_HASH or info is not None:
            return self._rebuild(items[lo:hi], node, info, depth)
        if depth >= PATH_BITS:
            raise CorruptStore("state tree inner node below the deepest level")
        at_chunk_root = depth % CHUNK_LEVELS == 0
        if at_chunk_root:
            chunk_root = node
        raw = self._load(node, depth, True, chunk_root)
        if raw[0] != _INNER:
            raise CorruptStore(f"state node {node.hex()} is a lone key without a hint")
        (left, left_info), (right, right_info) = _children(raw)
        # The run's paths share their first ``depth`` bits; those going right at ``depth``
        # are the ones at or above that prefix followed by a 1 bit and zeros.
        shift = PATH_BITS - 1 - depth
        mid = bisect_left(ints, ((ints[lo] >> shift) | 1) << shift, lo, hi)
        if mid > lo:
            left, left_info = self._update(left, left_info, depth + 1, items, ints, lo, mid,
                                           chunk_root)
        if mid < hi:
            right, right_info = self._update(right, right_info, depth + 1, items, ints, mid, hi,
                                             chunk_root)
        ref = self._join(left, left_info, right, right_info, depth)
        if ref[0] != node and depth < self._pinned_depth:
            self._pinned_old.append(node)
        if at_chunk_root and ref[1] is None and ref[0] != ZERO_HASH:
            self._chunk_roots[ref[0]] = node  # its unchanged members are in node's chunk
        return ref

    def _update_one(self, node: bytes, info: bytes | None, depth: int, item: _Write,
                    chunk_root: bytes) -> _Ref:
        """``_update`` for a run of one write: a loop down its path and back up.

        Below the top ten levels of a 1,000-key block each write is alone in its subtree,
        so this is where most nodes of an update are visited.
        """
        key_int = item[0]
        trail: list[tuple[bytes, bytes, bytes | None, int]] = []  # (node, sibling, info, bit)
        pinned_depth = self._pinned_depth
        pinned = self._pinned
        while node != ZERO_HASH and info is None:
            if depth >= PATH_BITS:
                raise CorruptStore("state tree inner node below the deepest level")
            # The pinned levels answer most reads: look there before the general path.
            if depth % CHUNK_LEVELS == 0:
                chunk_root = node
            pinned_raw = pinned.get(node) if depth < pinned_depth else None
            raw = self._load(node, depth, True, chunk_root) if pinned_raw is None else pinned_raw
            if raw[0] != _INNER:
                raise CorruptStore(f"state node {node.hex()} is a lone key without a hint")
            flags = raw[65]  # parsed as ``_children`` does, only the side needed
            if (key_int >> (PATH_BITS - 1 - depth)) & 1:
                trail.append((node, raw[1:33], raw[66:130] if flags & 1 else None, 1))
                node = raw[33:65]
                info = (raw[130:194] if flags & 1 else raw[66:130]) if flags & 2 else None
            else:
                trail.append((node, raw[33:65],
                              (raw[130:194] if flags & 1 else raw[66:130]) if flags & 2 else None,
                              0))
                node = raw[1:33]
                info = raw[66:130] if flags & 1 else None
            depth += 1
        node, info = self._rebuild([item], node, info, depth)
        # Back up the path: ``_join`` inlined, as this loop makes most of a block's nodes.
        out, pinned_new, pinned_old = self._out, self._pinned_new, self._pinned_old
        chunk_roots = self._chunk_roots
        sha, hash_ = self._sha256, self._hash
        flag_bytes = _FLAG_BYTES
        for old, sibling, sibling_info, bit in reversed(trail):
            depth -= 1
            if sibling == ZERO_HASH:
                if node == ZERO_HASH or info is not None:  # collapses upwards unchanged
                    if node != old and depth < pinned_depth:
                        pinned_old.append(old)
                    continue
            elif node == ZERO_HASH and sibling_info is not None:
                node, info = sibling, sibling_info
                if depth < pinned_depth:
                    pinned_old.append(old)
                continue
            if bit:
                preimage = _INNER_PREFIX + sibling + node
                if sibling_info is None:
                    hints = flag_bytes[0] if info is None else flag_bytes[2] + info
                elif info is None:
                    hints = flag_bytes[1] + sibling_info
                else:
                    hints = flag_bytes[3] + sibling_info + info
            else:
                preimage = _INNER_PREFIX + node + sibling
                if info is None:
                    hints = flag_bytes[0] if sibling_info is None else flag_bytes[2] + sibling_info
                elif sibling_info is None:
                    hints = flag_bytes[1] + info
                else:
                    hints = flag_bytes[3] + info + sibling_info
            node = sha(preimage).digest() if sha is not None else hash_(preimage)
            info = None
            stored = preimage + hints
            out[node] = stored
            if depth % CHUNK_LEVELS == 0:
                chunk_roots[node] = old
            if depth < pinned_depth:
                pinned_new[node] = stored
                if node != old:
                    pinned_old.append(old)
        return node, info

    def _rebuild(self, run: list[_Write], node: bytes, info: bytes | None, depth: int) -> _Ref:
        """The subtree holding the lone key ``info`` (or nothing) after the writes ``run``."""
        live: list[_Live] = [(n, i, h) for n, i, h in run if i is not None and h is not None]
        if info is not None:
            old = int.from_bytes(info[:32], "big")
            if all(item[0] != old for item in run):
                live.append((old, info, node))
                live.sort(key=_by_path)
        return self._build(live, [item[0] for item in live], 0, len(live), depth)

    def _build(self, live: list[_Live], ints: list[int], lo: int, hi: int, depth: int) -> _Ref:
        """The subtree holding exactly the keys ``live[lo:hi]`` (distinct, sorted)."""
        count = hi - lo
        if count == 0:
            return ZERO_HASH, None
        if count == 1:
            _, info, leaf = live[lo]
            return leaf, info
        if depth >= PATH_BITS:
            raise InvalidInput("two state keys with the same path")
        shift = PATH_BITS - 1 - depth  # split the run as ``_update`` does
        mid = bisect_left(ints, ((ints[lo] >> shift) | 1) << shift, lo, hi)
        left, left_info = self._build(live, ints, lo, mid, depth + 1)
        right, right_info = self._build(live, ints, mid, hi, depth + 1)
        return self._join(left, left_info, right, right_info, depth)

    def _join(self, left: bytes, left_info: bytes | None, right: bytes,
              right_info: bytes | None, depth: int) -> _Ref:
        """The subtree at ``depth`` over two children, a lone key collapsing upwards."""
        if left == ZERO_HASH:
            if right == ZERO_HASH or right_info is not None:
                return right, right_info
        elif right == ZERO_HASH and left_info is not None:
            return left, left_info
        preimage = _INNER_PREFIX + left + right
        sha = self._sha256
        node = sha(preimage).digest() if sha is not None else self._hash(preimage)
        if left_info is None:
            stored = preimage + (_FLAG_BYTES[0] if right_info is None
                                 else _FLAG_BYTES[2] + right_info)
        elif right_info is None:
            stored = preimage + _FLAG_BYTES[1] + left_info
        else:
            stored = preimage + _FLAG_BYTES[3] + left_info + right_info
        self._out[node] = stored
        if depth % CHUNK_LEVELS == 0:
            self._chunk_roots.setdefault(node, None)
        if depth < self._pinned_depth:
            self._pinned_new[node] = stored
        return node, None

    # -- storage ----------------------------------------------------------------------

    def _load(self, node: bytes, depth: int, pin: bool, chunk_root: bytes) -> bytes:
        """A stored node from the caches, the pending layers or the KV (then checked).

        ``pin``: the node is on the newest tree's path (an update), so above the pinned
        depth it stays in memory; reads of past roots go through the small cache only.
        ``chunk_root``: the node heading the chunk that holds ``node`` (itself at a
        chunk's top level), the record to read if ``node`` is not in memory.
        """
        pinnable = depth < self._pinned_depth
        if pinnable:
            raw = self._pinned.get(node)
            if raw is not None:
                return raw
        for layer in self._layers:
            raw = layer.nodes.get(node)
            if raw is not None:
                return raw
        raw = self._hot.get(node)
        if raw is None:
            raw = self._cold.get(node)
            if raw is None:
                members = self._read_chunk(chunk_root)
                self.node_loads += 1
                raw = members.get(node)
                if raw is None:
                    raise CorruptStore(f"state node {node.hex()} is missing from its chunk")
                # The other members are what the next steps down this path read.
                for member, member_raw in members.items():
                    if member != node:
                        self._remember(member, member_raw)
            if not (pin and pinnable):
                self._remember(node, raw)
        if pin and pinnable:
            self._pinned[node] = raw
        return raw

    def _read_chunk(self, chunk_root: bytes) -> dict[bytes, bytes]:
        """The nodes of the chunk record headed by ``chunk_root``, each checked."""
        record = None
        for layer in self._layers:
            record = layer.chunks.get(chunk_root)
            if record is not None:
                break
        else:
            record = self._kv.get(schema.STATE_NODE + chunk_root)
        if record is None:
            raise CorruptStore(f"state node {chunk_root.hex()} is missing")
        hash_ = self._hash
        if record[:1] == _LEAF_PREFIX:
            if len(record) != _PREIMAGE_LEN or hash_(record) != chunk_root:
                raise CorruptStore(f"state node {chunk_root.hex()} fails its hash check")
            return {chunk_root: record}
        members: dict[bytes, bytes] = {}
        row = [chunk_root]  # the hashes the next nodes of the record must have
        offset = 0
        for level in range(CHUNK_LEVELS):
            below = []
            for node in row:
                flags = record[offset + 65] if offset + 65 < len(record) else 4
                if flags >= 4 or record[offset] != _INNER:
                    raise CorruptStore(f"state node {node.hex()} is malformed in its chunk")
                end = offset + _INNER_LEN_BY_FLAGS[flags]
                raw = record[offset:end]
                if len(raw) != end - offset or hash_(raw[:_PREIMAGE_LEN]) != node:
                    raise CorruptStore(f"state node {node.hex()} fails its hash check")
                for child, info in _children(raw):
                    if info is not None:
                        if hash_(_LEAF_PREFIX + info) != child:
                            raise CorruptStore(f"state node {node.hex()} has a false hint")
                    elif child != ZERO_HASH and level + 1 < CHUNK_LEVELS:
                        below.append(child)
                members[node] = raw
                offset = end
            row = below
        if offset != len(record):
            raise CorruptStore(f"state chunk {chunk_root.hex()} has trailing bytes")
        return members

    def _chunk_records(self, chunk_roots: dict[bytes, bytes | None],
                       nodes: dict[bytes, bytes]) -> dict[bytes, bytes]:
        """The records of the new chunks: each chunk's inner nodes level by level, left
        to right. A chunk's unchanged nodes come from memory, else from the chunk of the
        node its new top replaces (``chunk_roots[top]``), which held them at the same place.
        """
        records: dict[bytes, bytes] = {}
        get, pinned_get, member = nodes.get, self._pinned.get, self._member
        zero = ZERO_HASH
        for chunk_root, old in chunk_roots.items():
            row = [nodes[chunk_root]]
            parts = row[:]
            for _ in range(CHUNK_LEVELS - 1):
                below = []
                # Inner children only: a lone key lives in the hint, an empty side is not
                # stored.
                for raw in row:
                    flags = raw[65]
                    if not flags & 1:
                        child = raw[1:33]
                        if child != zero:
                            below.append(get(child) or pinned_get(child) or member(child, old))
                    if not flags & 2:
                        child = raw[33:65]
                        if child != zero:
                            below.append(get(child) or pinned_get(child) or member(child, old))
                if not below:
                    break
                parts += below
                row = below
            records[chunk_root] = b"".join(parts)
        return records

    def _member(self, node: bytes, old: bytes | None) -> bytes:
        """An unchanged node of a chunk being written: in memory, or from the old chunk."""
        raw = self._pinned.get(node) or self._hot.get(node)
        if raw is None:
            raw = self._cold.get(node)
        if raw is None:
            for layer in self._layers:
                raw = layer.nodes.get(node)
                if raw is not None:
                    return raw
            raw = self._read_chunk(old).get(node) if old is not None else None
            if raw is None:
                raise CorruptStore(f"state node {node.hex()} is missing")
            self.node_loads += 1
        return raw

    def _remember(self, node: bytes, raw: bytes) -> None:
        hot = self._hot
        hot[node] = raw
        if len(hot) >= self._generation_nodes:
            # The hot generation becomes the cold one; what was cold and not touched
            # since is dropped.
            self._cold = hot
            self._hot = {}

    def _value(self, digest: bytes) -> bytes:
        for layer in self._layers:
            value = layer.values.get(digest)
            if value is not None:
                return value
        value = self._kv.get(schema.state_value_key(digest))
        if value is None or value_hash(self.suite, value) != digest:
            raise CorruptStore(f"state value {digest.hex()} is missing or fails its hash")
        return value


def _children(raw: bytes) -> tuple[_Ref, _Ref]:
    """The two children of a stored inner node, with the info its hints give."""
    flags = raw[65]
    left_info = raw[66:130] if flags & 1 else None
    if flags & 2:
        right_info: bytes | None = raw[130:194] if flags & 1 else raw[66:130]
    else:
        right_info = None
    return (raw[1:33], left_info), (raw[33:65], right_info)
