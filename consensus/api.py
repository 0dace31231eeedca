"""The replica's interface: events in, effects out, the application it drives, its config.

Everything here is a frozen, slotted value. A shell (``node.py``, or the simulator in
``tests/sim``) turns the outside world into ``Event``s, calls ``Replica.step(event)``, and
executes the returned ``Effect``s **in order, completely, before the next step** — the
durability contract of ``consensus/__init__.py``.

Events:
- ``Tick(now_ms)``: one timer tick; ``now_ms`` is the shell's wall clock (UTC ms). The
  replica never reads a clock: this is its only source of time.
- ``TxsAdmitted()``: the transaction source (``TxSource``, the shell's pool) admitted
  transactions; a leader may propose now. The replica keeps no queue of its own: it asks
  the source for a batch when it proposes, so the pool is the one owner of waiting
  transactions (signatures checked by the shell on admission).
- ``MessageIn(peer, message)``: a decoded consensus message from the authenticated peer link
  of the node whose public key is ``peer``. The replica checks the message's own signature
  (and every signature inside it) against the validator set of the message's height, since
  only it knows which set applies; the shell need not. Peers are named by key, never by
  index: an index means something only in one validator set, and a peer ahead of us may
  already be in another.
- ``BlocksFetched(peer, blocks)``: the answer to ``FetchBlocks``: consecutive
  ``(block, qc)`` pairs from the peer's store, untrusted until the replica checked each QC.
- ``BlockApplied(height)``: optional nudge after the shell applied ``CommitBlock``; any
  later event does the same job.
- ``WakeAt(at_ms)``: the next time the application needs a block for, or None: a leader
  with nothing to propose proposes an empty block once ``now_ms`` reaches it and the head
  is older, instead of waiting for the heartbeat (a tender's bid deadline: its opening is at
  the deadline, and the chain learns the time only from a block's header). Only the
  leader's own shell's wake counts; a follower's timer does not run for it.

Effects:
- ``Persist(key, value)``: write to the KV under ``key`` (always a ``schema.consensus_key``);
  all ``Persist``s of a step must be durable (one synced batch) before any ``Send`` after
  them leaves the machine.
- ``Send(to, message)``: to validator index ``to``, or to every other validator if ``None``.
- ``CommitBlock(block, qc)``: the block is decided; write block, QC and state in one batch.
- ``FetchBlocks(peer, from_height, max_blocks)``: ask the peer with key ``peer`` for
  committed blocks.
- ``DropTxs(tx_ids)``: transactions the source offered that the application left out of a
  proposal (they can never run as they are): the shell removes them from its pool.
- ``Log(level, text)``: something an operator may want to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ledger.block import QC, Block, Header, ValidatorSet
from ledger.limits import MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS
from ledger.tx import SignedTx

if TYPE_CHECKING:
    from consensus.messages import Message


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    now_ms: int


@dataclass(frozen=True, slots=True)
class TxsAdmitted:
    pass


@dataclass(frozen=True, slots=True)
class MessageIn:
    peer: bytes  # public key of the link's peer
    message: Message


@dataclass(frozen=True, slots=True)
class BlocksFetched:
    peer: bytes
    blocks: tuple[tuple[Block, QC], ...]


@dataclass(frozen=True, slots=True)
class BlockApplied:
    height: int


@dataclass(frozen=True, slots=True)
class WakeAt:
    at_ms: int | None


Event = Tick | TxsAdmitted | MessageIn | BlocksFetched | BlockApplied | WakeAt


# ---- effects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persist:
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Send:
    to: int | None
    message: Message


@dataclass(frozen=True, slots=True)
class CommitBlock:
    block: Block
    qc: QC


@dataclass(frozen=True, slots=True)
class FetchBlocks:
    peer: bytes
    from_height: int
    max_blocks: int


@dataclass(frozen=True, slots=True)
class DropTxs:
    tx_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Log:
    level: str  # "debug" | "info" | "warning"
    text: str


Effect = Persist | Send | CommitBlock | FetchBlocks | DropTxs | Log


# ---- the application the replica drives ----------------------------------------------------


class Application(Protocol):
    """The deterministic state machine under consensus (the contracts executor in a node).

    Every call is synchronous and deterministic. ``parent`` is always the head the shell
    has applied (the replica never asks about a block whose parent is not applied yet).
    """

    def propose(self, parent: Header, height: int, view: int, proposer: int, time_ms: int,
                txs: tuple[SignedTx, ...]) -> Block:
        """Execute ``txs`` on the parent state and return a block with every root filled.
        Transactions that cannot be included (already committed, duplicated) are left
        out; the replica then drops them from its queue."""
        ...

    def validate(self, parent: Header, block: Block) -> str | None:
        """Re-execute ``block`` on the parent state: ``None`` if every root matches,
        else the reason (state root mismatch, duplicate transaction, ...)."""
        ...

    def next_validators(self, block: Block) -> ValidatorSet:
        """The set certifying the block after ``block``; called right after ``propose`` or
        ``validate`` of that same block returned."""
        ...

    def leader_memory(self, block: Block) -> int:
        """The leader memory after ``block``, in heights (``consensus.quorum``; 0: plain
        rotation, at most ``ledger.limits.LEADER_MEMORY_MAX``): a chain parameter, so every
        replica reads the same value at the same height. Called when ``block`` commits,
        before the shell applies it (its execution is still at hand)."""
        ...

    def heartbeat_ms(self, block: Block) -> int:
        """The heartbeat after ``block`` in ms (``ReplicaConfig.empty_block_ticks``): a chain
        parameter, so no replica times out a leader for a longer heartbeat than its own;
        0 leaves each replica its own ``empty_block_ticks``. Called as ``leader_memory``."""
        ...


class TxSource(Protocol):
    """Where a leader takes its proposal's transactions from (the shell's pool)."""

    @property
    def ready_count(self) -> int:
        """How many transactions could run now (each sender's consecutive nonces)."""
        ...

    def take(self, max_count: int, max_bytes: int) -> list[SignedTx]:
        """Up to ``max_count`` ready transactions, ``max_bytes`` in all, in the order a
        block may run them; nothing is removed (commits and ``DropTxs`` remove)."""
        ...


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """What a replica tells the shell about itself (``Replica.status()``), as one value."""

    height: int           # the height being decided (head + 1)
    view: int
    leader: int           # index of the leader of ``view`` at ``height``
    in_view_change: bool
    index: int | None     # our validator index; None while not in the set (an observer)
    validators: int
    head_time_ms: int
    evidence: int         # equivocation evidence kept
    passed_over: tuple[int, ...] = ()  # failed leaders moved to the end of the order at
    #                                    ``height`` (``consensus.quorum.failed_leaders``)


# ---- what the shell restores, and the knobs -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreState:
    """What the shell reads from its store to (re)start a replica.

    ``head`` is the last applied block's header (genesis at height 0) and ``head_qc`` its QC
    (``None`` at genesis). ``consensus`` is every key/value under ``schema.CONSENSUS``
    exactly as written by earlier ``Persist`` effects (empty on a fresh node). ``recent``
    and ``leader_memory`` say who failed to lead lately (``consensus.quorum``): the committed
    headers of the last ``ledger.limits.LEADER_MEMORY_MAX`` heights up to ``head`` (those
    decided in view 0 may be left out; a state-synced store has none below its base), and
    the chain parameter ``leader_memory_heights`` in the state after ``head``;
    ``heartbeat_ms`` the chain parameter ``heartbeat_ms`` there (0: the replica's own).
    """

    head: Header
    head_qc: QC | None = None
    consensus: Mapping[bytes, bytes] = field(default_factory=dict)
    recent: tuple[Header, ...] = ()
    leader_memory: int = 0
    heartbeat_ms: int = 0


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """Every bound of the replica, in one place. Ticks are the shell's timer ticks."""

    batch_tx_max: int = 1000          # transactions per proposed block
    batch_bytes_max: int = 4 << 20    # encoded transaction bytes per proposed block
    batch_wait_ticks: int = 1         # a leader with transactions waits this long to batch
    empty_block_ticks: int = 6000     # heartbeat: with nothing to propose, an empty block
    #                                   after this many ticks at a height (5 minutes at the
    #                                   node's 50 ms tick: an idle chain writes few blocks);
    #                                   only while the chain parameter heartbeat_ms is 0
    view_timeout_ticks: int = 40      # view 0's timeout; view v waits base * 2**v ...
    view_timeout_max_ticks: int = 640  # ... up to this cap
    view_change_resend_ticks: int = 10  # re-broadcast our view change while waiting
    max_clock_skew_ms: int = 2000     # a proposal's time_ms within this of our clock
    height_window: int = 4            # buffer messages up to this many heights ahead
    view_window: int = 32             # accept votes up to this many views ahead
    future_buffer_max: int = 64       # buffered future messages per sender
    fetch_timeout_ticks: int = 20     # give up waiting for a BlocksFetched after this
    fetch_blocks_max: int = 64        # blocks asked for in one FetchBlocks
    evidence_max: int = 64            # equivocation evidence kept
    # (how long a failed leader is passed over is a chain parameter, not a knob of a node:
    # ``leader_memory_heights``, see ``consensus.quorum`` and ``Application.leader_memory``)

    def check(self) -> None:
        if self.batch_tx_max > MAX_BLOCK_TXS or self.batch_bytes_max > MAX_BLOCK_TX_BYTES:
            raise ValueError(f"a batch must fit a block: at most {MAX_BLOCK_TXS} transactions "
                             f"and {MAX_BLOCK_TX_BYTES} bytes")
        if self.view_timeout_ticks <= self.batch_wait_ticks + 2:
            raise ValueError("view_timeout_ticks must exceed batch_wait_ticks + 2")
        if self.view_timeout_max_ticks < self.view_timeout_ticks:
            raise ValueError("view_timeout_max_ticks must be ≥ view_timeout_ticks")
        for name in ("batch_tx_max", "batch_bytes_max", "height_window", "view_window",
                     "future_buffer_max", "fetch_timeout_ticks",
                     "fetch_blocks_max", "view_change_resend_ticks", "evidence_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1")
