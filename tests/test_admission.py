"""Admission (``shell.admission``) on its own: a one-validator node whose replica is not
started, so what is admitted stays in the pool."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ledger.block import QC, commit_vote_bytes
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.admission import VERIFY_THREAD_NAME
from tests.test_api import CHAIN, CLIENT, SUITE, VALIDATOR, make_node, tx


def test_a_copy_of_a_pooled_transaction_is_refused_as_a_duplicate_without_decoding(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        n = make_node()
        try:
            good = tx(0)
            first = await n.admission.submit([good.encode()], from_peer=True)
            assert first[0].accepted
            decoded: list[bytes] = []
            decode = SignedTx.decode

            def counting(cls: type[SignedTx], data: bytes) -> SignedTx:
                decoded.append(data)
                return decode(data)

            monkeypatch.setattr(SignedTx, "decode", classmethod(counting))
            # the same body under another signature is the same transaction (same id)
            resigned = SignedTx(good.body, bytes(64)).encode()
            for from_peer in (True, False):
                again = await n.admission.submit([good.encode(), resigned], from_peer)
                assert [(r.accepted, r.reason, r.tx_id) for r in again] == [
                    (False, "duplicate", good.tx_id(SUITE).hex())] * 2
            assert decoded == []
            assert len(n.chain.pool) == 1
            # anything else is still decoded, and keeps the id read off its bytes
            later = await n.admission.submit([tx(1).encode()], from_peer=True)
            assert later[0].accepted and later[0].tx_id == tx(1).tx_id(SUITE).hex()
            assert len(decoded) == 1
        finally:
            n.admission.close()

    asyncio.run(main())


def test_signatures_are_verified_on_threads_named_verify() -> None:
    """The kernel's name of each verification thread is ``VERIFY_THREAD_NAME``: operators see
    it in ``top -H``, and the cluster benchmark tells their CPU from the main thread's and
    LevelDB's by it (``benchmarks/bench_cluster.py``)."""
    async def main() -> None:
        n = make_node()
        try:
            assert (await n.admission.submit([tx(0).encode()], from_peer=True))[0].accepted
            loop = asyncio.get_running_loop()
            tid = await loop.run_in_executor(n.admission._threads, threading.get_native_id)
            assert tid != threading.get_native_id()
            with open(f"/proc/self/task/{tid}/comm") as comm:
                assert comm.read().strip() == VERIFY_THREAD_NAME == "verify"
        finally:
            n.admission.close()

    asyncio.run(main())


def test_a_key_the_chain_learns_in_a_block_is_a_known_sender_right_after_it() -> None:
    """One sender check serves every batch until the head moves (``_known_senders``): a key
    refused as unknown, then made a validator by the block just committed, is admitted in
    the next batch; a stranger stays refused."""
    async def main() -> None:
        n = make_node()
        try:
            newcomer, stranger = bytes(range(40, 72)), bytes(range(50, 82))
            first = await n.admission.submit([tx(0, secret=newcomer).encode()], from_peer=True)
            assert (first[0].accepted, first[0].reason) == (False, "unknown_sender")
            payload = {"name": "v1", "pubkey": SUITE.public_key(newcomer)}
            add = sign_tx(SUITE, CLIENT, TxBody(CHAIN, SUITE.public_key(CLIENT), 0,
                                                "gov.propose",
                                                {"action": "add_validator", "payload": payload}))
            chain = n.chain
            head = chain.store.head_header()
            block = chain.app.propose(head, head.height + 1, 0, 0, head.time_ms + 1000, (add,))
            block_hash = block.header.hash(SUITE)
            vote = SUITE.sign(VALIDATOR, commit_vote_bytes(CHAIN, block.header.height, 0,
                                                           block_hash))
            receipts = chain.commit(block, QC(block.header.height, 0, block_hash, ((0, vote),)))
            assert receipts[0].ok, receipts[0].message
            later = await n.admission.submit(
                [tx(0, secret=newcomer).encode(), tx(0, secret=stranger).encode()],
                from_peer=True)
            assert [(r.accepted, r.reason) for r in later] == [(True, ""),
                                                                (False, "unknown_sender")]
        finally:
            n.admission.close()

    asyncio.run(main())
