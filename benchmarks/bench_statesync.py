"""State sync against block sync: the time a new node needs to reach the same head.

    .venv/bin/python benchmarks/bench_statesync.py [--blocks 400] [--txs 50] [--peers 2]
                                                   [--kind attest|nonce]

Set-up (not timed): a chain in a LevelDB store, ``--blocks`` blocks of ``--txs`` signed
transactions each, executed by the contracts, QCs signed by 3 of the 4 demo validators
(``tests/storechain.py``). ``--kind attest``: identity attestations, each adding an entity
and a key binding to the state (the state grows with the history: state sync's worst case);
``--kind nonce``: calls that fail (an unknown method) and so change only their sender's
nonce (a long history over a small state, as a chain of mostly updates).

Timed, each into a new LevelDB store on disk:

1. **block sync** from genesis, without the network: every block's QC verified, every
   transaction's signature checked and the block re-executed (``ChainApp.validate``), then
   committed (one synced batch per block), which is what a replica catching up does with
   each fetched block; the transfer of the blocks is not counted, so this is a lower bound;
2. **state sync** of the head over real encrypted loopback links from ``--peers`` serving
   peers (``SnapshotServer`` over the source store, ``StateSync`` on the joining side):
   offers, the manifest verified from the genesis anchor, every piece checked, the install.

Prints both times, the keys and bytes moved, the ratio, and the load average before and
after (the machine is shared: compare runs made side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus import wire  # noqa: E402
from contracts.app import ChainApp  # noqa: E402
from contracts.registry import default_executor  # noqa: E402
from contracts.scenario_kit import actor_secret, demo_uscc  # noqa: E402
from ledger.block import verify_qc  # noqa: E402
from ledger.genesis import init_store  # noqa: E402
from ledger.kv import LevelKV  # noqa: E402
from ledger.store import BlockStore  # noqa: E402
from ledger.tx import SignedTx, TxBody, sign_tx  # noqa: E402
from shell.config import NodeConfig, PeerAddr, SyncConfig  # noqa: E402
from shell.retention import History  # noqa: E402
from shell.securelink import secure_handshake  # noqa: E402
from shell.statesync import SnapshotServer, StateSync  # noqa: E402
from tests.storechain import StoreChainClient  # noqa: E402

DAY_MS = 86_400_000


def build(directory: Path, blocks: int, per_block: int, kind: str) -> StoreChainClient:
    client = StoreChainClient(kv=LevelKV(str(directory)))
    suite = client.suite
    secret = actor_secret(suite, "attestor")
    nonce = 0
    for _ in range(blocks):
        txs: list[SignedTx] = []
        for _ in range(per_block):
            serial = 10_000 + nonce
            args = {"uscc": demo_uscc(serial), "name": f"entity {serial}",
                    "entity_type": "company", "cert_issuer": "GDCA",
                    "cert_serial": f"B-{serial}", "valid_from_ms": client.time_ms - DAY_MS,
                    "valid_to_ms": client.time_ms + 365 * DAY_MS,
                    "keys": [suite.public_key(actor_secret(suite, f"e{serial}"))]}
            call = "identity.attest" if kind == "attest" else "bench.nothing"
            body = TxBody(client.chain_id, suite.public_key(secret), nonce, call, args)
            txs.append(sign_tx(suite, secret, body))
            nonce += 1
        client.block(tuple(txs))
    return client


def block_sync(source: StoreChainClient, directory: Path) -> float:
    suite = source.suite
    store = BlockStore(LevelKV(str(directory)), suite)
    init_store(store, source.doc)
    app = ChainApp(store, store.tree, default_executor(), suite, source.chain_id)
    started = time.perf_counter()
    for h in range(1, source.store.head()[0] + 1):
        block, qc = source.store.block(h), source.store.qc(h)
        assert block is not None and qc is not None
        verify_qc(suite, qc, block.header, store.validators_at(h))
        reason = app.validate(store.head_header(), block)
        assert reason is None, reason
        app.commit(block, qc, qc_verified=True)
    took = time.perf_counter() - started
    assert store.tree.root == source.store.tree.root
    store.kv.close()
    return took


def _serving(source: StoreChainClient, index: int, server: SnapshotServer,
             ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve(source, index, server, reader, writer)

    return serve


async def _serve(source: StoreChainClient, index: int, server: SnapshotServer,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        stream, _, _ = await secure_handshake(
            reader, writer, source.suite, source.chain_id,
            actor_secret(source.suite, f"v{index}"), index, 5.0)
        sent, received = wire.FrameCounter(), wire.FrameCounter()
        while True:
            frame = wire.decode_frame(await stream.read_frame(1 << 26, 60.0), 1 << 26)
            received.check(frame)
            if frame.kind in (wire.SNAPSHOTS, wire.SNAPSHOT_GET):
                kind, body = server.answer(frame.kind, frame.body)
                stream.write_frame(wire.encode_frame(kind, sent.take(), body))
                await stream.drain()
    except (wire.WireError, ConnectionError, OSError, asyncio.IncompleteReadError,
            asyncio.CancelledError):
        pass
    finally:
        writer.close()


def state_sync(source: StoreChainClient, directory: Path, peers: int) -> tuple[float, int, int]:
    store = source.store

    async def go() -> tuple[float, int, int]:
        servers = []
        addresses = []
        for i in range(peers):
            snap = SnapshotServer(store, History(store, 0), True, 0, 32 << 20, print)
            srv = await asyncio.start_server(_serving(source, i, snap), "127.0.0.1", 0)
            servers.append(srv)
            addresses.append(PeerAddr(i, "127.0.0.1", srv.sockets[0].getsockname()[1]))
        config = NodeConfig(
            index=9, name="bench", key_file=Path("-"), passphrase_env=None,
            passphrase_file=None, host="127.0.0.1", peer_host="127.0.0.1",
            http_host="127.0.0.1", peer_port=0, http_port=0, peers=tuple(addresses),
            data_dir=directory, genesis_file=Path("-"), sync=SyncConfig(state_sync=True))
        sync = StateSync(config, source.doc, actor_secret(source.suite, "bench"),
                         lambda p: LevelKV(str(p)))
        started = time.perf_counter()
        report = await sync.run(directory / "db", lambda m: {})
        took = time.perf_counter() - started
        for srv in servers:
            srv.close()
            await srv.wait_closed()
        assert report is not None and report.height == store.head()[0]
        return took, report.keys, report.bytes

    return asyncio.run(go())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=400)
    ap.add_argument("--txs", type=int, default=50, help="attestations per block")
    ap.add_argument("--peers", type=int, default=2)
    ap.add_argument("--kind", choices=["attest", "nonce"], default="attest")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-statesync-"))
    try:
        load_before = os.getloadavg()
        t = time.perf_counter()
        source = build(work / "source", a.blocks, a.txs, a.kind)
        print(f"built {a.blocks} blocks of {a.txs} transactions ({a.kind}) in "
              f"{time.perf_counter() - t:.1f} s (not timed below)")
        blocks_s = block_sync(source, work / "block-sync")
        print(f"block sync from genesis (no network): {blocks_s:.2f} s "
              f"({a.blocks / blocks_s:.0f} blocks/s, {a.blocks * a.txs / blocks_s:.0f} tx/s)")
        states_s, keys, size = state_sync(source, work / "state-sync", a.peers)
        print(f"state sync of height {a.blocks} over {a.peers} loopback links: {states_s:.2f} s "
              f"({keys} keys, {size / 2**20:.1f} MiB written, {keys / states_s:.0f} keys/s)")
        print(f"ratio block/state: {blocks_s / states_s:.1f}x; load average "
              f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
