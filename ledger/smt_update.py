"""One block's state-tree update, level by level, in pure Python (the reference kernel).

``ledger._smt_native`` implements the same two functions in C with byte-identical results
(tests compare them on random write sets); ``ledger.smt_native`` picks one of the two.

The update takes the block's writes sorted by path and works in two sweeps:

1. **Down**, one level at a time: level 0 holds the root; each touched inner node of a
   level splits the run of writes under it by the path bit of its depth and puts its
   touched children into the next level (an untouched side is kept as it is). Where a run
   reaches an empty subtree or a lone key, the subtree is rebuilt from the keys it will
   hold (the run's live writes, plus the old lone key unless a write replaces it): a
   *virtual* node, split the same way until each side holds at most one key.
2. **Up**, from the deepest level to the root: each touched node joins its two children
   (a lone key collapsing upwards, an empty pair vanishing), the inner ones are hashed one
   level at a time, and every new inner record is collected with what the caller needs to
   store and pin it (``Update``).

Every touched node is thus read and hashed once per block, however many writes pass it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ledger.crypto import ZERO_HASH
from ledger.errors import CorruptStore
from ledger.smt_layout import (
    CHUNK_LEVELS,
    INNER_PREFIX,
    LEAF_PREFIX,
    PATH_END,
    Ref,
    children,
    chunk_record,
    inner_record,
    is_inner,
)
from ledger.smt_proof import PATH_BITS

__all__ = ["NodeMap", "Update", "chunk_records", "update"]


class NodeMap(Protocol):
    """What the tree asks of a map from node hashes to records: a dict for this kernel,
    the C kernel's ``NodeStore`` for that one."""

    def get(self, key: bytes, default: None = None, /) -> bytes | None: ...
    def __setitem__(self, key: bytes, value: bytes, /) -> None: ...
    def __len__(self) -> int: ...

# ``load(node, depth, chunk_top)``: the inner record of a node not found in ``pinned``.
Load = Callable[[bytes, int, bytes], bytes]
# ``member(node, old_top)``: an unchanged inner record of a chunk being rewritten, read
# from memory or else from the chunk ``old_top`` that held it (None: nowhere to look).
Member = Callable[[bytes, bytes | None], bytes]

# A node of the down sweep: (old hash or None when virtual, kept lone INFO, its leaf hash,
# lo, hi, chunk top). A stored node has an old hash and a chunk top; a virtual one may
# keep the old lone key of the subtree it replaces.
_Node = tuple[bytes | None, bytes | None, bytes | None, int, int, bytes | None]
# How a node is joined on the way up: each side is an index into the next level's results
# or a Ref kept as it was; a virtual node of at most one key is ``(its Ref, None)``.
_Side = int | Ref
_Plan = tuple[_Side, _Side | None]


@dataclass(slots=True)
class Update:
    """What one update produced; nothing of it is stored yet."""

    root: bytes
    root_info: bytes | None  # the root's INFO when the whole tree holds one key
    nodes: NodeMap  # every new inner record, by hash
    chunk_tops: dict[bytes, bytes | None]  # each new chunk top -> the node it replaces
    pinned_old: bytes  # the pinned nodes superseded, 32-byte hashes end to end
    deep: bytes  # the new nodes at or below the pinned depth (not to pin), likewise


class _Run:
    """The sorted writes of one update and what the sweeps share."""

    __slots__ = ("hash", "infos", "ints", "leaves", "live_before", "paths")

    def __init__(self, hash_: Callable[[bytes], bytes], paths: list[bytes],
                 infos: list[bytes | None]) -> None:
        self.hash = hash_
        self.paths = paths
        self.infos = infos
        self.ints = [int.from_bytes(path, "big") for path in paths]
        self.leaves = [None if info is None else hash_(LEAF_PREFIX + info) for info in infos]
        live_before = [0]
        for info in infos:
            live_before.append(live_before[-1] + (info is not None))
        self.live_before = live_before

    def split(self, lo: int, hi: int, depth: int) -> int:
        """The first index of ``[lo, hi)`` whose path has bit ``depth`` set (the run's paths
        share their first ``depth`` bits, so they are the ones at or above that prefix
        followed by a 1 bit and zeros)."""
        if lo == hi:
            return lo
        ints = self.ints
        shift = PATH_BITS - 1 - depth
        return bisect_left(ints, ((ints[lo] >> shift) | 1) << shift, lo, hi)

    def kept(self, info: bytes, lo: int, hi: int) -> bool:
        """Whether an old lone key survives writes ``[lo, hi)`` (none of them is its path)."""
        path = info[:PATH_END]
        at = bisect_left(self.paths, path, lo, hi)
        return at == hi or self.paths[at] != path

    def virtual(self, extra: bytes | None, extra_leaf: bytes | None, lo: int,
                hi: int) -> Ref | None:
        """A rebuilt subtree's Ref when it holds at most one key, else None (split it)."""
        count = self.live_before[hi] - self.live_before[lo] + (extra is not None)
        if count > 1:
            return None
        if count == 0:
            return ZERO_HASH, None
        if extra is not None and extra_leaf is not None:
            return extra_leaf, extra
        for at in range(lo, hi):
            info, leaf = self.infos[at], self.leaves[at]
            if info is not None and leaf is not None:
                return leaf, info
        raise AssertionError("a live write counted but not found")


def update(hash_: Callable[[bytes], bytes], paths: list[bytes], infos: list[bytes | None],
           root: bytes, root_info: bytes | None, pinned: dict[bytes, bytes],
           pinned_depth: int, load: Load) -> Update:
    """The tree at ``root`` after the writes ``paths[i] -> infos[i]`` (sorted by path,
    distinct; an INFO is ``path ‖ value_hash``, None deletes).

    ``root_info`` is the root's INFO when it is a lone key. Inner records come from
    ``pinned`` above ``pinned_depth``, else from ``load``.
    """
    if not paths:
        raise ValueError("an update needs at least one write")
    run = _Run(hash_, paths, infos)
    levels, plans = _down(run, root, root_info, pinned, pinned_depth, load)
    return _up(run, levels, plans, pinned_depth)


def _down(run: _Run, root: bytes, root_info: bytes | None, pinned: dict[bytes, bytes],
          pinned_depth: int, load: Load) -> tuple[list[list[_Node]], list[list[_Plan]]]:
    """The touched nodes level by level, and for each how its sides are joined."""
    count = len(run.paths)
    if root == ZERO_HASH or root_info is not None:
        extra = root_info if root_info is not None and run.kept(root_info, 0, count) else None
        first: _Node = (None, extra, root if extra is not None else None, 0, count, None)
    else:
        first = (root, None, None, 0, count, root)
    levels: list[list[_Node]] = [[first]]
    plans: list[list[_Plan]] = []
    depth = 0
    while levels[depth]:
        below: list[_Node] = []
        plan: list[_Plan] = []
        for old, extra, extra_leaf, lo, hi, top in levels[depth]:
            if old is None:
                done = run.virtual(extra, extra_leaf, lo, hi)
                if done is not None:
                    plan.append((done, None))
                    continue
                if depth >= PATH_BITS:
                    raise CorruptStore("two state keys share one path")
                mid = run.split(lo, hi, depth)
                right_extra = extra is not None and _bit(extra, depth)
                sides = (_virtual_side(run, below, None if right_extra else extra,
                                       None if right_extra else extra_leaf, lo, mid),
                         _virtual_side(run, below, extra if right_extra else None,
                                       extra_leaf if right_extra else None, mid, hi))
                plan.append(sides)
                continue
            raw = pinned.get(old) if depth < pinned_depth else None
            if raw is None:
                raw = load(old, depth, top if top is not None else old)
            if not is_inner(raw):
                raise CorruptStore(f"state node {old.hex()} is a lone key without a hint")
            if depth + 1 >= PATH_BITS:
                raise CorruptStore("state tree inner node below the deepest level")
            (left, left_info), (right, right_info) = children(raw)
            mid = run.split(lo, hi, depth)
            child_top = None if (depth + 1) % CHUNK_LEVELS == 0 else top
            plan.append((
                _stored_side(run, below, left, left_info, lo, mid, child_top),
                _stored_side(run, below, right, right_info, mid, hi, child_top),
            ))
        levels.append(below)
        plans.append(plan)
        depth += 1
    return levels, plans


def _bit(info: bytes, depth: int) -> int:
    return (info[depth >> 3] >> (7 - (depth & 7))) & 1


def _virtual_side(run: _Run, below: list[_Node], extra: bytes | None,
                  extra_leaf: bytes | None, lo: int, hi: int) -> _Side:
    done = run.virtual(extra, extra_leaf, lo, hi)
    if done is not None:
        return done
    below.append((None, extra, extra_leaf, lo, hi, None))
    return len(below) - 1


def _stored_side(run: _Run, below: list[_Node], child: bytes, info: bytes | None, lo: int,
                 hi: int, top: bytes | None) -> _Side:
    """One side of a touched inner node: kept, a touched inner child, or a rebuild."""
    if lo == hi:
        return child, info
    if child == ZERO_HASH or info is not None:
        extra = info if info is not None and run.kept(info, lo, hi) else None
        return _virtual_side(run, below, extra, child if extra is not None else None, lo, hi)
    # A child at a chunk's top level heads its own chunk (top None: itself).
    below.append((child, None, None, lo, hi, top if top is not None else child))
    return len(below) - 1


def _up(run: _Run, levels: list[list[_Node]], plans: list[list[_Plan]],
        pinned_depth: int) -> Update:
    hash_ = run.hash
    nodes: dict[bytes, bytes] = {}
    chunk_tops: dict[bytes, bytes | None] = {}
    pinned_old: list[bytes] = []
    deep: list[bytes] = []
    results: list[Ref] = []
    for depth in range(len(plans) - 1, -1, -1):
        below, results = results, []
        at_top = depth % CHUNK_LEVELS == 0
        pinnable = depth < pinned_depth
        for node, plan in zip(levels[depth], plans[depth], strict=True):
            left_side, right_side = plan
            left, left_info = below[left_side] if isinstance(left_side, int) else left_side
            if right_side is None:  # a virtual node of at most one key: its Ref
                results.append((left, left_info))
                continue
            right, right_info = below[right_side] if isinstance(right_side, int) else right_side
            old = node[0]
            ref: Ref
            if left == ZERO_HASH and (right == ZERO_HASH or right_info is not None):
                ref = right, right_info
            elif right == ZERO_HASH and left_info is not None:
                ref = left, left_info
            else:
                preimage = INNER_PREFIX + left + right
                digest = hash_(preimage)
                raw = inner_record(preimage, left_info, right_info)
                nodes[digest] = raw
                if at_top:
                    chunk_tops[digest] = old
                if not pinnable:
                    deep.append(digest)
                ref = digest, None
            if old is not None and pinnable and ref[0] != old:
                pinned_old.append(old)
            results.append(ref)
    (root, root_info), = results
    return Update(root, root_info, nodes, chunk_tops, b"".join(pinned_old), b"".join(deep))


def chunk_records(chunk_tops: dict[bytes, bytes | None], nodes: dict[bytes, bytes],
                  pinned: dict[bytes, bytes], member: Member) -> dict[bytes, bytes]:
    """The record of each new chunk top: its unchanged members come from ``nodes``, then
    ``pinned``, then ``member(node, old_top)`` (the chunk it replaces held them at the same
    place)."""
    records: dict[bytes, bytes] = {}
    for top, old in chunk_tops.items():

        def find(node: bytes, old: bytes | None = old) -> bytes:
            return nodes.get(node) or pinned.get(node) or member(node, old)

        records[top] = chunk_record(nodes[top], find)
    return records
