"""The one synchronous driver: a replica step's effects executed in the durability order.

The asyncio node (``shell.server``) and the simulator (``tests/sim``) both run every replica
step through ``Driver.step``; they differ only in the ``Transport`` they give it (real peer
links or a simulated network) and in the KV under the ``Storage`` (LevelDB or memory).

For one event, ``replica.step(event)`` returns effects that are executed in order
(``consensus/__init__.py`` states the contract this follows):

1. ``Persist`` effects are gathered into one batch, written and synced before the next effect
   of any other kind, so a replica's own vote is on disk before it can leave the process;
2. ``Send`` → ``transport.send``; ``FetchBlocks`` → ``transport.fetch``;
3. ``CommitBlock`` → ``storage.commit`` (block, QC, state, receipts, indexes and head in one
   synced batch; the pool then forgets the block's transactions and the ones their nonces
   made stale), then every commit observer (metrics, the event stream, a test's checker);
4. ``DropTxs`` → ``storage.drop_txs``; ``Log`` → the logger.

After a commit the driver steps the replica once more with ``BlockApplied``: the replica
resumes what it buffered on the new head. Proposals take transactions from the pool
(``consensus.api.TxSource``), so nothing needs to be "re-offered" after a commit.

An exception from the storage, the transport or the replica propagates: a node whose replica
step failed stops (``shell.server``), and the simulator injects crashes by making its storage
or transport raise in the middle of a step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from consensus.api import (
    BlockApplied,
    CommitBlock,
    DropTxs,
    Effect,
    Event,
    FetchBlocks,
    Log,
    Persist,
    ReplicaStatus,
    Send,
)
from consensus.messages import Message
from consensus.replica import Replica
from ledger.block import QC, Block
from ledger.tx import Receipt

CommitObserver = Callable[[Block, QC, list[Receipt]], None]


class Storage(Protocol):
    """The node's durable side, as the driver uses it (``shell.chain.Chain``)."""

    def persist(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """Write ``items`` as one batch and sync it before returning."""
        ...

    def commit(self, block: Block, qc: QC) -> list[Receipt]:
        """Apply a decided block in one synced batch; the pool forgets what it committed."""
        ...

    def drop_txs(self, tx_ids: Sequence[bytes]) -> None:
        """Forget pending transactions a proposal could not run."""
        ...


class Transport(Protocol):
    """How consensus messages and block requests leave the node."""

    def send(self, to: int | None, message: Message) -> None:
        """To validator ``to``, or to every other validator when ``None``; never blocks."""
        ...

    def fetch(self, peer: bytes, from_height: int, max_blocks: int) -> None:
        """Ask the peer with key ``peer`` for committed blocks; the answer comes back as
        ``BlocksFetched``."""
        ...


class Driver:
    """Steps one replica and executes its effects (see the module docstring)."""

    def __init__(self, replica: Replica, storage: Storage, transport: Transport,
                 observers: Sequence[CommitObserver] = (),
                 log: logging.Logger | None = None) -> None:
        self.replica = replica
        self.storage = storage
        self.transport = transport
        self.observers = list(observers)
        self.log = log or logging.getLogger("credchain.replica")
        self.commits = 0

    def status(self) -> ReplicaStatus:
        return self.replica.status()

    def step(self, event: Event) -> list[Effect]:
        """Step the replica with ``event`` and execute every effect, including those of the
        ``BlockApplied`` steps that follow commits. Returns every effect executed, in order
        (tests read them)."""
        done: list[Effect] = []
        effects = self.replica.step(event)
        while True:
            done += effects
            height = self._execute(effects)
            if height is None:
                return done
            effects = self.replica.step(BlockApplied(height))

    def _execute(self, effects: Sequence[Effect]) -> int | None:
        """Run ``effects`` in order; returns the last committed height, if any."""
        committed: int | None = None
        batch: list[tuple[bytes, bytes]] = []
        for effect in effects:
            if isinstance(effect, Persist):
                batch.append((effect.key, effect.value))
                continue
            if batch:
                self.storage.persist(batch)
                batch = []
            if isinstance(effect, Send):
                self.transport.send(effect.to, effect.message)
            elif isinstance(effect, CommitBlock):
                receipts = self.storage.commit(effect.block, effect.qc)
                self.commits += 1
                committed = effect.block.header.height
                for observe in self.observers:
                    observe(effect.block, effect.qc, receipts)
            elif isinstance(effect, FetchBlocks):
                self.transport.fetch(effect.peer, effect.from_height, effect.max_blocks)
            elif isinstance(effect, DropTxs):
                self.storage.drop_txs(effect.tx_ids)
            elif isinstance(effect, Log):
                level = {"debug": logging.DEBUG, "warning": logging.WARNING}.get(
                    effect.level, logging.INFO)
                self.log.log(level, "%s", effect.text)  # debug: only if the config asks
            else:
                raise AssertionError(f"unknown effect {effect!r}")
        if batch:
            self.storage.persist(batch)
        return committed
