"""The safety checker the simulator runs after every step.

It asserts, over the nodes it is told are honest: no two commit different blocks at one
height (so state roots agree too, and each node's stored state root is its header's); every
committed block's QC is valid under the set of that height (``verify_qc``); no transaction
is committed twice; no node's stored head goes backwards, across restarts included. Every
failure says ``reproduce with seed=N``.
"""

from __future__ import annotations

from ledger import schema
from ledger.block import QC, Block, ValidatorSet, verify_qc
from ledger.crypto import Suite
from ledger.errors import ProofError
from ledger.kv import KV


class SafetyViolation(AssertionError):
    pass


class LivenessFailure(AssertionError):
    pass


class Checker:
    def __init__(self, suite: Suite, seed: int) -> None:
        self.suite = suite
        self.seed = seed
        self.decided: dict[int, tuple[bytes, str]] = {}  # height -> (block hash, first node)
        self.tx_height: dict[str, dict[bytes, int]] = {}
        self.max_height: dict[str, int] = {}
        self._qc_checked: set[bytes] = set()
        self.commits = 0

    def fail(self, what: str) -> None:
        raise SafetyViolation(f"{what}; reproduce with seed={self.seed}")

    def on_commit(self, node: str, honest: bool, kv: KV, block: Block, qc: QC,
                  validators: ValidatorSet) -> None:
        self.commits += 1
        h = block.header
        block_hash = h.hash(self.suite)
        key = block_hash + qc.encode()
        if key not in self._qc_checked:
            try:
                verify_qc(self.suite, qc, h, validators)
            except ProofError as exc:
                self.fail(f"node {node} committed height {h.height} with a bad QC: {exc}")
            self._qc_checked.add(key)
        if kv.get(schema.state_root_key(h.height)) != h.state_root:
            self.fail(f"node {node} stored a state root differing from its header at {h.height}")
        if h.height < self.max_height.get(node, 0):
            self.fail(f"node {node} committed height {h.height} below its head")
        self.max_height[node] = h.height
        if not honest:
            return
        prior = self.decided.get(h.height)
        if prior is None:
            self.decided[h.height] = (block_hash, node)
        elif prior[0] != block_hash:
            self.fail(f"fork at height {h.height}: node {prior[1]} committed "
                      f"{prior[0].hex()[:12]}, node {node} committed {block_hash.hex()[:12]}")
        seen = self.tx_height.setdefault(node, {})
        for tid in block.tx_ids(self.suite):
            if tid in seen:
                self.fail(f"node {node} committed tx {tid.hex()[:12]} at heights "
                          f"{seen[tid]} and {h.height}")
            seen[tid] = h.height

    def on_head(self, node: str, height: int) -> None:
        """A node's stored head, observed after a step or a restart: never backwards."""
        if height < self.max_height.get(node, 0):
            self.fail(f"node {node} head went back from {self.max_height[node]} to {height}")
        self.max_height[node] = height
