"""Which state-tree kernel runs: the C extension ``ledger._smt_native`` or the pure Python one.

``pip install -e .`` builds ``ledger/_smt_native.c`` (SHA-256 and SM3 written in it, no
OpenSSL headers needed) as an optional extension. When it is missing or fails to import,
the pure-Python kernel (``ledger.smt_update``) runs instead, which gives the same bytes, and
one warning is logged; ``NATIVE`` and ``NATIVE_PROBLEM`` say which is in use (for status
and metrics). ``CREDCHAIN_SMT_PURE=1`` in the environment forces the pure kernel (for A/B
benchmarks and tests of the fallback).

Both kernels share one interface, ``Kernel``: ``update`` and ``chunk_records`` as in
``ledger.smt_update``, plus ``digests`` (one tagged hash over many inputs), ``find`` (the
INFO where a path ends, for checked reads), and the map that holds the tree's records in
memory (``new_store``, ``retire``): a dict for the pure kernel, the C kernel's
``NodeStore`` (an open-addressing table keyed by the hashes themselves: a lookup touches a
slot and the record, where a dict of 1.4M bytes keys also walks its index and a key
object) for the native one.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from itertools import repeat
from types import ModuleType
from typing import Any

from ledger import smt_update
from ledger.crypto import DIGEST_LEN, ED25519_SHA256, SM2_SM3, ZERO_HASH, Suite
from ledger.errors import CorruptStore
from ledger.smt_layout import CHUNK_LEVELS, children, is_inner
from ledger.smt_proof import PATH_BITS
from ledger.smt_update import NodeMap

__all__ = ["NATIVE", "NATIVE_PROBLEM", "Kernel", "NodeMap", "kernel_for"]

_log = logging.getLogger("credchain.smt")

# The C kernel's names for the two suites' hash functions.
_ALGORITHMS = {ED25519_SHA256.name: 0, SM2_SM3.name: 1}


def _import_native() -> tuple[ModuleType | None, str | None]:
    if os.environ.get("CREDCHAIN_SMT_PURE", "") not in ("", "0"):
        return None, "CREDCHAIN_SMT_PURE is set"
    try:
        from ledger import _smt_native  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"ledger._smt_native did not import ({exc})"
    return _smt_native, None


_native, NATIVE_PROBLEM = _import_native()
NATIVE = _native is not None
if not NATIVE:
    _log.warning("state tree: pure-Python kernel in use, about 3x slower: %s", NATIVE_PROBLEM)


class Kernel:
    """The state-tree kernel for one suite: native when ``native`` and available."""

    def __init__(self, suite: Suite, native: bool) -> None:
        self.suite = suite
        # hashlib directly for SHA-256: the suite's method adds a frame per hash.
        self.hash: Callable[[bytes], bytes] = _sha256 if suite is ED25519_SHA256 else suite.hash
        self._c: Any = _native if native and suite.name in _ALGORITHMS else None
        self._algorithm = _ALGORITHMS.get(suite.name, -1)

    @property
    def native(self) -> bool:
        return self._c is not None

    def digests(self, tag: int, items: Sequence[bytes]) -> list[bytes]:
        """``Hd(tag, item)`` of every item."""
        if self._c is not None:
            return self._c.digests(self._algorithm, tag, items)  # type: ignore[no-any-return]
        prefix = bytes((tag,))
        hash_ = self.hash
        return [hash_(prefix + item) for item in items]

    def new_store(self) -> NodeMap:
        """An empty map of node records of the kind this kernel reads."""
        if self._c is not None:
            return self._c.NodeStore()  # type: ignore[no-any-return]
        return {}

    def retire(self, pinned: NodeMap, old: bytes, new: NodeMap, deep: bytes) -> None:
        """Drop the records ``old`` (32-byte hashes end to end; absent ones too) from
        ``pinned``, then add those of ``new`` but the ones in ``deep``."""
        if self._c is not None:
            pinned.retire(old, new, deep)  # type: ignore[attr-defined]
            return
        assert isinstance(pinned, dict) and isinstance(new, dict)
        # ~10,000 removals a block: drained by a zero-length deque, the loop runs in C.
        deque(map(pinned.pop, _hashes(old), repeat(None)), maxlen=0)
        pinned.update(new)
        deque(map(pinned.pop, _hashes(deep), repeat(None)), maxlen=0)

    def update(self, paths: list[bytes], infos: list[bytes | None], root: bytes,
               root_info: bytes | None, pinned: NodeMap, pinned_depth: int,
               load: smt_update.Load) -> smt_update.Update:
        if self._c is not None:
            found = self._c.update(self._algorithm, paths, infos, root, root_info, pinned,
                                   pinned_depth, load)
            return smt_update.Update(*found)
        assert isinstance(pinned, dict)
        return smt_update.update(self.hash, paths, infos, root, root_info, pinned,
                                 pinned_depth, load)

    def chunk_records(self, chunk_tops: dict[bytes, bytes | None], nodes: NodeMap,
                      pinned: NodeMap, member: smt_update.Member) -> dict[bytes, bytes]:
        if self._c is not None:
            return self._c.chunk_records(chunk_tops, nodes, pinned,  # type: ignore[no-any-return]
                                         member)
        assert isinstance(nodes, dict) and isinstance(pinned, dict)
        return smt_update.chunk_records(chunk_tops, nodes, pinned, member)

    def find(self, root: bytes, path: bytes, pinned: NodeMap, pinned_depth: int,
             load: smt_update.Load) -> bytes | None:
        """The INFO of the lone key where ``path`` ends under the inner node ``root``, or
        None when it ends in an empty subtree."""
        if self._c is not None:
            return self._c.find(root, path, pinned, pinned_depth,  # type: ignore[no-any-return]
                                load)
        return _find(root, path, pinned, pinned_depth, load)


def _hashes(joined: bytes) -> list[bytes]:
    return [joined[at:at + DIGEST_LEN] for at in range(0, len(joined), DIGEST_LEN)]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _find(root: bytes, path: bytes, pinned: NodeMap, pinned_depth: int,
          load: smt_update.Load) -> bytes | None:
    node, top = root, root
    bits = int.from_bytes(path, "big")
    for depth in range(PATH_BITS):
        if depth % CHUNK_LEVELS == 0:
            top = node
        raw = pinned.get(node) if depth < pinned_depth else None
        if raw is None:
            raw = load(node, depth, top)
        if not is_inner(raw):
            raise CorruptStore(f"state node {node.hex()} is a lone key without a hint")
        node, info = children(raw)[(bits >> (PATH_BITS - 1 - depth)) & 1]
        if info is not None:
            return info
        if node == ZERO_HASH:
            return None
    raise CorruptStore("state tree is deeper than 256 levels")


def kernel_for(suite: Suite, native: bool | None = None) -> Kernel:
    """The kernel for ``suite``: native if available unless ``native`` is False."""
    return Kernel(suite, NATIVE if native is None else native and NATIVE)
