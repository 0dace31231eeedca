"""Admission (``shell.admission``) on its own: a one-validator node whose replica is not
started, so what is admitted stays in the pool."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ledger.tx import SignedTx
from shell.admission import VERIFY_THREAD_NAME
from tests.test_api import SUITE, make_node, tx


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
