"""State sync over real peer links (``shell.statesync``), against peers that lie.

Each peer here is a real encrypted, authenticated link on loopback served by the real
``SnapshotServer`` over a store that ran the trading story, with a behaviour bolted on: a
fake height, a manifest whose header or QC does not verify, pieces that do not hash, an
answer over the frame limit, silence. The joining side is the real ``StateSync``; every bad
peer must be dropped (and the sync finished from the honest ones) or, with no honest one
left, the sync must give up so the node falls back to block sync from genesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from consensus import durable, wire
from contracts.scenario import actor_secret
from ledger import encoding, schema
from ledger.crypto import ED25519_SHA256
from ledger.errors import InvalidInput
from ledger.kv import LevelKV, MemoryKV
from ledger.snapshot import build_manifest, verify_manifest, walk_chunk
from ledger.store import BlockStore
from shell.chain import Chain
from shell.config import NodeConfig, NodeLimits, PeerAddr, SyncConfig
from shell.retention import History
from shell.securelink import secure_handshake
from shell.statesync import (
    SnapshotServer,
    StateSync,
    SyncReport,
    choose_height,
    owner_if_not_seated,
)
from tests.chainkit import Chain as KitChain
from tests.storechain import StoreChainClient

# A behaviour sees each request and the honest answer, and returns the frame to send
# (kind, body), raw bytes to send as the frame, or None to stay silent.
Behaviour = Callable[[int, dict[str, Any], tuple[int, dict[str, Any]]], Any]


def honest(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    return answer


class Peer:
    """One serving peer on loopback: validator ``index`` of the story's chain."""

    def __init__(self, story: StoreChainClient, index: int, behaviour: Behaviour,
                 serve: bool = True) -> None:
        self.story = story
        self.index = index
        self.secret = actor_secret(story.suite, f"v{index}")
        self.behaviour = behaviour
        store = story.store
        self.server = SnapshotServer(store, History(store, 0), serve, 0, 1 << 20,
                                     lambda reason: None)
        self.port = 0
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        story = self.story
        try:
            stream, _, _ = await secure_handshake(reader, writer, story.suite, story.chain_id,
                                                  self.secret, self.index, 5.0)
            sent, received = wire.FrameCounter(), wire.FrameCounter()
            stream.write_frame(wire.encode_frame(wire.STATUS, sent.take(),
                                                 {"height": story.store.head()[0]}))
            while True:
                frame = wire.decode_frame(await stream.read_frame(1 << 26, 30.0), 1 << 26)
                received.check(frame)
                if frame.kind not in (wire.SNAPSHOTS, wire.SNAPSHOT_GET):
                    continue
                self.requests += 1
                out = self.behaviour(frame.kind, frame.body,
                                     self.server.answer(frame.kind, frame.body))
                if out is None:
                    continue
                if isinstance(out, bytes):  # a body as is, past the encoder's checks
                    data = bytes((wire.SNAPSHOT_PART,)) + sent.take().to_bytes(8, "big") + out
                else:
                    data = wire.encode_frame(out[0], sent.take(), out[1])
                stream.write_frame(data)
                await stream.drain()
        except (wire.WireError, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
def story() -> StoreChainClient:
    client = StoreChainClient()
    client.story()
    return client


def joiner_config(tmp: Path, peers: list[Peer], **sync: Any) -> NodeConfig:
    return NodeConfig(
        index=9, name="joiner", key_file=Path("unused"), passphrase_env=None,
        passphrase_file=None, host="127.0.0.1", peer_host="127.0.0.1", http_host="127.0.0.1",
        peer_port=0, http_port=0,
        peers=tuple(PeerAddr(p.index, "127.0.0.1", p.port) for p in peers),
        data_dir=tmp, genesis_file=Path("unused"),
        limits=NodeLimits(max_frame_bytes=1 << 20),
        sync=replace(SyncConfig(state_sync=True, discovery_ms=2000, request_timeout_ms=1500,
                                pieces_per_request=8), **sync))


@contextlib.asynccontextmanager
async def serving(story: StoreChainClient, *behaviours: Behaviour | None,
                  ) -> AsyncIterator[list[Peer]]:
    """Peers 0, 1, ... with these behaviours (None: a peer that serves no snapshots)."""
    peers = [Peer(story, i, b or honest, serve=b is not None)
             for i, b in enumerate(behaviours)]
    for p in peers:
        await p.start()
    try:
        yield peers
    finally:
        for p in peers:
            await p.close()


def run_sync(story: StoreChainClient, tmp: Path, *behaviours: Behaviour | None,
             **sync: Any) -> tuple[SyncReport | None, list[Peer]]:
    async def go() -> tuple[SyncReport | None, list[Peer]]:
        async with serving(story, *behaviours) as peers:
            config = joiner_config(tmp, peers, **sync)
            secret = actor_secret(story.suite, "joiner")
            state_sync = StateSync(config, story.doc, secret, lambda p: LevelKV(str(p)))
            report = await state_sync.run(tmp / "db", lambda m: {})
            return report, peers

    return asyncio.run(go())


def check_store(story: StoreChainClient, db: Path, height: int) -> None:
    """The synced store opens as a node opens it and answers as the story's store."""
    kv = LevelKV(str(db))
    try:
        chain = Chain.open(kv, story.doc)
        assert chain.integrity_problem() is None
        assert chain.height() == height and chain.store.base == height
        source = story.store
        assert chain.store.tree.root == source.head_header().state_root
        for key, _ in list(source.kv.scan(b"sk/"))[::7]:
            name = key[3:].decode()
            assert chain.state_value(name) == source.state_value(name)
        assert chain.blocks_from(1, 5, 1 << 20) == []  # below its base: not here to serve
        assert len(chain.blocks_from(height, 5, 1 << 20)) == 1
    finally:
        kv.close()


# ---- behaviours ---------------------------------------------------------------------------


def fake_height(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Offers a height far beyond the chain's and serves a manifest it made up for it."""
    if kind == wire.SNAPSHOTS:
        return wire.SNAPSHOT_OFFER, {"low": 1_000_000, "high": 1_000_000}
    if "height" in body:
        return wire.SNAPSHOT_PART, {"manifest": _forged_manifest(body["height"])}
    return answer


_STORY: list[StoreChainClient] = []


def _forged_manifest(height: int) -> bytes:
    source = _STORY[0].store
    obj = encoding.decode(build_manifest(source, source.head()[0]), 1 << 26)
    assert isinstance(obj, dict)
    obj["header"] = {**obj["header"], "height": height}
    return encoding.encode(obj)


def _tamper_manifest(name: str, change: Callable[[dict[str, Any]], None]) -> Behaviour:
    def behaviour(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
        if kind == wire.SNAPSHOT_GET and "height" in body:
            obj = encoding.decode(answer[1]["manifest"], 1 << 26)
            assert isinstance(obj, dict)
            change(obj)
            return wire.SNAPSHOT_PART, {"manifest": encoding.encode(obj)}
        return answer

    behaviour.__name__ = name
    return behaviour


wrong_header = _tamper_manifest(
    "wrong_header", lambda o: o.update(header={**o["header"], "state_root": b"\x05" * 32}))
bad_qc = _tamper_manifest(
    "bad_qc", lambda o: o.update(qc={**o["qc"], "votes": [[i, b"\x01" * 64]
                                                          for i, _ in o["qc"]["votes"]]}))


def bad_pieces(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Serves the manifest, then chunk records with one byte flipped."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        pieces = [[bytes((p[0][0],)) + bytes((p[0][1] ^ 1,)) + p[0][2:], p[1]]
                  for p in answer[1]["nodes"]]
        return wire.SNAPSHOT_PART, {"nodes": pieces}
    return answer


def swapped_values(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Right records, but every leaf's value replaced."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        pieces = [[p[0], [[k, encoding.encode("forged")] for k, _ in p[1]]]
                  for p in answer[1]["nodes"]]
        return wire.SNAPSHOT_PART, {"nodes": pieces}
    return answer


def oversized(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Answers piece requests with a frame far over the joining node's frame limit."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        return encoding.encode({"nodes": [[b"\x11" * (3 << 20), []]]})
    return answer


def stalls(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Offers and serves the manifest, then never answers a piece request."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        return None
    return answer


def wrong_kind(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Answers piece requests with an offer."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        return wire.SNAPSHOT_OFFER, {"low": 1, "high": 1}
    return answer


def holds_nothing(kind: int, body: dict[str, Any], answer: tuple[int, dict[str, Any]]) -> Any:
    """Offers the head but answers every piece request with nothing."""
    if kind == wire.SNAPSHOT_GET and "nodes" in body:
        return wire.SNAPSHOT_PART, {"nodes": []}
    return answer


# ---- tests --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _story_for_forgeries(story: StoreChainClient) -> None:
    _STORY[:] = [story]


def test_two_honest_peers_give_a_store_that_answers_as_theirs(story: StoreChainClient,
                                                                tmp_path: Path) -> None:
    report, peers = run_sync(story, tmp_path, honest, honest)
    head = story.store.head()[0]
    assert report is not None and report.height == head and report.peers == 2
    assert report.keys == sum(1 for _ in story.store.kv.scan(b"sk/"))
    assert all(p.requests > 2 for p in peers), "both peers served pieces"
    assert not (tmp_path / "db.statesync").exists()
    check_store(story, tmp_path / "db", head)


@pytest.mark.parametrize("liar", [fake_height, wrong_header, bad_qc, bad_pieces,
                                  swapped_values, oversized, stalls, wrong_kind, holds_nothing],
                         ids=lambda b: b.__name__)
def test_a_lying_peer_is_dropped_and_the_honest_one_completes_the_sync(
        story: StoreChainClient, tmp_path: Path, liar: Behaviour,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "credchain.statesync")
    report, _ = run_sync(story, tmp_path, liar, honest)
    assert report is not None and report.height == story.store.head()[0]
    assert "dropped peer" in caplog.text
    check_store(story, tmp_path / "db", report.height)


@pytest.mark.parametrize("liar", [wrong_header, bad_qc, bad_pieces, stalls],
                         ids=lambda b: b.__name__)
def test_when_every_peer_lies_the_sync_gives_up_for_block_sync_from_genesis(
        story: StoreChainClient, tmp_path: Path, liar: Behaviour,
        caplog: pytest.LogCaptureFixture) -> None:
    report, _ = run_sync(story, tmp_path, liar, liar)
    assert report is None
    assert "every snapshot offered failed" in caplog.text
    assert "falling back to block sync from genesis" in caplog.text
    assert not (tmp_path / "db").exists() and not (tmp_path / "db.statesync").exists()


def test_with_no_snapshot_offered_the_sync_falls_back_at_once(
        story: StoreChainClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    report, peers = run_sync(story, tmp_path, None, None)
    assert report is None and all(p.requests == 1 for p in peers)
    assert "no peer offers a snapshot; falling back to block sync from genesis" in caplog.text


def test_with_no_peer_reachable_the_sync_falls_back(
        story: StoreChainClient, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> SyncReport | None:
        async with serving(story, honest) as peers:
            config = joiner_config(tmp_path, peers)
        # The peer has closed its listener: nothing answers at its address.
        sync = StateSync(config, story.doc, actor_secret(story.suite, "j"),
                         lambda p: LevelKV(str(p)))
        return await sync.run(tmp_path / "db", lambda m: {})

    assert asyncio.run(go()) is None
    assert "no peer could be reached" in caplog.text


def test_a_validator_key_gets_no_owner_record_an_observer_key_does(
        story: StoreChainClient) -> None:
    store = story.store
    manifest = verify_manifest(build_manifest(store, store.head()[0]), story.anchor())
    seated = manifest.next_validators[0].pubkey
    assert owner_if_not_seated(seated)(manifest) == {}
    assert owner_if_not_seated(b"\x01" * 32)(manifest) == {durable.OWNER_KEY: b"\x01" * 32}


@pytest.mark.parametrize("offers, height", [
    ([], None),
    ([(0, 0), (0, 0)], None),
    ([(1, 50)], 50),
    ([(1, 50), (1, 48)], 48),
    ([(1, 50), (1, 48), (1, 49)], 49),
    ([(10**6, 10**6), (1, 48)], 10**6),  # two peers that agree on nothing: the highest
    ([(10**6, 10**6), (1, 48), (1, 47)], 47),  # a lone high offer is not believed first
    ([(40, 50), (1, 30)], 50),
])
def test_the_height_chosen_is_the_highest_two_peers_cover(
        offers: list[tuple[int, int]], height: int | None) -> None:
    assert choose_height(offers) == height


def test_the_serving_side_offers_only_what_it_keeps(story: StoreChainClient) -> None:
    store = story.store
    head = store.head()[0]
    assert SnapshotServer(store, History(store, 0), True, 0, 1 << 20,
                          print).offer() == (1, head)
    assert SnapshotServer(store, History(store, 10), True, 0, 1 << 20,
                          print).offer() == (head - 9, head)
    assert SnapshotServer(store, History(store, 0), True, head - 3, 1 << 20,
                          print).offer() == (head - 3, head)
    assert SnapshotServer(store, History(store, 0), False, 0, 1 << 20,
                          print).offer() == (0, 0)
    empty = BlockStore(MemoryKV(), story.suite)
    assert SnapshotServer(empty, History(empty, 0), True, 0, 1 << 20, print).offer() == (0, 0)
    server = SnapshotServer(store, History(store, 10), True, 0, 1 << 20, print)
    kind, body = server.answer(wire.SNAPSHOT_GET, {"height": head - 20, "max_bytes": 1 << 20})
    assert kind == wire.SNAPSHOT_PART and body == {"manifest": b""}  # outside the offer
    small = SnapshotServer(store, History(store, 0), True, 0, 1 << 10, print)
    assert small.answer(wire.SNAPSHOT_GET, {"height": head, "max_bytes": 1 << 20})[1] == {
        "manifest": b""}  # over its own frame
    assert server.answer(wire.SNAPSHOT_GET, {"height": head, "max_bytes": 1 << 20})[1][
        "manifest"]
    assert server.answer(wire.SNAPSHOT_GET, {"height": head, "max_bytes": 100})[1] == {
        "manifest": b""}  # over the asker's bound
    top = store.tree.root
    assert server.answer(wire.SNAPSHOT_GET, {"nodes": [top], "max_bytes": 1})[1]["nodes"], (
        "always one piece")


def test_a_damaged_record_is_never_served_and_reported_as_a_store_fault() -> None:
    chain = KitChain.new(ED25519_SHA256, 4)
    chain.extend({f"demo/k{i}": encoding.encode(i) for i in range(40)})
    store = chain.store
    key, value = next(iter(store.kv.scan(schema.STATE_VALUE)))
    batch = store.kv.batch()
    batch.put(key, value + b"\x00")
    store.kv.write(batch)
    faults: list[str] = []
    server = SnapshotServer(store, History(store, 0), True, 0, 1 << 20, faults.append)
    todo, answers = [store.tree.root], []
    while todo and not faults:
        kind, body = server.answer(wire.SNAPSHOT_GET, {"nodes": todo[:1], "max_bytes": 1 << 20})
        answers.append(body["nodes"])
        top = todo.pop(0)
        if body["nodes"]:
            todo += walk_chunk(body["nodes"][0][0], top, store.suite)[1]
    assert faults and "fails its hash" in faults[0]
    assert answers[-1] == []  # the piece holding the damaged value was not sent


@pytest.mark.parametrize("kind, body", [
    (wire.SNAPSHOTS, {}),
    (wire.SNAPSHOT_OFFER, {"low": 1, "high": 9}),
    (wire.SNAPSHOT_GET, {"height": 5, "max_bytes": 1000}),
    (wire.SNAPSHOT_GET, {"nodes": [b"\x01" * 32], "max_bytes": 1000}),
    (wire.SNAPSHOT_PART, {"manifest": b""}),
    (wire.SNAPSHOT_PART, {"nodes": [[b"\x11", [["k", b"v"]]]]}),
])
def test_snapshot_frames_round_trip(kind: int, body: dict[str, Any]) -> None:
    frame = wire.decode_frame(wire.encode_frame(kind, 7, body))
    assert (frame.kind, frame.seq, frame.body) == (kind, 7, body)


@pytest.mark.parametrize("kind, body", [
    (wire.SNAPSHOTS, {"x": 1}),
    (wire.SNAPSHOT_OFFER, {"low": 1}),
    (wire.SNAPSHOT_GET, {"height": 0, "max_bytes": 1000}),
    (wire.SNAPSHOT_GET, {"height": 5}),
    (wire.SNAPSHOT_GET, {"nodes": [], "max_bytes": 1000}),
    (wire.SNAPSHOT_GET, {"nodes": [b"\x01" * 31], "max_bytes": 1000}),
    (wire.SNAPSHOT_GET, {"nodes": [b"\x01" * 32] * (wire.MAX_SNAPSHOT_NODES + 1),
                         "max_bytes": 1000}),
    (wire.SNAPSHOT_GET, {"nodes": [b"\x01" * 32], "max_bytes": 0}),
    (wire.SNAPSHOT_PART, {"nodes": [[b"\x11"]]}),
    (wire.SNAPSHOT_PART, {"nodes": [["record", []]]}),
    (wire.SNAPSHOT_PART, {"manifest": "text"}),
])
def test_snapshot_frames_of_the_wrong_shape_are_refused(kind: int, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        wire.decode_frame(wire.encode_frame(kind, 7, body))
