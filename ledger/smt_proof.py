"""State tree hashes and proofs (PROTOCOL §6): what a verifier needs, with no storage.

The state tree is a sparse Merkle tree over 256-bit paths ``path = Hd(0x13, utf8(key))``.
An empty subtree hashes to ``ZERO``; a subtree holding exactly one key hashes to that key's
leaf hash ``Hd(0x10, path ‖ Hd(0x12, CE(value)))`` at any depth; any other subtree hashes to
``Hd(0x11, left ‖ right)``. Because a lone key's hash does not depend on its depth, a proof
stops at the first subtree on the key's path that holds at most one key: about
``log2(number of keys)`` siblings, never 256.

``PROOF = {"leaf": nil | {"path": bin32, "value_hash": bin32}, "siblings": [bin32, ...]}``,
``siblings[i]`` being the sibling subtree's hash at depth ``i + 1``. ``verify_proof`` is the
one place a state proof is judged (block store, proof bundles, the CLI's offline verify).
``ledger.smt`` builds proofs; the tests' ``naive_smt`` rebuilds them from the definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import tags
from ledger.crypto import DIGEST_LEN, ZERO_HASH, Suite
from ledger.errors import InvalidInput, ProofError
from ledger.fields import exact_map, get_bytes, get_list

PATH_BITS = 256
_INNER_TAG = bytes((tags.STATE_NODE,))
# A path has 256 bits, so no proof can carry more siblings than that.
MAX_PROOF_SIBLINGS = PATH_BITS


def key_path(suite: Suite, key: str) -> bytes:
    """``Hd(0x13, utf8(key))``: where ``key`` sits in the tree."""
    if type(key) is not str:
        raise InvalidInput(f"state key must be text, got {type(key).__name__}")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"state key is not valid UTF-8 text: {exc}") from exc
    return suite.hd(tags.STATE_PATH, raw)


def value_hash(suite: Suite, value: bytes) -> bytes:
    """``Hd(0x12, CE(value))``; ``value`` is already the canonical encoding."""
    return suite.hd(tags.STATE_VALUE, value)


def leaf_hash(suite: Suite, path: bytes, value_digest: bytes) -> bytes:
    """``Hd(0x10, path ‖ value_hash)``: the hash of any subtree holding only this key."""
    return suite.hd(tags.STATE_LEAF, path + value_digest)


def inner_hash(suite: Suite, left: bytes, right: bytes) -> bytes:
    """``Hd(0x11, left ‖ right)``: a subtree holding two keys or more."""
    return suite.hd(tags.STATE_NODE, left + right)


def path_bit(path: bytes, depth: int) -> int:
    """Bit ``depth`` of ``path``; bit 0 is the most significant bit of byte 0."""
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1


def same_prefix(a: bytes, b: bytes, bits: int) -> bool:
    """Whether ``a`` and ``b`` agree on their first ``bits`` bits."""
    whole, rest = divmod(bits, 8)
    if a[:whole] != b[:whole]:
        return False
    if rest == 0:
        return True
    mask = (0xFF << (8 - rest)) & 0xFF
    return (a[whole] & mask) == (b[whole] & mask)


@dataclass(frozen=True, slots=True)
class ProofLeaf:
    """The one key of the subtree where a proof stops: the key proven, or another one."""

    path: bytes
    value_hash: bytes

    def to_obj(self) -> dict[str, Any]:
        return {"path": self.path, "value_hash": self.value_hash}

    @classmethod
    def from_obj(cls, obj: Any) -> ProofLeaf:
        m = exact_map(obj, "proof.leaf", {"path", "value_hash"})
        return cls(
            get_bytes(m, "path", "proof.leaf", DIGEST_LEN),
            get_bytes(m, "value_hash", "proof.leaf", DIGEST_LEN),
        )


@dataclass(frozen=True, slots=True)
class Proof:
    """A proof of presence or absence of one key under one state root (PROTOCOL §6)."""

    leaf: ProofLeaf | None
    siblings: tuple[bytes, ...]

    def to_obj(self) -> dict[str, Any]:
        return {
            "leaf": None if self.leaf is None else self.leaf.to_obj(),
            "siblings": list(self.siblings),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> Proof:
        """Strictly typed: exact fields, 32-byte hashes, at most 256 siblings."""
        m = exact_map(obj, "proof", {"leaf", "siblings"})
        leaf = None if m["leaf"] is None else ProofLeaf.from_obj(m["leaf"])
        raw = get_list(m, "siblings", "proof", MAX_PROOF_SIBLINGS)
        siblings = []
        for i, sibling in enumerate(raw):
            if type(sibling) is not bytes or len(sibling) != DIGEST_LEN:
                raise InvalidInput(f"proof.siblings[{i}] must be {DIGEST_LEN} bytes")
            siblings.append(sibling)
        return cls(leaf, tuple(siblings))


def proof_root(suite: Suite, key: str, proof: Proof) -> bytes:
    """The root that ``proof`` folds up to for ``key``; ProofError if it is malformed."""
    return _fold(suite, key_path(suite, key), proof)


def _fold(suite: Suite, path: bytes, proof: Proof) -> bytes:
    siblings = proof.siblings
    if len(siblings) > MAX_PROOF_SIBLINGS:
        raise ProofError(f"proof has {len(siblings)} siblings, above {MAX_PROOF_SIBLINGS}")
    if any(type(s) is not bytes or len(s) != DIGEST_LEN for s in siblings):
        raise ProofError(f"every proof sibling must be {DIGEST_LEN} bytes")
    leaf = proof.leaf
    if leaf is None:
        cur = ZERO_HASH
    else:
        if len(leaf.path) != DIGEST_LEN or len(leaf.value_hash) != DIGEST_LEN:
            raise ProofError(f"proof leaf path and value hash must be {DIGEST_LEN} bytes")
        if not same_prefix(leaf.path, path, len(siblings)):
            raise ProofError("proof leaf is not in the subtree the siblings lead to")
        cur = leaf_hash(suite, leaf.path, leaf.value_hash)
    # The fold is the verifier's whole cost: one hash per level, so keep the loop bare
    # (``H(0x11 ‖ l ‖ r)`` is ``inner_hash``; bit ``depth`` of the path read from an int).
    hash_ = suite.hash
    bits = int.from_bytes(path, "big") >> (PATH_BITS - len(siblings))
    for sibling in reversed(siblings):
        cur = hash_(_INNER_TAG + sibling + cur if bits & 1 else _INNER_TAG + cur + sibling)
        bits >>= 1
    return cur


def verify_proof(suite: Suite, root: bytes, key: str, proof: Proof, value: bytes | None) -> None:
    """Raise ProofError unless ``proof`` shows ``key`` holding ``value`` under ``root``.

    ``value`` is the CE bytes of the record for a proof of presence, ``None`` for a proof of
    absence; a proof of presence never passes as one of absence, nor the reverse.
    """
    path = key_path(suite, key)
    if _fold(suite, path, proof) != root:
        raise ProofError("state proof does not lead to the state root")
    leaf = proof.leaf
    if leaf is None or leaf.path != path:
        if value is not None:
            raise ProofError(f"state proof shows {key!r} absent")
        return
    if value is None:
        raise ProofError(f"state proof shows {key!r} present, not absent")
    if leaf.value_hash != value_hash(suite, value):
        raise ProofError(f"state proof holds another value for {key!r}")
