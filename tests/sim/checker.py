"""The safety checker the simulator runs after every step.

It asserts, over the nodes it is told are honest: no two commit different blocks at one
height (so state roots agree too, and each node's stored state root is its header's); every
committed block's QC is valid under the set of that height (``verify_qc``); no transaction
is committed twice; no node's stored head goes backwards, across restarts included; and the
durability contract: every vote, proposal and view change an honest node sends is already
justified by its persisted round record (persist, then send). Every
failure says ``reproduce with seed=N``.
"""

from __future__ import annotations

from consensus import durable
from consensus.messages import Commit, Message, NewView, Prepare, PrePrepare, ViewChange
from ledger import schema
from ledger.block import QC, Block, ValidatorSet, verify_qc
from ledger.crypto import Suite
from ledger.errors import ProofError
from ledger.kv import KV
from shell.chain import Chain


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

    def on_reopen(self, node: str, chain: Chain) -> None:
        """A (re)started node's store: it reopens at the last block the node completed
        (a crash inside a step loses nothing committed and keeps nothing half-written), and
        its state tree is at that block's state root."""
        height = chain.height()
        if height != self.max_height.get(node, 0):
            self.fail(f"node {node} reopened at height {height}, but its last complete "
                      f"block is {self.max_height.get(node, 0)}")
        header = chain.store.head_header()
        if chain.store.tree.root != header.state_root:
            self.fail(f"node {node} reopened with a state tree off its head's state root")

    def on_resync(self, node: str, chain: Chain) -> None:
        """A node's store replaced by one started from a snapshot (``node resync
        --state-sync``): its head is the block decided at that height, and it goes on from
        there (``on_reopen`` then finds it at that height)."""
        header = chain.store.head_header()
        prior = self.decided.get(header.height)
        if prior is None or prior[0] != header.hash(self.suite):
            self.fail(f"node {node} state-synced to a block at height {header.height} that "
                      "no honest node committed")
        if header.height < self.max_height.get(node, 0):
            self.fail(f"node {node} state-synced below its head")
        self.max_height[node] = header.height

    def on_head(self, node: str, height: int) -> None:
        """A node's stored head, observed after a step or a restart: never backwards."""
        if height < self.max_height.get(node, 0):
            self.fail(f"node {node} head went back from {self.max_height[node]} to {height}")
        self.max_height[node] = height

    def on_send(self, node: str, kv: KV, msg: Message) -> None:
        """Persist, then send: the message must already follow from what is on disk."""
        raw = kv.get(durable.ROUND_KEY)
        rnd = None if raw is None else durable.RoundRecord.decode(raw)
        if rnd is None or rnd.height != msg.height or rnd.view != msg.view:
            self.fail(f"node {node} sent {type(msg).__name__} at height {msg.height} view "
                      f"{msg.view} before persisting that round ({rnd})")
            return
        if isinstance(msg, Prepare) and rnd.prepare != msg.block_hash:
            self.fail(f"node {node} sent a prepare it had not persisted")
        if isinstance(msg, PrePrepare | NewView) and rnd.prepare != msg.block.hash(self.suite):
            self.fail(f"node {node} proposed a block without persisting its own prepare")
        if isinstance(msg, Commit):
            praw = kv.get(durable.PREPARED_KEY)
            prep = None if praw is None else durable.PreparedRecord.decode(praw)
            if rnd.commit != msg.block_hash or prep is None \
                    or prep.cert.block_hash != msg.block_hash:
                self.fail(f"node {node} sent a commit vote before persisting it and its "
                          "prepared certificate")
        if isinstance(msg, ViewChange) and not rnd.in_view_change:
            self.fail(f"node {node} sent a view change before persisting it")
