"""What the vector generator takes from the shared vector files, and the vectors' keys.

Everything else is derived by this repository's code; these inputs cannot be:

- ``merkle.json``'s leaves: 32-byte ids made from inputs no file records;
- the ``prev_hash`` of each certified block, and the ``state_root`` of blocks whose state no
  vector shows (``header_field``): they hash blocks and states the vectors leave out;
- ``sm2-sm3`` signatures (``signature``): SM2 signing is randomised, so a fresh signature
  never equals the recorded one. Each one taken is checked to verify under the key that
  must have made it. Ed25519 signatures are deterministic and are made afresh.

The one valid signature the files hold only in altered form, transaction 2's in
``inclusion.json``'s "transaction signature altered" case, is recovered by undoing that
alteration (``flip_byte``), and is used only once it verifies.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

from ledger import encoding, jsonform, tags
from ledger.block import commit_vote_bytes
from ledger.crypto import Suite

# SM2 curve order n: a secret scalar lies in [1, n − 2].
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
# Where the vectors alter a signature: byte 5, lowest bit.
ALTERED_BYTE = 5
ALTERED_CASE = "transaction signature altered"


def secret_of(suite: Suite, label: str) -> bytes:
    """The vectors' secret key for ``label``: ``sha256(label)``, reduced into the SM2 range."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    if suite.name == "sm2-sm3":
        return (int.from_bytes(digest, "big") % (_SM2_N - 2) + 1).to_bytes(32, "big")
    return digest


def flip_byte(sig: bytes, at: int = ALTERED_BYTE) -> bytes:
    """``sig`` with the lowest bit of byte ``at`` flipped (its own inverse)."""
    return sig[:at] + bytes([sig[at] ^ 1]) + sig[at + 1 :]


class Taken:
    """The shared vector files of ``directory``, read for the inputs listed above."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def file(self, name: str) -> Any:
        """``<name>.json`` with its ``{"$bin"}`` tags turned into bytes."""
        raw = json.loads((self.directory / f"{name}.json").read_text("utf-8"))
        return jsonform.tagged_from_json(raw)

    def merkle_leaves(self, suite: Suite) -> list[bytes]:
        """The longest leaf list of ``suite`` (every case uses a prefix of it)."""
        raw = json.loads((self.directory / "merkle.json").read_text("utf-8"))
        longest = max((c["leaves"] for c in raw if c["suite"] == suite.name), key=len)
        return [bytes.fromhex(x) for x in longest]

    def header_field(self, kind: str, suite: Suite, height: int, field: str) -> bytes:
        """``field`` of the block at ``height`` as the valid cases of ``kind``.json show it
        (every case that shows that block must agree)."""
        found = set()
        for entry in self.file(kind):
            if entry["suite"] != suite.name:
                continue
            for case in entry["cases"]:
                if not case["valid"]:
                    continue
                b = case[kind]
                for h in [b["header"], *(e["header"] for e in b["validator_chain"])]:
                    if h["height"] == height:
                        found.add(h[field])
        if len(found) != 1:
            raise LookupError(f"{kind}.json shows {len(found)} values of {field} at {height}")
        value: bytes = found.pop()
        return value

    def signature(self, suite: Suite, pubkey: bytes, message: bytes, secret: bytes) -> bytes:
        """A signature of ``message`` under ``pubkey``: made afresh for Ed25519, taken (and
        checked) from the files for SM2."""
        if suite.name != "sm2-sm3":
            return suite.sign(secret, message)
        for sig in self._sm2_signatures.get(message, ()):
            if suite.verify(pubkey, message, sig):
                return sig
        raise LookupError("no sm2-sm3 signature of this message in the shared vectors")

    @cached_property
    def _sm2_signatures(self) -> dict[bytes, list[bytes]]:
        """Every signature in the SM2 cases, by the message it should sign."""
        found: dict[bytes, list[bytes]] = {}
        for kind in ("bundle", "inclusion", "multi"):
            for entry in self.file(kind):
                if entry["suite"] != "sm2-sm3":
                    continue
                for case in entry["cases"]:
                    for message, sig in _signed(kind, case):
                        found.setdefault(message, []).append(sig)
        return found


def _signed(kind: str, case: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    b = case[kind]
    out = []
    for qc in [b["qc"], *(e["qc"] for e in b["validator_chain"])]:
        message = commit_vote_bytes(b["chain_id"], qc["height"], qc["view"], qc["block_hash"])
        out += [(message, sig) for _, sig in qc["votes"]]
    if kind == "inclusion":
        tx = encoding.decode(b["tx"])
        sig = flip_byte(tx["sig"]) if case["name"] == ALTERED_CASE else tx["sig"]
        out.append((bytes((tags.TX_SIGN,)) + encoding.encode(tx["body"]), sig))
    return out
