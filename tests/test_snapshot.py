"""State snapshots (``ledger.snapshot``): a store rebuilt from a certified height answers as
the archive store it came from, and every piece a peer could falsify is refused.

The pieces go from one store to another through the functions a node uses on each side
(``build_manifest`` / ``verify_manifest``, ``export_pieces`` / ``TreeImport.accept``,
``install``), with no network in between: ``shell.statesync`` only moves these bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.app import ChainApp
from contracts.registry import default_executor
from ledger import encoding, schema
from ledger.bundle import build_bundle, verify_bundle
from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.errors import CorruptStore, HistoryPruned, ProofError
from ledger.genesis import Anchor, default_state, export_anchor, genesis_block
from ledger.kv import MemoryKV
from ledger.snapshot import (
    TreeImport,
    build_manifest,
    ensure_path_index,
    export_pieces,
    install,
    verify_manifest,
    walk_chunk,
)
from ledger.store import BlockStore
from tests.chainkit import Chain
from tests.snapshotkit import state_sync
from tests.storechain import StoreChainClient


@pytest.fixture(scope="module")
def story() -> StoreChainClient:
    client = StoreChainClient()
    client.story()
    return client


def head_keys(store: BlockStore) -> list[str]:
    return [k[len(schema.STATE_HEAD):].decode() for k, _ in store.kv.scan(schema.STATE_HEAD)]


def test_a_store_started_from_a_snapshot_answers_as_the_archive_store(
        story: StoreChainClient) -> None:
    source = story.store
    height = source.head()[0]
    synced = state_sync(source, story.doc, height)
    assert synced.head() == source.head() and synced.base == height
    assert synced.tree.root == source.tree.root == source.head_header().state_root
    keys = head_keys(source)
    assert len(keys) > 100 and head_keys(synced) == keys
    for key in [*keys, "identity/absent", "nonce/00"]:
        assert synced.state_value(key) == source.state_value(key), key
        assert synced.tree.prove(key) == source.tree.prove(key), key
    anchor = story.anchor()
    for key in keys[:20]:
        got = verify_bundle(build_bundle(synced, synced.tree, key), anchor)
        assert got.value == source.state_value(key)
    assert synced.block(height) == source.block(height)
    assert synced.receipts(height) == source.receipts(height)
    assert synced.header(0) == source.header(0)


def test_history_below_the_snapshot_is_refused_by_name_never_read_as_absent(
        story: StoreChainClient) -> None:
    source = story.store
    height = source.head()[0] - 10
    synced = state_sync(source, story.doc, height)
    for read in (synced.block, synced.header, synced.qc, synced.receipts, synced.state_root_at,
                 synced.validators_at):
        with pytest.raises(HistoryPruned) as refused:
            read(height - 1)
        assert refused.value.oldest == height and f"({height})" in str(refused.value)
    with pytest.raises(HistoryPruned):
        build_bundle(synced, synced.tree, head_keys(source)[0], height - 1)
    with pytest.raises(HistoryPruned):
        synced.state_root_at(0)  # genesis' header is held, its state is not
    assert synced.header(0) is not None and synced.header(height) is not None
    assert synced.block(height + 1) is None  # beyond the head: absent as before


def test_a_snapshot_started_store_commits_the_blocks_after_it(story: StoreChainClient) -> None:
    """A snapshot a few blocks back; the blocks after it are re-executed and committed on
    the new store as a replica catching up does, to the same roots."""
    source = story.store
    head = source.head()[0]
    height = head - 15
    synced = state_sync(source, story.doc, height)
    app = ChainApp(synced, synced.tree, default_executor(), SUITE, story.chain_id)
    for h in range(height + 1, head + 1):
        block, qc = source.block(h), source.qc(h)
        assert block is not None and qc is not None
        assert app.validate(synced.head_header(), block) is None, h
        app.commit(block, qc)
    assert synced.head() == source.head() and synced.tree.root == source.tree.root
    assert synced.base == height
    reopened = BlockStore(synced.kv, SUITE)  # the records written are the ones it reads
    assert reopened.base == height and reopened.state_value("nonce/x") is None


def test_serving_from_a_snapshot_started_store_and_following_its_validator_changes() -> None:
    """Validator changes below the snapshot height: the certificate chain goes into the new
    store, whose own bundles (and manifests) then verify from the genesis anchor."""
    chain = Chain.new(SUITE, 4)
    keys = {f"demo/k{i}": encoding.encode(i) for i in range(600)}
    chain.extend(keys)
    new_set = (*chain.store.validators_at(2)[1:], chain.add_key("node9"))
    chain.extend({"demo/x": encoding.encode("a")}, next_validators=new_set)
    chain.extend({"demo/y": encoding.encode("b")})
    newer = (*new_set[1:], chain.add_key("node10"))
    chain.extend({"demo/z": None}, next_validators=newer)
    for i in range(4):
        chain.extend({f"demo/k{i}": None, f"demo/more{i}": encoding.encode(i)})
    source = chain.store
    height = source.head()[0] - 1
    synced = state_sync(source, chain.doc, height)
    assert list(synced.validator_change_heights(height)) == [2, 4]
    anchor = export_anchor(source)
    assert export_anchor(synced) == anchor
    for key in ("demo/k5", "demo/k1", "demo/more2"):
        assert verify_bundle(build_bundle(synced, synced.tree, key), anchor).value == (
            source.state_value(key))
    # The new store serves a manifest (and pieces) a third store can start from.
    third = state_sync(synced, chain.doc, synced.head()[0])
    assert third.tree.root == synced.tree.root and third.validators_at(height + 1) == newer


# ---- blocks decided in a view above 0 (leader choice reads them) ---------------------------


LATE = (3, 7, 12, 20)  # heights of ``late_chain`` decided in a view above 0


@pytest.fixture(scope="module")
def late_chain() -> Chain:
    """25 blocks; those at ``LATE`` decided in views 1 or 2; the set changes at height 10,
    so the late blocks below it are certified by another set than those above."""
    chain = Chain.new(SUITE, 4)
    for height in range(1, 26):
        change = None
        if height == 10:
            change = (*chain.store.validators_at(height)[1:], chain.add_key("node8"))
        chain.extend({f"demo/k{height}": encoding.encode(height)}, next_validators=change,
                     view=(height % 2) + 1 if height in LATE else 0)
    return chain


def _late(store: BlockStore) -> list[tuple[int, int, int]]:
    headers = (store.late_entry(h)[0] for h in store.late_heights(1, store.head()[0]))
    return [(h.height, h.view, h.proposer) for h in headers]


def test_a_snapshot_carries_the_blocks_decided_in_a_view_above_0(late_chain: Chain) -> None:
    """A store started at 25 names the late blocks below it as its source does, with their
    headers and QCs (what ``shell.chain.Chain`` hands the replica to choose leaders), and
    serves them on in its own manifests."""
    source = late_chain.store
    assert [h for h, _, _ in _late(source)] == list(LATE)
    synced = state_sync(source, late_chain.doc, 25)
    assert synced.base == 25 and _late(synced) == _late(source)
    for h in LATE:
        assert synced.late_entry(h) == source.late_entry(h)
    late_chain.store = synced  # the chain goes on on the new store: one more late block
    try:
        late_chain.extend({"demo/after": encoding.encode(1)}, view=1)
        third = state_sync(synced, late_chain.doc, 26)
        assert [h for h, _, _ in _late(third)] == [*LATE, 26]
    finally:
        late_chain.store = source


def test_a_snapshot_carries_only_the_late_blocks_leader_choice_reads(
        late_chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Those of the ``LEADER_MEMORY_MAX`` heights below it: with a window of 10, a manifest
    of 25 carries 20 (of 16..24), not 3, 7 or 12."""
    monkeypatch.setattr("ledger.snapshot.LEADER_MEMORY_MAX", 10)
    synced = state_sync(late_chain.store, late_chain.doc, 25)
    assert synced.late_heights(1, 25) == [20]


def test_a_store_older_than_the_late_block_index_gets_it_at_open(late_chain: Chain) -> None:
    kv = MemoryKV()
    batch = kv.batch()
    for key, value in late_chain.store.kv.scan(b""):
        if not key.startswith((schema.LATE_BLOCK, schema.LATE_INDEX_FROM)):
            batch.put(key, value)
    kv.write(batch)
    assert BlockStore(kv, SUITE).late_heights(1, 25) == list(LATE)
    assert kv.get(schema.LATE_INDEX_FROM) is not None


def test_a_damaged_late_block_record_is_a_corrupt_store(late_chain: Chain) -> None:
    """A forged header (another proposer), another height's record, or a header that is not
    the stored block's (a QC copied with it): ``CorruptStore``, never a leader choice."""
    source = late_chain.store
    h7, qc7 = source.late_entry(7)
    forged = h7.with_changes(proposer=(h7.proposer + 1) % 4)
    for height, record, qc in ((7, forged.encoded, None), (7, source.late_entry(3)[0].encoded,
                                                              None),
                               (7, forged.encoded, late_chain.sign_qc(forged).encode())):
        kv = MemoryKV()
        batch = kv.batch()
        for key, value in source.kv.scan(b""):
            batch.put(key, value)
        batch.put(schema.late_block_key(height), record)
        if qc is not None:
            batch.put(schema.qc_key(height), qc)
        kv.write(batch)
        with pytest.raises(CorruptStore, match="decided in a view above 0"):
            BlockStore(kv, SUITE).late_entry(height)


def test_a_manifest_from_a_node_older_than_the_late_blocks_is_read_as_carrying_none(
        late_chain: Chain) -> None:
    """Leaving the field out gives a peer no more than leaving its entries out (a leader
    order that agrees again from view n), so a rolling upgrade can still state-sync."""
    store = late_chain.store
    obj = _manifest_obj(store, 25)
    del obj["late_blocks"]
    manifest = verify_manifest(encoding.encode(obj), export_anchor(store))
    assert manifest.height == 25 and manifest.late == ()


def _late_blocks(o: dict[str, Any]) -> list[dict[str, Any]]:
    return o["late_blocks"]  # type: ignore[no-any-return]


def _with_view_0_block(store: BlockStore) -> Callable[[dict[str, Any]], None]:
    header, qc = store.header(5), store.qc(5)
    assert header is not None and qc is not None
    return lambda o: _late_blocks(o).insert(1, {"header": header.to_obj(), "qc": qc.to_obj()})


@pytest.mark.parametrize("tamper, reason", [
    (lambda o, s: _late_blocks(o)[1].update(
        header={**_late_blocks(o)[1]["header"], "proposer": 0}), "another block"),
    (lambda o, s: _late_blocks(o).reverse(), "out of order"),
    (lambda o, s: _late_blocks(o).append(_late_blocks(o)[0]), "out of order"),
    (lambda o, s: _with_view_0_block(s)(o), "view 0"),
    (lambda o, s: _late_blocks(o)[0].update(qc=_late_blocks(o)[1]["qc"]), "another block"),
    (lambda o, s: _late_blocks(o)[3].update(
        qc={**_late_blocks(o)[3]["qc"], "votes": _late_blocks(o)[3]["qc"]["votes"][:2]}),
     "votes"),
    (lambda o, s: _late_blocks(o)[0].update(extra=1), "malformed"),
])
def test_a_late_block_that_is_not_the_chain_s_is_refused(
        late_chain: Chain, tamper: Callable[[dict[str, Any], BlockStore], None],
        reason: str) -> None:
    """A peer cannot invent, alter, reorder or repeat a late block, nor pass a block decided
    in view 0 as one: each is checked against the QC of its height under that height's set
    (the late block at 3 is certified by the first set, 12 and 20 by the second)."""
    store = late_chain.store
    anchor = export_anchor(store)
    obj = _manifest_obj(store, 25)
    assert [e["header"]["height"] for e in obj["late_blocks"]] == list(LATE)
    tamper(obj, store)
    with pytest.raises(ProofError, match=reason):
        verify_manifest(encoding.encode(obj), anchor)


# ---- a manifest from an untrusted peer --------------------------------------------------


def _manifest_obj(store: BlockStore, height: int) -> dict[str, Any]:
    obj = encoding.decode(build_manifest(store, height), 1 << 26)
    assert isinstance(obj, dict)
    return obj


def _tamper_header(obj: dict[str, Any], **changes: Any) -> None:
    obj["header"] = {**obj["header"], **changes}


@pytest.fixture(scope="module")
def changing() -> Chain:
    chain = Chain.new(SUITE, 4)
    chain.extend({f"demo/k{i}": encoding.encode(i) for i in range(50)})
    chain.extend({"demo/x": encoding.encode(1)},
                 next_validators=(*chain.store.validators_at(2)[1:], chain.add_key("node7")))
    chain.extend({"demo/y": encoding.encode(2)})
    chain.extend({"demo/z": encoding.encode(3)})
    return chain


@pytest.mark.parametrize("tamper, reason", [
    (lambda o: _tamper_header(o, height=o["header"]["height"] + 100), "another block"),
    (lambda o: _tamper_header(o, state_root=b"\x01" * 32), "another block"),
    (lambda o: o.update(qc={**o["qc"], "votes": o["qc"]["votes"][:2]}), "votes"),
    (lambda o: o.update(qc={**o["qc"], "votes": [[i, b"\x00" * 64]
                                                 for i, _ in o["qc"]["votes"]]}), "verif"),
    (lambda o: o.update(validator_chain=[]), "validator"),
    (lambda o: o.update(next_validators=o["validator_chain"][0]["next_validators"][:3]),
     "next_validators"),
    (lambda o: o.update(receipts=[{"tx_id": b"\x00" * 32, "code": "OK", "message": "",
                                   "events": []}]), "receipts"),
    (lambda o: o.update(genesis_hash=b"\x02" * 32), "genesis"),
    (lambda o: o.update(block=b"\x90"), "malformed"),
    (lambda o: o.update(extra=1), "malformed"),
])
def test_a_manifest_that_does_not_verify_is_refused_with_the_reason(
        changing: Chain, tamper: Callable[[dict[str, Any]], None], reason: str) -> None:
    store = changing.store
    anchor = export_anchor(store)
    height = store.head()[0]
    assert verify_manifest(build_manifest(store, height), anchor).height == height
    obj = _manifest_obj(store, height)
    tamper(obj)
    with pytest.raises(ProofError, match=reason):
        verify_manifest(encoding.encode(obj), anchor)


def test_a_manifest_whose_block_is_not_the_certified_header_is_refused(changing: Chain) -> None:
    store = changing.store
    height = store.head()[0]
    obj = _manifest_obj(store, height)
    other = store.block(height - 1)
    assert other is not None
    obj["block"] = other.encode()
    with pytest.raises(ProofError, match="not the certified header"):
        verify_manifest(encoding.encode(obj), export_anchor(store))


def test_a_manifest_for_another_chain_is_refused(changing: Chain) -> None:
    other = Chain.new(SUITE, 4, chain_id="other-chain")
    other.extend({"demo/a": encoding.encode(1)})
    with pytest.raises(ProofError, match="chain id"):
        verify_manifest(build_manifest(other.store, 1), export_anchor(changing.store))


def test_an_oversized_manifest_is_refused_before_it_is_read(changing: Chain) -> None:
    raw = build_manifest(changing.store, changing.store.head()[0])
    with pytest.raises(ProofError, match="malformed"):
        verify_manifest(raw, export_anchor(changing.store), max_bytes=len(raw) - 1)


# ---- tree pieces from an untrusted peer --------------------------------------------------


def _pieces(store: BlockStore, tops: list[bytes]) -> list[Any]:
    return export_pieces(store.kv, store.suite, tops, 1 << 20)


def _first_with_leaves(store: BlockStore) -> tuple[TreeImport, list[bytes], list[Any]]:
    """An import of the head root, advanced to a request whose first piece has leaves."""
    tree = TreeImport(store.suite, MemoryKV(), store.tree.root)
    while True:
        asked = tree.take(1)
        pieces = _pieces(store, asked)
        if pieces[0][1]:
            return tree, asked, pieces
        tree.accept(asked, pieces)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 1,)) + data[at + 1:]


@pytest.mark.parametrize("tamper, reason", [
    (lambda p: [[_flip(p[0][0], 40), p[0][1]]], "fails its hash"),
    (lambda p: [[p[0][0][:-1], p[0][1]]], "state piece"),
    (lambda p: [[p[0][0], [[p[0][1][0][0], p[0][1][0][1] + b"\x00"], *p[0][1][1:]]]],
     "not the one the tree commits to"),
    (lambda p: [[p[0][0], [[p[0][1][0][0] + "x", p[0][1][0][1]], *p[0][1][1:]]]],
     "not at its hint's path"),
    (lambda p: [[p[0][0], p[0][1][1:]]], "leaves for"),
    (lambda p: [[p[0][0], [*p[0][1], p[0][1][0]]]], "leaves for"),
    (lambda p: [[p[0][0], [[b"k", b"v"], *p[0][1][1:]]]], "must be"),
    (lambda p: [p[0], p[0]], "at most"),
    (lambda p: [[p[0][0]]], "must be"),
    (lambda p: {"x": 1}, "must be a list"),
])
def test_a_piece_that_does_not_check_is_refused_and_asked_again(
        story: StoreChainClient, tamper: Callable[[list[Any]], Any], reason: str) -> None:
    source = story.store
    tree, asked, pieces = _first_with_leaves(source)
    in_flight, waiting = tree.in_flight, tree.waiting
    with pytest.raises(ProofError, match=reason):
        tree.accept(asked, tamper(pieces))
    assert tree.in_flight == in_flight - 1 and tree.waiting == waiting + 1
    # The same hashes, from an honest peer, complete the tree.
    while not tree.done:
        ask = tree.take(32)
        tree.accept(ask, _pieces(source, ask))
    assert tree.keys == len(head_keys(source))


def test_a_piece_for_another_hash_is_refused(story: StoreChainClient) -> None:
    source = story.store
    tree = TreeImport(source.suite, MemoryKV(), source.tree.root)
    first = tree.take(1)
    tree.accept(first, _pieces(source, first))
    asked = tree.take(2)
    with pytest.raises(ProofError, match="fails its hash"):
        tree.accept(asked, _pieces(source, asked[::-1]))


def test_a_lone_key_record_is_accepted_only_at_the_root() -> None:
    """A record ``0x10 ‖ INFO`` hashes to a lone key's leaf hash: legitimate for a root that
    holds one key, a foreign layout anywhere else (the key is a hint in its parent)."""
    chain = Chain.new(SUITE, 4, state={"demo/only": encoding.encode(1)})
    store = chain.store
    root = store.tree.root
    record = store.kv.get(schema.state_node_key(root))
    assert record is not None and record[:1] == b"\x10"
    single = TreeImport(SUITE, MemoryKV(), root)
    single.accept(single.take(1), _pieces(store, [root]))
    assert single.done and single.keys == 1
    # The same record offered for a lone key further down a bigger tree.
    below = TreeImport(SUITE, MemoryKV(), b"\x07" * 32)
    below.take(1)
    with pytest.raises(ProofError, match="below the root"):
        below._accept_one(root, [record, [["demo/only", encoding.encode(1)]]])


def test_an_empty_answer_means_not_held_and_changes_nothing(story: StoreChainClient) -> None:
    tree = TreeImport(SUITE, MemoryKV(), story.store.tree.root)
    asked = tree.take(4)
    assert tree.accept(asked, export_pieces(MemoryKV(), SUITE, asked, 1 << 20)) == 0
    assert tree.waiting == 1 and tree.in_flight == 0 and tree.pieces == 0


def test_pieces_are_answered_within_the_byte_budget_but_always_one(
        story: StoreChainClient) -> None:
    source = story.store
    tree = TreeImport(SUITE, MemoryKV(), source.tree.root)
    tree.accept(asked := tree.take(1), _pieces(source, asked))
    asked = tree.take(8)
    assert len(asked) == 8
    assert len(export_pieces(source.kv, SUITE, asked, 1)) == 1
    every = export_pieces(source.kv, SUITE, asked, 1 << 20)
    assert len(every) == 8
    assert tree.accept(asked, every[:3]) == 3 and tree.waiting >= 5


def test_walk_chunk_names_every_key_once(story: StoreChainClient) -> None:
    """The walk over every chunk of the tree finds each head key exactly once."""
    source = story.store
    todo, found = [source.tree.root], []
    while todo:
        top = todo.pop()
        record = source.kv.get(schema.state_node_key(top))
        assert record is not None
        infos, below = walk_chunk(record, top, SUITE)
        found += [info[:32] for info in infos]
        todo += below
    assert len(found) == len(set(found)) == len(head_keys(source))


def test_an_older_store_gets_its_key_by_path_index_from_the_head_values() -> None:
    chain = Chain.new(SUITE, 4)
    chain.extend({f"demo/k{i}": encoding.encode(i) for i in range(20)})
    kv = chain.store.kv
    assert isinstance(kv, MemoryKV)
    batch = kv.batch()
    for key, _ in list(kv.scan(schema.STATE_KEY_BY_PATH)):
        batch.delete(key)
    batch.delete(schema.PATH_INDEX_FROM)
    kv.write(batch)
    store = BlockStore(kv, SUITE)
    assert ensure_path_index(store) == 1
    assert ensure_path_index(store) == 1  # built once
    synced = state_sync(store, chain.doc, 1)
    assert synced.tree.root == store.tree.root


def test_install_needs_the_whole_tree(story: StoreChainClient) -> None:
    source = story.store
    height = source.head()[0]
    manifest = verify_manifest(build_manifest(source, height), story.anchor())
    kv = MemoryKV()
    tree = TreeImport(SUITE, kv, manifest.header.state_root)
    tree.accept(asked := tree.take(1), _pieces(source, asked))
    doc = story.doc
    with pytest.raises(ValueError, match="not complete"):
        install(kv, doc.to_obj(), genesis_block(doc, default_state(doc)), doc.validators,
                manifest, tree)
    assert kv.get(schema.HEAD) is None


def test_the_anchor_of_a_snapshot_started_store_is_the_genesis_anchor(
        story: StoreChainClient) -> None:
    synced = state_sync(story.store, story.doc, story.store.head()[0])
    assert export_anchor(synced) == Anchor.of(SUITE, genesis_block(
        story.doc, default_state(story.doc)).header, story.doc.validators)
