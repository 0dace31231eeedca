"""The state tree (PROTOCOL §6) kept in a ``KV``: staged block updates, checked reads, proofs.

The hashes are fixed by ``ledger.smt_proof`` (which also verifies proofs); the record layouts
are named in ``ledger.smt_layout``; one block's update is computed by a kernel
(``ledger.smt_native``: C, or the pure-Python ``ledger.smt_update``, byte for byte the same).
This module owns how the tree is stored, cached and read.

Storage (``ledger.schema``), all written into the caller's block ``WriteBatch``:

| key | value |
|---|---|
| ``state_node_key(h)`` | the chunk record headed by inner node ``h`` (``smt_layout``), checked |
| ``state_value_key(vh)`` | CE bytes of a value, addressed by ``Hd(0x12, CE)`` |
| ``state_head_key(key)`` | the value hash of the key's value at the newest root (deleted with
  the key): the head keys in key order, for scans; the value itself is under ``sv/`` |
| ``state_root_key(height)`` | the root after the block at ``height`` |
| ``state_key_by_path_key(p)`` | UTF-8 of the key whose path is ``p`` (written with the key's
  first value, and again only when this tree cannot tell the key was there) |

Chunks of 3 levels make a block's update write about a third as many records as it changes
nodes (at 1M keys ~3,800 records instead of ~11,400 for 1,000 keys), which is what
LevelDB's per-record cost follows. A node below a chunk's top is read through its chunk's
top, which a walk down always passes. Chunks and values are content-addressed and never
deleted, so every past root stays readable and provable (an archive node; no pruning). The
key-by-path records are never deleted either: with them every past root's keys can be named,
which is what serving a snapshot of that root needs (``ledger.snapshot``). The empty tree is
``ZERO`` and is never stored.

Life of a block's update::

    staged = tree.stage(writes, height)  # computed on ``tree.root``; nothing changes yet
    tree.adopt(staged, batch)            # its records into batch; ``root`` moves at once
    kv.write(batch)                      # caller: one fsync with block, QC, receipts
    tree.confirm_written()               # the oldest adopted update is now on disk
    # or, if the block is abandoned (view change): tree.discard_pending()

``apply(writes, batch, height)`` is ``adopt(stage(...), batch)``. A ``StagedUpdate`` can be
kept while other work happens (a proposal validated, then committed later) and adopted as
long as the tree is still at the root it was staged on (``StagedUpdate.parent_root``): the
block's update is then computed once. Adopted updates sit in pending layers, so reads,
proofs and further updates see the new root while the KV is untouched until the caller
writes the batch.

A value is written once, under its hash; the head index holds only the hash (a value
written twice was ~30% of the bytes a block wrote, and LevelDB's compactions cost CPU in
proportion to the bytes).

**Reads are checked against the root.** ``get`` walks the tree from the root along the
key's path to the lone key where it ends. Where the tree holds no such key the answer is
absent, and the index is not read (an entry it holds there is refused by listings). Where
the tree holds the key, ``get`` reads the head index (one KV read, or a pending layer) and
refuses (``CorruptStore``) an entry that is missing or is not that key's value hash; then
it reads the value by its hash and checks that it hashes to it. The walk goes through the
pinned nodes in memory (checked when they were loaded or computed), so it costs about one
dict lookup per level (~21 at 1M keys; in C when the native kernel is in use) and no KV
read: cheaper than checking the index at startup, and it also catches a record that rots
while the node runs. A value once checked, or written by
this tree, is kept in a small two-generation cache for the next reads of that key (hot
keys, such as nonces and parameters, cost a dict lookup); the cache follows the confirmed
blocks' writes, so it never holds another value than the tree. Values of pending updates
are served from memory. A listing (``scan``) takes only the keys and their order from the
index and checks each entry against the tree as ``get`` does. Past roots are read through
the tree itself (``get_at``), where every record is checked as it loads.

Memory: the inner nodes of the newest tree above ``pinned_depth`` stay in memory for good
(at most ``2**pinned_depth`` of them, ~200 bytes each); superseded ones are dropped as
blocks are confirmed. With the default 24, a state of up to a few million keys keeps nearly
all its inner nodes in memory (1M keys: ~1.4M nodes, ~300 MB). Deeper or older nodes go
through a small two-generation cache (an approximate LRU whose hits cost two dict lookups).
A tree opened on a big store warms the pinned levels as blocks pass.

A ``StateTree`` is used by one thread at a time (the node's executor).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ledger import encoding, schema, tags
from ledger.crypto import DIGEST_LEN, ZERO_HASH, Suite
from ledger.errors import CorruptStore, InvalidInput
from ledger.kv import KV, WriteBatch
from ledger.smt_layout import (
    CHUNK_LEVELS,
    LEAF_PREFIX,
    PATH_END,
    children,
    is_inner,
    parse_chunk,
    root_info,
)
from ledger.smt_native import Kernel, NodeMap, kernel_for
from ledger.smt_proof import PATH_BITS, Proof, ProofLeaf, key_path, value_hash

__all__ = ["CHUNK_LEVELS", "DEFAULT_CACHE_NODES", "DEFAULT_PINNED_DEPTH", "HEAD_INDEX_RECORD",
           "StagedUpdate", "StateTree", "stored_root", "stored_value",
           "upgrade_head_index"]

DEFAULT_PINNED_DEPTH = 24
# Deeper and past nodes: ~250 bytes each in memory.
DEFAULT_CACHE_NODES = 1 << 16
# Head values checked once, per generation of the two-generation cache.
HEAD_CACHE_KEYS = 1 << 15



# ``schema.HEAD_INDEX``: the head index holds value hashes. Written with genesis, a snapshot's
# install, or ``upgrade_head_index``.
HEAD_INDEX_RECORD = encoding.encode({"holds": "value_hash"})


def stored_root(kv: KV, height: int) -> bytes | None:
    """The state root recorded after the block at ``height``, or None if there is none."""
    root = kv.get(schema.state_root_key(height))
    if root is not None and len(root) != DIGEST_LEN:
        raise CorruptStore(f"state root at height {height} is {len(root)} bytes")
    return root


def stored_value(kv: KV, suite: Suite, digest: bytes) -> bytes:
    """The CE bytes stored under value hash ``digest``, checked to hash to it."""
    value = kv.get(schema.state_value_key(digest))
    if value is None or value_hash(suite, value) != digest:
        raise CorruptStore(f"state value {digest.hex()} is missing or fails its hash")
    return value


def upgrade_head_index(kv: KV, suite: Suite) -> int:
    """Rewrite the head index of a store written before ``schema.HEAD_INDEX`` (whole values
    under ``sk/``) to value hashes, in one atomic batch; the number of entries rewritten
    (0 for a store already upgraded). Every value is under ``sv/`` already (it was always
    written there too); one missing is written back from the index."""
    if kv.get(schema.HEAD_INDEX) is not None:
        return 0
    batch = kv.batch()
    count = 0
    for index_key, value in kv.scan(schema.STATE_HEAD):
        digest = value_hash(suite, value)
        if kv.get(schema.state_value_key(digest)) is None:
            batch.put(schema.state_value_key(digest), value)
        batch.put(index_key, digest)
        count += 1
    batch.put(schema.HEAD_INDEX, HEAD_INDEX_RECORD)
    kv.write(batch, sync=True)
    return count


@dataclass(slots=True)
class _Layer:
    """What one adopted update staged and the KV does not hold yet."""

    root: bytes
    nodes: NodeMap  # every new node by its hash, as the tree reads them
    chunks: dict[bytes, bytes]  # the chunk records staged in the batch, by chunk top
    values: dict[bytes, bytes]
    heads: dict[str, bytes | None]
    pinned_old: bytes  # the pinned nodes superseded (32-byte hashes end to end)
    deep: bytes  # the new nodes not to pin: below the pinned depth, or a lone-key root


@dataclass(frozen=True, slots=True)
class StagedUpdate:
    """One block's writes computed on ``parent_root``: adopt it while the tree is there."""

    parent_root: bytes
    root: bytes
    height: int
    writes: Mapping[str, bytes | None]
    ops: list[tuple[bytes, bytes | None]] = field(repr=False)  # the records to write
    layer: _Layer = field(repr=False)
    tree_id: int = field(repr=False)


class StateTree:
    """The state tree over a KV, at ``root`` (the newest root, pending or written).

    ``root`` at construction must be the root whose head values ``state_head_key`` holds,
    i.e. the root at the store's head height (``stored_root(kv, head_height)``), or ZERO
    on an empty store; ``get`` reads those head values, ``get_at`` works at any root.
    ``native``: use the C kernel when it is available (None: when available).
    """

    def __init__(self, suite: Suite, kv: KV, root: bytes = ZERO_HASH,
                 pinned_depth: int = DEFAULT_PINNED_DEPTH,
                 cache_nodes: int = DEFAULT_CACHE_NODES, native: bool | None = None) -> None:
        if type(root) is not bytes or len(root) != DIGEST_LEN:
            raise InvalidInput(f"state root must be {DIGEST_LEN} bytes")
        if not 0 <= pinned_depth <= PATH_BITS or cache_nodes < 2:
            raise ValueError("pinned_depth must be in 0..256 and cache_nodes at least 2")
        self.suite = suite
        self.kernel: Kernel = kernel_for(suite, native)
        self._hash = self.kernel.hash
        self._kv = kv
        self._written_root = root
        self._layers: deque[_Layer] = deque()
        self._pinned_depth = pinned_depth
        self._pinned: NodeMap = self.kernel.new_store()
        self._generation_nodes = cache_nodes // 2
        self._hot: dict[bytes, bytes] = {}
        self._cold: dict[bytes, bytes] = {}
        self.node_loads = 0  # chunk records read from the KV (cache misses), for benchmarks
        self.stages = 0  # block updates computed, for tests and metrics
        # Head values already checked against the tree, or written by this tree itself,
        # valid at the written root (updated as blocks are confirmed).
        self._heads_hot: dict[str, bytes | None] = {}
        self._heads_cold: dict[str, bytes | None] = {}

    @property
    def root(self) -> bytes:
        """The newest root: the last adopted update's, written or not."""
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
        """Number of adopted updates not yet confirmed written."""
        return len(self._layers)

    # -- reads ------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """CE bytes of ``key``'s value at ``root``, or None: the head-value index, checked
        against the tree (see the module docstring); a mismatch is ``CorruptStore``."""
        if type(key) is not str:
            raise InvalidInput(f"state key must be text, got {type(key).__name__}")
        # The in-memory part of this lookup is ``_known_present``'s too, written out here:
        # a shared helper measured ~+200 ns on each of these reads (~8 a transaction).
        if self._layers:  # (no pending update while a block executes: then skipped)
            for layer in reversed(self._layers):  # computed here, in memory: nothing to check
                if key in layer.heads:
                    return layer.heads[key]
        if key in self._heads_hot:
            return self._heads_hot[key]
        if key in self._heads_cold:
            return self._heads_cold[key]
        value = self._checked_head(key, key_path(self.suite, key))
        self._remember_head(key, value)
        return value

    def _checked_head(self, key: str, path: bytes) -> bytes | None:
        found = self._tree_value_hash(path)
        if found is None:
            # The tree decides absence; the index is not read. An entry the index holds
            # for a key the tree lacks (invented, or left behind) serves no point read, and
            # a listing refuses it (``scan``). A *missing* entry for a key the tree holds is
            # still found below, on every first read of that key.
            return None
        digest = self._kv.get(schema.state_head_key(key))
        if digest is None:
            raise CorruptStore(f"state index has no value for {key!r}, present in the tree")
        if digest != found:
            raise CorruptStore(f"state index value of {key!r} is not the tree's (corrupt store)")
        return self._value(digest)

    def _tree_value_hash(self, path: bytes) -> bytes | None:
        """The value hash of the key at ``path`` in the newest tree (a walk from the root
        through the pinned nodes), or None where the tree holds no such key."""
        root = self.root
        if root == ZERO_HASH:
            return None
        info = root_info(self._load(root, 0, False, root))
        if info is None:
            info = self.kernel.find(root, path, self._pinned, self._pinned_depth,
                                    self._load_pinned)
        return None if info is None or info[:PATH_END] != path else info[PATH_END:]

    def _remember_head(self, key: str, value: bytes | None) -> None:
        hot = self._heads_hot
        hot[key] = value
        if len(hot) >= HEAD_CACHE_KEYS:  # as ``_remember``: two generations
            self._heads_cold = hot
            self._heads_hot = {}

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
        bits = int.from_bytes(path, "big")
        top = node
        for depth in range(PATH_BITS + 1):
            if node == ZERO_HASH:
                return None, Proof(None, tuple(siblings))
            if info is not None:
                leaf = ProofLeaf(info[:PATH_END], info[PATH_END:])
                value = self._value(leaf.value_hash) if leaf.path == path else None
                return value, Proof(leaf, tuple(siblings))
            if depth % CHUNK_LEVELS == 0:
                top = node
            raw = self._load(node, depth, False, top)
            if not is_inner(raw):
                raise CorruptStore(f"state node {node.hex()} is a lone key without a hint")
            pair = children(raw)
            bit = (bits >> (PATH_BITS - 1 - depth)) & 1
            siblings.append(pair[1 - bit][0])
            node, info = pair[bit]
        raise CorruptStore(f"state tree is deeper than {PATH_BITS} levels on {key!r}'s path")

    def scan(self, prefix: str, after: str | None = None) -> Iterator[tuple[str, bytes]]:
        """``(key, CE value)`` of the head state's keys that start with ``prefix`` (and sort
        after ``after``), in key order. The head index gives the keys and their order; each
        entry's value hash is checked against the tree's walk to the key, as on a point
        read, and one that names another value than the tree's, or a key the tree does not
        hold, is ``CorruptStore``: a listing never serves the index alone (a rewritten entry
        naming a key's older value, still stored, would read as true)."""
        if self._layers:  # commits are synchronous: nothing is pending between them
            raise RuntimeError("the state tree has an unwritten apply pending")
        start = schema.state_head_key(after) + b"\x00" if after is not None else None
        cut = len(schema.STATE_HEAD)
        for index_key, digest in self._kv.scan(schema.state_head_key(prefix), start=start):
            key = index_key[cut:].decode("utf-8")
            if self._tree_value_hash(key_path(self.suite, key)) != digest:
                raise CorruptStore(
                    f"state index entry of {key!r} is not the tree's value (corrupt store)")
            yield key, self._value(digest)

    def warm(self, max_nodes: int) -> int:
        """Load the newest tree's inner nodes above the pinned depth into memory, level by
        level from the root, until ``max_nodes`` are pinned; the number pinned.

        A tree opened on a store pins its nodes only as walks pass them, so for a while
        after a (re)start every read or update of a key in a part of the tree not yet
        walked loads and checks a chunk record (~10-20 µs). Warming at open pays that once,
        in one pass over the records in key order, instead of during the first blocks.
        Every record is checked as it loads (``_read_chunk``), as on any read."""
        root = self.root
        if root == ZERO_HASH or root_info(self._load(root, 0, True, root)) is not None:
            return len(self._pinned)
        level: list[tuple[bytes, bytes]] = [(root, root)]  # (node, top of its chunk)
        depth = 0
        while level and depth < self._pinned_depth and len(self._pinned) < max_nodes:
            below: list[tuple[bytes, bytes]] = []
            for node, top in level:
                raw = self._load(node, depth, True, top)
                for child, info in children(raw):
                    if info is None and child != ZERO_HASH:
                        below.append((child, child if (depth + 1) % CHUNK_LEVELS == 0 else top))
                if len(self._pinned) >= max_nodes:
                    break
            level, depth = below, depth + 1
        return len(self._pinned)

    # -- updates ----------------------------------------------------------------------

    def stage(self, writes: Mapping[str, bytes | None], height: int) -> StagedUpdate:
        """Compute one block's ``writes`` (CE bytes, None deletes) on top of ``root``,
        changing nothing: ``adopt`` the result to move the tree. Invalid input raises
        ``InvalidInput``."""
        if type(height) is not int or height < 0:
            raise InvalidInput(f"height must be a non-negative integer, got {height!r}")
        parent = self.root
        paths, infos, values, heads, encoded_keys, head_digests, named = self._prepare(writes)
        self.stages += 1
        nodes: NodeMap = self.kernel.new_store()
        chunks: dict[bytes, bytes] = {}
        pinned_old = deep = b""
        new_root = parent
        if paths:
            update = self.kernel.update(paths, infos, *self._ref(parent), self._pinned,
                                        self._pinned_depth, self._load_pinned)
            new_root, nodes = update.root, update.nodes
            pinned_old, deep = update.pinned_old, update.deep
            if update.root_info is not None:  # a lone key at the root has no parent to hint it
                nodes[new_root] = chunks[new_root] = LEAF_PREFIX + update.root_info
                deep += new_root
            chunks.update(self.kernel.chunk_records(update.chunk_tops, nodes, self._pinned,
                                                    self._member))
        # The new root heads a record of its own (or the tree is empty, or nothing changed).
        assert not paths or new_root == ZERO_HASH or new_root in chunks
        # One list per record kind: a method call per put costs as much as the put.
        node_prefix, value_prefix = schema.STATE_NODE, schema.STATE_VALUE
        ops: list[tuple[bytes, bytes | None]] = [
            (node_prefix + top, record) for top, record in chunks.items()]
        ops += [(value_prefix + digest, value) for digest, value in values.items()]
        head_prefix = schema.STATE_HEAD  # ``schema.state_head_key`` on the encoded keys
        ops += [(head_prefix + key, digest)
                for key, digest in zip(encoded_keys, head_digests, strict=True)]
        path_prefix = schema.STATE_KEY_BY_PATH  # ``schema.state_key_by_path_key``
        ops += [(path_prefix + path, key) for path, key in named]
        ops.append((schema.state_root_key(height), new_root))
        layer = _Layer(new_root, nodes, chunks, values, heads, pinned_old, deep)
        # ``heads`` is a copy: the caller may reuse its dict, and adopting checks these writes.
        return StagedUpdate(parent, new_root, height, heads, ops, layer, id(self))

    def can_adopt(self, staged: StagedUpdate) -> bool:
        """Whether ``staged`` was computed by this tree on its current root."""
        return staged.tree_id == id(self) and staged.parent_root == self.root

    def adopt(self, staged: StagedUpdate, batch: WriteBatch) -> bytes:
        """Put ``staged``'s records into ``batch`` and move ``root`` to its root at once
        (pending until ``confirm_written``). The tree must still be at the root it was
        staged on: anything else is a caller's error (``ValueError``), changing nothing."""
        if staged.tree_id != id(self):
            raise ValueError("a staged update can only be adopted by the tree that staged it")
        if staged.parent_root != self.root:
            raise ValueError("the tree moved since this update was staged")
        assert staged.ops[-1] == (schema.state_root_key(staged.height), staged.root)
        count = len(batch.ops)
        batch.ops.extend(staged.ops)
        assert len(batch.ops) == count + len(staged.ops)
        self._layers.append(staged.layer)
        assert self.root == staged.root
        return staged.root

    def apply(self, writes: Mapping[str, bytes | None], batch: WriteBatch, height: int) -> bytes:
        """``stage`` then ``adopt``: the new root, with its records in ``batch``."""
        return self.adopt(self.stage(writes, height), batch)

    def confirm_written(self) -> None:
        """The batch of the oldest pending update is on disk: retire its layer."""
        if not self._layers:
            raise RuntimeError("confirm_written called with no pending apply")
        layer = self._layers.popleft()
        pinned_before = len(self._pinned)
        self.kernel.retire(self._pinned, layer.pinned_old, layer.nodes, layer.deep)
        assert len(self._pinned) <= pinned_before + len(layer.nodes)
        self._written_root = layer.root
        # The values this tree computed are the tree's: they need no check when read.
        for key, value in layer.heads.items():
            self._heads_cold.pop(key, None)
            self._remember_head(key, value)

    def discard_pending(self) -> None:
        """Forget every update not confirmed written; ``root`` goes back to ``written_root``."""
        self._layers.clear()

    def _prepare(self, writes: Mapping[str, bytes | None]) -> tuple[
            list[bytes], list[bytes | None], dict[bytes, bytes], dict[str, bytes | None],
            list[bytes], list[bytes | None], list[tuple[bytes, bytes]]]:
        """The writes sorted by path as (paths, INFOs), the values by hash, the head values,
        the keys' UTF-8 bytes and their head index entries (value hashes, None to delete),
        both in the order of ``writes``, and ``(path, UTF-8 key)`` of the keys written with
        a value and not known to be in the tree already (``_known_present``).
        Comprehensions, not a loop of appends: this runs for every key of every block."""
        heads = dict(writes)
        if any(type(key) is not str for key in heads):
            bad = next(key for key in heads if type(key) is not str)
            raise InvalidInput(f"state key must be text, got {type(bad).__name__}")
        values_in_order = list(heads.values())
        if any(value is not None and type(value) is not bytes for value in values_in_order):
            bad_key = next(k for k, v in heads.items() if v is not None and type(v) is not bytes)
            raise InvalidInput(f"value of {bad_key!r} must be CE bytes or None")
        try:
            encoded = [key.encode("utf-8") for key in heads]
        except UnicodeEncodeError as exc:
            raise InvalidInput(f"state key is not valid UTF-8 text: {exc}") from exc
        live = [value for value in values_in_order if value is not None]
        kernel = self.kernel
        paths = kernel.digests(tags.STATE_PATH, encoded)
        value_digests = kernel.digests(tags.STATE_VALUE, live)
        next_digest = iter(value_digests).__next__
        infos = [None if value is None else path + next_digest()
                 for path, value in zip(paths, values_in_order, strict=True)]
        order = sorted(range(len(paths)), key=paths.__getitem__)
        # A key's path record never changes: written when the key is new to the tree,
        # not again with every later value (realistic mix: 1.25 a transaction, not 1.88).
        present = self._known_present
        named = [(path, key) for path, key, name, value in zip(
            paths, encoded, heads, values_in_order, strict=True)
            if value is not None and not present(name)]
        head_digests = [None if info is None else info[PATH_END:] for info in infos]
        return ([paths[at] for at in order], [infos[at] for at in order],
                dict(zip(value_digests, live, strict=True)), heads, encoded, head_digests,
                named)

    def _known_present(self, key: str) -> bool:
        """Whether ``key`` is known, without a KV read, to hold a value at ``root``: from
        the pending updates, then the checked head values, in ``get``'s order (a key read
        before it is written, as the contracts do, is there). False when not known: a
        caller that skips work for a present key then does it."""
        for layer in reversed(self._layers):
            if key in layer.heads:
                return layer.heads[key] is not None
        hot = self._heads_hot
        if key in hot:
            return hot[key] is not None
        return self._heads_cold.get(key) is not None

    def _ref(self, node: bytes) -> tuple[bytes, bytes | None]:
        """A root as a subtree reference (its INFO read from the node itself)."""
        if node == ZERO_HASH:
            return node, None
        return node, root_info(self._load(node, 0, False, node))

    # -- storage ----------------------------------------------------------------------

    def _load_pinned(self, node: bytes, depth: int, top: bytes) -> bytes:
        """``_load`` for a walk on the newest tree: its upper levels stay in memory."""
        return self._load(node, depth, True, top)

    def _load(self, node: bytes, depth: int, pin: bool, top: bytes) -> bytes:
        """A stored node from the caches, the pending layers or the KV (then checked).

        ``pin``: the node is on the newest tree's path (an update), so above the pinned
        depth it stays in memory; reads of past roots go through the small cache only.
        ``top``: the node heading the chunk that holds ``node`` (itself at a chunk's top
        level), the record to read if ``node`` is not in memory.
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
                members = self._read_chunk(top)
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

    def _read_chunk(self, top: bytes) -> dict[bytes, bytes]:
        """The nodes of the chunk record headed by ``top``, each checked."""
        record = None
        for layer in self._layers:
            record = layer.chunks.get(top)
            if record is not None:
                break
        else:
            record = self._kv.get(schema.state_node_key(top))
        if record is None:
            raise CorruptStore(f"state node {top.hex()} is missing")
        return parse_chunk(record, top, self._hash)

    def _member(self, node: bytes, old: bytes | None) -> bytes:
        """An unchanged node of a chunk being written: in memory, or from the old chunk."""
        raw = self._pinned.get(node) or self._hot.get(node) or self._cold.get(node)
        if raw is not None:
            return raw
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
        return stored_value(self._kv, self.suite, digest)
