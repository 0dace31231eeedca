"""A 4-validator network on loopback for attack tests, an honest client, and phase timing.

``AttackNet`` starts the validator processes of a fresh ``network init`` directory with short
HTTP timeouts, and grants genesis roles to the honest client's key and to keys the attacks
use ("known" senders). ``Honest`` submits one transaction at a time from its own key and
loopback address (127.0.0.1) and records when each commits. ``phases`` runs an attack
between a "before" and an "after" window and returns the honest commit rate of each window,
so a test can state the rate the attack leaves honest users.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledger.crypto import Suite, get_suite
from shell.client import NodeClient, NodeError
from shell.localnet import LocalNet, init_network, wait_ready

SUITE_NAME = "ed25519-sha256"
ATTACK_LIMITS = """
[limits]
http_header_timeout_ms = 1000
http_idle_timeout_ms = 2000
http_connections_max = 300
handshake_timeout_ms = 1000
txs_per_second = 2000
request_bytes_per_second = 4194304
"""


def key(label: str) -> bytes:
    return hashlib.sha256(f"adversarial/{label}".encode()).digest()


@dataclass
class AttackNet:
    directory: Path
    suite: Suite = field(default_factory=lambda: get_suite(SUITE_NAME))
    known: list[bytes] = field(default_factory=list)  # secrets of keys granted a role
    supervisor: bytes = b""  # a supervisor key's secret (set with the network)

    def __post_init__(self) -> None:
        self.known = [key(f"known-{i}") for i in range(8)]
        members = [self.suite.public_key(s) for s in [key("honest"), *self.known]]
        self.supervisor = key("supervisor")  # reads what is private (nonces, whole blocks)
        self.manifest = init_network(self.directory, 4, SUITE_NAME, "attack-net", clients=0,
                                     extra_roles={"platform": members, "supervisor": [
                                         self.suite.public_key(self.supervisor)]},
                                     heartbeat_ms=1000)
        for n in self.manifest["nodes"]:
            path = self.directory / n["config"]
            path.write_text(path.read_text().replace("\n[[peers]]", ATTACK_LIMITS +
                                                     "\n[[peers]]", 1))
        self.net = LocalNet(self.directory)
        self.urls = self.net.urls
        self.chain_id = self.manifest["chain_id"]

    def start(self) -> None:
        self.net.start_all()
        wait_ready(self.urls, 30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if min(NodeClient(u).status()["height"] for u in self.urls) >= 1:
                return
            time.sleep(0.2)
        raise AssertionError("the network did not commit its first block")

    def stop(self) -> list[int]:
        return self.net.stop_all()

    def log(self, i: int) -> str:
        path = self.directory / "logs" / f"node{i}.log"
        return path.read_text() if path.exists() else ""

    def peer_port(self, i: int) -> int:
        text = (self.directory / self.manifest["nodes"][i]["config"]).read_text()
        return int(text.split("peer_port = ")[1].split()[0])

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class Honest:
    """One honest client: a transaction at a time, each waited for, from its own key."""

    def __init__(self, net: AttackNet, url_index: int = 0) -> None:
        self.client = NodeClient(net.urls[url_index], timeout_s=5.0)
        self.suite = net.suite
        self.secret = key("honest")
        self.chain_id = net.chain_id
        self.commits: list[float] = []  # monotonic times
        self.refusals: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.nonce = self.client.nonce(self.suite.public_key(self.secret))

    def _run(self) -> None:
        while not self._stop.is_set():
            tx = self.client.sign(self.suite, self.secret, "bench.noop", {"n": self.nonce},
                                  self.nonce, self.chain_id)
            try:
                self.client.wait_committed(self.client.submit([tx]).tx_ids()[0], 10)
                self.commits.append(time.monotonic())
                self.nonce += 1
            except NodeError as exc:
                self.refusals.append(exc.reason)
                time.sleep(0.1)
            time.sleep(0.02)

    def __enter__(self) -> Honest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def rate(self, t0: float, t1: float) -> float:
        return sum(t0 <= t < t1 for t in self.commits) / (t1 - t0)


@dataclass
class Phases:
    before: float
    during: float
    after: float

    def __str__(self) -> str:
        return (f"honest commits/s before {self.before:.1f}, during {self.during:.1f}, "
                f"after {self.after:.1f}")


def phases(honest: Honest, attack: Callable[[float], None], attack_s: float = 4.0,
           window_s: float = 3.0) -> Phases:
    """Honest rate in a window before, while ``attack(deadline)`` runs, and after."""
    t0 = time.monotonic()
    time.sleep(window_s)
    t1 = time.monotonic()
    attack(t1 + attack_s)
    t2 = max(time.monotonic(), t1 + 0.5)
    time.sleep(window_s)
    t3 = time.monotonic()
    return Phases(honest.rate(t0, t1), honest.rate(t1, t2), honest.rate(t2, t3))
