"""Every LevelDB key of a node, built here and nowhere else (as py-evm's ``schema.py``).

A key is a short ASCII prefix followed by fixed-width parts, so prefix scans are ordered:
heights are 8-byte big-endian, hashes and ids 32 raw bytes.

| prefix | key parts | value |
|---|---|---|
| ``m/head`` | — | CE ``{"height": int, "hash": bin32}``, the last complete block |
| ``m/genesis`` | — | CE of the genesis document the chain was created from |
| ``m/base`` | — | CE ``{"height": int}``: the lowest height held in full besides genesis (a store
  started from a snapshot, ``ledger.snapshot``); absent: 0, every height is held |
| ``m/paths`` | — | CE ``{"height": int}``: ``sp/`` names every key of every root from this height |
| ``m/late`` | — | CE ``{"height": int}``: ``lv/`` names every block decided in a view above 0
  from this height (a store without it gets the index once at open, ``BlockStore``) |
| ``m/heads`` | — | CE ``{"holds": "value_hash"}``: ``sk/`` holds value hashes (a store without it
  holds whole values there and is rewritten once at open, ``ledger.smt.upgrade_head_index``) |
| ``b/`` | height | CE block (header and txs) |
| ``q/`` | height | CE QC of that block (absent at genesis) |
| ``h/`` | block hash | height |
| ``t/`` | tx id | CE ``[height, index]`` |
| ``r/`` | height | CE array of that block's receipts |
| ``v/`` | height | CE validator set that certifies the block at that height |
| ``vc/`` | height | empty: the block at that height changes the set (next ≠ current) |
| ``sn/`` | node hash | state tree chunk: 3 levels of inner nodes under that one (``ledger.smt``) |
| ``sv/`` | value hash | CE of a state value (content-addressed, so past heights stay readable) |
| ``sk/`` | utf8 key | the value hash of a state key at the head (its CE is under ``sv/``; the
  index of head keys in key order, checked against the tree on read) |
| ``sr/`` | height | state root after that block |
| ``sp/`` | key path | UTF-8 of the state key whose path it is (never deleted: names the keys of
  past roots, so a snapshot of any held root can be served) |
| ``vh/`` | height | CE header of a validator change below ``m/base`` (with its QC under ``q/``
  and the next set under ``v/``): the certificate chain a snapshot-started store keeps |
| ``lv/`` | height | CE header of a block decided in a view above 0 (its leaders of the views
  below failed, ``consensus.quorum.failed_leaders``), with its QC under ``q/``; below
  ``m/base``, from a snapshot |
| ``c/`` | consensus part | the replica's own durable consensus data (votes, certificates) |

In a LevelDB store, a value of 256 bytes or more under a write-once prefix (``b/``, ``r/``,
``sn/``, ``sv/``: ``WRITE_ONCE``) is kept in the append-only value log beside the database
(``ledger.valuelog``) and LevelDB holds a 21-byte pointer to it; ``ledger.kv`` resolves it
on every read, so no caller sees the difference.
"""

from __future__ import annotations

HEAD = b"m/head"
GENESIS = b"m/genesis"
BASE = b"m/base"
PATH_INDEX_FROM = b"m/paths"
HEAD_INDEX = b"m/heads"
LATE_INDEX_FROM = b"m/late"
BLOCK = b"b/"
QC = b"q/"
BLOCK_BY_HASH = b"h/"
TX_LOCATION = b"t/"
RECEIPTS = b"r/"
VALIDATORS = b"v/"
VALIDATOR_CHANGE = b"vc/"
STATE_NODE = b"sn/"
STATE_VALUE = b"sv/"
STATE_HEAD = b"sk/"
STATE_ROOT = b"sr/"
STATE_KEY_BY_PATH = b"sp/"
CHANGE_HEADER = b"vh/"
LATE_BLOCK = b"lv/"
CONSENSUS = b"c/"

# Prefixes whose values are written once and never changed or deleted: the block, its
# receipts, and the content-addressed state records. ``ledger.kv.LevelKV`` keeps their large
# values in an append-only log beside LevelDB (``ledger.valuelog``).
WRITE_ONCE = (BLOCK, RECEIPTS, STATE_NODE, STATE_VALUE)


def is_write_once(key: bytes) -> bool:
    return key.startswith(WRITE_ONCE)


def height_bytes(height: int) -> bytes:
    return height.to_bytes(8, "big")


def height_from(key_tail: bytes) -> int:
    return int.from_bytes(key_tail, "big")


def block_key(height: int) -> bytes:
    return BLOCK + height_bytes(height)


def qc_key(height: int) -> bytes:
    return QC + height_bytes(height)


def block_by_hash_key(block_hash: bytes) -> bytes:
    return BLOCK_BY_HASH + block_hash


def tx_location_key(tx_id: bytes) -> bytes:
    return TX_LOCATION + tx_id


def receipts_key(height: int) -> bytes:
    return RECEIPTS + height_bytes(height)


def validators_key(height: int) -> bytes:
    return VALIDATORS + height_bytes(height)


def validator_change_key(height: int) -> bytes:
    return VALIDATOR_CHANGE + height_bytes(height)


def state_node_key(node_hash: bytes) -> bytes:
    return STATE_NODE + node_hash


def state_value_key(value_hash: bytes) -> bytes:
    return STATE_VALUE + value_hash


def state_head_key(key: str) -> bytes:
    return STATE_HEAD + key.encode("utf-8")


def state_root_key(height: int) -> bytes:
    return STATE_ROOT + height_bytes(height)


def state_key_by_path_key(path: bytes) -> bytes:
    return STATE_KEY_BY_PATH + path


def change_header_key(height: int) -> bytes:
    return CHANGE_HEADER + height_bytes(height)


def late_block_key(height: int) -> bytes:
    return LATE_BLOCK + height_bytes(height)


def consensus_key(part: bytes) -> bytes:
    return CONSENSUS + part
