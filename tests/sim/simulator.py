"""A seeded, deterministic cluster of real ``Replica``s (TigerBeetle's VOPR, in small).

``Simulator(seed, scenario).run()`` builds ``n`` validators on ``MemoryKV`` stores with the
toy application, then runs two phases in simulated ticks:

1. **faults** (``fault_ticks``): the scenario's link model (loss, duplication, delay and so
   reordering), changing partitions (halves, isolated leader, ring), crashes (at a random
   point inside a step's effects: a crashed node keeps only what it persisted) and
   restarts, byzantine nodes (equivocating leader, bad signatures, wrong state root,
   silent) and twins (two nodes with one key);
2. **liveness** (``liveness_ticks``): the network heals and crashed nodes restart
   (byzantine nodes and twins stay); every honest node must reach the highest honest height
   at the heal plus ``liveness_blocks`` in time.

The ``Checker`` runs after every step; any failure raises with ``reproduce with seed=N``.
Everything random comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field, replace

from consensus import messages
from consensus.api import (
    BlockApplied,
    BlocksFetched,
    ClientTxs,
    CommitBlock,
    Effect,
    Event,
    FetchBlocks,
    Log,
    MessageIn,
    Persist,
    ReplicaConfig,
    Send,
    Tick,
)
from consensus.messages import Message, NewView, PrePrepare
from consensus.replica import Replica
from ledger.block import QC, Block, Validator, ValidatorSet
from ledger.crypto import Suite, get_suite
from ledger.kv import MemoryKV
from ledger.tx import SignedTx, TxBody, sign_tx
from tests.sim import app as toy
from tests.sim.checker import Checker, LivenessFailure
from tests.sim.network import LinkModel, Network

CHAIN_ID = "sim-chain"
TICK_MS = 10
_SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

SIM_CONFIG = ReplicaConfig(batch_tx_max=50, batch_wait_ticks=1, empty_block_ticks=8,
                           view_timeout_ticks=24, view_timeout_max_ticks=192,
                           view_change_resend_ticks=8, max_clock_skew_ms=1000,
                           fetch_timeout_ticks=12, fetch_blocks_max=16)


@dataclass
class Scenario:
    n: int = 4
    fault_ticks: int = 200
    liveness_ticks: int = 1200
    liveness_blocks: int = 2
    link: LinkModel = field(default_factory=LinkModel)
    partitions: tuple[str, ...] = ()     # kinds drawn from: "halves", "leader", "ring"
    partition_rate: float = 0.02         # per tick: start or end a partition
    crash_rate: float = 0.0              # per tick: crash a random up node
    restart_after_ticks: tuple[int, int] = (5, 60)
    byzantine: dict[int, str] = field(default_factory=dict)  # "equivocate" | "bad_sig" |
    #                                                    "bad_root" | "silent"
    twins: tuple[int, ...] = ()          # validator indexes that run as two nodes
    fixed_groups: list[list[str]] | None = None  # a partition held for the fault phase
    tx_rate: float = 0.5                 # per tick: one client transaction
    clock_skew_ms: int = 30
    suite: str = "ed25519-sha256"
    check_liveness: bool = True
    config: ReplicaConfig = SIM_CONFIG


def validator_secret(suite: Suite, index: int) -> bytes:
    digest = hashlib.sha256(f"sim-validator-{index}".encode()).digest()
    if suite.name == "sm2-sm3":
        return (int.from_bytes(digest, "big") % (_SM2_N - 2) + 1).to_bytes(32, "big")
    return digest


_KEYS: dict[tuple[str, int], tuple[bytes, bytes]] = {}


def validator_keys(suite: Suite, n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        if (suite.name, i) not in _KEYS:
            secret = validator_secret(suite, i)
            _KEYS[(suite.name, i)] = (secret, suite.public_key(secret))
        out.append(_KEYS[(suite.name, i)])
    return out


@dataclass
class Node:
    ident: str
    index: int
    behaviour: str  # "honest", "twin" or a byzantine kind
    kv: MemoryKV
    skew_ms: int
    replica: Replica | None = None
    app: toy.ToyApp | None = None
    restart_at: int = -1

    @property
    def honest(self) -> bool:
        return self.behaviour == "honest"


class Simulator:
    def __init__(self, seed: int, scenario: Scenario) -> None:
        self.seed = seed
        self.sc = scenario
        self.rng = random.Random(seed)
        self.suite = get_suite(scenario.suite)
        self.keys = validator_keys(self.suite, scenario.n)
        self.validators: ValidatorSet = tuple(
            Validator(f"v{i}", pk) for i, (_, pk) in enumerate(self.keys))
        self.net = Network(self.rng, scenario.link)
        self.checker = Checker(self.suite, seed)
        self.tick = 0
        self.nodes: list[Node] = []
        for i in range(scenario.n):
            kind = scenario.byzantine.get(i, "twin" if i in scenario.twins else "honest")
            idents = [str(i), f"{i}b"] if i in scenario.twins else [str(i)]
            for ident in idents:
                kv = MemoryKV()
                toy.init_store(kv, self.suite, CHAIN_ID, self.validators)
                skew = self.rng.randint(-scenario.clock_skew_ms, scenario.clock_skew_ms)
                node = Node(ident, i, kind, kv, skew)
                self.nodes.append(node)
                self._start(node)
        self._tx_counter = 0
        self._client_secret = hashlib.sha256(b"sim-client").digest()
        self._client_pk = get_suite("ed25519-sha256").public_key(self._client_secret)
        self._partitioned = False
        self.stats: Counter[str] = Counter()
        self.recovery_ticks = 0  # ticks the liveness phase needed

    # ---- node lifecycle --------------------------------------------------------------------

    def _start(self, node: Node) -> None:
        state, vals = toy.store_state(node.kv)
        self.checker.on_head(node.ident, state.head.height)
        node.app = toy.ToyApp(self.suite, node.kv)
        secret = self.keys[node.index][0]
        node.replica = Replica(node.index, self.suite, secret, CHAIN_ID, vals, node.app, state,
                               self.sc.config)
        node.restart_at = -1

    def _crash(self, node: Node) -> None:
        self.stats["crashes"] += 1
        node.replica = None
        node.app = None
        lo, hi = self.sc.restart_after_ticks
        node.restart_at = self.tick + self.rng.randint(lo, hi)

    # ---- stepping --------------------------------------------------------------------------

    def _step(self, node: Node, event: Event, crash_inside: bool = False) -> None:
        replica = node.replica
        assert replica is not None
        effects = replica.step(event)
        crash_at = self.rng.randint(0, len(effects)) if crash_inside else -1
        applied = False
        for k, eff in enumerate(effects):
            if k == crash_at:
                self._crash(node)
                return
            applied |= self._effect(node, eff)
        if crash_at == len(effects):
            self._crash(node)
            return
        if applied:
            self._step(node, BlockApplied(toy.head_height(node.kv)))

    def _effect(self, node: Node, eff: Effect) -> bool:
        if isinstance(eff, Persist):
            b = node.kv.batch()
            b.put(eff.key, eff.value)
            node.kv.write(b)
        elif isinstance(eff, Send):
            self.stats[type(eff.message).__name__] += 1
            if node.behaviour in ("honest", "twin"):
                self.checker.on_send(node.ident, node.kv, eff.message)
            self._send(node, eff.to, eff.message)
        elif isinstance(eff, CommitBlock):
            assert node.app is not None
            h = eff.block.header.height
            vals = toy.read_validators(node.kv, h)
            toy.apply_commit(node.kv, self.suite, eff.block, eff.qc, node.app)
            self.checker.on_commit(node.ident, node.honest, node.kv, eff.block, eff.qc, vals)
            return True
        elif isinstance(eff, FetchBlocks):
            self.stats["fetches"] += 1
            self._fetch(node, eff)
        elif isinstance(eff, Log) and eff.level == "warning":
            self.stats["warnings"] += 1
        return False

    # ---- network and byzantine behaviour ---------------------------------------------------

    def _targets(self, node: Node, to: int | None) -> list[Node]:
        return [m for m in self.nodes if m is not node and (to is None or m.index == to)
                and not (to is None and m.index == node.index and m.ident == node.ident)]

    def _send(self, node: Node, to: int | None, msg: Message) -> None:
        kind = node.behaviour
        if kind == "silent":
            return
        for dst in self._targets(node, to):
            out = msg
            if kind == "bad_sig" and self.rng.random() < 0.5:
                out = replace(msg, sig=bytes([msg.sig[0] ^ 1]) + msg.sig[1:])
            elif kind == "equivocate" and isinstance(msg, PrePrepare) and dst.index % 2:
                out = self._forge(node, msg, time_shift_ms=1)
            elif kind == "bad_root" and isinstance(msg, PrePrepare | NewView):
                out = self._forge(node, msg, time_shift_ms=0, bad_root=True)
            self.net.send(self.tick, node.ident, dst.ident, ("msg", node.index, out))

    def _forge(self, node: Node, msg: PrePrepare | NewView, time_shift_ms: int,
               bad_root: bool = False) -> Message:
        h = msg.block.header
        header = h.with_changes(time_ms=h.time_ms + time_shift_ms)
        if bad_root:
            header = header.with_changes(state_root=hashlib.sha256(h.state_root).digest())
        secret = self.keys[node.index][0]
        if isinstance(msg, PrePrepare):
            return messages.sign(self.suite, secret, CHAIN_ID,
                                 replace(msg, block=Block(header, msg.block.txs)))
        return messages.sign(self.suite, secret, CHAIN_ID,
                             replace(msg, block=Block(header, msg.block.txs)))

    def _fetch(self, node: Node, eff: FetchBlocks) -> None:
        peers = [m for m in self.nodes if m.index == eff.from_peer and m.replica is not None]
        if not peers:
            return
        peer = peers[0]
        blocks: list[tuple[Block, QC]] = []
        for h in range(eff.from_height, eff.from_height + eff.max_blocks):
            block, qc = toy.read_block(peer.kv, h), toy.read_qc(peer.kv, h)
            if block is None or qc is None:
                break
            if peer.behaviour == "bad_sig":
                qc = replace(qc, votes=tuple((i, bytes(64)) for i, _ in qc.votes))
            blocks.append((block, qc))
        self.net.send(self.tick, peer.ident, node.ident,
                      ("fetched", eff.from_peer, tuple(blocks)))

    def _client_tx(self) -> None:
        self._tx_counter += 1
        c = self._tx_counter
        body = TxBody(CHAIN_ID, self._client_pk, c, "kv.set", {"key": f"k{c % 16}", "value": c})
        tx: SignedTx = sign_tx(get_suite("ed25519-sha256"), self._client_secret, body)
        if self.sc.fixed_groups is not None and self.tick < self.sc.fault_ticks:
            # Each side of a held partition hears its own clients only.
            group = self.sc.fixed_groups[c % len(self.sc.fixed_groups)]
            targets = [m for m in self.nodes if m.ident in group]
        else:
            k = self.rng.randint(1, len(self.nodes))
            targets = self.rng.sample(self.nodes, k)
        for m in targets:
            if m.replica is not None:
                self._step(m, ClientTxs((tx,)))

    # ---- faults ----------------------------------------------------------------------------

    def _leader_ident(self) -> str:
        up = [m for m in self.nodes if m.replica is not None]
        if not up:
            return self.nodes[0].ident
        r = max(up, key=lambda m: m.replica.height if m.replica else 0).replica
        assert r is not None
        return str((r.view + r.height) % self.sc.n)

    def _maybe_partition(self) -> None:
        if not self.sc.partitions or self.rng.random() >= self.sc.partition_rate:
            return
        self.stats["partitions"] += 1
        if self._partitioned:
            self.net.heal()
            self._partitioned = False
            return
        idents = [m.ident for m in self.nodes]
        kind = self.rng.choice(self.sc.partitions)
        if kind == "halves":
            shuffled = idents[:]
            self.rng.shuffle(shuffled)
            half = len(shuffled) // 2
            self.net.partition_groups([shuffled[:half], shuffled[half:]])
        elif kind == "leader":
            lead = self._leader_ident()
            self.net.partition_groups([[lead], [i for i in idents if i != lead]])
        else:
            ring = idents[:]
            self.rng.shuffle(ring)
            self.net.partition_ring(ring)
        self._partitioned = True

    # ---- the run ---------------------------------------------------------------------------

    def _one_tick(self, faults: bool) -> None:
        self.tick += 1
        for item in self.net.due(self.tick):
            dst = next(m for m in self.nodes if m.ident == item.dst)
            if dst.replica is None:
                continue
            kind, sender, payload = item.payload
            event: Event = (MessageIn(sender, payload) if kind == "msg"
                            else BlocksFetched(sender, payload))
            self._step(dst, event)
        crash_node = None
        if faults and self.sc.crash_rate and self.rng.random() < self.sc.crash_rate:
            crash_node = self.rng.choice(self.nodes)
        for node in self.nodes:
            if node.replica is None:
                if node.restart_at >= 0 and (self.tick >= node.restart_at or not faults):
                    self._start(node)
                continue
            now_ms = toy.GENESIS_TIME_MS + self.tick * TICK_MS + node.skew_ms
            self._step(node, Tick(now_ms), crash_inside=node is crash_node)
            self.checker.on_head(node.ident, toy.head_height(node.kv))
        if faults and self.sc.fixed_groups is None:
            self._maybe_partition()
        if self.rng.random() < self.sc.tx_rate:
            self._client_tx()

    def honest_heights(self) -> dict[str, int]:
        return {m.ident: toy.head_height(m.kv) for m in self.nodes if m.honest}

    def run(self) -> dict[str, int]:
        """Run both phases; return the honest nodes' final heights."""
        if self.sc.fixed_groups is not None:
            self.net.partition_groups(self.sc.fixed_groups)
            self._partitioned = True
        for _ in range(self.sc.fault_ticks):
            self._one_tick(faults=True)
        self.net.heal()
        self._partitioned = False
        self.net.model = LinkModel(delay_min_ticks=1, delay_max_ticks=2)
        if not self.sc.check_liveness:
            return self.honest_heights()
        target = max(self.honest_heights().values()) + self.sc.liveness_blocks
        for k in range(self.sc.liveness_ticks):
            self._one_tick(faults=False)
            if min(self.honest_heights().values()) >= target:
                self.recovery_ticks = k + 1
                return self.honest_heights()
        raise LivenessFailure(
            f"honest heights {self.honest_heights()} did not all reach {target} within "
            f"{self.sc.liveness_ticks} ticks after healing; reproduce with seed={self.seed}")
