"""Compact proposals: a proposed block travels as its header and transaction ids.

Followers already hold a proposal's transactions, decoded, hashed and verified, in their
pools: the leader took them from its pool, and admission gossiped them to every peer when
they arrived. So a ``PrePrepare`` or ``NewView`` goes out as a PROPOSAL frame (``consensus.wire``):
the message encoded with an empty transaction list, and the ids of the block's transactions
in order. The receiver rebuilds the block from its pool (``TxPool.get`` by id: no decoding,
no hashing) and asks the sender (GET_TXS) only for the ids it lacks; the sender answers from
the proposals it sent (``SentProposals``) or its pool (TXS_FOR). The rebuilt block is the
same block: its hash is its header's, which the message signature covers, and whether the
transactions are the header's (``tx_root``) is checked by re-execution as for any proposal.
A wrong or missing answer only loses the proposal (the view changes as for a silent
leader); nothing received is trusted.

Pure: no I/O. ``shell.peers`` moves the frames.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from consensus.messages import Message, NewView, PrePrepare, decode_message, encode_message
from ledger.block import Block
from ledger.crypto import Suite
from ledger.errors import InvalidInput
from ledger.tx import SignedTx

SENT_KEPT_TXS = 40_000  # transactions of our recent proposals kept to answer GET_TXS


def is_proposal(message: Message) -> bool:
    """A message whose block goes compact: a proposal carrying transactions."""
    return isinstance(message, PrePrepare | NewView) and bool(message.block.txs)


def compact(message: PrePrepare | NewView, suite: Suite) -> dict[str, object]:
    """The PROPOSAL frame body for ``message``."""
    stripped = _with_txs(message, ())
    return {"msg": encode_message(stripped), "tx_ids": message.block.tx_ids(suite)}


def parse(body: dict[str, object]) -> tuple[PrePrepare | NewView, list[bytes]]:
    """The stripped message and the ids a PROPOSAL frame names; refuses anything else."""
    message = decode_message(body["msg"])  # type: ignore[arg-type]
    if not isinstance(message, PrePrepare | NewView) or message.block.txs:
        raise InvalidInput("a proposal frame carries a pre-prepare or new view without txs")
    ids = list(body["tx_ids"])  # type: ignore[call-overload]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a proposal frame names a transaction twice")
    return message, ids


def rebuild(stripped: PrePrepare | NewView, txs: Sequence[SignedTx]) -> PrePrepare | NewView:
    return _with_txs(stripped, tuple(txs))


def lookup(ids: Sequence[bytes], sources: Iterable[Callable[[bytes], SignedTx | None]]
           ) -> list[SignedTx | None]:
    """Each id's transaction from the first source that has it, or None."""
    found: list[SignedTx | None] = [None] * len(ids)
    for source in sources:
        for i, tx_id in enumerate(ids):
            if found[i] is None:
                found[i] = source(tx_id)
    return found


def accept_answer(suite: Suite, wanted: Iterable[bytes], answer: Sequence[bytes]
                  ) -> dict[bytes, SignedTx]:
    """The transactions of a TXS_FOR answer that are ones we asked for, by id (strictly
    decoded, hashed here: an answer is untrusted). Signatures are verified later, with the
    whole block (``Admission.verify_block``)."""
    asked = set(wanted)
    out: dict[bytes, SignedTx] = {}
    for raw in answer:
        tx = SignedTx.decode(raw)
        tx_id = tx.tx_id(suite)
        if tx_id not in asked:
            raise InvalidInput("a TXS_FOR answer holds a transaction that was not asked for")
        out[tx_id] = tx
    return out


class SentProposals:
    """The transactions of the proposals we sent recently, by id: what a follower missing
    some asks for (they may have left our pool for an uncommitted block). Bounded."""

    def __init__(self, max_txs: int = SENT_KEPT_TXS) -> None:
        self._max = max_txs
        self._txs: OrderedDict[bytes, SignedTx] = OrderedDict()

    def __len__(self) -> int:
        return len(self._txs)

    def remember(self, suite: Suite, block: Block) -> None:
        for tx in block.txs:
            tx_id = tx.tx_id(suite)
            self._txs[tx_id] = tx
            self._txs.move_to_end(tx_id)
        while len(self._txs) > self._max:
            self._txs.popitem(last=False)

    def get(self, tx_id: bytes) -> SignedTx | None:
        return self._txs.get(tx_id)


def _with_txs(message: PrePrepare | NewView, txs: tuple[SignedTx, ...]) -> PrePrepare | NewView:
    from dataclasses import replace

    return replace(message, block=Block(message.block.header, txs))
