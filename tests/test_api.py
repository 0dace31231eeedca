"""The node's HTTP API, in process: a one-validator node (real replica, store, contracts) on a
MemoryKV behind aiohttp's test client. No sockets to peers; the replica commits alone."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consensus.api import ReplicaConfig
from consensus.pool import PoolLimits
from ledger.bundle import from_json, verify_bundle
from ledger.crypto import ED25519_SHA256
from ledger.errors import InvalidInput
from ledger.genesis import GenesisDoc, export_anchor
from ledger.kv import MemoryKV
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.api import build_app
from shell.chain import Chain
from shell.config import ConfigError, NodeConfig, NodeLimits, SyncConfig
from shell.ratelimit import TokenBuckets
from shell.server import Node

SUITE = ED25519_SHA256
CHAIN = "api-test"
VALIDATOR = bytes(range(32))
CLIENT = bytes(range(1, 33))


def make_node(limits: NodeLimits | None = None, pool: PoolLimits | None = None,
              sync: SyncConfig | None = None) -> Node:
    doc = GenesisDoc.from_json(
        {
            "chain_id": CHAIN,
            "suite": SUITE.name,
            "time_ms": time.time_ns() // 1_000_000 - 60_000,
            "validators": [{"name": "v0", "pubkey": SUITE.public_key(VALIDATOR).hex()}],
            "committee": [SUITE.public_key(CLIENT).hex()],
            "roles": {"platform": [SUITE.public_key(bytes(range(2, 34))).hex()]},
            "params": {},
        }
    )
    return one_validator_node(doc, VALIDATOR, limits, pool, sync)


def one_validator_node(
    doc: GenesisDoc, validator_secret: bytes, limits: NodeLimits | None = None,
    pool: PoolLimits | None = None, sync: SyncConfig | None = None,
) -> Node:
    """A node that is the only validator of ``doc``'s chain, on a fresh MemoryKV; no peers,
    no files (the key is given)."""
    chain = Chain.open(MemoryKV(), doc, pool)
    mine = doc.crypto.public_key(validator_secret)
    config = NodeConfig(
        # a validator's config names its place; one not in the set (a test's observer)
        # leaves it out, or its health says "not a validator"
        index=0 if any(v.pubkey == mine for v in chain.validators()) else None,
        name="v0",
        key_file=Path("unused"),
        passphrase_env=None,
        passphrase_file=None,
        host="127.0.0.1",
        peer_host="127.0.0.1",
        http_host="127.0.0.1",
        peer_port=0,
        http_port=0,
        peers=(),
        data_dir=Path("unused"),
        genesis_file=Path("unused"),
        limits=limits or NodeLimits(tick_ms=10),
        replica=ReplicaConfig(empty_block_ticks=20),  # tests wait for block time to pass
        sync=sync or SyncConfig(),
    )
    return Node(config, chain, validator_secret)


@asynccontextmanager
async def running(
    limits: NodeLimits | None = None, sync: SyncConfig | None = None,
) -> AsyncIterator[tuple[Node, TestClient[Any, Any]]]:
    n = make_node(limits, sync=sync)
    n.start_core()
    client = TestClient(TestServer(build_app(n, n.guard)))
    await client.start_server()
    try:
        yield n, client
    finally:
        await client.close()
        for task in n._tasks:
            task.cancel()
        await asyncio.gather(*n._tasks, return_exceptions=True)
        n.admission.close()


def run(body: Callable[..., Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with running(**kw) as (n, client):
            await body(n, client)

    asyncio.run(main())


def tx(nonce: int, call: str = "bench.noop", secret: bytes = CLIENT) -> SignedTx:
    body = TxBody(CHAIN, SUITE.public_key(secret), nonce, call, {"n": nonce})
    return sign_tx(SUITE, secret, body)


def hexes(*txs: SignedTx) -> dict[str, list[str]]:
    return {"txs": [t.encode().hex() for t in txs]}


async def wait_committed(client: TestClient[Any, Any], tx_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        resp = await client.get(f"/txs/{tx_id}")
        got: dict[str, Any] = await resp.json()
        if got["status"] == "committed":
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"{tx_id} not committed within 10 s")


def test_submitted_txs_commit_with_receipts_blocks_and_headers() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        t0, t1 = tx(0), tx(1)
        resp = await client.post("/txs", json=hexes(t0, t1))
        assert resp.status == 202
        out = await resp.json()
        assert out["accepted"] == 2
        ids = [r["tx_id"] for r in out["results"]]
        assert ids == [t0.tx_id(SUITE).hex(), t1.tx_id(SUITE).hex()]
        got = await wait_committed(client, ids[1])
        assert got["receipt"]["tx_id"] == ids[1]
        assert got["receipt"]["code"] != ""
        height = got["height"]
        block = await (await client.get(f"/blocks/{height}")).json()
        assert ids[1] in block["tx_ids"] and "block" not in block  # the public's view
        got_tx = await (await client.get(f"/txs/{ids[1]}")).json()
        assert SignedTx.from_obj(_tx_obj(got_tx["tx"])).tx_id(SUITE).hex() == ids[1]
        header = await (await client.get(f"/headers/{height}")).json()
        assert header["hash"] == block["hash"]
        assert header["qc"]["block_hash"] == block["hash"]
        assert (await client.get("/blocks/999999")).status == 404
        assert (await client.get("/blocks/abc")).status == 400
        # committed: the nonce moved, so a resubmission is refused
        again = await client.post("/txs", json=hexes(t0))
        assert again.status == 400
        reason = (await again.json())["results"][0]["reason"]
        assert reason in ("stale_nonce", "already_committed")
        assert len(n.chain.pool) == 0

    run(body)


def _tx_obj(j: dict[str, Any]) -> dict[str, Any]:
    from ledger import jsonform

    obj: dict[str, Any] = jsonform.from_json(j, jsonform.TX)
    return obj


def test_bad_transactions_get_4xx_with_reasons() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        assert (await client.post("/txs", data=b"not json")).status == 400
        assert (await client.post("/txs", json={"txs": []})).status == 400
        assert (await client.post("/txs", json={"txs": ["zz"]})).status == 400
        good = tx(0)
        forged = SignedTx(tx(1).body, good.sig)
        wrong_chain = sign_tx(
            SUITE, CLIENT, TxBody("other", SUITE.public_key(CLIENT), 0, "bench.noop", {})
        )
        resp = await client.post(
            "/txs",
            json={
                "txs": [
                    "80",
                    forged.encode().hex(),
                    wrong_chain.encode().hex(),
                    good.encode().hex(),
                    good.encode().hex(),
                ]
            },
        )
        assert resp.status == 400
        results = (await resp.json())["results"]
        assert results[0]["reason"].startswith("malformed")
        assert results[1]["reason"] == "bad_signature"
        assert results[2]["reason"] == "wrong_chain_id"
        assert results[3]["accepted"] is True
        assert results[4]["reason"] == "duplicate"
        metrics = await (await client.get("/metrics")).text()
        assert 'credchain_txs_refused_total{reason="bad_signature"} 1' in metrics
        # where a key's nonce stands is told only to whoever signs for the key: unsigned
        # junk naming a pending or far-off nonce learns nothing but "bad signature"
        probes = [SignedTx(tx(nonce, "other.call").body, bytes(64)) for nonce in (0, 10**6)]
        resp = await client.post("/txs", json={"txs": [p.encode().hex() for p in probes]})
        assert [r["reason"] for r in (await resp.json())["results"]] == [
            "bad_signature", "bad_signature"]
        resp = await client.post("/txs", json={"txs": [tx(10**6).encode().hex()]})
        assert [r["reason"] for r in (await resp.json())["results"]] == ["nonce_too_far_ahead"]

    run(body)


def test_request_limits() -> None:
    limits = NodeLimits(tick_ms=10, max_request_bytes=4096, max_txs_per_request=2)

    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        resp = await client.post("/txs", json={"txs": ["00" * 4000]})
        assert resp.status == 413
        assert "4096" in (await resp.json())["error"]  # an error object, not aiohttp's text
        resp = await client.post("/txs", json=hexes(tx(0), tx(1), tx(2)))
        assert resp.status == 413

    run(body, limits=limits)


def test_paths_and_methods_the_api_does_not_have_are_error_objects() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        resp = await client.get("/no/such/path")
        assert resp.status == 404 and await resp.json() == {"error": "Not Found"}
        resp = await client.post("/status")
        assert resp.status == 405 and resp.headers["Allow"] == "GET"
        assert await resp.json() == {"error": "Method Not Allowed"}

    run(body)


def test_a_query_parameter_given_twice_is_refused_unless_it_repeats() -> None:
    """``?height=1&height=2`` answered at height 1 (user walk); only the parameters the API
    describes as repeatable (``/proofs``' ``key``, the event filters) may repeat. An empty
    ``?key=`` names no record."""
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        resp = await client.post("/txs", json=hexes(tx(0)))  # a block: a height to prove at
        await wait_committed(client, (await resp.json())["results"][0]["tx_id"])
        for path, name in (("/proof/param/bid_min_count?height=0&height=0", "height"),
                           ("/proofs?key=a&height=0&height=0", "height"),
                           ("/eligibility/X?tender=T&tender=U", "tender")):
            resp = await client.get(path)
            assert resp.status == 400, path
            assert (await resp.json())["error"] == f"parameter {name!r} given twice", path
        resp = await client.get("/proofs?key=param/bid_min_count&key=param/bid_window_ms")
        assert resp.status == 200
        # a %-escape that is not UTF-8 names no key (user walk: read as "\ufffd", another)
        for path in ("/proofs?key=%FF", "/eligibility/X?tender=%C3", "/events?region=%FF"):
            resp = await client.get(path)
            assert resp.status == 400, path
            assert "not UTF-8" in (await resp.json())["error"], path
        resp = await client.get("/proofs?key=param%2F%E6%A0%87")  # UTF-8 escapes are fine
        assert resp.status == 200, await resp.text()
        resp = await client.get("/proofs?key=param/bid_min_count&key=")
        assert resp.status == 400
        assert (await resp.json())["error"] == "an empty ?key= names no record"
        resp = await client.get("/events?from_height=1&type=tender.*&type=bid.*")
        assert resp.status == 200, await resp.text()

    run(body)


def test_rate_limit() -> None:
    limits = NodeLimits(tick_ms=10, requests_per_second=3)

    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        codes = [(await client.get("/healthz")).status for _ in range(6)]
        assert codes[:3] == [200, 200, 200]
        assert 429 in codes[3:]

    run(body, limits=limits)


def test_status_metrics_health_openapi() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        status = await (await client.get("/status")).json()
        assert status["chain_id"] == CHAIN and status["index"] == 0
        assert {"height", "view", "leader", "peers", "pool_size"} <= set(status)
        assert (await client.get("/healthz")).status == 200
        metrics = await (await client.get("/metrics")).text()
        for name in (
            "credchain_height",
            "credchain_view",
            "credchain_txs_committed_total",
            "credchain_pool_size",
            "credchain_peers",
            "credchain_commit_latency_seconds_bucket",
        ):
            assert name in metrics
        assert f'credchain_chain_info{{chain_id="{CHAIN}",suite="{SUITE.name}"}} 1' in metrics
        assert "credchain_blocks_behind 0" in metrics
        # every sample belongs to a family with its HELP text and TYPE
        helped = {ln.split()[2] for ln in metrics.splitlines() if ln.startswith("# HELP ")}
        typed = {ln.split()[2] for ln in metrics.splitlines() if ln.startswith("# TYPE ")}
        assert helped == typed and all(
            len(ln.split(" ", 3)) == 4 and ln.split(" ", 3)[3].strip()
            for ln in metrics.splitlines() if ln.startswith("# HELP "))
        for line in metrics.splitlines():
            if line and not line.startswith("#"):
                name = line.split("{")[0].split()[0]
                family = next((f for f in (name, name.rsplit("_", 1)[0]) if f in helped), None)
                assert family is not None and family.startswith("credchain_"), line
        doc = await (await client.get("/openapi.json")).json()
        assert doc["openapi"].startswith("3.") and "/proof/{key}" in doc["paths"]

    run(body)


def test_state_read_proof_bundle_and_sealed_keys() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        t0 = tx(0)
        await client.post("/txs", json=hexes(t0))
        await wait_committed(client, t0.tx_id(SUITE).hex())
        key = f"nonce/{SUITE.public_key(CLIENT).hex()}"
        got = await (await client.get(f"/state/{key}")).json()
        assert got["value"] == 1
        assert (await client.get("/state/nonce/absent")).status == 404
        bundle = await (await client.get(f"/proof/{key}")).json()
        anchor = export_anchor(n.chain.store)
        record = verify_bundle(from_json(json.loads(json.dumps(bundle))), anchor)
        assert record.key == key and record.value is not None
        assert (await client.get("/state/bid/T1/1/abcd")).status == 403
        assert (await client.get("/proof/bidset/T1/1")).status == 403
        assert (await client.get(f"/proof/{key}?height=0")).status == 400

    run(body)


def test_config_load_and_refusals(tmp_path: Path) -> None:
    p = tmp_path / "node0.toml"
    p.write_text(
        'index = 0\nname = "n0"\nkey_file = "k"\npassphrase_env = "PW"\npeer_port = 1\n'
        'http_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n'
        '[limits]\ntick_ms = 20\n[[peers]]\nindex = 1\nhost = "127.0.0.1"\nport = 3\n'
    )
    cfg = NodeConfig.load(p)
    assert cfg.limits.tick_ms == 20 and cfg.peers[0].port == 3
    assert cfg.data_dir == (tmp_path / "d").resolve()
    p.write_text(p.read_text().replace("tick_ms = 20", "tick_seconds = 1"))
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['tick_seconds'\] in \[limits\]"):
        NodeConfig.load(p)
    p.write_text(p.read_text().replace("tick_seconds = 1", "tick_ms = 0"))
    with pytest.raises(ConfigError, match=r"limits.tick_ms must be an integer in \[5, 10000\]"):
        NodeConfig.load(p)
    p.write_text(p.read_text().replace("[limits]", "surprise = 1\n[limits]"))
    with pytest.raises(ConfigError, match="unknown setting"):
        NodeConfig.load(p)
    with pytest.raises(InvalidInput, match="cannot read"):
        NodeConfig.load(tmp_path / "missing.toml")


def test_the_event_streams_settings_are_read_and_refused_like_the_others(
        tmp_path: Path) -> None:
    p = tmp_path / "node0.toml"
    head = ('index = 0\nname = "n0"\nkey_file = "k"\npassphrase_env = "PW"\npeer_port = 1\n'
            'http_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n[events]\n')
    p.write_text(head + 'subscribers_max = 10\nreminders = "7d, 2h"\n')
    events = NodeConfig.load(p).events
    assert events.subscribers_max == 10
    assert events.default_offsets_ms == (7 * 86_400_000, 2 * 3_600_000)
    p.write_text(head + 'reminders = "none"\n')
    assert NodeConfig.load(p).events.default_offsets_ms == ()
    for bad, reason in (('reminders = "3 weeks"', "bad duration"),
                        ('reminders = "1d,2d,3d,4d,5d"', "at most 4"),
                        ("reminders = 3", "must be text"),
                        ("heartbeat_ms = 10", r"events.heartbeat_ms must be an integer"),
                        ("subscriber_max = 1", "unknown setting")):
        p.write_text(head + bad + "\n")
        with pytest.raises(ConfigError, match=reason):
            NodeConfig.load(p)


def test_a_setting_that_became_a_chain_parameter_is_refused_with_where_it_went(
        tmp_path: Path) -> None:
    """``leader_memory_heights`` picks leaders, so it left ``[replica]`` for the chain's
    parameters: a config that still sets it is refused with the way to set it now, never
    silently ignored (every validator would have to agree)."""
    p = tmp_path / "node0.toml"
    p.write_text('index = 0\nname = "n0"\nkey_file = "k"\npassphrase_env = "PW"\npeer_port = 1\n'
                 'http_port = 2\ndata_dir = "d"\ngenesis_file = "g.json"\n'
                 "[replica]\nview_timeout_ticks = 40\nleader_memory_heights = 100\n")
    with pytest.raises(ConfigError) as caught:
        NodeConfig.load(p)
    message = str(caught.value)
    assert "replica.leader_memory_heights is no longer a node setting" in message
    assert "gov propose set-param --name leader_memory_heights" in message
    p.write_text(p.read_text().replace("leader_memory_heights = 100\n", ""))
    assert NodeConfig.load(p).replica.view_timeout_ticks == 40


def test_token_buckets_refill_and_count_work() -> None:
    buckets = TokenBuckets(rate_per_s=2)
    assert buckets.take("a", 1, 0.0) and buckets.take("a", 1, 0.0)
    assert not buckets.take("a", 1, 0.0)
    assert buckets.take("b", 1, 0.0)
    assert buckets.take("a", 1, 0.6)
    work = TokenBuckets(rate_per_s=100)
    assert work.take_up_to("c", 5000, 0.0) == 100  # a big batch gets only its budget
    assert work.take_up_to("c", 10, 0.05) == 5


def test_example_config_documents_every_setting_its_default_and_bounds() -> None:
    """configs/node.example.toml names every setting the node reads (a top-level one may be
    commented out, as optional ones are), with each number's default and, in brackets,
    exactly its BOUNDS: a setting added to the code without its documentation fails here."""
    import re
    import tomllib
    from dataclasses import fields

    from shell.config import _TOP_LEVEL, BOUNDS, StreamSettings

    path = Path(__file__).resolve().parents[1] / "configs" / "node.example.toml"
    cfg = NodeConfig.load(path)
    assert cfg.limits == NodeLimits()
    assert cfg.pool == PoolLimits()
    assert cfg.replica == ReplicaConfig()
    assert cfg.sync == SyncConfig()
    assert cfg.events == StreamSettings()  # reminders = "3d,1h" is default_offsets_ms
    assert [p.index for p in cfg.peers] == [1, 2, 3]
    text = path.read_text()
    raw = tomllib.loads(text)
    for name in _TOP_LEVEL:
        assert re.search(rf"^#? ?\[*{name}\b", text, re.M), f"{name} is not documented"
    for section, kind in (("limits", NodeLimits), ("pool", PoolLimits),
                          ("replica", ReplicaConfig), ("events", StreamSettings)):
        names = {f.name for f in fields(kind)} - {"default_offsets_ms"}
        written = set(raw[section]) - {"reminders"}
        assert written == names, (section, names ^ written)
        assert set(BOUNDS[section]) == names, (section, names ^ set(BOUNDS[section]))
        for name in names:
            line = re.search(rf"^{name} = \S+ +# \[(\S+), (\S+)\]", text, re.M)
            assert line, f"{section}.{name} has no [min, max] comment"
            lo, hi = (eval(v.replace("^", "**")) for v in line.groups())  # noqa: S307
            assert (lo, hi) == BOUNDS[section][name], (section, name, (lo, hi))


@pytest.mark.parametrize("suite_name", ["ed25519-sha256", "sm2-sm3"])
def test_decode_tx_primes_the_exact_canonical_body(suite_name: str) -> None:
    from ledger import encoding
    from ledger.crypto import get_suite

    suite = get_suite(suite_name)
    secret = suite.generate_secret()
    for n in (0, 1, 300, 70000):
        body = TxBody(CHAIN, suite.public_key(secret), n, "a.b", {"blob": bytes(n % 500)})
        signed = sign_tx(suite, secret, body)
        got = SignedTx.decode(signed.encode())
        assert got.body.__dict__["encoded"] == encoding.encode(body.to_obj())
        assert got.tx_id(suite) == signed.tx_id(suite) and got == signed
    with pytest.raises(InvalidInput):
        SignedTx.decode(signed.encode() + b"\x00")


def test_blocks_served_for_catch_up_are_bounded_in_bytes() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        for i in range(3):
            t = tx(i)
            await client.post("/txs", json=hexes(t))
            await wait_committed(client, t.tx_id(SUITE).hex())
        head = n.chain.height()
        assert head >= 3
        everything = n.chain.blocks_from(1, 100, 1 << 30)
        assert len(everything) == head
        assert len(n.chain.blocks_from(1, 100, 1)) == 1  # always one, so catch-up progresses
        assert len(n.chain.blocks_from(2, 1, 1 << 30)) == 1
        assert n.chain.blocks_from(head + 1, 10, 1 << 30) == []

    run(body)


def test_clients_get_503_busy_past_the_ready_backlog_and_429_past_their_share() -> None:
    async def body() -> None:
        # No replica running: what is admitted stays in the pool.
        n = make_node(pool=PoolLimits(backlog_txs=4, sender_share_min=2))
        app = build_app(n, n.guard)
        async with TestClient(TestServer(app)) as client:
            first = await client.post("/txs", json=hexes(tx(0), tx(1)))
            assert first.status == 202
            # Past half the backlog a sender holding its share waits; others don't.
            share = await client.post("/txs", json=hexes(tx(2)))
            assert share.status == 429
            assert (await share.json())["results"][0]["reason"] == "sender_busy"
            other = bytes(range(2, 34))
            resp = await client.post("/txs", json=hexes(tx(0, secret=other), tx(1, secret=other)))
            assert resp.status == 202 and n.chain.pool.busy
            busy = await client.post("/txs", json=hexes(tx(5)))
            assert busy.status == 503
            assert (await busy.json())["results"][0]["reason"] == "busy"
        n.admission.close()

    asyncio.run(body())


def test_a_transaction_behind_a_nonce_gap_waits_and_commits_once_the_gap_fills() -> None:
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        later, first = tx(1), tx(0)
        resp = await client.post("/txs", json=hexes(later))
        assert resp.status == 202
        for _ in range(20):  # blocks go by; the gapped transaction is not consumed
            await asyncio.sleep(0.02)
        assert later.tx_id(SUITE) in n.chain.pool
        assert (await (await client.get(f"/txs/{later.tx_id(SUITE).hex()}")).json())[
            "status"
        ] == "pending"
        resp = await client.post("/txs", json=hexes(first))
        assert resp.status == 202
        got_first = await wait_committed(client, first.tx_id(SUITE).hex())
        got_later = await wait_committed(client, later.tx_id(SUITE).hex())
        # Both ran with the right nonce: noop's unknown-call code, never E_NONCE.
        assert got_first["receipt"]["code"] == got_later["receipt"]["code"] == "E_UNKNOWN_CALL"
        assert got_first["height"] <= got_later["height"]

    run(body, limits=NodeLimits(tick_ms=10))


def test_inclusion_and_multi_key_bundles_verify_offline() -> None:
    from ledger import inclusion, multi, verdict

    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        t0 = tx(0)
        await client.post("/txs", json=hexes(t0))
        got = await wait_committed(client, t0.tx_id(SUITE).hex())
        anchor = export_anchor(n.chain.store)
        resp = await client.get(f"/txs/{t0.tx_id(SUITE).hex()}/inclusion")
        assert resp.status == 200
        proved = inclusion.verify_inclusion_bundle(inclusion.from_json(await resp.json()),
                                                   anchor)
        assert proved.header.height == got["height"]
        nonce_key = f"nonce/{SUITE.public_key(CLIENT).hex()}"
        resp = await client.get(f"/proofs?key={nonce_key}&key=param/no_such_param")
        assert resp.status == 200
        v = verdict.verify_any(json.dumps(await resp.json()), anchor)
        assert v.valid and [e.present for e in v.entries] == [True, False]
        assert multi.verify_multi(multi.from_json(await (await client.get(
            f"/proofs?key={nonce_key}")).json()), anchor)
        assert (await client.get("/proofs")).status == 400
        assert (await client.get("/proofs?key=bid/T1/1/ab")).status == 403
        assert (await client.get(f"/txs/{'00' * 32}/inclusion")).status == 404
        # An id of another length names no transaction: refused with the reason, not
        # answered as an unknown transaction under that id.
        for bad in ("ab" * 31, "a" * 300, "00" * 33):
            for route in (f"/txs/{bad}", f"/txs/{bad}/inclusion"):
                resp = await client.get(route)
                assert resp.status == 400, route
                assert "64 hex digits" in (await resp.json())["error"], route
        unknown = await client.get(f"/txs/{'00' * 32}")
        assert unknown.status == 404 and (await unknown.json())["status"] == "unknown"
        block = await (await client.get(f"/blocks/{got['height']}")).json()
        assert t0.tx_id(SUITE).hex() in block["tx_ids"]
        assert len(block["receipt_hashes"]) == len(block["tx_ids"])

    run(body)


def test_a_transaction_waiting_here_is_offered_to_the_peers_again() -> None:
    node = make_node(NodeLimits(regossip_ms=2_000, regossip_max=10))
    offered: list[list[bytes]] = []
    node.peers.gossip = offered.append  # type: ignore[method-assign,assignment]
    waiting = [tx(n) for n in range(3)]

    async def admit() -> None:
        results = await node.admission.submit([t.encode() for t in waiting])
        assert all(r.accepted for r in results)

    asyncio.run(admit())
    offered.clear()  # the first gossip, on admission
    now_ms = int(time.monotonic() * 1000)
    node._regossip(now_ms)
    assert offered == []  # not waited long enough
    node._regossip(now_ms + 2_500)
    assert offered == [[t.encode() for t in waiting]]
    assert node.metrics.value("txs_regossiped_total") == 3
    node.admission.close()


def test_a_vote_on_the_heartbeat_shows_in_status_and_the_log(
        caplog: pytest.LogCaptureFixture) -> None:
    """The heartbeat in force is the chain's: ``/status`` shows it, and the node logs the
    height from which a vote changed it (walk: nothing said so)."""
    async def body(n: Node, client: TestClient[Any, Any]) -> None:
        resp = await client.get("/status")
        assert (await resp.json())["heartbeat_ms"] == 20 * 10  # the node's own: genesis has 0
        vote = sign_tx(SUITE, CLIENT, TxBody(
            CHAIN, SUITE.public_key(CLIENT), 0, "gov.propose",
            {"action": "set_param", "payload": {"name": "heartbeat_ms", "value": 500}}))
        resp = await client.post("/txs", json=hexes(vote))
        assert resp.status == 202, await resp.text()
        got = await wait_committed(client, vote.tx_id(SUITE).hex())
        assert got["receipt"]["code"] == "OK", got
        resp = await client.get("/status")
        assert (await resp.json())["heartbeat_ms"] == 500

    with caplog.at_level(logging.INFO, logger="credchain"):
        run(body)
    assert any(r.getMessage().startswith("heartbeat 500 ms after height ")
               and "(was 200 ms)" in r.getMessage() for r in caplog.records), caplog.text
