"""The bidder's side of a sealed bid: everything a bidder's tool computes off chain.

``seal_bid`` turns a bid file and a price summary into the arguments of ``bid.submit`` (or
``bid.replace``): it draws a fresh content key and nonce, pads the summary to the fixed
4,096-byte plaintext of ``contracts.sealing`` (so every sealed summary has one length,
whatever the price) and encrypts it under the suite's AEAD with the commitment header as
associated data, hashes the (already encrypted) bid file, and builds the commitment. The
bidder keeps the returned ``SealedBid`` (above all ``content_key``) until the opening, then
sends ``reveal_args`` in the decryption window. An entity enrols once (``enrol_args`` of a
``new_bid_secret``) and seals every bid with that secret; ``agent_tx`` sends a sealed call
from a one-time agent key, as ``contracts.agents`` requires.

Randomness lives here, never in contract code: this module runs in the bidder's tool.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import sealing
from contracts.agents import authorisation
from contracts.opening import is_live
from ledger import encoding
from ledger.crypto import Suite
from ledger.tx import SignedTx, TxBody, sign_tx


@dataclass(frozen=True)
class SealedBid:
    tender_id: str
    lot: int
    uscc: str
    content_key: bytes
    file_hash: bytes
    sealed_summary: bytes
    commitment: bytes
    summary: bytes
    bid_secret: bytes
    slot: bytes

    def submit_args(self, guarantee: str = "") -> dict[str, Any]:
        """Arguments of ``bid.submit`` / ``bid.replace``."""
        return {
            **self.lot_args(),
            "file_hash": self.file_hash,
            "sealed_summary": self.sealed_summary,
            "commitment": self.commitment,
            "guarantee": guarantee,
        }

    def lot_args(self) -> dict[str, Any]:
        """Arguments of ``bid.withdraw``: the lot and the bidder secret."""
        return {"tender_id": self.tender_id, "lot": self.lot, "bid_secret": self.bid_secret}

    def reveal_args(self) -> dict[str, Any]:
        """Arguments of ``bid.reveal`` (send only inside the decryption window; no secret:
        the contract finds the bid among those named at opening)."""
        return {"tender_id": self.tender_id, "lot": self.lot, "content_key": self.content_key}


def agent_tx(suite: Suite, chain_id: str, entity_secret: bytes, call: str,
             args: Mapping[str, Any], agent_secret: bytes | None = None) -> SignedTx:
    """A sealed bid call (``contracts.agents.AGENT_CALLS``) as the bidder sends it: from a
    fresh one-time agent key (nonce 0), which the entity's key ``entity_secret`` authorises
    for this call, tender and lot. ``agent_secret`` fixes the agent (tests, replays)."""
    agent = agent_secret if agent_secret is not None else suite.generate_secret()
    agent_key = suite.public_key(agent)
    signed_args = {**dict(args), **authorisation(suite, chain_id, entity_secret,
                                                 args["tender_id"], args["lot"], call, agent_key)}
    return sign_tx(suite, agent, TxBody(chain_id, agent_key, 0, call, signed_args))


def new_bid_secret() -> bytes:
    """A fresh bidder secret: keep it with the entity's keys, every bid call names it."""
    return os.urandom(sealing.BID_SECRET_LEN)


def enrol_args(suite: Suite, bid_secret: bytes) -> dict[str, Any]:
    """Arguments of ``bid.enrol`` for a bidder secret."""
    return {"commitment": sealing.secret_commitment(suite, bid_secret)}


def seal_bid(
    suite: Suite,
    chain_id: str,
    tender_id: str,
    lot: int,
    uscc: str,
    bid_file: bytes,
    price_fen: int,
    bid_secret: bytes,
    extra: Mapping[str, Any] | None = None,
    content_key: bytes | None = None,
    nonce: bytes | None = None,
) -> SealedBid:
    """Seal a bid. ``bid_file`` is the encrypted bid file as uploaded to the platform;
    ``bid_secret`` the entity's enrolled bidder secret (``bid.enrol``), which keys the bid's
    slot (``slot`` in the result). The summary (``price_fen``, the file's hash, ``extra``
    fields) must encode to at most ``sealing.MAX_SUMMARY_BYTES`` (4,094: the padded
    plaintext is 4 KiB). ``summary`` in the result is that encoding, unpadded (what
    ``bid.reveal`` records on chain)."""
    if price_fen < 0:
        raise ValueError("a price is a non-negative number of fen")
    spec = sealing.aead_spec(suite)
    key = content_key if content_key is not None else os.urandom(spec.key_len)
    nonce = nonce if nonce is not None else os.urandom(spec.nonce_len)
    file_hash = suite.hash(bid_file)
    summary = encoding.encode({**dict(extra or {}), "price_fen": price_fen, "file_hash": file_hash})
    aad = sealing.header(suite, chain_id, tender_id, lot, uscc)
    sealed = sealing.seal(suite, key, nonce, summary, aad)
    commitment = sealing.commitment(suite, chain_id, tender_id, lot, uscc, file_hash, sealed)
    slot = sealing.slot(suite, chain_id, tender_id, lot, uscc, bid_secret)
    return SealedBid(tender_id, lot, uscc, key, file_hash, sealed, commitment, summary,
                     bid_secret, slot)


def open_slots(state_values: Mapping[str, bytes], tender_id: str, lots: int) -> list[list[bytes]]:
    """The live slots per lot, as the platform names them in ``bid.open`` (read from a plain
    key → CE-bytes view of the state; a node reads the same keys from its state tree)."""
    out: list[list[bytes]] = [[] for _ in range(lots)]
    prefix = f"bid/{tender_id}/"
    for key, raw in sorted(state_values.items()):
        if not key.startswith(prefix):
            continue
        if is_live(encoding.decode(raw)):
            lot_text, slot = key[len(prefix) :].split("/")
            if 1 <= int(lot_text) <= lots:
                out[int(lot_text) - 1].append(bytes.fromhex(slot))
    return out
