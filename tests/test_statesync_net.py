"""State sync with real node processes on loopback: a new observer joins a running
4-validator network from a snapshot instead of replaying it from genesis, serves proofs of
current keys that verify offline against the genesis anchor, refuses the heights it does not
hold by naming the oldest it has, and follows the blocks after; and a node asking for a
snapshot when no peer serves one falls back to block sync from genesis."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.scenario_kit import actor_secret, demo_uscc
from ledger import keyfile
from ledger.bundle import from_json as bundle_from_json
from ledger.bundle import verify_bundle
from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.genesis import Anchor
from ledger.kv import LevelKV
from ledger.store import BlockStore
from ledger.tx import SignedTx, TxBody, sign_tx
from shell.client import NodeClient, NodeError
from shell.localnet import PROJECT_DIR, LocalNet, free_ports, init_network, wait_ready

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(180)]

DAY_MS = 86_400_000


def until(what: str, pred: Callable[[], Any], timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            got = pred()
            if got:
                return got
        except Exception:  # a node still starting
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def attestations(chain_id: str, start_nonce: int, count: int, serial0: int,
                 now_ms: int, extra_key: bytes | None = None) -> list[SignedTx]:
    """``count`` identity attestations by the demo attestor, the first also binding
    ``extra_key`` (a key the chain knows; its node still needs registering: ``register``)."""
    secret = actor_secret(SUITE, "attestor")
    out = []
    for i in range(count):
        keys = [SUITE.public_key(actor_secret(SUITE, f"ent{serial0 + i}"))]
        if i == 0 and extra_key is not None:
            keys.append(extra_key)
        args = {"uscc": demo_uscc(serial0 + i), "name": f"entity {serial0 + i}",
                "entity_type": "company", "cert_issuer": "GDCA",
                "cert_serial": f"SS-{serial0 + i}", "valid_from_ms": now_ms - DAY_MS,
                "valid_to_ms": now_ms + 365 * DAY_MS, "keys": keys}
        body = TxBody(chain_id, SUITE.public_key(secret), start_nonce + i, "identity.attest",
                      args)
        out.append(sign_tx(SUITE, secret, body))
    return out


def submit_and_wait(url: str, txs: list[SignedTx]) -> int:
    """Submit ``txs`` in one request; the height the last one committed at."""
    client = NodeClient(url)
    client.submit(txs)
    return int(client.wait_committed(txs[-1].tx_id(SUITE).hex(), 60).height)


def peer_port(out: Path, j: int) -> int:
    text = (out / f"node{j}.toml").read_text()
    return int(text.split("peer_port = ")[1].split()[0])


def joiner(out: Path, name: str, validators: int, sync: str = "") -> tuple[Path, str, bytes]:
    """A config for a new node (not a validator) of the network in ``out``; its key. No
    ``index``, as ``node init`` writes none for a node not yet voted in: a config naming one
    for a key outside the set is refused at start."""
    phrase = (out / "passphrase").read_bytes().strip()
    secret = SUITE.generate_secret()
    keyfile.save_key(out / f"{name}.key", SUITE, secret, phrase)
    peer, http = free_ports(2)
    lines = [f'name = "{name}"', f'key_file = "{name}.key"',
             'passphrase_file = "passphrase"', 'host = "127.0.0.1"', f"peer_port = {peer}",
             f"http_port = {http}", f'data_dir = "data/{name}"', 'genesis_file = "genesis.json"',
             "[replica]", "empty_block_ticks = 8", sync]
    for j in range(validators):
        lines += ["[[peers]]", f"index = {j}", 'host = "127.0.0.1"',
                  f"port = {peer_port(out, j)}"]
    path = out / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, f"http://127.0.0.1:{http}", SUITE.public_key(secret)


def register(out: Path, url: str, config: Path, pubkey: bytes) -> None:
    """The committee (``client0`` alone in these networks) registers the joining node's peer
    address, so the validators admit its links (``shell.peers.link_refusal``)."""
    port = config.read_text().split("peer_port = ")[1].split()[0]
    done = subprocess.run(
        [sys.executable, "-m", "cli", "gov", "propose", "set-endpoint", "--url", url, "--key",
         str(out / "client0.key"), "--passphrase-file", str(out / "passphrase"), "--pubkey",
         pubkey.hex(), "--host", "127.0.0.1", "--port", port, "--kind", "observer"],
        capture_output=True, text=True, cwd=str(PROJECT_DIR), timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout


def start(out: Path, config: Path, *flags: str) -> subprocess.Popen[bytes]:
    log = open(out / f"{config.stem}.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen([sys.executable, "-m", "cli", "node", "start", "--config",
                             str(config), *flags], stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(PROJECT_DIR))


def stop(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def holds(url: str, height: int) -> Callable[[], bool]:
    """A check that the node at ``url`` holds ``height`` (for ``until``)."""
    return lambda: int(NodeClient(url).status()["height"]) >= height


def gone(url: str, path: str) -> str:
    """The reason of a request the node must refuse with 410 Gone."""
    with pytest.raises(NodeError) as refused:
        NodeClient(url).get(path)
    assert refused.value.status == 410, (path, refused.value)
    return str(refused.value)


def test_an_observer_joins_by_state_sync_serves_proofs_and_follows(tmp_path: Path) -> None:
    out = tmp_path / "net"
    init_network(out, 4, SUITE.name, "ssync", clients=1, heartbeat_ms=250, demo=True)
    net = LocalNet(out)
    net.start_all()
    city: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(net.urls, 30)
        config, city_url, city_key = joiner(out, "city", 4)
        register(out, net.urls[0], config, city_key)
        now = NodeClient(net.urls[0]).head_time_ms()
        first = attestations("ssync", 0, 150, 1000, now, extra_key=city_key)
        old_height = submit_and_wait(net.urls[0], first)
        old_tx = first[0].tx_id(SUITE).hex()
        for batch in range(5):  # in blocks of their own, and some empty blocks between
            submit_and_wait(net.urls[1], attestations("ssync", 150 + 10 * batch, 10,
                                                      2000 + 10 * batch, now))
        head = until("a few more blocks", lambda: (h := NodeClient(net.urls[0]).status()[
            "height"]) >= old_height + 12 and h)

        started = time.monotonic()
        city = start(out, config, "--state-sync")
        status = until("the observer to state-sync and reach the head",
                       lambda: (s := NodeClient(city_url).status())["height"] >= head and s)
        joined_s = time.monotonic() - started
        base = int(status["base_height"])
        assert old_height < base and head <= base + 8, (old_height, base, head)
        assert status["index"] is None and status["oldest_height"] == base
        text = (out / "city.log").read_text()
        assert f"state sync done: height {base}" in text, text[-3000:]

        # Proofs of current keys, verified offline with the genesis anchor alone.
        anchor = Anchor.load(out / "anchor.json")
        for serial in (1000, 1077, 2049):
            key = f"id/entity/{demo_uscc(serial)}"
            proof = NodeClient(city_url).proof(key)
            record = verify_bundle(bundle_from_json(proof), anchor)
            assert record.value is not None and record.height >= base
            # A validator may still be a block behind the observer (the fourth vote is not
            # needed): ask for the height once it holds it.
            until("node 2 to hold the observer's height", holds(net.urls[2], record.height))
            archive = NodeClient(net.urls[2]).proof(key, record.height)
            assert verify_bundle(bundle_from_json(archive), anchor).value == record.value
        # Heights it does not hold: 410, naming the oldest it keeps; never a wrong answer.
        for path in (f"/blocks/{base - 1}", "/headers/1",
                     f"/proof/id/entity/{demo_uscc(1000)}?height={old_height}",
                     f"/proofs?key=id/entity/{demo_uscc(1000)}&height=1"):
            assert f"oldest height this node keeps ({base})" in gone(city_url, path)
        with pytest.raises(NodeError) as unknown:
            NodeClient(city_url).inclusion(old_tx)
        assert unknown.value.status == 404 and f"({base}.." in str(unknown.value)
        assert NodeClient(city_url).get("/headers/0")["header"]["height"] == 0  # the anchor
        assert NodeClient(net.urls[0]).inclusion(old_tx)["index"] == 0  # archive: all
        # An auditor replaying from it is told it keeps no early blocks: PARTIAL (exit 3),
        # not a discrepancy (exit 1), and where to go instead.
        replay = subprocess.run(
            [sys.executable, "-m", "cli", "audit", "replay", "--genesis",
             str(out / "genesis.json"), "--anchor", str(out / "anchor.json"), "--url",
             city_url], capture_output=True, text=True, cwd=str(PROJECT_DIR), timeout=60)
        assert replay.returncode == 3, replay.stderr + replay.stdout
        assert "stopped at height 1: the node does not keep that block" in replay.stderr, (
            replay.stderr)
        assert "archive node" in replay.stderr
        headers = subprocess.run(
            [sys.executable, "-m", "cli", "audit", "headers", "--anchor",
             str(out / "anchor.json"), "--url", city_url],
            capture_output=True, text=True, cwd=str(PROJECT_DIR), timeout=60)
        assert headers.returncode == 3, headers.stderr + headers.stdout
        assert "PARTIAL: the node does not keep every header" in headers.stderr

        # It follows the chain: new transactions, then the same headers everywhere.
        more = attestations("ssync", 200, 5, 3000, now)
        done = submit_and_wait(net.urls[3], more)
        until("the observer to follow", lambda: NodeClient(city_url).status()["height"] >= done)
        key = f"id/entity/{demo_uscc(3004)}"
        record = verify_bundle(bundle_from_json(NodeClient(city_url).proof(key)), anchor)
        assert record.value is not None and record.height >= done
        until("every validator to hold that height", lambda: all(
            NodeClient(u).status()["height"] >= done for u in net.urls))
        hashes = {NodeClient(u).get(f"/headers/{done}")["hash"] for u in [*net.urls, city_url]}
        assert len(hashes) == 1
        print(f"state sync: an observer joined at height {base} in {joined_s:.1f} s")

        # A validator's store rebuilt the same way while another validator is down: its
        # vote records are carried over and it votes again once back
        # (``node resync --state-sync``). With node 3 down, the others pass it over at its
        # turns; the snapshot carries the blocks decided in a view above 0, so node 2 can
        # pass it over too, and the three (all needed: 3 of 4) go on. (Here node 2's own
        # downtime usually makes a newer failure that every node sees, which with f = 1 is
        # the only one counted: the simulator tests in test_consensus_rules show what goes
        # wrong without the late blocks.)
        assert net.stop(3) == 0
        late = until("a block decided in a view above 0 (node 3's turn)", lambda: next(
            (h for h in range(done + 1, NodeClient(net.urls[0]).status()["height"] + 1)
             if NodeClient(net.urls[0]).get(f"/headers/{h}")["header"]["view"] > 0), None))
        late_hash = NodeClient(net.urls[0]).get(f"/headers/{late}")["hash"]
        until("a block after it", lambda: NodeClient(net.urls[2]).status()["height"] > late)
        assert net.stop(2) == 0  # the chain stops (2 of 4): the snapshot is of its head
        resynced = subprocess.run(
            [sys.executable, "-m", "cli", "node", "resync", "--config", str(net.config_path(2)),
             "--yes", "--state-sync"], capture_output=True, text=True, cwd=str(PROJECT_DIR),
            timeout=60)
        assert resynced.returncode == 0, resynced.stderr[-2000:]
        assert "state-synced at height" in resynced.stdout, resynced.stdout
        assert "vote records were carried over" in resynced.stdout
        net.start(2)
        back = NodeClient(net.urls[0]).status()["height"] + 6  # node 3's turn comes again
        status = until("node2 back and voting, node 3 still down", lambda: (
            s := NodeClient(net.urls[2]).status())["height"] >= back and s["index"] == 2 and s,
            timeout_s=90)
        assert late < int(status["base_height"]), (late, status["base_height"])
        net.start(3)
        until("node3 back", lambda: NodeClient(net.urls[3]).status()["height"] >= back)
    finally:  # the network is stopped whatever went wrong (a failed check left it running)
        city_code = stop(city) if city is not None else 0
        codes = net.stop_all()
    assert city_code == 0
    assert codes == [0, 0, 0, 0]
    # The late block came over the peer links with the snapshot: node 2's store holds it
    # below its base, with the QC that certifies it.
    kv = LevelKV(str(out / "data" / "node2" / "db"), create=False)
    try:
        store = BlockStore(kv, SUITE)
        assert late in store.late_heights(1, store.base - 1)
        header, _ = store.late_entry(late)
        assert header.view > 0 and header.hash(SUITE).hex() == late_hash
    finally:
        kv.close()


def test_with_no_snapshot_served_a_state_sync_start_falls_back_to_genesis(
        tmp_path: Path) -> None:
    out = tmp_path / "net"
    init_network(out, 1, SUITE.name, "nosnap", clients=1, heartbeat_ms=300, demo=True)
    cfg = out / "node0.toml"
    text = cfg.read_text()
    head, sep, tail = text.partition("[replica]")
    cfg.write_text(head + "[sync]\nserve_snapshots = false\n\n" + sep + tail)
    net = LocalNet(out)
    net.start_all()
    node: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(net.urls, 30)
        config, url, key = joiner(out, "late", 1, "[sync]\nstate_sync = true\n"
                                                  "discovery_ms = 2000")
        register(out, net.urls[0], config, key)
        now = NodeClient(net.urls[0]).head_time_ms()
        height = submit_and_wait(net.urls[0], attestations("nosnap", 0, 20, 1000, now,
                                                           extra_key=key))
        node = start(out, config)
        until("the late node to sync", lambda: NodeClient(url).status()["height"] >= height)
        status = NodeClient(url).status()
        assert status["base_height"] == 0 and status["oldest_height"] == 1
        assert NodeClient(url).get("/headers/1")["header"]["height"] == 1  # all of it
        log = (out / "late.log").read_text()
        assert "no peer offers a snapshot; falling back to block sync from genesis" in log
    finally:  # the network is stopped whatever went wrong
        node_code = stop(node) if node is not None else 0
        codes = net.stop_all()
    assert node_code == 0
    assert codes == [0]
