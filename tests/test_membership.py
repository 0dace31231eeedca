"""A city joins, rotates its key and another leaves, with real node processes on loopback:
the runbook's steps, through the CLI where an operator would use it.

1. the new city makes its key; the committee registers its node (``set-endpoint``, kind
   observer); its node starts from the genesis file and a peer list, syncs and verifies the
   chain without voting;
2. the committee votes it in (``add-validator``): from the height the change takes effect it
   votes, and its votes appear in the blocks' QCs;
3. it rotates its key at the same index (``rotate-validator``, signed by the new key) and
   restarts with the new key file; it keeps voting;
4. the committee removes another validator, which goes on following the chain as a
   non-voting node.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ledger import keyfile
from ledger.crypto import ED25519_SHA256 as SUITE
from shell.client import NodeClient
from shell.localnet import PROJECT_DIR, LocalNet, free_ports, init_network, wait_ready

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(300)]


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          cwd=str(PROJECT_DIR), timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def until(what: str, pred: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception:  # a node still starting, a link still coming up
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def refused(url: str) -> float:
    """The node's count of peer links refused for an unknown key (its /metrics)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("credchain_peer_links_refused_total")
               and 'reason="unknown_peer"' in line)


def voters(url: str, height: int) -> set[int]:
    got = NodeClient(url).request("GET", f"/headers/{height}")
    return {int(i) for i, _ in got["qc"]["votes"]}


def test_a_city_joins_votes_rotates_its_key_and_another_leaves(tmp_path: Path) -> None:
    out = tmp_path / "net"
    init_network(out, 4, SUITE.name, "members", clients=1, heartbeat_ms=400)
    phrase = (out / "passphrase").read_bytes().strip()
    net = LocalNet(out)
    net.start_all()
    city: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(net.urls, 30)
        committee = ["--url", net.urls[0], "--key", str(out / "client0.key"),
                     "--passphrase-file", str(out / "passphrase")]
        # 1. The new city's key, its registration, its node as an observer.
        secret = SUITE.generate_secret()
        keyfile.save_key(out / "city.key", SUITE, secret, phrase)
        pub = SUITE.public_key(secret).hex()
        peer_port, http_port = free_ports(2)
        # its config, from the genesis file and the validators' addresses it was given
        cli("node", "init", "--out", str(out / "city.toml"), "--genesis",
            str(out / "genesis.json"), "--key", str(out / "city.key"), "--passphrase-file",
            str(out / "passphrase"), "--name", "city", "--peer-port", str(peer_port),
            "--http-port", str(http_port),  # the heartbeat: the chain's (heartbeat_ms)
            *[f"--peer=node{j}@127.0.0.1:{_peer_port(out, j)}" for j in range(4)])
        city_url = f"http://127.0.0.1:{http_port}"

        def start_city() -> subprocess.Popen[bytes]:
            log = open(out / "city.log", "ab")  # noqa: SIM115 (the process keeps it)
            return subprocess.Popen([sys.executable, "-m", "cli", "node", "start", "--config",
                                     str(out / "city.toml")], stdout=log,
                                    stderr=subprocess.STDOUT, cwd=str(PROJECT_DIR))

        # Started before it is registered: the validators refuse its links, and it backs off
        # (it redialled ~9 times a second, each refusal logged on both ends).
        city = start_city()
        until("a validator to refuse the unregistered city", lambda: refused(net.urls[0]) > 0)
        first = refused(net.urls[0])
        time.sleep(5)
        assert refused(net.urls[0]) - first <= 8, "the city redials without backing off"
        assert "does not admit this node's key" in (out / "city.log").read_text()
        cli("gov", "propose", "set-endpoint", *committee, "--pubkey", pub, "--host",
            "127.0.0.1", "--port", str(peer_port), "--kind", "observer")
        head = NodeClient(net.urls[0]).status()["height"]
        until("the observer to sync", lambda: NodeClient(city_url).status()["height"] >= head)
        assert NodeClient(city_url).status()["index"] is None  # it does not vote yet
        # 2. Voted in: it votes from the height the change takes effect.
        cli("gov", "propose", "add-validator", *committee, "--name", "city", "--pubkey", pub)
        until("the city to be seated", lambda: NodeClient(city_url).status()["index"] == 4)
        seated = NodeClient(net.urls[0]).status()["height"]
        until("the city's votes in QCs", lambda: any(
            4 in voters(net.urls[0], h)
            for h in range(seated + 1, NodeClient(net.urls[0]).status()["height"] + 1)))
        # 3. A new key at the same index, then a restart with it.
        new_secret = SUITE.generate_secret()
        keyfile.save_key(out / "city-2.key", SUITE, new_secret, phrase)
        cli("gov", "propose", "rotate-validator", *committee, "--old", pub, "--new-key",
            str(out / "city-2.key"))
        city.terminate()
        assert city.wait(15) == 0
        cfg = out / "city.toml"
        cfg.write_text(cfg.read_text().replace('key_file = "city.key"',
                                               'key_file = "city-2.key"'))
        city = start_city()
        until("the city back with its new key",
              lambda: NodeClient(city_url).status()["index"] == 4)
        back = NodeClient(net.urls[0]).status()["height"]
        until("the new key's votes in QCs", lambda: any(
            4 in voters(net.urls[0], h)
            for h in range(back + 1, NodeClient(net.urls[0]).status()["height"] + 1)))
        # 4. Validator 1 leaves; it goes on following without voting.
        node1 = keyfile.load_key(out / "node1.key", phrase).public_key.hex()
        cli("gov", "propose", "remove-validator", *committee, "--pubkey", node1)
        until("node1 to stop voting", lambda: NodeClient(net.urls[1]).status()["index"] is None)
        until("node1 to say it left the set", lambda: "left the validator set" in (
            out / "logs" / "node1.log").read_text())
        # its config still says index = 1: its health says so, where it said "ok" (walk)
        status, said = _healthz(net.urls[1])
        assert status == 503 and said.startswith("not a validator: the config says index = 1,"
                                                 " but this key is not in the validator set "
                                                 "since height "), said
        assert "is validator 4 after height" in (out / "city.log").read_text()
        later = NodeClient(net.urls[0]).status()["height"] + 3
        until("the chain to go on", lambda: min(NodeClient(u).status()["height"]
                                                for u in [*net.urls, city_url]) >= later)
        hashes = {NodeClient(u).request("GET", f"/headers/{later}")["hash"]
                  for u in [*net.urls, city_url]}
        assert len(hashes) == 1
    finally:
        if city is not None and city.poll() is None:
            city.terminate()
            city.wait(15)
        codes = net.stop_all()
    assert codes == [0, 0, 0, 0]


def _healthz(url: str) -> tuple[int, str]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
            return resp.status, str(json.loads(resp.read()).get("reason", ""))
    except urllib.error.HTTPError as exc:
        return exc.code, str(json.loads(exc.read()).get("reason", ""))


def _peer_port(out: Path, j: int) -> int:
    text = (out / f"node{j}.toml").read_text()
    return int(text.split("peer_port = ")[1].split()[0])
