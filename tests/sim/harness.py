"""A hand-driven cluster for unit tests of single PBFT rules (no randomness at all).

``Cluster(n)`` holds ``n`` real nodes (``tests/sim/nodes.py``: the real chain on a
``MemoryKV``, the one driver around each replica) and a message queue. A test steps one
replica with one event (``step``; the driver executes the effects as the node does and the
test inspects them), and moves messages explicitly (``deliver``), optionally dropping some,
like etcd-raft's ``network`` in its paper tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from consensus.api import Effect, Event, FetchBlocks, MessageIn, ReplicaConfig, StoreState, Tick
from consensus.messages import Message
from consensus.replica import Replica
from ledger.block import QC, Block, Validator, ValidatorSet
from ledger.crypto import ED25519_SHA256, Suite
from ledger.kv import MemoryKV
from ledger.tx import SignedTx
from tests.sim.nodes import GENESIS_TIME_MS, TICK_MS, Client, SimNode, genesis, validator_keys

RULES_CONFIG = ReplicaConfig(batch_tx_max=10, batch_wait_ticks=1, empty_block_ticks=5,
                             view_timeout_ticks=10, view_timeout_max_ticks=80,
                             view_change_resend_ticks=4, max_clock_skew_ms=500,
                             fetch_timeout_ticks=6, fetch_blocks_max=8)

Drop = Callable[[int, int, Message], bool]  # (sender, dst, message) -> drop it?


@dataclass
class Queued:
    sender: int
    dst: int
    message: Message


class _Transport:
    """Node ``i``'s sends go into the cluster's queue; its fetches are recorded."""

    def __init__(self, cluster: Cluster, i: int) -> None:
        self.cluster, self.i = cluster, i

    def send(self, to: int | None, message: Message) -> None:
        c = self.cluster
        if to is None:
            targets = [d for d in range(len(c.nodes)) if d != self.i]
        else:
            key = c.nodes[self.i].validators()[to].pubkey
            targets = [d for d, node in enumerate(c.nodes) if node.pubkey == key]
        c.queue.extend(Queued(self.i, d, message) for d in targets)

    def fetch(self, peer: bytes, from_height: int, max_blocks: int) -> None:
        self.cluster.fetches.append((self.i, FetchBlocks(peer, from_height, max_blocks)))


class Cluster:
    def __init__(self, n: int = 4, suite: Suite = ED25519_SHA256,
                 config: ReplicaConfig = RULES_CONFIG, observers: int = 0,
                 params: dict[str, int | str] | None = None) -> None:
        """``n`` validators, then ``observers`` nodes whose keys are not in the set;
        ``params``: chain parameters other than their defaults, in genesis."""
        self.suite = suite
        self.config = config
        self.keys = validator_keys(suite, n + observers)
        self.validators: ValidatorSet = tuple(
            Validator(f"v{i}", pk) for i, (_, pk) in enumerate(self.keys[:n]))
        self.doc = genesis(suite, n, params)
        self.client = Client(suite)
        self.nodes = [SimNode(str(i), secret, pk, MemoryKV(), self.doc, config)
                      for i, (secret, pk) in enumerate(self.keys)]
        for i, node in enumerate(self.nodes):
            node.start(_Transport(self, i))
        self.queue: deque[Queued] = deque()
        self.fetches: list[tuple[int, FetchBlocks]] = []
        self.ticks = 0

    @property
    def replicas(self) -> list[Replica]:
        return [node.driver.replica for node in self.nodes if node.driver is not None]

    @property
    def kvs(self) -> list[MemoryKV]:
        return [node.kv for node in self.nodes]

    def restart(self, i: int) -> Replica:
        """Forget node ``i``'s memory; rebuild it from its store (as after a crash)."""
        self.nodes[i].stop()
        self.nodes[i].start(_Transport(self, i))
        return self.replicas[i]

    def store_state(self, i: int) -> StoreState:
        chain = self.nodes[i].chain
        assert chain is not None
        return chain.store_state()

    def block(self, i: int, height: int) -> Block | None:
        chain = self.nodes[i].chain
        assert chain is not None
        return chain.store.block(height)

    def qc(self, i: int, height: int) -> QC | None:
        chain = self.nodes[i].chain
        assert chain is not None
        return chain.store.qc(height)

    def key(self, i: int) -> bytes:
        """Node ``i``'s public key: how events name the peer a message came from."""
        return self.nodes[i].pubkey

    def now_ms(self) -> int:
        return GENESIS_TIME_MS + self.ticks * TICK_MS

    def tx(self) -> SignedTx:
        """The client's next transaction (an attestation: a real call that writes state)."""
        return self.client.attest(self.client.nonce)

    def step(self, i: int, event: Event) -> list[Effect]:
        """Step node ``i`` through its driver; returns the effects it executed."""
        driver = self.nodes[i].driver
        assert driver is not None
        return driver.step(event)

    def tick_all(self, times: int = 1, only: list[int] | None = None) -> list[Effect]:
        out: list[Effect] = []
        for _ in range(times):
            self.ticks += 1
            for i in only if only is not None else range(len(self.nodes)):
                out += self.step(i, Tick(self.now_ms()))
        return out

    def submit(self, tx: SignedTx, to: list[int] | None = None) -> list[Effect]:
        """Admit ``tx`` at the nodes ``to`` (default: all); returns the effects of the
        admissions' steps (a leader may propose at once)."""
        out: list[Effect] = []
        for i in to if to is not None else range(len(self.nodes)):
            out += self.nodes[i].admit([tx])
        return out

    def deliver(self, drop: Drop | None = None, limit: int = 100_000) -> int:
        """Deliver queued messages (and what they cause) until none is left."""
        delivered = 0
        while self.queue and delivered < limit:
            q = self.queue.popleft()
            if drop is not None and drop(q.sender, q.dst, q.message):
                continue
            self.step(q.dst, MessageIn(self.key(q.sender), q.message))
            delivered += 1
        return delivered

    def heights(self) -> list[int]:
        return [node.height() for node in self.nodes]

    def run_until(self, height: int, max_ticks: int = 500, drop: Drop | None = None,
                  only: list[int] | None = None) -> None:
        members = only if only is not None else list(range(len(self.nodes)))
        for _ in range(max_ticks):
            if min(self.heights()[i] for i in members) >= height:
                return
            self.tick_all(only=only)
            self.deliver(drop)
        raise AssertionError(f"heights {self.heights()} did not reach {height}")
