"""A hand-driven cluster for unit tests of single PBFT rules (no randomness at all).

``Cluster(n)`` holds ``n`` replicas on ``MemoryKV`` stores with the toy application and a
message queue. A test steps one replica with one event (``step``), inspects the effects,
and moves messages explicitly (``deliver``), optionally dropping some, like etcd-raft's
``network`` in its paper tests. Effects are executed as a shell would (persist, send into
the queue, apply commits).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from consensus.api import (
    BlockApplied,
    ClientTxs,
    CommitBlock,
    Effect,
    Event,
    FetchBlocks,
    MessageIn,
    Persist,
    ReplicaConfig,
    Send,
    Tick,
)
from consensus.messages import Message
from consensus.replica import Replica
from ledger.block import Validator, ValidatorSet
from ledger.crypto import ED25519_SHA256, Suite
from ledger.kv import MemoryKV
from ledger.tx import SignedTx, TxBody, sign_tx
from tests.sim import app as toy
from tests.sim.simulator import CHAIN_ID, TICK_MS, validator_keys

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


class Cluster:
    def __init__(self, n: int = 4, suite: Suite = ED25519_SHA256,
                 config: ReplicaConfig = RULES_CONFIG) -> None:
        self.suite = suite
        self.config = config
        self.keys = validator_keys(suite, n)
        self.validators: ValidatorSet = tuple(
            Validator(f"v{i}", pk) for i, (_, pk) in enumerate(self.keys))
        self.kvs = [MemoryKV() for _ in range(n)]
        for kv in self.kvs:
            toy.init_store(kv, suite, CHAIN_ID, self.validators)
        self.replicas: list[Replica] = []
        for i in range(n):
            self.replicas.append(self._make(i))
        self.queue: deque[Queued] = deque()
        self.fetches: list[tuple[int, FetchBlocks]] = []
        self.ticks = 0
        self._tx = 0
        self._client = bytes(32)

    def _make(self, i: int) -> Replica:
        state, vals = toy.store_state(self.kvs[i])
        return Replica(i, self.suite, self.keys[i][0], CHAIN_ID, vals,
                       toy.ToyApp(self.suite, self.kvs[i]), state, self.config)

    def restart(self, i: int) -> Replica:
        """Forget replica ``i``'s memory; rebuild it from its store (as after a crash)."""
        self.replicas[i] = self._make(i)
        return self.replicas[i]

    def now_ms(self) -> int:
        return toy.GENESIS_TIME_MS + self.ticks * TICK_MS

    def tx(self, key: str = "k", call: str = "kv.set", **args: object) -> SignedTx:
        self._tx += 1
        payload = {"key": key, "value": self._tx} if call == "kv.set" else dict(args)
        body = TxBody(CHAIN_ID, ED25519_SHA256.public_key(self._client), self._tx, call,
                      payload)
        return sign_tx(ED25519_SHA256, self._client, body)

    def step(self, i: int, event: Event) -> list[Effect]:
        """Step replica ``i`` and execute its effects as a shell would."""
        effects = self.replicas[i].step(event)
        applied = False
        for eff in effects:
            if isinstance(eff, Persist):
                b = self.kvs[i].batch()
                b.put(eff.key, eff.value)
                self.kvs[i].write(b)
            elif isinstance(eff, Send):
                targets = range(len(self.replicas)) if eff.to is None else [eff.to]
                self.queue.extend(Queued(i, d, eff.message) for d in targets if d != i)
            elif isinstance(eff, CommitBlock):
                app = toy.ToyApp(self.suite, self.kvs[i])
                toy.apply_commit(self.kvs[i], self.suite, eff.block, eff.qc, app)
                applied = True
            elif isinstance(eff, FetchBlocks):
                self.fetches.append((i, eff))
        if applied:
            effects += self.step(i, BlockApplied(toy.head_height(self.kvs[i])))
        return effects

    def tick_all(self, times: int = 1, only: list[int] | None = None) -> list[Effect]:
        out: list[Effect] = []
        for _ in range(times):
            self.ticks += 1
            for i in only if only is not None else range(len(self.replicas)):
                out += self.step(i, Tick(self.now_ms()))
        return out

    def submit(self, tx: SignedTx, to: list[int] | None = None) -> None:
        for i in to if to is not None else range(len(self.replicas)):
            self.step(i, ClientTxs((tx,)))

    def deliver(self, drop: Drop | None = None, limit: int = 100_000) -> int:
        """Deliver queued messages (and what they cause) until none is left."""
        delivered = 0
        while self.queue and delivered < limit:
            q = self.queue.popleft()
            if drop is not None and drop(q.sender, q.dst, q.message):
                continue
            self.step(q.dst, MessageIn(q.sender, q.message))
            delivered += 1
        return delivered

    def heights(self) -> list[int]:
        return [toy.head_height(kv) for kv in self.kvs]

    def run_until(self, height: int, max_ticks: int = 500, drop: Drop | None = None,
                  only: list[int] | None = None) -> None:
        members = only if only is not None else list(range(len(self.replicas)))
        for _ in range(max_ticks):
            if min(self.heights()[i] for i in members) >= height:
                return
            self.tick_all(only=only)
            self.deliver(drop)
        raise AssertionError(f"heights {self.heights()} did not reach {height}")
