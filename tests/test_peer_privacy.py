"""Between real validator processes, the peer links carry no plaintext: every link of a
4-node network passes through a recording proxy while a transaction with a known marker is
submitted and committed; neither the marker nor any 16-byte run of the transaction's own
encoding appears in what crossed the wire."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from pathlib import Path

import pytest

from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.tx import TxBody, sign_tx
from shell.client import NodeClient
from shell.localnet import LocalNet, init_network, wait_ready
from tests.securelink_kit import Capture, recording_proxy

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(180)]
SENDER = bytes([42]) * 32


def test_peer_traffic_carries_no_plaintext_of_a_submitted_transaction(tmp_path: Path) -> None:
    out = tmp_path / "net"
    init_network(out, 4, SUITE.name, "privacy", clients=0, heartbeat_ms=500,
                 extra_roles={"platform": [SUITE.public_key(SENDER)]})
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    captures: list[Capture] = []
    proxy_port: dict[int, int] = {}
    for i in range(4):  # one recording proxy in front of every node's peer port
        text = (out / f"node{i}.toml").read_text()
        real = int(re.search(r"peer_port = (\d+)", text).group(1))  # type: ignore[union-attr]
        _, port, capture = asyncio.run_coroutine_threadsafe(recording_proxy(real), loop).result()
        proxy_port[real], captures = port, [*captures, capture]
    for i in range(4):  # every node dials the others through their proxies
        path = out / f"node{i}.toml"
        path.write_text(re.sub(r"(\[\[peers\]\][^\[]*?port = )(\d+)",
                               lambda m: m.group(1) + str(proxy_port[int(m.group(2))]),
                               path.read_text()))
    net = LocalNet(out)
    net.start_all()
    try:
        wait_ready(net.urls, 30)
        marker = os.urandom(32).hex()
        client = NodeClient(net.urls[0]).as_key(SUITE, SENDER)
        body = TxBody("privacy", SUITE.public_key(SENDER), 0, "bench.noop",
                      {"marker": marker, "blob": bytes.fromhex(marker)})
        tx = sign_tx(SUITE, SENDER, body)
        done = client.send(tx)
        deadline = time.monotonic() + 20
        while min(NodeClient(u).status()["height"] for u in net.urls) < done.height + 1:
            assert time.monotonic() < deadline, "the network stopped committing"
            time.sleep(0.1)
    finally:
        codes = net.stop_all()
        loop.call_soon_threadsafe(loop.stop)
    assert codes == [0, 0, 0, 0]
    wire = b"".join(c.all() for c in captures)
    assert len(wire) > 10_000, "traffic went through the proxies"
    encoded = tx.encode()
    assert marker.encode() not in wire and bytes.fromhex(marker) not in wire
    runs = {encoded[i:i + 16] for i in range(len(encoded) - 16)}
    assert not any(r in wire for r in runs), "a run of the transaction's bytes crossed in clear"
