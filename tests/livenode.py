"""A live node for CLI tests: ``serve(doc, secret)`` runs a one-validator node of ``doc``'s
chain (real replica, store, contracts, HTTP on a free loopback port) in its own thread and
yields its URL; the node stops cleanly when the block ends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ledger.genesis import GenesisDoc
from tests.test_api import one_validator_node


@contextmanager
def serve(doc: GenesisDoc, validator_secret: bytes) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    stop = asyncio.Event()

    async def run() -> None:
        n = one_validator_node(doc, validator_secret)
        await n.start()
        ready["url"] = f"http://127.0.0.1:{n.http_port()}"
        await stop.wait()
        await n.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while "url" not in ready and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "url" in ready, "node did not start"
    try:
        yield str(ready["url"])
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
