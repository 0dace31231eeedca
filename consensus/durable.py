"""The replica's own durable consensus data: what it must remember across a crash.

Two records under ``ledger.schema.CONSENSUS``, each written by a ``Persist`` effect before
the message it justifies is sent:

- ``c/round`` → CE ``{"height", "view", "in_view_change": bool, "prepare": bin32 | nil,
  "commit": bin32 | nil}``: the view the replica is in at ``height`` and the block hashes it
  has sent prepare and commit votes for in that view. Views only grow within a height, so
  the latest view's votes are all it ever needs: it never votes in a view it has left.
- ``c/prepared`` → CE ``{"height", "cert": PreparedCert, "block": BLOCK}``: its highest
  prepared certificate at ``height`` and that block, reported in every view change.

- ``c/owner`` → the validator public key whose votes the records above are (raw bytes).
- ``c/run`` → how many times the node has started on this store (``shell.runs``).

Records of a height below the head's next height are stale and ignored on load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from consensus.messages import PreparedCert
from ledger import encoding, schema
from ledger.block import Block
from ledger.crypto import DIGEST_LEN
from ledger.errors import CorruptStore, InvalidInput
from ledger.fields import exact_map, get_int

ROUND_KEY = schema.consensus_key(b"round")
PREPARED_KEY = schema.consensus_key(b"prepared")
# The public key of the validator whose votes these records are, written when the store is
# created. A store with blocks but no owner record (restored without its consensus records,
# or copied from another node) can't prove what this validator voted: the shell starts it
# abstaining until an operator confirms.
OWNER_KEY = schema.consensus_key(b"owner")
# How many times the node has started on this store (decimal text), beside the same count in
# the file ``DATA_DIR/run``: a store whose count differs is an older copy (``shell.runs``).
RUN_KEY = schema.consensus_key(b"run")
# Written by ``credchain node resync`` when the damaged store's consensus records could not
# be carried over: the new store must not vote until an operator confirms.
VOTES_LOST_KEY = schema.consensus_key(b"votes_lost")


@dataclass(frozen=True, slots=True)
class RoundRecord:
    height: int
    view: int
    in_view_change: bool
    prepare: bytes | None
    commit: bytes | None

    def encode(self) -> bytes:
        return encoding.encode({"height": self.height, "view": self.view,
                                "in_view_change": self.in_view_change,
                                "prepare": self.prepare, "commit": self.commit})

    @classmethod
    def decode(cls, data: bytes) -> RoundRecord:
        m = exact_map(encoding.decode(data), "round record",
                      {"height", "view", "in_view_change", "prepare", "commit"})
        for name in ("prepare", "commit"):
            v = m[name]
            if v is not None and (type(v) is not bytes or len(v) != DIGEST_LEN):
                raise InvalidInput(f"round record.{name} must be nil or 32 bytes")
        if type(m["in_view_change"]) is not bool:
            raise InvalidInput("round record.in_view_change must be a boolean")
        return cls(get_int(m, "height", "round"), get_int(m, "view", "round"),
                   m["in_view_change"], m["prepare"], m["commit"])


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    height: int
    cert: PreparedCert
    block: Block

    def encode(self) -> bytes:
        # CE({"block", "cert", "height"}) put together (keys in canonical order) so the
        # block's transactions reuse the encodings they carry: every replica persists
        # this record at every height.
        return b"".join((b"\x83\xa5block", self.block.encode(),
                         b"\xa4cert", encoding.encode(self.cert.to_obj()),
                         b"\xa6height", encoding.encode_int(self.height)))

    @classmethod
    def decode(cls, data: bytes) -> PreparedRecord:
        m = exact_map(encoding.decode(data), "prepared record", {"height", "cert", "block"})
        return cls(get_int(m, "height", "prepared"), PreparedCert.from_obj(m["cert"]),
                   Block.from_obj(m["block"]))


def recorded_height(consensus: Mapping[bytes, bytes]) -> int:
    """The height of our latest round record (0 without one): we may have voted up to it."""
    raw = consensus.get(ROUND_KEY)
    if raw is None:
        return 0
    try:
        return RoundRecord.decode(raw).height
    except InvalidInput as exc:
        raise CorruptStore(f"consensus record does not decode: {exc}") from exc


def load(consensus: Mapping[bytes, bytes],
         height: int) -> tuple[RoundRecord | None, PreparedRecord | None]:
    """The records that still apply at ``height``; stale ones come back as ``None``.
    A record that does not decode is our own data broken: ``CorruptStore``."""
    try:
        raw = consensus.get(ROUND_KEY)
        rnd = None if raw is None else RoundRecord.decode(raw)
        raw = consensus.get(PREPARED_KEY)
        prep = None if raw is None else PreparedRecord.decode(raw)
    except InvalidInput as exc:
        raise CorruptStore(f"consensus record does not decode: {exc}") from exc
    if rnd is not None and rnd.height != height:
        rnd = None
    if prep is not None and prep.height != height:
        prep = None
    return rnd, prep
