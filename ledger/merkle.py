"""RFC 6962 / RFC 9162 Merkle trees over 32-byte items (PROTOCOL §4 and §8).

Leaf ``Hd(0x00, item)``, inner node ``Hd(0x01, left ‖ right)``, the empty tree ``H(b"")``;
a tree of ``n > 1`` items splits at the largest power of two below ``n``. Used for
``tx_root`` (items: tx ids) and ``receipts_root`` (items: receipt hashes).

Audit paths (PROTOCOL §8, RFC 9162 §2.1.3): ``audit_path`` gives the sibling subtree hashes
of item ``index`` from the leaf up (§2.1.3.1, ``PATH(m, D[n])``); ``verify_inclusion`` runs
the §2.1.3.2 algorithm and names what failed: an index outside the tree, a path longer or
shorter than the tree is deep, or a path that leads to another root. The header does not
commit to the leaf count, so a path proves that an item is in the tree, not its position.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger import tags
from ledger.crypto import DIGEST_LEN, Suite
from ledger.errors import ProofError

# A tree of 2**64 leaves is 64 levels deep: no path can be longer.
MAX_PATH_LEN = 64


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def leaf_hash(suite: Suite, item: bytes) -> bytes:
    """``Hd(0x00, item)``."""
    return suite.hd(tags.TX_LEAF, item)


def node_hash(suite: Suite, left: bytes, right: bytes) -> bytes:
    """``Hd(0x01, left ‖ right)``."""
    return suite.hd(tags.TX_NODE, left + right)


def merkle_root(suite: Suite, items: Sequence[bytes]) -> bytes:
    if not items:
        return suite.hash(b"")
    return _root_of_hashes(suite, [leaf_hash(suite, item) for item in items])


def _root_of_hashes(suite: Suite, hashes: Sequence[bytes]) -> bytes:
    # Iterative form of the RFC 6962 recursion: pairing left to right and carrying an odd
    # last node up unchanged gives the same tree as splitting at the largest power of two.
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(suite, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def audit_path(suite: Suite, items: Sequence[bytes], index: int) -> list[bytes]:
    """The RFC 9162 §2.1.3.1 audit path of ``items[index]``: sibling hashes, leaf up."""
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} outside 0..{len(items) - 1}")
    leaves = [leaf_hash(suite, item) for item in items]
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk down from the root, collecting the sibling of each subtree on the way; the
    # path lists them leaf first, so the walk's order is reversed at the end.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_root_of_hashes(suite, leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_root_of_hashes(suite, leaves[lo : lo + k]))
            lo = lo + k
    path.reverse()
    return path


def verify_inclusion(
    suite: Suite, item: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless ``path`` shows ``item`` at ``index`` of a tree of ``size``
    leaves with ``root`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of {size} leaves")
    if len(path) > MAX_PATH_LEN:
        raise ProofError(f"audit path has {len(path)} entries, above {MAX_PATH_LEN}")
    if any(type(p) is not bytes or len(p) != DIGEST_LEN for p in path):
        raise ProofError(f"every audit path entry must be {DIGEST_LEN} bytes")
    cur = leaf_hash(suite, item)
    fn, sn = index, size - 1
    for sibling in path:
        if sn == 0:
            raise ProofError(
                f"audit path is longer than a tree of {size} leaves is deep at index {index}"
            )
        if fn & 1 or fn == sn:
            cur = node_hash(suite, sibling, cur)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            cur = node_hash(suite, cur, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"audit path is too short for index {index} of {size} leaves")
    if cur != root:
        raise ProofError("audit path does not lead to the root")
