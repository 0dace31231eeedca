"""A seeded, deterministic cluster of real nodes (TigerBeetle's VOPR, in small).

Each node is the node's own machinery (``tests/sim/nodes.py``): the real block store, state
tree, contracts and pool on a ``MemoryKV``, and the one ``shell.driver.Driver`` around a real
``Replica``; only the network is simulated. ``Simulator(seed, scenario).run()`` runs two
phases in simulated ticks:

1. **faults** (``fault_ticks``): the scenario's link model (loss, duplication, delay and so
   reordering), changing partitions (halves, isolated leader, ring), crashes (a crashed
   node's storage or transport raises at a random operation inside a step: it keeps only
   what it wrote before) and restarts (some from a snapshot of another node, its vote
   records carried over: ``resync_share``), byzantine nodes (equivocating leader, bad
   signatures, wrong state root, silent), twins (two nodes with one key), and governance
   seating and unseating validators;
2. **liveness** (``liveness_ticks``): the network heals and crashed nodes restart
   (byzantine nodes and twins stay); every honest node must reach the highest honest height
   at the heal plus ``liveness_blocks`` in time.

The ``Checker`` runs after every step and at every restart; any failure raises with
``reproduce with seed=N``. Everything random comes from one ``random.Random(seed)``.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from consensus import messages
from consensus.api import BlocksFetched, Event, MessageIn, ReplicaConfig, Tick
from consensus.messages import Message, NewView, PrePrepare
from ledger import schema
from ledger.block import QC, Block
from ledger.crypto import get_suite
from ledger.kv import MemoryKV
from ledger.tx import Receipt, SignedTx
from shell.chain import Chain
from tests.sim.checker import Checker, LivenessFailure
from tests.sim.network import LinkModel, Network
from tests.sim.nodes import (
    CHAIN_ID,
    GENESIS_TIME_MS,
    TICK_MS,
    Client,
    SimNode,
    genesis,
    validator_keys,
)
from tests.snapshotkit import synced_kv

SIM_CONFIG = ReplicaConfig(batch_tx_max=50, batch_wait_ticks=1, empty_block_ticks=8,
                           view_timeout_ticks=24, view_timeout_max_ticks=192,
                           view_change_resend_ticks=8, max_clock_skew_ms=1000,
                           fetch_timeout_ticks=12, fetch_blocks_max=16)
RESUBMIT_TICKS = 25  # the client re-sends what has not committed (pools die with crashes)
CLIENT_PENDING_MAX = 200


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
    resync_share: float = 0.0            # of honest restarts: from a snapshot of the highest
    #                                      honest node, vote records carried over
    byzantine: dict[int, str] = field(default_factory=dict)  # "equivocate" | "bad_sig" |
    #                                                    "bad_root" | "silent"
    twins: tuple[int, ...] = ()          # validator indexes that run as two nodes
    fixed_groups: list[list[str]] | None = None  # a partition held for the fault phase
    tx_rate: float = 0.5                 # per tick: one client transaction
    clock_skew_ms: int = 30
    suite: str = "ed25519-sha256"
    check_liveness: bool = True
    # Governance during faults: at these ticks the committee proposes to seat the next spare
    # ("add") or to unseat validator ``index`` ("remove:INDEX"); spares start as observers.
    spares: int = 0
    gov: tuple[tuple[int, str], ...] = ()
    config: ReplicaConfig = SIM_CONFIG
    own_configs: dict[int, ReplicaConfig] = field(default_factory=dict)  # per validator index
    params: dict[str, int | str] = field(default_factory=dict)  # chain parameters in genesis


class _CountWarnings(logging.Handler):
    def __init__(self, stats: Counter[str]) -> None:
        super().__init__(logging.WARNING)
        self.stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        self.stats["warnings"] += 1


def _counting_logger(stats: Counter[str]) -> logging.Logger:
    """The replicas' log: warnings are counted (tests read ``stats``), nothing is printed."""
    log = logging.Logger("credchain.sim")
    log.addHandler(_CountWarnings(stats))
    log.propagate = False
    return log


class Crash(Exception):
    """Raised inside a step by a node's storage or transport: the process died there."""


class FaultPoint:
    """Counts a node's storage and transport operations; raises ``Crash`` at the chosen one."""

    def __init__(self) -> None:
        self.left: int | None = None

    def op(self) -> None:
        if self.left is None:
            return
        if self.left == 0:
            raise Crash()
        self.left -= 1


class SimStorage:
    """The chain as the driver's storage, with a fault point and the checker's eyes."""

    def __init__(self, sim: Simulator, node: SimNode, chain: Chain, fault: FaultPoint) -> None:
        self.sim, self.node, self.chain, self.fault = sim, node, chain, fault

    def persist(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        self.fault.op()
        self.chain.persist(items)

    def commit(self, block: Block, qc: QC) -> list[Receipt]:
        self.fault.op()
        vals = self.chain.store.validators_at(block.header.height)
        receipts = self.chain.commit(block, qc)
        self.sim.on_commit(self.node, block, qc, receipts, vals)
        return receipts

    def drop_txs(self, tx_ids: Sequence[bytes]) -> None:
        self.chain.drop_txs(tx_ids)


class SimTransport:
    def __init__(self, sim: Simulator, node: SimNode, fault: FaultPoint) -> None:
        self.sim, self.node, self.fault = sim, node, fault

    def send(self, to: int | None, message: Message) -> None:
        self.fault.op()
        self.sim.send(self.node, to, message)

    def fetch(self, peer: bytes, from_height: int, max_blocks: int) -> None:
        self.fault.op()
        self.sim.fetch(self.node, peer, from_height, max_blocks)


@dataclass
class Member:
    """A simulated node and what the simulator knows of it."""

    node: SimNode
    behaviour: str  # "honest", "twin" or a byzantine kind
    skew_ms: int
    fault: FaultPoint = field(default_factory=FaultPoint)
    restart_at: int = -1

    @property
    def honest(self) -> bool:
        return self.behaviour == "honest"

    @property
    def ident(self) -> str:
        return self.node.ident


class Simulator:
    def __init__(self, seed: int, scenario: Scenario) -> None:
        self.seed = seed
        self.sc = scenario
        self.rng = random.Random(seed)
        self.suite = get_suite(scenario.suite)
        self.doc = genesis(self.suite, scenario.n, scenario.params)
        self.keys = validator_keys(self.suite, scenario.n + scenario.spares)
        self.net = Network(self.rng, scenario.link)
        self.checker = Checker(self.suite, seed)
        self.stats: Counter[str] = Counter()
        self.log = _counting_logger(self.stats)
        self.tick = 0
        self.members: list[Member] = []
        for i in range(scenario.n + scenario.spares):
            spare = i >= scenario.n
            kind = "honest" if spare else scenario.byzantine.get(
                i, "twin" if i in scenario.twins else "honest")
            base = f"s{i - scenario.n}" if spare else str(i)
            idents = [base, f"{base}b"] if i in scenario.twins else [base]
            for ident in idents:
                secret, pubkey = self.keys[i]
                node = SimNode(ident, secret, pubkey, MemoryKV(), self.doc,
                               scenario.own_configs.get(i, scenario.config))
                skew = self.rng.randint(-scenario.clock_skew_ms, scenario.clock_skew_ms)
                member = Member(node, kind, skew)
                self.members.append(member)
                self._start(member)
        self.client = Client(self.suite)
        self.pending: OrderedDict[bytes, SignedTx] = OrderedDict()
        self._partitioned = False
        self._spares_seated = 0
        self.recovery_ticks = 0  # ticks the liveness phase needed

    # ---- node lifecycle --------------------------------------------------------------------

    def _start(self, m: Member) -> None:
        node = m.node
        node.start(SimTransport(self, node, m.fault),
                   lambda chain: SimStorage(self, node, chain, m.fault), self.log)
        assert node.chain is not None
        self.checker.on_reopen(node.ident, node.chain)
        m.fault.left = None
        m.restart_at = -1

    def _resync(self, m: Member) -> None:
        """Replace crashed ``m``'s store with one started from a snapshot of the highest
        honest node's head, carrying its own consensus records over (as ``credchain node
        resync --state-sync`` does); nothing when no other honest node up has a block at
        least as high (with a silent validator, a crash stops the chain: often none is ahead)."""
        ahead = [x for x in self.members if x.honest and x is not m and x.node.chain is not None
                 and x.node.height() >= max(1, m.node.height())]
        if not ahead:
            return
        source = max(ahead, key=lambda x: x.node.height())
        assert source.node.chain is not None
        store = source.node.chain.store
        m.node.kv = synced_kv(store, self.doc, store.head()[0],
                              dict(m.node.kv.scan(schema.CONSENSUS)))
        self.stats["resyncs"] += 1
        self.checker.on_resync(m.ident, Chain.open(m.node.kv, self.doc))

    def _crash(self, m: Member) -> None:
        self.stats["crashes"] += 1
        m.node.stop()
        lo, hi = self.sc.restart_after_ticks
        m.restart_at = self.tick + self.rng.randint(lo, hi)

    # ---- stepping --------------------------------------------------------------------------

    def _step(self, m: Member, event: Event, crash_inside: bool = False) -> None:
        driver = m.node.driver
        assert driver is not None
        if crash_inside:
            m.fault.left = self.rng.randint(0, 6)
        try:
            driver.step(event)
        except Crash:
            self._crash(m)
            return
        if crash_inside:
            self._crash(m)  # the step ended before the chosen operation: crash after it
            return
        assert m.node.chain is not None
        self.checker.on_head(m.ident, m.node.chain.height())

    def on_commit(self, node: SimNode, block: Block, qc: QC, receipts: list[Receipt],
                  vals: tuple) -> None:  # type: ignore[type-arg]
        m = self._member(node.ident)
        self.checker.on_commit(node.ident, m.honest, node.kv, block, qc, vals)
        if m.honest:
            for tx_id in block.tx_ids(self.suite):
                self.pending.pop(tx_id, None)
            self.stats["validator_changes"] += int(
                block.header.next_validators_hash != block.header.validators_hash)

    def _member(self, ident: str) -> Member:
        return next(m for m in self.members if m.ident == ident)

    # ---- network and byzantine behaviour ---------------------------------------------------

    def _holders(self, node: SimNode, index: int) -> list[Member]:
        """Up members holding the key of validator ``index`` in ``node``'s current set."""
        vals = node.validators()
        if not 0 <= index < len(vals):
            return []
        key = vals[index].pubkey
        return [m for m in self.members if m.node.pubkey == key and m.node is not node]

    def send(self, node: SimNode, to: int | None, msg: Message) -> None:
        m = self._member(node.ident)
        self.stats[type(msg).__name__] += 1
        if m.behaviour in ("honest", "twin"):
            self.checker.on_send(node.ident, node.kv, msg)
        if m.behaviour == "silent":
            return
        targets = ([d for d in self.members if d.node is not node] if to is None
                   else self._holders(node, to))
        for dst in targets:
            out = msg
            if m.behaviour == "bad_sig" and self.rng.random() < 0.5:
                out = replace(msg, sig=bytes([msg.sig[0] ^ 1]) + msg.sig[1:])
            elif (m.behaviour == "equivocate" and isinstance(msg, PrePrepare)
                  and self.members.index(dst) % 2):
                out = self._forge(m, msg, time_shift_ms=1)
            elif m.behaviour == "bad_root" and isinstance(msg, PrePrepare | NewView):
                out = self._forge(m, msg, time_shift_ms=0, bad_root=True)
            self.net.send(self.tick, node.ident, dst.ident, ("msg", node.pubkey, out))

    def _forge(self, m: Member, msg: PrePrepare | NewView, time_shift_ms: int,
               bad_root: bool = False) -> Message:
        h = msg.block.header
        header = h.with_changes(time_ms=h.time_ms + time_shift_ms)
        if bad_root:
            header = header.with_changes(state_root=self.suite.hash(h.state_root))
        block = Block(header, msg.block.txs)
        if isinstance(msg, PrePrepare):  # one call per type: ``sign`` keeps the message's type
            return messages.sign(self.suite, m.node.secret, CHAIN_ID, replace(msg, block=block))
        return messages.sign(self.suite, m.node.secret, CHAIN_ID, replace(msg, block=block))

    def fetch(self, node: SimNode, peer: bytes, from_height: int, max_blocks: int) -> None:
        self.stats["fetches"] += 1
        holders = [m for m in self.members
                   if m.node.pubkey == peer and m.node is not node and m.node.up]
        if not holders:
            return
        src = holders[0]
        blocks = src.node.blocks(from_height, max_blocks)
        if src.behaviour == "bad_sig":
            blocks = [(b, replace(q, votes=tuple((i, bytes(64)) for i, _ in q.votes)))
                      for b, q in blocks]
        self.net.send(self.tick, src.ident, node.ident, ("fetched", peer, tuple(blocks)))

    # ---- clients and governance ------------------------------------------------------------

    def _submit(self, txs: list[SignedTx]) -> None:
        up = [m for m in self.members if m.node.up]
        if not up or not txs:
            return
        if self.sc.fixed_groups is not None and self.tick < self.sc.fault_ticks:
            # Each side of a held partition hears its own clients only.
            group = self.sc.fixed_groups[self.client.nonce % len(self.sc.fixed_groups)]
            targets = [m for m in up if m.ident in group]
        else:
            targets = self.rng.sample(up, self.rng.randint(1, len(up)))
        for m in targets:
            if m.node.up:
                try:
                    m.node.admit(txs)
                except Crash:
                    self._crash(m)

    def _client_tick(self) -> None:
        txs: list[SignedTx] = []
        for at, change in self.sc.gov:
            if at == self.tick:
                txs.append(self._gov_tx(change))
        if self.rng.random() < self.sc.tx_rate and len(self.pending) < CLIENT_PENDING_MAX:
            txs.append(self.client.attest(self.client.nonce))
        for tx in txs:
            self.pending[tx.tx_id(self.suite)] = tx
        if self.tick % RESUBMIT_TICKS == 0:
            txs = list(self.pending.values())
        self._submit(txs)

    def _gov_tx(self, change: str) -> SignedTx:
        if change == "add":
            k = self.sc.n + self._spares_seated
            self._spares_seated += 1
            return self.client.propose("add_validator",
                                       {"name": f"s{k - self.sc.n}", "pubkey": self.keys[k][1]})
        index = int(change.split(":")[1])
        return self.client.propose("remove_validator", {"pubkey": self.keys[index][1]})

    # ---- faults ----------------------------------------------------------------------------

    def _leader_ident(self) -> str:
        up = [m for m in self.members if m.node.driver is not None]
        if not up:
            return self.members[0].ident
        lead = max(up, key=lambda m: m.node.height())
        assert lead.node.driver is not None
        status = lead.node.driver.status()
        holders = self._holders(lead.node, status.leader)
        return holders[0].ident if holders else lead.ident

    def _maybe_partition(self) -> None:
        if not self.sc.partitions or self.rng.random() >= self.sc.partition_rate:
            return
        self.stats["partitions"] += 1
        if self._partitioned:
            self.net.heal()
            self._partitioned = False
            return
        idents = [m.ident for m in self.members]
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
            dst = self._member(item.dst)
            if not dst.node.up:
                continue
            kind, sender, payload = item.payload
            event: Event = (MessageIn(sender, payload) if kind == "msg"
                            else BlocksFetched(sender, payload))
            self._step(dst, event)
        crash_member = None
        if faults and self.sc.crash_rate and self.rng.random() < self.sc.crash_rate:
            crash_member = self.rng.choice(self.members)
        for m in self.members:
            if not m.node.up:
                if m.restart_at >= 0 and (self.tick >= m.restart_at or not faults):
                    if m.honest and self.sc.resync_share and \
                            self.rng.random() < self.sc.resync_share:
                        self._resync(m)
                    self._start(m)
                continue
            now_ms = GENESIS_TIME_MS + self.tick * TICK_MS + m.skew_ms
            self._step(m, Tick(now_ms), crash_inside=m is crash_member)
        if faults and self.sc.fixed_groups is None:
            self._maybe_partition()
        self._client_tick()

    def honest_heights(self) -> dict[str, int]:
        return {m.ident: m.node.height() for m in self.members if m.honest}

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
