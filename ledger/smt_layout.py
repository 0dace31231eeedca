"""Byte layouts of the state tree's stored records, named once (``ledger.smt`` stores them).

A **lone key** is what the tree knows of a subtree holding exactly one key:
``INFO = path (32) ‖ value_hash (32)``, the preimage of its leaf hash after the ``0x10`` tag.

An **inner record** (a subtree holding two keys or more)::

    offset  0      1         33         65      66
            0x11 ‖ left(32) ‖ right(32) ‖ flags ‖ hints

The first ``PREIMAGE_LEN`` (65) bytes are the preimage of the node's hash. Bit
``LEFT_LONE`` (1) of ``flags`` says the left child holds a single key, bit ``RIGHT_LONE`` (2)
the right one; the ``INFO`` of each such child follows in ``hints``, left first. A lone key
thus lives in its parent and costs no read of its own.

A **leaf record** ``0x10 ‖ INFO`` is stored only for a root that holds a single key.

A **chunk record** (the value of ``schema.state_node_key(top)``) is the concatenation of the
inner records of ``CHUNK_LEVELS`` levels under an inner node ``top`` at a depth that is a
multiple of ``CHUNK_LEVELS``: ``top`` first, then its inner children, then theirs, level by
level, left to right (lone keys and empty sides are not records of their own).
``parse_chunk`` reads one back and checks every record against the hash its parent names.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger import tags
from ledger.crypto import DIGEST_LEN, ZERO_HASH
from ledger.errors import CorruptStore

# Inner nodes are stored in chunks of this many levels, one record per chunk.
CHUNK_LEVELS = 3

INFO_LEN = 2 * DIGEST_LEN  # path ‖ value_hash of a lone key
PATH_END = DIGEST_LEN  # INFO[:PATH_END] is the path, INFO[PATH_END:] the value hash

TAG_AT = 0
LEFT_AT = 1
RIGHT_AT = LEFT_AT + DIGEST_LEN  # 33
PREIMAGE_LEN = RIGHT_AT + DIGEST_LEN  # 65: tag ‖ left ‖ right, what the node's hash covers
FLAGS_AT = PREIMAGE_LEN  # 65
HINTS_AT = FLAGS_AT + 1  # 66
LEFT_LONE = 1
RIGHT_LONE = 2
FLAGS_MAX = LEFT_LONE | RIGHT_LONE
LEAF_RECORD_LEN = 1 + INFO_LEN  # 0x10 ‖ INFO

LEAF_TAG = tags.STATE_LEAF
INNER_TAG = tags.STATE_NODE
LEAF_PREFIX = bytes((LEAF_TAG,))
INNER_PREFIX = bytes((INNER_TAG,))
FLAG_BYTES = tuple(bytes((flags,)) for flags in range(FLAGS_MAX + 1))
# An inner record's length by its flags: the preimage, the flags byte and one INFO a hint.
INNER_LEN_BY_FLAGS = tuple(HINTS_AT + bin(flags).count("1") * INFO_LEN
                           for flags in range(FLAGS_MAX + 1))

# A subtree as the tree sees it: (hash, info). ``info`` is the lone key's INFO when the
# subtree holds a single key, None when it is ZERO or holds several.
Ref = tuple[bytes, bytes | None]


def children(raw: bytes) -> tuple[Ref, Ref]:
    """The two children of an inner record, with the INFO its hints give."""
    flags = raw[FLAGS_AT]
    first_hint = raw[HINTS_AT:HINTS_AT + INFO_LEN]
    left_info = first_hint if flags & LEFT_LONE else None
    if flags & RIGHT_LONE:
        right_info: bytes | None = (raw[HINTS_AT + INFO_LEN:HINTS_AT + 2 * INFO_LEN]
                                    if flags & LEFT_LONE else first_hint)
    else:
        right_info = None
    return (raw[LEFT_AT:RIGHT_AT], left_info), (raw[RIGHT_AT:PREIMAGE_LEN], right_info)


def inner_record(preimage: bytes, left_info: bytes | None, right_info: bytes | None) -> bytes:
    """The stored inner record of ``preimage`` (``0x11 ‖ left ‖ right``) and its hints."""
    if left_info is None:
        if right_info is None:
            return preimage + FLAG_BYTES[0]
        return preimage + FLAG_BYTES[RIGHT_LONE] + right_info
    if right_info is None:
        return preimage + FLAG_BYTES[LEFT_LONE] + left_info
    return preimage + FLAG_BYTES[FLAGS_MAX] + left_info + right_info


def is_inner(raw: bytes) -> bool:
    return raw[TAG_AT] == INNER_TAG


def root_info(raw: bytes) -> bytes | None:
    """The INFO of a root record when it is a lone key's leaf record, else None."""
    return raw[1:LEAF_RECORD_LEN] if raw[TAG_AT] == LEAF_TAG else None


def parse_chunk(record: bytes, top: bytes, hash_: Callable[[bytes], bytes]) -> dict[bytes, bytes]:
    """The inner records of the chunk record headed by ``top``, by hash, each checked.

    Every record must hash to the hash its parent (or ``top``) names and every hint must
    hash to its child's hash, so a chunk read back is exactly the chunk written; anything
    else is ``CorruptStore``. A leaf record (a root holding one key) is checked likewise.
    """
    if record[:1] == LEAF_PREFIX:
        if len(record) != LEAF_RECORD_LEN or hash_(record) != top:
            raise CorruptStore(f"state node {top.hex()} fails its hash check")
        return {top: record}
    members: dict[bytes, bytes] = {}
    row = [top]  # the hashes the next records must have
    offset = 0
    for level in range(CHUNK_LEVELS):
        below = []
        for node in row:
            flags_at = offset + FLAGS_AT
            flags = record[flags_at] if flags_at < len(record) else FLAGS_MAX + 1
            if flags > FLAGS_MAX or record[offset + TAG_AT] != INNER_TAG:
                raise CorruptStore(f"state node {node.hex()} is malformed in its chunk")
            end = offset + INNER_LEN_BY_FLAGS[flags]
            raw = record[offset:end]
            if len(raw) != end - offset or hash_(raw[:PREIMAGE_LEN]) != node:
                raise CorruptStore(f"state node {node.hex()} fails its hash check")
            for child, info in children(raw):
                if info is not None:
                    if hash_(LEAF_PREFIX + info) != child:
                        raise CorruptStore(f"state node {node.hex()} has a false hint")
                elif child != ZERO_HASH and level + 1 < CHUNK_LEVELS:
                    below.append(child)
            members[node] = raw
            offset = end
        row = below
    if offset != len(record):
        raise CorruptStore(f"state chunk {top.hex()} has trailing bytes")
    return members


def chunk_record(top_raw: bytes, member: Callable[[bytes], bytes]) -> bytes:
    """The chunk record under the inner record ``top_raw``: ``member(hash)`` gives the inner
    record of each inner node of the chunk's next levels."""
    row = [top_raw]
    parts = row[:]
    for _ in range(CHUNK_LEVELS - 1):
        below = []
        for raw in row:
            flags = raw[FLAGS_AT]
            # Inner children only: a lone key lives in the hint, an empty side is not stored.
            if not flags & LEFT_LONE:
                child = raw[LEFT_AT:RIGHT_AT]
                if child != ZERO_HASH:
                    below.append(member(child))
            if not flags & RIGHT_LONE:
                child = raw[RIGHT_AT:PREIMAGE_LEN]
                if child != ZERO_HASH:
                    below.append(member(child))
        if not below:
            break
        parts += below
        row = below
    return b"".join(parts)
