"""Consensus messages: their bodies, canonical wire form, signing bytes and tags.

Every message names its ``height`` (the block sequence number), ``view`` (the round within
that height; leader ``(view + height) mod n``) and ``sender`` (a validator index in the set
of that height), and carries ``sig``, the sender's signature over its signing bytes. Signing
bytes are one tag byte (``ledger.tags``) followed by CE of a map that always includes
``chain_id, height, view``, so a signature is never valid on another chain or as another
message kind:

- ``PrePrepare`` (tag ``0x50``): signs ``sender, block_hash``; carries the proposed
  ``block``.
- ``Prepare`` (tag ``0x51``): signs ``sender, block_hash``.
- ``Commit`` (tag ``0x31``): signs ``block_hash`` — exactly PROTOCOL §5's commit vote.
- ``ViewChange`` (tag ``0x52``): signs ``sender, prepared`` (a ``PreparedCert`` map or nil);
  carries the prepared ``block`` too, unsigned, which must hash to ``prepared.block_hash``.
- ``NewView`` (tag ``0x53``): signs ``sender, block_hash, view_changes: [[sender, sig], ...]``;
  carries the view changes (blocks stripped) and the proposed ``block``.

``Commit`` signatures are PROTOCOL §5 commit votes, so a quorum of them is the block's QC.
A ``PreparedCert`` is ``{"height", "view", "block_hash", "votes": [[index, sig], ...]}``: a
quorum of ``Prepare`` signatures (sorted by index, none twice) for one block in one view.

Wire form: CE of the message's map plus ``"type"`` (``pre_prepare``, ``prepare``,
``commit``, ``view_change``, ``new_view``). ``decode_message`` is strict (exact fields,
types, lengths, bounds) and raises ``InvalidInput``; it does not check signatures — the
replica does, against the validator set of the message's height.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ledger import encoding, tags
from ledger.block import MAX_BLOCK_BYTES, MAX_VALIDATORS, Block, commit_vote_bytes
from ledger.crypto import DIGEST_LEN, SIG_LEN, Suite
from ledger.errors import InvalidInput
from ledger.fields import exact_map, get_bytes, get_int, get_list

# A new-view carries a quorum of view changes (blocks stripped) and one block.
MAX_MESSAGE_BYTES = MAX_BLOCK_BYTES + (1 << 20)
NO_SIG = b""  # placeholder before ``sign``


def _votes_to_obj(votes: tuple[tuple[int, bytes], ...]) -> list[list[Any]]:
    return [[i, s] for i, s in votes]


def _votes_from_obj(obj: Any, what: str) -> tuple[tuple[int, bytes], ...]:
    if type(obj) is not list or len(obj) > MAX_VALIDATORS:
        raise InvalidInput(f"{what} must be an array of at most {MAX_VALIDATORS} pairs")
    out: list[tuple[int, bytes]] = []
    last = -1
    for v in obj:
        if not (type(v) is list and len(v) == 2 and type(v[0]) is int
                and type(v[1]) is bytes and len(v[1]) == SIG_LEN):
            raise InvalidInput(f"{what} must be [index, 64-byte signature] pairs")
        if v[0] <= last:
            raise InvalidInput(f"{what} must be sorted by index with no index twice")
        last = v[0]
        out.append((v[0], v[1]))
    return tuple(out)


def _sig(m: dict[str, Any], what: str) -> bytes:
    return get_bytes(m, "sig", what, SIG_LEN)


@dataclass(frozen=True, slots=True)
class PreparedCert:
    height: int
    view: int
    block_hash: bytes
    votes: tuple[tuple[int, bytes], ...]

    def to_obj(self) -> dict[str, Any]:
        return {"height": self.height, "view": self.view, "block_hash": self.block_hash,
                "votes": _votes_to_obj(self.votes)}

    @classmethod
    def from_obj(cls, obj: Any) -> PreparedCert:
        w = "prepared certificate"
        m = exact_map(obj, w, {"height", "view", "block_hash", "votes"})
        return cls(get_int(m, "height", w), get_int(m, "view", w),
                   get_bytes(m, "block_hash", w, DIGEST_LEN), _votes_from_obj(m["votes"], w))


@dataclass(frozen=True, slots=True)
class PrePrepare:
    height: int
    view: int
    sender: int
    block: Block
    sig: bytes = NO_SIG

    def signing_bytes(self, suite: Suite, chain_id: str) -> bytes:
        return _signed_vote(tags.PRE_PREPARE, chain_id, self.height, self.view, self.sender,
                            self.block.hash(suite))

    def to_obj(self) -> dict[str, Any]:
        return {"type": "pre_prepare", "height": self.height, "view": self.view,
                "sender": self.sender, "block": self.block.to_obj(), "sig": self.sig}

    @classmethod
    def from_obj(cls, m: dict[str, Any]) -> PrePrepare:
        w = "pre_prepare"
        m = exact_map(m, w, {"type", "height", "view", "sender", "block", "sig"})
        return cls(get_int(m, "height", w), get_int(m, "view", w), get_int(m, "sender", w),
                   Block.from_obj(m["block"]), _sig(m, w))


@dataclass(frozen=True, slots=True)
class Prepare:
    height: int
    view: int
    sender: int
    block_hash: bytes
    sig: bytes = NO_SIG

    def signing_bytes(self, suite: Suite, chain_id: str) -> bytes:
        return _signed_vote(tags.PREPARE, chain_id, self.height, self.view, self.sender,
                            self.block_hash)

    def to_obj(self) -> dict[str, Any]:
        return _vote_to_obj("prepare", self)

    @classmethod
    def from_obj(cls, m: dict[str, Any]) -> Prepare:
        return cls(*_vote_fields("prepare", m))


@dataclass(frozen=True, slots=True)
class Commit:
    height: int
    view: int
    sender: int
    block_hash: bytes
    sig: bytes = NO_SIG

    def signing_bytes(self, suite: Suite, chain_id: str) -> bytes:
        return commit_vote_bytes(chain_id, self.height, self.view, self.block_hash)

    def to_obj(self) -> dict[str, Any]:
        return _vote_to_obj("commit", self)

    @classmethod
    def from_obj(cls, m: dict[str, Any]) -> Commit:
        return cls(*_vote_fields("commit", m))


def _signed_vote(tag: int, chain_id: str, height: int, view: int, sender: int,
                 block_hash: bytes) -> bytes:
    """``tag ‖ CE({chain_id, height, view, sender, block_hash})``: what a pre-prepare or a
    prepare signs (commit votes sign PROTOCOL §5's bytes, which name no sender)."""
    body = {"chain_id": chain_id, "height": height, "view": view, "sender": sender,
            "block_hash": block_hash}
    return bytes((tag,)) + encoding.encode(body)


def _vote_to_obj(kind: str, v: Prepare | Commit) -> dict[str, Any]:
    return {"type": kind, "height": v.height, "view": v.view, "sender": v.sender,
            "block_hash": v.block_hash, "sig": v.sig}


def _vote_fields(kind: str, m: dict[str, Any]) -> tuple[int, int, int, bytes, bytes]:
    """The fields of a prepare or commit vote, strictly checked."""
    m = exact_map(m, kind, {"type", "height", "view", "sender", "block_hash", "sig"})
    return (get_int(m, "height", kind), get_int(m, "view", kind), get_int(m, "sender", kind),
            get_bytes(m, "block_hash", kind, DIGEST_LEN), _sig(m, kind))


@dataclass(frozen=True, slots=True)
class ViewChange:
    """``view`` is the view the sender moves to; ``prepared`` its highest prepared
    certificate at ``height`` (from any earlier view), with that ``block`` attached."""

    height: int
    view: int
    sender: int
    prepared: PreparedCert | None
    block: Block | None
    sig: bytes = NO_SIG

    def signing_bytes(self, suite: Suite, chain_id: str) -> bytes:
        body = {"chain_id": chain_id, "height": self.height, "view": self.view,
                "sender": self.sender,
                "prepared": None if self.prepared is None else self.prepared.to_obj()}
        return bytes((tags.VIEW_CHANGE,)) + encoding.encode(body)

    def stripped(self) -> ViewChange:
        """This view change without its block (its signature does not cover the block)."""
        return replace(self, block=None)

    def to_obj(self) -> dict[str, Any]:
        return {"type": "view_change", "height": self.height, "view": self.view,
                "sender": self.sender,
                "prepared": None if self.prepared is None else self.prepared.to_obj(),
                "block": None if self.block is None else self.block.to_obj(), "sig": self.sig}

    @classmethod
    def from_obj(cls, m: dict[str, Any]) -> ViewChange:
        w = "view_change"
        m = exact_map(m, w, {"type", "height", "view", "sender", "prepared", "block", "sig"})
        prepared = None if m["prepared"] is None else PreparedCert.from_obj(m["prepared"])
        block = None if m["block"] is None else Block.from_obj(m["block"])
        return cls(get_int(m, "height", w), get_int(m, "view", w), get_int(m, "sender", w),
                   prepared, block, _sig(m, w))


@dataclass(frozen=True, slots=True)
class NewView:
    height: int
    view: int
    sender: int
    view_changes: tuple[ViewChange, ...]
    block: Block
    sig: bytes = NO_SIG

    def signing_bytes(self, suite: Suite, chain_id: str) -> bytes:
        body = {"chain_id": chain_id, "height": self.height, "view": self.view,
                "sender": self.sender, "block_hash": self.block.hash(suite),
                "view_changes": [[vc.sender, vc.sig] for vc in self.view_changes]}
        return bytes((tags.NEW_VIEW,)) + encoding.encode(body)

    def to_obj(self) -> dict[str, Any]:
        vcs = [vc.stripped().to_obj() for vc in self.view_changes]
        return {"type": "new_view", "height": self.height, "view": self.view,
                "sender": self.sender, "view_changes": vcs, "block": self.block.to_obj(),
                "sig": self.sig}

    @classmethod
    def from_obj(cls, m: dict[str, Any]) -> NewView:
        w = "new_view"
        m = exact_map(m, w, {"type", "height", "view", "sender", "view_changes", "block", "sig"})
        vcs = []
        for obj in get_list(m, "view_changes", w, MAX_VALIDATORS):
            vc = ViewChange.from_obj(_typed(obj, "view_change"))
            if vc.block is not None:
                raise InvalidInput("new_view.view_changes must not carry blocks")
            vcs.append(vc)
        return cls(get_int(m, "height", w), get_int(m, "view", w), get_int(m, "sender", w),
                   tuple(vcs), Block.from_obj(m["block"]), _sig(m, w))


Message = PrePrepare | Prepare | Commit | ViewChange | NewView
M = TypeVar("M", PrePrepare, Prepare, Commit, ViewChange, NewView)

_KINDS: dict[str, Any] = {
    "pre_prepare": PrePrepare, "prepare": Prepare, "commit": Commit,
    "view_change": ViewChange, "new_view": NewView,
}


def _typed(obj: Any, expected: str | None = None) -> dict[str, Any]:
    if not isinstance(obj, dict) or type(obj.get("type")) is not str:
        raise InvalidInput("a consensus message must be a map with a text 'type'")
    if expected is not None and obj["type"] != expected:
        raise InvalidInput(f"expected a {expected} message, got {obj['type']!r}")
    return obj


def encode_message(msg: Message) -> bytes:
    return encoding.encode(msg.to_obj())


def decode_message(data: bytes) -> Message:
    """Decode one message strictly; raises InvalidInput (never anything else) on bad bytes."""
    obj = _typed(encoding.decode(data, MAX_MESSAGE_BYTES))
    kind = _KINDS.get(obj["type"])
    if kind is None:
        raise InvalidInput(f"unknown consensus message type {obj['type']!r}")
    try:
        msg: Message = kind.from_obj(obj)
    except (KeyError, TypeError, AttributeError) as exc:  # defensive: never leak these
        raise InvalidInput(f"malformed {obj['type']} message: {exc}") from exc
    return msg


def sign(suite: Suite, secret: bytes, chain_id: str, msg: M) -> M:
    """Return ``msg`` with ``sig`` set to the signature over its signing bytes."""
    return replace(msg, sig=suite.sign(secret, msg.signing_bytes(suite, chain_id)))


def verify(suite: Suite, chain_id: str, pubkey: bytes, msg: Message) -> bool:
    """Whether ``msg.sig`` is ``pubkey``'s signature over the message's signing bytes."""
    if len(msg.sig) != SIG_LEN:
        return False
    return suite.verify(pubkey, msg.signing_bytes(suite, chain_id), msg.sig)


def prepare_bytes(suite: Suite, chain_id: str, height: int, view: int, sender: int,
                  block_hash: bytes) -> bytes:
    """The signing bytes of a prepare vote (what a ``PreparedCert`` vote signs)."""
    return Prepare(height, view, sender, block_hash).signing_bytes(suite, chain_id)
