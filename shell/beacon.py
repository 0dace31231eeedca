"""A validator's part in the draw beacon: it commits to and reveals its value by itself.

``contracts.beacon`` decides what a validator owes (``beacon_actions``: a pure function of
the head state, the same answer until it is committed); this duty asks after every commit
and on a timer (a window also ends by time alone on a chain that writes few blocks), signs
each owed ``beacon.commit`` / ``beacon.reveal`` with the node's validator key and admits it
like any transaction (verified, pooled, gossiped). A call already submitted and still
pending is not sent again. Nonces follow what this node submitted, falling back to the
committed nonce whenever nothing of its own is pending (a transaction lost from the pool is
then sent again with a fresh nonce).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.beacon import beacon_actions
from contracts.state import Overlay
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.admission import TxResult
from shell.chain import Chain

log = logging.getLogger("credchain.beacon")

Submit = Callable[[list[bytes]], Awaitable[list[TxResult]]]


class BeaconDuty:
    def __init__(self, chain: Chain, secret: bytes, submit: Submit) -> None:
        self.chain = chain
        self._secret = secret
        self.pubkey = chain.suite.public_key(secret)
        self._submit = submit
        self._pending: dict[tuple[str, str], bytes] = {}  # (call, request id) -> tx id
        self._next_nonce = 0
        self.sent = 0

    def _forget_settled(self) -> None:
        for owed, tx_id in list(self._pending.items()):
            if tx_id not in self.chain.pool:
                del self._pending[owed]

    def owed(self) -> list[tuple[str, dict[str, Any]]]:
        head = self.chain.store.head_header()
        view = Overlay(self.chain.head_state())
        return beacon_actions(view.get, self.chain.chain_id, self.chain.suite, self.pubkey,
                              self._secret, head.height, head.time_ms)

    async def run_once(self) -> int:
        """Submit what is owed and not already pending; returns how many were admitted."""
        self._forget_settled()
        todo = [(call, args) for call, args in self.owed()
                if (call, str(args["id"])) not in self._pending]
        if not todo:
            return 0
        committed = self.chain.committed_nonce(self.pubkey)
        if not self._pending or self._next_nonce < committed:
            self._next_nonce = committed
        txs: list[tuple[tuple[str, str], SignedTx]] = []
        for call, args in todo:
            body = TxBody(self.chain.chain_id, self.pubkey, self._next_nonce, call, args)
            txs.append(((call, str(args["id"])), sign_tx(self.chain.suite, self._secret, body)))
            self._next_nonce += 1
        results = await self._submit([tx.encode() for _, tx in txs])
        admitted = 0
        for (owed, tx), result in zip(txs, results, strict=True):
            if result.accepted:
                self._pending[owed] = tx.tx_id(self.chain.suite)
                admitted += 1
            else:
                log.warning("beacon %s for request %s refused: %s", owed[0], owed[1],
                            result.reason)
        if admitted < len(txs):
            self._next_nonce = committed  # start again from what the chain says
        self.sent += admitted
        return admitted
