"""A stranger against a live node during a tender: no read path tells a tender with bids from
one without (DOMAIN.md step 4, issue 10).

Two chains are built from the same genesis with the same blocks at the same times, except
that in chain B three enterprises bid on the tender while in chain A the same enterprises
do something else of their own (a data consent) in the same blocks. Guarantees are issued
for them on both chains. Then a stranger (unsigned requests) asks every endpoint of the API
— the list comes from the OpenAPI document, so a new endpoint can't be left out — with every
parameter it could know: the tender, its lot, each enterprise's USCC and key, the slot a
bid of theirs would have if slots were computed from public data (and the real slot, keyed
with the bidder's secret, as if the stranger had learnt it), the guarantee numbers,
every height and every transaction id the blocks list. Hashes, roots, signatures and ids are
masked (they differ between any two chains); everything else must be equal. A supervisor's
signed reads of the same paths must differ (the comparison can see a difference).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from contracts import sealing
from contracts.app import ChainApp
from contracts.registry import default_executor
from ledger import tags
from ledger.block import QC, Block, commit_vote_bytes, quorum
from ledger.genesis import init_store
from ledger.kv import MemoryKV
from ledger.store import BlockStore
from shell.api import build_app, openapi
from shell.chain import Chain
from shell.config import NodeConfig, NodeLimits, SyncConfig
from shell.readers import sign_request
from shell.server import Node
from tests.trading_kit import DEADLINE_MS, Trading

BIDDERS = ("x", "y", "z")
HEX = re.compile(r"^[0-9a-f]{40,}$")


def story(bids: bool, idle: bool = False) -> Trading:
    """``bids``: the enterprises bid; else they grant a consent in those blocks, or with
    ``idle`` those blocks are empty (they do nothing at all)."""
    t = Trading(demo=False)
    t.announce()
    for name in BIDDERS:
        t.entity(name)
    for name in BIDDERS:
        t.issue(f"G-{name}", name)
    for name in BIDDERS:
        who = t.h.account(name)
        if bids:
            t.h.expect_ok(who, "bid.submit", t.bid_args(who, 1_000_000, f"G-{name}"))
        elif idle:
            t.h.run_block([])
        else:
            t.h.expect_ok(who, "consent.grant", {
                "platform": t.platform.pubkey, "dataset": "qualification",
                "scope": ["bidding"], "valid_to_ms": t.h.time_ms + 86_400_000})
    assert t.h.time_ms < DEADLINE_MS
    return t


def replay(t: Trading) -> Chain:
    """The same blocks, certified by the harness's validators, in a real store."""
    kv = MemoryKV()
    store = BlockStore(kv, t.h.suite)
    init_store(store, t.h.doc)
    app = ChainApp(store, store.tree, default_executor(), t.h.suite, t.h.chain_id)
    secrets = {a.pubkey: a.secret for a in t.validator_accounts()}
    for txs, at_ms in t.blocks:
        head = store.head_header()
        height = head.height + 1
        block = app.propose(head, height, 0, height % len(secrets), at_ms, tuple(txs))
        vals = store.validators_at(height)
        block_hash = block.header.hash(t.h.suite)
        msg = commit_vote_bytes(t.h.chain_id, height, 0, block_hash)
        votes = tuple((i, t.h.suite.sign(secrets[vals[i].pubkey], msg))
                      for i in range(quorum(len(vals))))
        app.commit(block, QC(height, 0, block_hash, votes))
    return Chain.open(kv, t.h.doc)


def node_of(chain: Chain, t: Trading, limits: NodeLimits | None = None,
            sync: SyncConfig | None = None) -> Node:
    from pathlib import Path

    config = NodeConfig(index=0, name="v0", key_file=Path("-"), passphrase_env=None,
                        passphrase_file=None, host="127.0.0.1", peer_host="127.0.0.1",
                        http_host="127.0.0.1", peer_port=0, http_port=0, peers=(),
                        data_dir=Path("-"), genesis_file=Path("-"),
                        limits=limits or NodeLimits(requests_per_second=100_000),
                        sync=sync or SyncConfig())
    return Node(config, chain, t.validator_accounts()[0].secret)


def block_at(chain: Chain, height: int) -> Block:
    block = chain.store.block(height)
    assert block is not None, f"no block {height}"
    return block


def mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<hashes>" if k in ("siblings", "votes", "tx_ids")
                    # which receipts are withheld (null) is compared; the hashes are not
                    else [h and "<hash>" for h in v] if k == "receipt_hashes"
                    else "<time>" if k.endswith("time") else mask(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str) and HEX.match(value):
        return "<hex>"
    return value


HTML_HEX = re.compile(r"[0-9a-f]{16,}…?")


def html_mask(text: str) -> str:
    """A page (or script) as text, hashes and ids masked as ``mask`` masks them in JSON."""
    return HTML_HEX.sub("<hex>", text)


def public_slot(t: Trading, uscc: str, tender: str = "T1", lot: int = 1) -> str:
    """The slot a stranger would compute from public data alone (what slots once were)."""
    suite = t.h.suite
    return suite.hd(tags.BID_SLOT, sealing.header(suite, t.h.chain_id, tender, lot, uscc)).hex()


def real_slot(t: Trading, name: str, tender: str = "T1", lot: int = 1) -> str:
    """The slot the contract gives the entity's bid: keyed with its bidder secret."""
    return sealing.slot(t.h.suite, t.h.chain_id, tender, lot, t.uscc_of[name],
                        t.bid_secret(name)).hex()


def paths(t: Trading, chain: Chain) -> list[str]:
    """Every GET a stranger can make with what is public, per endpoint of the OpenAPI."""
    return [target for targets in path_groups(t, chain).values() for target in targets]


def path_groups(t: Trading, chain: Chain) -> dict[str, list[str]]:
    """``paths`` by the OpenAPI path each asks (tests/test_openapi.py checks the answers)."""
    suite, lot = t.h.suite, 1
    keys = ["tender/T1", f"bidset/T1/{lot}", "gov/validators"]
    for name in BIDDERS:
        uscc, pub = t.uscc_of[name], t.h.account(name).pubkey
        keys += [f"bid/T1/{lot}/{public_slot(t, uscc)}", f"bid/T1/{lot}/{real_slot(t, name)}",
                 f"nonce/{pub.hex()}", f"guarantee/G-{name}", f"id/entity/{uscc}",
                 f"id/key/{pub.hex()}", f"bid/T1/guarantee/G-{name}", f"bidder/{uscc}"]
    height = chain.height()
    ids = [i.hex() for h in range(1, height + 1) for i in block_at(chain, h).tx_ids(suite)]
    makers = {
        "/txs/{tx_id}": [f"/txs/{i}" for i in ids],
        "/txs/{tx_id}/inclusion": [f"/txs/{i}/inclusion" for i in ids],
        "/blocks/{height}": [f"/blocks/{h}" for h in range(height + 2)],
        "/headers/{height}": [f"/headers/{h}" for h in range(height + 2)],
        "/state/{key}": [f"/state/{k}" for k in keys],
        "/proof/{key}": [f"/proof/{k}" for k in keys],
        "/proofs": [f"/proofs?key={k}" for k in keys] + ["/proofs?" + "&".join(
            f"key={k}" for k in keys)],
        "/tenders/{tender_id}/slots": ["/tenders/T1/slots?lot=1"],
        "/eligibility/{uscc}": [f"/eligibility/{t.uscc_of[n]}?tender=T1" for n in BIDDERS],
        "/exposure": ["/exposure", "/exposure?region=441500"] + [
            f"/exposure?uscc={t.uscc_of[n]}" for n in BIDDERS],
        "/events": ["/events?from_height=1", "/events?from_height=1&type=bid.*",
                    "/events?from_height=1&tender=T1"] + [
            f"/events?from_height=1&entity={t.uscc_of[n]}" for n in BIDDERS],
        "/events/{cursor}": [f"/events/{h}.{p}.0" for h in range(1, height + 2)
                             for p in range(3)],
        "/events/stream": [],  # endless: tests/test_events_privacy.py compares its frames
        "/status": ["/status"], "/healthz": ["/healthz"], "/openapi.json": ["/openapi.json"],
        "/metrics": [],  # asked last by answers(), values compared (durations masked)
        # The disclosure portal's pages (HTML, compared with hashes masked: html_mask).
        "/portal": ["/portal"],
        "/portal/": ["/portal/", "/portal/?kind=works", "/portal/?region=441500"],
        "/portal/tender/{tender_id}": ["/portal/tender/T1"],
        "/portal/entity": [f"/portal/entity?uscc={t.uscc_of[n]}" for n in BIDDERS],
        "/portal/entity/{uscc}": [f"/portal/entity/{t.uscc_of[n]}" for n in BIDDERS],
        "/portal/exposure": ["/portal/exposure"] + [
            f"/portal/exposure?uscc={t.uscc_of[n]}" for n in BIDDERS],
        "/portal/guarantee": [f"/portal/guarantee?number=G-{n}" for n in BIDDERS],
        "/portal/offline": ["/portal/offline"], "/portal/anchor": ["/portal/anchor"],
        "/portal/static/{name}": ["/portal/static/portal.css"],
        "/portal/js/{name}": ["/portal/js/portal.mjs"],
        "/portal/js/verify/{name}": ["/portal/js/verify/index.mjs"],
        "/portal/sw.js": ["/portal/sw.js"],
    }
    out = {}
    for path, ops in openapi()["paths"].items():
        if "get" not in ops:
            continue
        assert path in makers, f"the privacy suite does not know how to ask {path}: add it"
        out[path] = makers[path]
    return out


async def answers(node: Node, targets: list[str], signer: bytes | None,
                  chain_id: str, t: Trading) -> list[tuple[int, Any]]:
    out = []
    async with TestClient(TestServer(build_app(node, node.guard))) as client:
        for target in targets:
            headers = {} if signer is None else sign_request(t.h.suite, signer, chain_id,
                                                             "GET", target)
            resp = await client.get(target, headers=headers)
            if resp.content_type == "application/json":
                body = mask(await resp.json())
            else:
                body = html_mask(await resp.text())
            out.append((resp.status, body))
        metrics = await (await client.get("/metrics")).text()
        out.append((0, metric_values(metrics)))
    return out


def metric_values(text: str) -> list[str]:
    """The node's metrics, each line with its value: a count that moved with the bids would
    tell them. Only durations (a commit's age, latency histograms) are masked: they differ
    between any two runs."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split(" ")[0].split("{")[0]
        timed = name.endswith("_age_seconds") or "_seconds_" in name
        out.append(f"{name} <duration>" if timed else line)
    return sorted(out)


def test_a_stranger_cannot_tell_a_tender_with_bids_from_one_without() -> None:
    # Each chain is built and asked in turn, so that a count kept by the process (not by a
    # node) that moved with B's bids would show in B's metrics and not in A's.
    ta = story(bids=False)
    chain_a = replay(ta)
    targets_a = paths(ta, chain_a)
    node_a = node_of(chain_a, ta)
    seen_a = asyncio.run(answers(node_a, targets_a, None, ta.h.chain_id, ta))
    tb = story(bids=True)
    assert [len(txs) for txs, _ in ta.blocks] == [len(txs) for txs, _ in tb.blocks]
    chain_b = replay(tb)
    targets_b = paths(tb, chain_b)
    assert len(targets_a) == len(targets_b) > 100
    node_b = node_of(chain_b, tb)
    seen_b = asyncio.run(answers(node_b, targets_b, None, tb.h.chain_id, tb))
    asked = [*targets_a, "/metrics"]  # answers() reads the metrics last
    differ = [(p, a, b) for p, a, b in zip(asked, seen_a, seen_b, strict=True) if a != b]
    assert not differ, f"{len(differ)} answers differ, e.g. {differ[:3]}"
    # The bidders' data is really there: a supervisor's reads do differ.
    sup = ta.supervisor.secret
    sup_a = asyncio.run(answers(node_a, targets_a, sup, ta.h.chain_id, ta))
    sup_b = asyncio.run(answers(node_b, targets_b, sup, tb.h.chain_id, tb))
    assert any(a != b for a, b in zip(sup_a, sup_b, strict=True))
    # A withheld transaction's receipt hash is not listed to a stranger (user walk: hashing
    # receipts guessed from public records matched a refused bid's, naming the bidder); a
    # supervisor gets every one.
    blocks = [i for i, p in enumerate(targets_b)
              if p.startswith("/blocks/") and seen_b[i][0] == 200]
    assert any(None in seen_b[i][1]["receipt_hashes"] for i in blocks)
    assert all(None not in sup_b[i][1]["receipt_hashes"] for i in blocks)
    for node in (node_a, node_b):
        node.admission.close()


def test_against_enterprises_that_did_nothing_their_records_look_the_same() -> None:
    """Chain A0: the enterprises send nothing (empty blocks where B has their bids). Blocks
    then differ in size — public, like every block's size — but nothing a stranger can read
    about the enterprises, their guarantees or the tender may differ: nonces, bid and slot
    records, guarantee records (their binding is sealed), proofs of them."""
    ta, tb = story(bids=False, idle=True), story(bids=True)
    chain_a, chain_b = replay(ta), replay(tb)
    assert chain_a.height() == chain_b.height()
    about = [p for p in paths(ta, chain_a)
             if p.startswith(("/state/", "/proof/", "/proofs", "/tenders/"))]
    assert about == [p for p in paths(tb, chain_b)
                     if p.startswith(("/state/", "/proof/", "/proofs", "/tenders/"))]
    node_a, node_b = node_of(chain_a, ta), node_of(chain_b, tb)
    seen_a = asyncio.run(answers(node_a, about, None, ta.h.chain_id, ta))[:-1]
    seen_b = asyncio.run(answers(node_b, about, None, tb.h.chain_id, tb))[:-1]
    differ = [(p, a, b) for p, a, b in zip(about, seen_a, seen_b, strict=True) if a != b]
    assert not differ, f"{len(differ)} answers differ, e.g. {differ[:3]}"
    for node in (node_a, node_b):
        node.admission.close()


def test_no_state_key_a_stranger_can_derive_moves_with_a_bid_but_the_lots_digest() -> None:
    """At the source, not only at the API: PROTOCOL §6 proofs of absence show a neighbouring
    leaf's path and value hash, so whoever can compute a key's path can watch its value. Of
    every bid-related key a stranger can derive from public data (for each enterprise: the
    slot public data would give, its guarantee's record and binding, its enrolment and its
    key's nonce; the tender, its opening slots and the lot's digest), only the lot's
    live-set digest differs between the twin with bids and the twin where the enterprises did
    nothing: how many times the set changed, not who (reported: the §6 neighbour). Before
    bidder secrets, bindings at opening and one-time agent keys, each bidder's slot, binding
    and nonce showed here."""
    with_bids, without = story(bids=True), story(bids=False, idle=True)
    derivable = ["tender/T1", "tender/T1/slots/1", "bidset/T1/1"]
    for name in BIDDERS:
        uscc, pub = with_bids.uscc_of[name], with_bids.h.account(name).pubkey
        derivable += [f"bid/T1/1/{public_slot(with_bids, uscc)}", f"guarantee/G-{name}",
                      f"bid/T1/guarantee/G-{name}", f"bidder/{uscc}", f"nonce/{pub.hex()}"]
    differ = {k for k in derivable
              if with_bids.h.state.values.get(k) != without.h.state.values.get(k)}
    assert differ == {"bidset/T1/1"}
    # and the bids are there, at slots nobody without the secrets can name
    for name in BIDDERS:
        assert f"bid/T1/1/{real_slot(with_bids, name)}" in with_bids.h.state.values
        assert f"bid/T1/1/{public_slot(with_bids, with_bids.uscc_of[name])}" not in (
            with_bids.h.state.values)


def test_the_slot_list_names_only_live_bids() -> None:
    """``GET /tenders/{id}/slots`` (a supervisor here, the platform after the deadline)
    names what ``bid.open`` must name: the live bids, not a withdrawn one."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from shell.api import build_app
    from shell.readers import sign_request

    t = story(bids=True)
    gone = t.h.account(BIDDERS[0])
    t.h.expect_ok(gone, "bid.withdraw", t.lot_args(gone))
    node = node_of(replay(t), t)
    suite = t.h.suite
    live = sorted(real_slot(t, n) for n in BIDDERS[1:])

    async def ask(target: str = "/tenders/T1/slots?lot=1") -> tuple[int, Any]:
        headers = sign_request(suite, t.supervisor.secret, t.h.chain_id, "GET", target)
        async with TestClient(TestServer(build_app(node, node.guard))) as client:
            resp = await client.get(target, headers=headers)
            return resp.status, await resp.json()

    try:
        status, got = asyncio.run(ask())
        assert status == 200 and sorted(got["slots"]) == live
        # a lot or tender that does not exist is not an empty list (walk report)
        for target, status, reason in (
                ("/tenders/T1/slots?lot=2", 404, "tender 'T1' has no lot 2"),
                ("/tenders/T1/slots?lot=0", 400, "bad lot '0'"),
                ("/tenders/T1/slots?lot=9999999999999999999", 400, "bad lot"),
                ("/tenders/T1/slots?lot=x", 400, "bad lot 'x'"),
                ("/tenders/NOPE/slots", 404, "no tender 'NOPE'")):
            got_status, body = asyncio.run(ask(target))
            assert got_status == status and reason in body["error"], (target, got_status, body)
    finally:
        node.admission.close()
