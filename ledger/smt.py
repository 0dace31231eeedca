"""The state tree (PROTOCOL §6) kept in a ``KV``: batched updates, reads at any root, proofs.

The hashes are fixed by ``ledger.smt_proof`` (which also verifies proofs); this module owns
how the tree is stored and updated.

Storage (``ledger.schema``), all written into the caller's block ``WriteBatch``:

| key | value |
|---|---|
| ``state_node_key(h)`` | the node's hash preimage (below), so every load is checked |
| ``state_value_key(vh)`` | CE bytes of a value, addressed by ``Hd(0x12, CE)`` |
| ``state_head_key(key)`` | CE bytes of the key's value at the newest root (deleted with the key) |
| ``state_root_key(height)`` | the root after the block at ``height`` |

A node is stored as the bytes its hash is taken over, ``h = H(stored)``: a subtree holding
one key as ``0x10 ‖ path ‖ value_hash``, any other as ``0x11 ‖ left ‖ right`` (65 bytes).

Nodes and values are content-addressed and never deleted, so every past root stays readable
and provable (an archive node; there is no pruning). The empty tree is ``ZERO`` and is never
stored.

Life of a block's update::

    root = tree.apply(writes, batch, height)   # stages into batch, returns the new root
    ...                                         # may apply the next block on top (pipelining)
    kv.write(batch)                             # caller: one fsync with block, QC, receipts
    tree.confirm_written()                      # the oldest pending apply is now on disk
    # or, if the block is abandoned (view change): tree.discard_pending()

``apply`` keeps the nodes, values and head values it staged in an in-memory pending layer,
so reads, proofs and further applies see the new root at once while the KV is untouched
until the caller writes the batch. ``confirm_written`` retires the oldest layer into the
node cache; ``discard_pending`` drops every layer and returns to ``written_root``.

An update sorts the written paths and walks the tree once, splitting the sorted run at each
node, so each touched node is loaded and rehashed once per block whatever number of keys
under it changed. Deleting collapses the tree back: a subtree left with one key is that
key's leaf again. Decoded nodes live in a two-generation cache (an approximate LRU whose
hits cost two dict lookups), which keeps the upper levels of the tree in memory.

A ``StateTree`` is used by one thread at a time (the node's executor).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Mapping
from operator import itemgetter

from ledger import schema, tags
from ledger.crypto import DIGEST_LEN, ZERO_HASH, Suite
from ledger.errors import CorruptStore, InvalidInput
from ledger.kv import KV, WriteBatch
from ledger.smt_proof import PATH_BITS, Proof, ProofLeaf, key_path, path_bit, value_hash

__all__ = ["DEFAULT_CACHE_NODES", "StateTree", "stored_root"]

# ~200 bytes each in memory; 2^18 nodes hold the top ~17 levels of a 1M-key tree.
DEFAULT_CACHE_NODES = 1 << 18

_LEAF = tags.STATE_LEAF
_INNER = tags.STATE_NODE
_NODE_LEN = 1 + 2 * DIGEST_LEN
_LEAF_PREFIX = bytes((_LEAF,))
_INNER_PREFIX = bytes((_INNER,))

# What an update knows about a subtree it returns: ZERO, a single key, several keys, or not
# looked at (an untouched child, loaded only if a delete may collapse it).
_EMPTY = 0
_SINGLE = 1
_MANY = 2
_UNSEEN = 3

# One write, sorted by path: (path as int, path, value hash or None for a delete).
_Item = tuple[int, bytes, bytes | None]
# One key a rebuilt subtree holds: (path as int, path, value hash).
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

    __slots__ = ("heads", "nodes", "root", "values")

    def __init__(self, root: bytes, nodes: dict[bytes, bytes], values: dict[bytes, bytes],
                 heads: dict[str, bytes | None]) -> None:
        self.root = root
        self.nodes = nodes
        self.values = values
        self.heads = heads


class StateTree:
    """The state tree over a KV, at ``root`` (the newest root, pending or written).

    ``root`` at construction must be the root whose head values ``state_head_key`` holds,
    i.e. the root at the store's head height (``stored_root(kv, head_height)``), or ZERO
    on an empty store; ``get`` reads those head values, ``get_at`` works at any root.
    """

    def __init__(self, suite: Suite, kv: KV, root: bytes = ZERO_HASH,
                 cache_nodes: int = DEFAULT_CACHE_NODES) -> None:
        if type(root) is not bytes or len(root) != DIGEST_LEN:
            raise InvalidInput(f"state root must be {DIGEST_LEN} bytes")
        if cache_nodes < 2:
            raise ValueError("the node cache needs room for at least 2 nodes")
        self.suite = suite
        self._kv = kv
        self._written_root = root
        self._layers: deque[_Layer] = deque()
        self._generation_nodes = cache_nodes // 2
        self._hot: dict[bytes, bytes] = {}
        self._cold: dict[bytes, bytes] = {}
        self.node_loads = 0  # nodes read from the KV (cache misses), for benchmarks

    @property
    def root(self) -> bytes:
        """The newest root: the last apply's, written or not."""
        return self._layers[-1].root if self._layers else self._written_root

    @property
    def written_root(self) -> bytes:
        """The newest root whose batch the caller has confirmed written."""
        return self._written_root

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
        node = self.root if root is None else root
        siblings: list[bytes] = []
        for depth in range(PATH_BITS + 1):
            if node == ZERO_HASH:
                return None, Proof(None, tuple(siblings))
            raw = self._load(node)
            if raw[0] == _LEAF:
                leaf = ProofLeaf(raw[1:33], raw[33:65])
                value = self._value(leaf.value_hash) if leaf.path == path else None
                return value, Proof(leaf, tuple(siblings))
            if path_bit(path, depth):
                siblings.append(raw[1:33])
                node = raw[33:65]
            else:
                siblings.append(raw[33:65])
                node = raw[1:33]
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
        items: list[_Item] = []
        values: dict[bytes, bytes] = {}
        heads: dict[str, bytes | None] = {}
        for key, value in writes.items():
            path = key_path(suite, key)
            if value is None:
                digest = None
            elif type(value) is bytes:
                digest = value_hash(suite, value)
                values[digest] = value
            else:
                raise InvalidInput(f"value of {key!r} must be CE bytes or None")
            heads[key] = value
            items.append((int.from_bytes(path, "big"), path, digest))
        items.sort(key=_by_path)
        ints = [item[0] for item in items]
        nodes: dict[bytes, bytes] = {}
        new_root = self.root
        if items:
            new_root = self._update(new_root, 0, items, ints, 0, len(items), nodes)[0]

        put = batch.put
        for node_hash, raw in nodes.items():
            put(schema.state_node_key(node_hash), raw)
        for digest, value in values.items():
            put(schema.state_value_key(digest), value)
        for key, head in heads.items():
            if head is None:
                batch.delete(schema.state_head_key(key))
            else:
                put(schema.state_head_key(key), head)
        put(schema.state_root_key(height), new_root)
        self._layers.append(_Layer(new_root, nodes, values, heads))
        return new_root

    def confirm_written(self) -> None:
        """The batch of the oldest pending ``apply`` is on disk: retire its layer."""
        if not self._layers:
            raise RuntimeError("confirm_written called with no pending apply")
        layer = self._layers.popleft()
        for node_hash, raw in layer.nodes.items():
            self._remember(node_hash, raw)
        self._written_root = layer.root

    def discard_pending(self) -> None:
        """Forget every apply not confirmed written; ``root`` goes back to ``written_root``."""
        self._layers.clear()

    def _update(self, node: bytes, depth: int, items: list[_Item], ints: list[int],
                lo: int, hi: int, out: dict[bytes, bytes]) -> tuple[bytes, int]:
        """New hash and kind of the subtree ``node`` at ``depth`` after ``items[lo:hi]``.

        The run is never empty: a child no write goes to is not visited.
        """
        if node == ZERO_HASH:
            return self._build_from(items[lo:hi], None, depth, out)
        raw = self._load(node)
        if raw[0] == _LEAF:
            return self._build_from(items[lo:hi], raw, depth, out)
        if depth >= PATH_BITS:
            raise CorruptStore("state tree inner node below the deepest level")
        mid = bisect_left(ints, _right_start(ints[lo], depth), lo, hi)
        left = raw[1:33]
        right = raw[33:65]
        if mid == hi:  # every write goes left
            left, left_kind = self._update(left, depth + 1, items, ints, lo, hi, out)
            right_kind = _EMPTY if right == ZERO_HASH else _UNSEEN
        elif mid == lo:
            left_kind = _EMPTY if left == ZERO_HASH else _UNSEEN
            right, right_kind = self._update(right, depth + 1, items, ints, lo, hi, out)
        else:
            left, left_kind = self._update(left, depth + 1, items, ints, lo, mid, out)
            right, right_kind = self._update(right, depth + 1, items, ints, mid, hi, out)
        return self._join(left, left_kind, right, right_kind, out)

    def _build_from(self, run: list[_Item], leaf_raw: bytes | None, depth: int,
                    out: dict[bytes, bytes]) -> tuple[bytes, int]:
        """Subtree of the writes in ``run`` plus the existing single key ``leaf_raw``."""
        live: list[_Live] = [(n, path, vh) for n, path, vh in run if vh is not None]
        if leaf_raw is not None:
            old_path = leaf_raw[1:33]
            if all(item[1] != old_path for item in run):
                live.append((int.from_bytes(old_path, "big"), old_path, leaf_raw[33:65]))
                live.sort(key=_by_path)
        return self._build(live, [item[0] for item in live], 0, len(live), depth, out)

    def _build(self, live: list[_Live], ints: list[int], lo: int, hi: int, depth: int,
               out: dict[bytes, bytes]) -> tuple[bytes, int]:
        """Subtree holding exactly the keys ``live[lo:hi]`` (distinct, sorted, no deletes)."""
        count = hi - lo
        if count == 0:
            return ZERO_HASH, _EMPTY
        if count == 1:
            _, path, digest = live[lo]
            raw = _LEAF_PREFIX + path + digest
            node_hash = self.suite.hash(raw)
            out[node_hash] = raw
            return node_hash, _SINGLE
        if depth >= PATH_BITS:
            raise InvalidInput("two state keys with the same path")
        mid = bisect_left(ints, _right_start(ints[lo], depth), lo, hi)
        left = self._build(live, ints, lo, mid, depth + 1, out)[0]
        right = self._build(live, ints, mid, hi, depth + 1, out)[0]
        raw = _INNER_PREFIX + left + right
        node_hash = self.suite.hash(raw)
        out[node_hash] = raw
        return node_hash, _MANY

    def _join(self, left: bytes, left_kind: int, right: bytes, right_kind: int,
              out: dict[bytes, bytes]) -> tuple[bytes, int]:
        """The parent of two updated children, collapsing a lone key upwards."""
        if left_kind == _EMPTY or right_kind == _EMPTY:
            other, kind = (right, right_kind) if left_kind == _EMPTY else (left, left_kind)
            if kind == _EMPTY:
                return ZERO_HASH, _EMPTY
            if kind == _UNSEEN:
                kind = _SINGLE if self._load(other)[0] == _LEAF else _MANY
            if kind == _SINGLE:
                return other, _SINGLE
        raw = _INNER_PREFIX + left + right
        node_hash = self.suite.hash(raw)
        out[node_hash] = raw
        return node_hash, _MANY

    # -- storage ----------------------------------------------------------------------

    def _load(self, node_hash: bytes) -> bytes:
        """The stored preimage of a node, from the pending layers, the cache or the KV."""
        for layer in self._layers:
            raw = layer.nodes.get(node_hash)
            if raw is not None:
                return raw
        raw = self._hot.get(node_hash)
        if raw is not None:
            return raw
        raw = self._cold.get(node_hash)
        if raw is None:
            raw = self._kv.get(schema.state_node_key(node_hash))
            self.node_loads += 1
            if raw is None:
                raise CorruptStore(f"state node {node_hash.hex()} is missing")
            if (len(raw) != _NODE_LEN or raw[0] not in (_LEAF, _INNER)
                    or self.suite.hash(raw) != node_hash):
                raise CorruptStore(f"state node {node_hash.hex()} fails its hash check")
        self._remember(node_hash, raw)
        return raw

    def _remember(self, node_hash: bytes, raw: bytes) -> None:
        hot = self._hot
        hot[node_hash] = raw
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


def _right_start(first: int, depth: int) -> int:
    """Smallest path (as int) sharing ``first``'s first ``depth`` bits with bit ``depth`` set.

    In a sorted run of paths that share their first ``depth`` bits, the paths going right
    at ``depth`` are exactly those at or above this bound.
    """
    shift = PATH_BITS - 1 - depth
    return ((first >> shift) | 1) << shift
