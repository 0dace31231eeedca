"""Compact proposals (``shell.proposals``): a proposal travels as header + transaction ids;
the follower rebuilds it from its pool and asks the sender only for what it lacks.

The last tests drive a real node's ``PeerNet`` over an in-memory secure link from a scripted
peer (validator 0 of a two-validator chain): what reaches the node's replica is the very
proposal the peer signed, whether its transactions came from the pool or from the peer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from consensus import messages, wire
from consensus.api import Event, MessageIn
from consensus.messages import PrePrepare
from ledger.block import Block, Header
from ledger.crypto import ED25519_SHA256
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc
from ledger.kv import MemoryKV
from ledger.tx import SignedTx, TxBody, sign_tx
from shell import peers as peers_module
from shell import proposals
from shell.chain import Chain
from shell.config import NodeConfig, NodeLimits
from shell.server import Node
from tests.securelink_kit import Node as LinkSide
from tests.securelink_kit import mem_pipe

SUITE = ED25519_SHA256
CHAIN = "proposals-test"
PEER = bytes(range(40, 72))  # validator 0: the scripted peer
NODE = bytes(range(80, 112))  # validator 1: the node under test
CLIENT = bytes(range(1, 33))


def _txs(n: int, first_nonce: int = 0) -> list[SignedTx]:
    sender = SUITE.public_key(CLIENT)
    return [sign_tx(SUITE, CLIENT, TxBody(CHAIN, sender, first_nonce + i, "bench.noop", {}))
            for i in range(n)]


def _proposal(txs: list[SignedTx]) -> PrePrepare:
    header = Header(chain_id=CHAIN, height=1, prev_hash=bytes(32), time_ms=1, view=0,
                    proposer=0, tx_root=bytes(32), receipts_root=bytes(32),
                    state_root=bytes(32), validators_hash=bytes(32),
                    next_validators_hash=bytes(32))
    return messages.sign(SUITE, PEER, CHAIN, PrePrepare(1, 0, 0, Block(header, tuple(txs))))


# ---- the pure part --------------------------------------------------------------------------

def test_a_compact_proposal_rebuilds_to_the_same_signed_message() -> None:
    pp = _proposal(_txs(50))
    body = proposals.compact(pp, SUITE)
    assert len(wire.encode_frame(wire.PROPOSAL, 0, body)) < len(messages.encode_message(pp)) / 3
    stripped, ids = proposals.parse(body)
    assert stripped.block.txs == () and ids == pp.block.tx_ids(SUITE)
    by_id = {t.tx_id(SUITE): t for t in pp.block.txs}
    again = proposals.rebuild(stripped, [by_id[i] for i in ids])
    assert again == pp and messages.verify(SUITE, CHAIN, SUITE.public_key(PEER), again)
    wire.decode_frame(wire.encode_frame(wire.PROPOSAL, 0, body))  # a valid frame


def test_bad_proposal_frames_and_answers_are_refused() -> None:
    pp = _proposal(_txs(3))
    body = proposals.compact(pp, SUITE)
    with pytest.raises(InvalidInput, match="twice"):
        proposals.parse({**body, "tx_ids": [body["tx_ids"][0]] * 2})  # type: ignore[index]
    with pytest.raises(InvalidInput, match="without txs"):
        proposals.parse({**body, "msg": messages.encode_message(pp)})
    with pytest.raises(wire.WireError):
        wire.decode_frame(wire.encode_frame(wire.GET_TXS, 0, {"ids": [b"short"]}))
    other = _txs(1, first_nonce=7)[0]
    with pytest.raises(InvalidInput, match="not asked for"):
        proposals.accept_answer(SUITE, [pp.block.txs[0].tx_id(SUITE)], [other.encode()])
    with pytest.raises(InvalidInput):
        proposals.accept_answer(SUITE, [], [b"\x00garbage"])


def test_sent_proposals_are_kept_within_their_bound() -> None:
    kept = proposals.SentProposals(max_txs=4)
    txs = _txs(6)
    kept.remember(SUITE, Block(_proposal([]).block.header, tuple(txs)))
    assert len(kept) == 4
    assert kept.get(txs[0].tx_id(SUITE)) is None and kept.get(txs[5].tx_id(SUITE)) == txs[5]


# ---- a node's PeerNet against a scripted peer -----------------------------------------------

def _node() -> Node:
    doc = GenesisDoc.from_json({
        "chain_id": CHAIN, "suite": SUITE.name, "time_ms": time.time_ns() // 1_000_000,
        "validators": [{"name": "v0", "pubkey": SUITE.public_key(PEER).hex()},
                       {"name": "v1", "pubkey": SUITE.public_key(NODE).hex()}],
        "committee": [SUITE.public_key(CLIENT).hex()], "roles": {}, "params": {}})
    config = NodeConfig(index=1, name="v1", key_file=Path("-"), passphrase_env=None,
                        passphrase_file=None, host="127.0.0.1", peer_host="127.0.0.1",
                        http_host="127.0.0.1", peer_port=0, http_port=0, peers=(),
                        data_dir=Path("-"), genesis_file=Path("-"), limits=NodeLimits())
    return Node(config, Chain.open(MemoryKV(), doc), NODE)


async def _exchange(node: Node, pp: PrePrepare, answer: bool
                    ) -> tuple[list[Event], list[wire.Frame]]:
    """The peer links to the node, sends ``pp`` compact and, if ``answer``, answers the
    node's GET_TXS from ``pp``'s transactions. Returns what the node delivered to its
    replica and the frames it sent the peer."""
    delivered: list[Event] = []

    async def deliver(event: Event) -> None:
        delivered.append(event)

    node.peers._deliver = deliver
    ours, theirs = mem_pipe()
    # an in-memory stand-in for the StreamWriter a socket would give (mem_pipe)
    writer: Any = theirs.writer
    run = asyncio.create_task(node.peers._run_link(theirs.reader, writer, None))
    stream, _, _ = await LinkSide(SUITE, PEER, 0, CHAIN).handshake(ours)
    counter = wire.FrameCounter()

    def send(kind: int, body: dict[str, Any]) -> None:
        stream.write_frame(wire.encode_frame(kind, counter.take(), body))

    send(wire.PROPOSAL, proposals.compact(pp, SUITE))
    got: list[wire.Frame] = []
    by_id = {t.tx_id(SUITE): t for t in pp.block.txs}

    async def read() -> None:
        while True:
            frame = wire.decode_frame(await stream.read_frame(1 << 24, 30))
            got.append(frame)
            if frame.kind == wire.GET_TXS and answer:
                send(wire.TXS_FOR, {"txs": [by_id[i].encode() for i in frame.body["ids"]]})

    reader = asyncio.create_task(read())
    deadline = time.monotonic() + 10
    while (not delivered and not node.metrics.value("proposals_incomplete_total")
           and time.monotonic() < deadline):
        await asyncio.sleep(0.05)
    reader.cancel()
    ours.writer.close()
    await asyncio.wait_for(run, 5)
    node.admission.close()
    return delivered, got


def test_a_follower_rebuilds_from_its_pool_and_asks_only_for_what_it_lacks() -> None:
    async def body() -> None:
        node = _node()
        txs = _txs(6)
        await node.admission.submit([t.encode() for t in txs[:4]])  # gossip gave it four
        assert all(node.chain.pool.get(t.tx_id(SUITE)) is not None for t in txs[:4])
        pp = _proposal(txs)
        delivered, frames = await _exchange(node, pp, answer=True)
        asks = [f.body["ids"] for f in frames if f.kind == wire.GET_TXS]
        assert asks == [[t.tx_id(SUITE) for t in txs[4:]]]
        (event,) = delivered
        assert isinstance(event, MessageIn) and event.message == pp
        # the four from the pool are the pool's own objects: not decoded again
        assert all(a is node.chain.pool.get(a.tx_id(SUITE))
                   for a in event.message.block.txs[:4])
        assert node.metrics.value("proposal_txs_missing_total") == 2

    asyncio.run(body())


def test_a_proposal_whose_transactions_never_come_is_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers_module, "MISSING_TXS_WAIT_S", 0.3)

    async def body() -> None:
        node = _node()
        delivered, frames = await _exchange(node, _proposal(_txs(3)), answer=False)
        assert delivered == [] and any(f.kind == wire.GET_TXS for f in frames)
        assert node.metrics.value("proposals_incomplete_total") == 1

    asyncio.run(body())
