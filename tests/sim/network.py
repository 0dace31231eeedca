"""The simulated network: seeded delay, loss, duplication, reordering and partitions.

Messages travel between *nodes* (a node is one running replica; twins are two nodes with
one validator index). A message addressed to an index reaches every node holding that
index that the sender can reach. Delivery order is ``(deliver_tick, seq)``, so a run is a
pure function of its seed. A partition is a list of groups; nodes reach each other only
within a group (a ring partition lists each node's reachable neighbours instead).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LinkModel:
    loss: float = 0.0          # probability a message is dropped
    duplicate: float = 0.0     # probability it is delivered twice
    delay_min_ticks: int = 1
    delay_max_ticks: int = 3   # uniform delay: spreads messages, so they reorder
    commit_loss: float = 0.0   # extra loss for commit votes: forces view changes after
    #                            some replicas decided, where prepared certificates matter


@dataclass(order=True)
class InFlight:
    deliver_tick: int
    seq: int
    dst: str = field(compare=False)
    payload: Any = field(compare=False)  # ("msg", sender key, message) | ("fetched", ...)


class Network:
    def __init__(self, rng: random.Random, model: LinkModel) -> None:
        self.rng = rng
        self.model = model
        self._queue: list[InFlight] = []
        self._seq = 0
        self.reach: dict[str, set[str]] | None = None  # None: everyone reaches everyone
        self.sent = 0
        self.dropped = 0

    def connected(self, src: str, dst: str) -> bool:
        return src == dst or self.reach is None or dst in self.reach.get(src, set())

    def partition_groups(self, groups: list[list[str]]) -> None:
        reach: dict[str, set[str]] = {}
        for g in groups:
            for a in g:
                reach[a] = set(g)
        self.reach = reach

    def partition_ring(self, ring: list[str]) -> None:
        k = len(ring)
        self.reach = {a: {ring[(i - 1) % k], ring[(i + 1) % k]} for i, a in enumerate(ring)}

    def heal(self) -> None:
        self.reach = None

    def send(self, now_tick: int, src: str, dst: str, payload: Any, reliable: bool = False) -> None:
        self.sent += 1
        if not self.connected(src, dst):
            self.dropped += 1
            return
        m = self.model
        loss = m.loss
        if m.commit_loss and type(payload[2]).__name__ == "Commit":
            loss = 1 - (1 - loss) * (1 - m.commit_loss)
        if not reliable and self.rng.random() < loss:
            self.dropped += 1
            return
        copies = 2 if not reliable and self.rng.random() < m.duplicate else 1
        for _ in range(copies):
            delay = self.rng.randint(m.delay_min_ticks, m.delay_max_ticks)
            self._seq += 1
            heapq.heappush(self._queue, InFlight(now_tick + delay, self._seq, dst, payload))

    def due(self, now_tick: int) -> list[InFlight]:
        out = []
        while self._queue and self._queue[0].deliver_tick <= now_tick:
            out.append(heapq.heappop(self._queue))
        return out
