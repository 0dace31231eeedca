"""The PBFT replica: ``Replica.step(event) -> list[Effect]``, pure and deterministic.

PBFT (Castro & Liskov) on a chain, one block per height, no pipelining (the in-flight
window is one height; messages up to ``height_window`` heights ahead are buffered):

1. View 0 of a height: the leader ``(view + height) mod n`` takes a batch of ready
   transactions from the shell's pool (``TxSource``; bounded by count, bytes and
   ``batch_wait_ticks``, or at once when it has just applied the previous height's block;
   an empty "heartbeat" block once the heartbeat passed at the height with nothing to
   propose (the chain parameter ``heartbeat_ms``, or where the chain leaves it at 0 our
   own ``empty_block_ticks``), so an idle chain writes few blocks, or at once when the
   shell's ``WakeAt`` time has come and the head is older: a tender's deadline), executes them
   (``Application.propose``) and broadcasts a ``PrePrepare`` carrying the block. Views above
   0 propose through ``NewView`` only. The replica keeps no transaction queue of its own.
2. A replica checks the proposal (``consensus.checks``: parent, height, proposer, time,
   validator set, re-execution) and broadcasts a ``Prepare``.
3. A quorum of prepares for the block it accepted in its view makes it *prepared*: it
   persists the certificate and broadcasts a ``Commit`` (the PROTOCOL §5 commit vote).
4. A quorum of commit votes for a block it has checked, in any view, is the block's QC:
   ``CommitBlock(block, qc)``, and the replica moves to the next height, view 0.
5. No commit within the view's timeout (``view_timeout_ticks * 2**view`` up to
   ``view_timeout_max_ticks``) → view change (``consensus.viewchange``). The timer counts
   only ticks in which a proposal is owed (``_expecting_proposal``): an idle chain does not
   change views, and a leader with work it does not propose is replaced as before.
6. A peer seen at a higher height → ``FetchBlocks``; each fetched block's QC is verified and
   the block re-executed before it is applied (``consensus.checks.check_fetched``).

Durability follows ``consensus/__init__.py``: every own vote, view change and prepared
certificate is in a ``Persist`` effect placed before the ``Send`` it justifies. The
replica never calls the application on a head the shell has not applied: after a
``CommitBlock`` it stops for the step and resumes buffered work at the next event.
A broken internal invariant raises ``AssertionError`` and must stop the node.
"""

from __future__ import annotations

from collections import deque

from consensus import durable, messages
from consensus.api import (
    Application,
    BlockApplied,
    BlocksFetched,
    CommitBlock,
    DropTxs,
    Effect,
    Event,
    FetchBlocks,
    Log,
    MessageIn,
    Persist,
    ReplicaConfig,
    ReplicaStatus,
    Send,
    StoreState,
    Tick,
    TxsAdmitted,
    TxSource,
    WakeAt,
)
from consensus.checks import check_fetched, check_proposal
from consensus.durable import PreparedRecord, RoundRecord
from consensus.messages import Commit, Message, NewView, Prepare, PreparedCert, PrePrepare
from consensus.messages import ViewChange as ViewChangeMsg
from consensus.quorum import failed_leaders, leader, quorum, weak_quorum
from consensus.viewchange import (
    ViewChanges,
    check_new_view,
    check_view_change,
    highest_prepared,
)
from consensus.voteset import Evidence, VoteSet
from ledger.block import QC, Block, Header, ValidatorSet, validators_hash
from ledger.crypto import Suite
from ledger.limits import LEADER_MEMORY_MAX

_DEFERRED_MAX = 100_000  # events held while a commit is being applied (a few at most)
_REJECTED_MAX = 64  # invalid proposals re-executed per height before we stop looking


class Replica:
    """One validator's consensus state machine. See the module docstring."""

    def __init__(self, suite: Suite, secret: bytes, chain_id: str,
                 validators: ValidatorSet, app: Application, txs: TxSource,
                 store_state: StoreState, config: ReplicaConfig | None = None,
                 abstain: bool = False, tick_ms: int = 50) -> None:
        """``abstain``: never vote or propose, even while in the set (the shell found the
        store's record of our own votes missing; voting again could contradict them).
        ``tick_ms``: how long the shell's ticks are (the chain's heartbeat is in ms)."""
        self.config = config or ReplicaConfig()
        self.config.check()
        if tick_ms < 1:
            raise ValueError("tick_ms must be ≥ 1")
        self._tick_ms = tick_ms
        self.suite = suite
        self._secret = secret
        self.pubkey = suite.public_key(secret)
        self.chain_id = chain_id
        self.app = app
        self.txs = txs
        self.validators = validators
        self.abstain = abstain
        self.head: Header = store_state.head
        # Our own votes on record reach up to this height. At the height in flight they are
        # restored below (``_restore``); but when the store's head is further behind them
        # (blocks restored from an older copy, or fetched again after a resync) we can't
        # know every vote we sent between: we vote again only above the recorded height.
        recorded = durable.recorded_height(store_state.consensus)
        self.vote_floor = recorded if recorded > self.head.height + 1 else 0
        self.head_qc: QC | None = store_state.head_qc
        # Who failed to lead lately (``consensus.quorum``): the committed headers decided in
        # a view above 0 of the last LEADER_MEMORY_MAX heights, oldest first, and the chain's
        # leader memory (a parameter a vote may change) after the head.
        self._recent: deque[Header] = deque(h for h in store_state.recent if h.view > 0)
        self._leader_memory = store_state.leader_memory
        self.heartbeat_ticks = self._heartbeat_ticks(store_state.heartbeat_ms)
        self.now_ms = 0
        self.wake_at_ms: int | None = None  # ``WakeAt``: a time the application wants a block
        self.ticks = 0
        self.evidence: list[Evidence] = []
        self._future: dict[int, deque[Message]] = {}
        self._ready: deque[Message] = deque()
        self._deferred: deque[Event] = deque(maxlen=_DEFERRED_MAX)
        self._fetched: deque[tuple[Block, QC]] = deque()
        self._fetch_deadline = -1
        self._barrier = False
        self._enter_height()
        self._restore(store_state)

    # ---- per-height state ------------------------------------------------------------------

    def _my_index(self) -> int | None:
        """Our key's place in the set, or None: outside the set (an observer until a
        validator change seats us), abstaining, or at or below our vote floor."""
        if self.abstain or self.head.height + 1 <= self.vote_floor:
            return None
        return _index_of(self.validators, self.pubkey)

    def _enter_height(self) -> None:
        self.index = self._my_index()
        self.height = self.head.height + 1
        self.passed_over = failed_leaders(
            self._recent, self.height, len(self.validators),
            validators_hash(self.suite, self.validators), self._leader_memory)
        self.view = 0
        self.in_view_change = False
        self.ticks_in_view = 0
        self.ticks_at_height = 0
        self._resend_ticks = 0
        self.proposal: Block | None = None
        self._valid: dict[bytes, tuple[Block, ValidatorSet]] = {}
        # (hash, fresh): a block refused as a fresh proposal (say, for its time) may still be
        # re-proposed under a prepared certificate, where its time is not judged again.
        self._invalid: set[tuple[bytes, bool]] = set()
        self.prepares = VoteSet("prepare", self.height)
        self.commits = VoteSet("commit", self.height)
        self.my_prepare: bytes | None = None
        self.my_commit: bytes | None = None
        self.prepared: PreparedRecord | None = None
        self.vcs = ViewChanges()
        self._my_vc: ViewChangeMsg | None = None
        self._my_new_view: NewView | None = None
        for sender, queue in self._future.items():
            keep: deque[Message] = deque(maxlen=self.config.future_buffer_max)
            for m in queue:
                if m.height == self.height:
                    self._ready.append(m)
                elif m.height > self.height:
                    keep.append(m)
            self._future[sender] = keep

    def _leader(self, view: int) -> int:
        return leader(self.height, view, len(self.validators), self.passed_over)

    def _restore(self, store_state: StoreState) -> None:
        rnd, prep = durable.load(store_state.consensus, self.height)
        if prep is not None:
            reason, nxt = check_proposal(self.suite, self.chain_id, self.head, self.validators,
                                         prep.block, self.app, now_ms=0,
                                         max_clock_skew_ms=0, fresh=False,
                                         passed_over=self.passed_over)
            if reason is not None or prep.block.hash(self.suite) != prep.cert.block_hash:
                raise AssertionError(f"our own prepared block no longer checks: {reason}")
            self.prepared = prep
            self._valid[prep.cert.block_hash] = (prep.block, nxt)
        if rnd is not None:
            self.view = rnd.view
            self.in_view_change = rnd.in_view_change
            self.my_prepare = rnd.prepare
            self.my_commit = rnd.commit
            if rnd.in_view_change and self.index is not None:
                # Rebuild the view change we had sent, so that we can keep re-sending it.
                prep = self.prepared
                self._my_vc = self._sign(ViewChangeMsg(
                    self.height, self.view, self.index, None if prep is None else prep.cert,
                    None if prep is None else prep.block))
                self.vcs.add(self._my_vc)

    # ---- the one entry point ---------------------------------------------------------------

    def step(self, event: Event) -> list[Effect]:
        """Handle one event; return the effects to execute, in order, before the next."""
        out: list[Effect] = []
        if self._barrier:
            self._barrier = False
            self._drain(out)
        if self._barrier:
            self._deferred.append(event)
            return out
        self._handle(event, out)
        return out

    def _drain(self, out: list[Effect]) -> None:
        while not self._barrier and self._fetched:
            self._apply_fetched(out)
        while not self._barrier and self._ready:
            self._on_message(self._ready.popleft(), out)
        while not self._barrier and self._deferred:
            self._handle(self._deferred.popleft(), out)

    def _handle(self, event: Event, out: list[Effect]) -> None:
        if isinstance(event, Tick):
            self._on_tick(event.now_ms, out)
        elif isinstance(event, TxsAdmitted):
            self._maybe_propose(out)
        elif isinstance(event, MessageIn):
            msg = event.message
            if (msg.height == self.height and 0 <= msg.sender < len(self.validators)
                    and self.validators[msg.sender].pubkey != event.peer):
                out.append(Log("warning", f"peer {event.peer.hex()[:16]} relayed a message "
                                          f"signed as validator {msg.sender}; dropped"))
                return
            self._on_message(msg, out, event.peer)
        elif isinstance(event, BlocksFetched):
            self._on_fetched(event, out)
        elif isinstance(event, WakeAt):
            self.wake_at_ms = event.at_ms
            self._maybe_propose(out)
        elif isinstance(event, BlockApplied):
            # The drain at the top of ``step`` already resumed. A leader of the new height
            # proposes at once what gathered during the last one: those transactions have
            # waited a whole round already (batching them longer only adds latency).
            if not self._barrier:
                self._maybe_propose(out, at_once=True)
        else:
            raise AssertionError(f"unknown event {event!r}")

    # ---- time ------------------------------------------------------------------------------

    def _heartbeat_ticks(self, chain_ms: int) -> int:
        """Ticks at a height with nothing to propose before the heartbeat's empty block is
        due: the chain's ``heartbeat_ms`` (the same at every replica at a height), or, on a
        chain that leaves it at 0, our own ``empty_block_ticks``."""
        if chain_ms <= 0:
            return self.config.empty_block_ticks
        return max(1, -(-chain_ms // self._tick_ms))

    def timeout_ticks(self, view: int) -> int:
        base = self.config.view_timeout_ticks << min(view, 30)
        return min(base, self.config.view_timeout_max_ticks)

    def _expecting_proposal(self) -> bool:
        """Whether the view's timer runs. An idle chain writes no blocks: a leader proposes
        when transactions are ready or the heartbeat (``heartbeat_ticks``) is due, so a
        replica only waits for a proposal, and times the leader out, when one is owed: a
        proposal is known (or the view began with a new view), transactions are ready
        here (gossip has given the leader them too), or the heartbeat is due."""
        return (self.proposal is not None or self.view > 0 or self.txs.ready_count > 0
                or self.ticks_at_height >= self.heartbeat_ticks)

    def _on_tick(self, now_ms: int, out: list[Effect]) -> None:
        # The latest reading, not the highest ever seen: a clock stepped forward and back
        # must not keep judging proposals (and timing our own) by the forward time.
        self.now_ms = now_ms
        self.ticks += 1
        self.ticks_at_height += 1
        if self.index is None:
            return
        if not self.in_view_change:
            if self._expecting_proposal():
                self.ticks_in_view += 1
            self._maybe_propose(out)
            if self.ticks_in_view >= self.timeout_ticks(self.view):
                out.append(Log("info", f"height {self.height} view {self.view} timed out"))
                self._start_view_change(self.view + 1, out)
            return
        # Waiting for a new view: the timer runs once a quorum has moved this far.
        if self.vcs.moved_at_least(self.view) >= quorum(len(self.validators)):
            self.ticks_in_view += 1
        if self.ticks_in_view >= self.timeout_ticks(self.view):
            self._start_view_change(self.view + 1, out)
            return
        self._resend_ticks += 1
        if self._resend_ticks >= self.config.view_change_resend_ticks and self._my_vc:
            self._resend_ticks = 0
            out.append(Send(None, self._my_vc))

    # ---- transactions and proposals --------------------------------------------------------

    def _build_block(self, view: int, out: list[Effect]) -> Block:
        assert self.index is not None
        cfg = self.config
        offered = tuple(self.txs.take(cfg.batch_tx_max, cfg.batch_bytes_max))
        time_ms = max(self.now_ms, self.head.time_ms + 1)
        block = self.app.propose(self.head, self.height, view, self.index, time_ms, offered)
        if len(block.txs) < len(offered):
            # What the application left out can't run as it is: the pool forgets it.
            included = set(block.tx_ids(self.suite))
            left = tuple(t for t in (tx.tx_id(self.suite) for tx in offered)
                         if t not in included)
            out.append(DropTxs(left))
        self._valid[block.hash(self.suite)] = (block, self.app.next_validators(block))
        return block

    def _maybe_propose(self, out: list[Effect], at_once: bool = False) -> None:
        if (self.index is None or self.view != 0 or self.in_view_change
                or self.proposal is not None or self.my_prepare is not None
                or self._leader(0) != self.index):
            return
        cfg = self.config
        ready = self.txs.ready_count
        full = ready >= cfg.batch_tx_max
        waited = (at_once or self.ticks_in_view >= cfg.batch_wait_ticks) and ready > 0
        woken = self.wake_at_ms is not None and self.now_ms >= self.wake_at_ms > self.head.time_ms
        if not (full or waited or woken or self.ticks_at_height >= self.heartbeat_ticks):
            return
        block = self._build_block(0, out)
        block_hash = block.hash(self.suite)
        self.proposal = block
        # Our prepare is persisted before the pre-prepare leaves, so a restarted leader
        # never proposes a second block in this view.
        self._vote_prepare(block_hash, out, before=self._sign(
            PrePrepare(self.height, 0, self.index, block)))

    # ---- messages --------------------------------------------------------------------------

    def _sign(self, msg: messages.M) -> messages.M:
        return messages.sign(self.suite, self._secret, self.chain_id, msg)

    def _verified(self, msg: Message) -> bool:
        n = len(self.validators)
        return 0 <= msg.sender < n and messages.verify(
            self.suite, self.chain_id, self.validators[msg.sender].pubkey, msg)

    def _on_message(self, msg: Message, out: list[Effect], peer: bytes | None = None) -> None:
        """``peer``: the key of the link it came over (None when replayed from the buffer)."""
        if msg.height < self.height:
            return
        if msg.height > self.height:
            self._buffer(msg)
            stuck = self.ticks_at_height >= self.config.fetch_timeout_ticks
            if peer is not None and (msg.height > self.height + 1 or stuck):
                self._maybe_fetch(peer, out)
            return
        if msg.view > self.view + self.config.view_window:
            return
        if isinstance(msg, PrePrepare):
            self._on_pre_prepare(msg, out)
        elif isinstance(msg, Prepare):
            self._on_vote(self.prepares, msg, out)
            self._check_prepared(out)
        elif isinstance(msg, Commit):
            self._on_vote(self.commits, msg, out)
            self._check_committed(out)
        elif isinstance(msg, ViewChangeMsg):
            self._on_view_change(msg, out)
        elif isinstance(msg, NewView):
            self._on_new_view(msg, out)

    def _buffer(self, msg: Message) -> None:
        if msg.height <= self.height + self.config.height_window:
            queue = self._future.get(msg.sender)
            if queue is None:
                queue = self._future[msg.sender] = deque(maxlen=self.config.future_buffer_max)
            queue.append(msg)

    def _on_vote(self, votes: VoteSet, msg: Prepare | Commit, out: list[Effect]) -> None:
        if votes.voted(msg.view, msg.sender) == msg.block_hash or not self._verified(msg):
            return
        evidence = votes.add(msg.view, msg.sender, msg.block_hash, msg.sig)
        if evidence is not None:
            if len(self.evidence) < self.config.evidence_max:
                self.evidence.append(evidence)
            out.append(Log("warning", f"validator {msg.sender} equivocated: two {votes.kind} "
                                      f"votes at height {msg.height} view {msg.view}"))

    def _check_block(self, block: Block, fresh: bool, out: list[Effect]) -> bool:
        block_hash = block.hash(self.suite)
        if block_hash in self._valid:
            return True
        if (block_hash, fresh) in self._invalid or (fresh and len(self._invalid) >= _REJECTED_MAX):
            return False  # a byzantine leader cannot make us re-execute without end
        reason, nxt = check_proposal(
            self.suite, self.chain_id, self.head, self.validators, block, self.app,
            now_ms=self.now_ms, max_clock_skew_ms=self.config.max_clock_skew_ms, fresh=fresh,
            passed_over=self.passed_over)
        if reason is not None:
            self._invalid.add((block_hash, fresh))
            out.append(Log("warning", f"height {self.height}: rejected proposal: {reason}"))
            return False
        self._valid[block_hash] = (block, nxt)
        return True

    def _on_pre_prepare(self, msg: PrePrepare, out: list[Effect]) -> None:
        if (msg.view != 0 or self.view != 0 or self.in_view_change or self.proposal is not None
                or msg.sender != self._leader(0)):
            return
        h = msg.block.header
        if h.view != 0 or h.proposer != msg.sender or not self._verified(msg):
            return
        block_hash = msg.block.hash(self.suite)
        if self.my_prepare not in (None, block_hash):
            out.append(Log("warning", "a second proposal in a view we already prepared in"))
            return
        if not self._check_block(msg.block, fresh=True, out=out):
            return
        self.proposal = msg.block
        self._vote_prepare(block_hash, out)

    def _persist_round(self, out: list[Effect]) -> None:
        rec = RoundRecord(self.height, self.view, self.in_view_change, self.my_prepare,
                          self.my_commit)
        out.append(Persist(durable.ROUND_KEY, rec.encode()))

    def _vote_prepare(self, block_hash: bytes, out: list[Effect],
                      before: Message | None = None) -> None:
        if self.index is None:
            return
        if self.my_prepare is not None and self.my_prepare != block_hash:
            out.append(Log("warning", "refusing a second prepare in one view"))
            return
        if self.my_prepare is None:
            self.my_prepare = block_hash
            self._persist_round(out)
        if before is not None:
            out.append(Send(None, before))
        vote = self._sign(Prepare(self.height, self.view, self.index, block_hash))
        out.append(Send(None, vote))
        self.prepares.add(self.view, self.index, block_hash, vote.sig)
        self._check_prepared(out)

    def _check_prepared(self, out: list[Effect]) -> None:
        if (self.index is None or self.in_view_change or self.proposal is None
                or self.my_commit is not None):
            return
        block_hash = self.proposal.hash(self.suite)
        need = quorum(len(self.validators))
        if self.my_prepare != block_hash or self.prepares.count(self.view, block_hash) < need:
            return
        cert = PreparedCert(self.height, self.view, block_hash,
                            self.prepares.signatures(self.view, block_hash))
        self.prepared = PreparedRecord(self.height, cert, self.proposal)
        out.append(Persist(durable.PREPARED_KEY, self.prepared.encode()))
        self.my_commit = block_hash
        self._persist_round(out)
        vote = self._sign(Commit(self.height, self.view, self.index, block_hash))
        out.append(Send(None, vote))
        self.commits.add(self.view, self.index, block_hash, vote.sig)
        self._check_committed(out)

    def _check_committed(self, out: list[Effect]) -> None:
        need = quorum(len(self.validators))
        for view, block_hash in self.commits.quorum_blocks(need):
            known = self._valid.get(block_hash)
            if known is None:
                # Decided without us seeing the block: a voter will have it shortly.
                voter = next(i for i, _ in self.commits.signatures(view, block_hash)
                             if i != self.index)
                self._maybe_fetch(self.validators[voter].pubkey, out)
                continue
            qc = QC(self.height, view, block_hash, self.commits.signatures(view, block_hash))
            self._commit(known[0], qc, known[1], out)
            return

    def _commit(self, block: Block, qc: QC, next_validators: ValidatorSet,
                out: list[Effect]) -> None:
        assert block.header.height == self.height, "committing out of order"
        out.append(CommitBlock(block, qc))
        # an idle chain's heartbeat blocks are debug: at a 1 s heartbeat, one INFO line each
        # was 86,400 lines a day saying nothing (operator walk)
        out.append(Log("info" if block.txs or qc.view else "debug",
                       f"committed height {self.height} view {qc.view} "
                       f"with {len(block.txs)} txs"))
        self.head, self.head_qc = block.header, qc
        self._leader_memory = self.app.leader_memory(block)
        self.heartbeat_ticks = self._heartbeat_ticks(self.app.heartbeat_ms(block))
        if block.header.view > 0:
            self._recent.append(block.header)
        while self._recent and self._recent[0].height <= self.head.height - LEADER_MEMORY_MAX:
            self._recent.popleft()
        if next_validators != self.validators:
            self.validators = next_validators
        self._barrier = True  # the shell applies the block before we touch the app again
        self._enter_height()

    # ---- view change -----------------------------------------------------------------------

    def _start_view_change(self, new_view: int, out: list[Effect]) -> None:
        assert new_view > self.view or (new_view == self.view and not self.in_view_change)
        if self.index is None:
            return
        self.view = new_view
        self.in_view_change = True
        self.proposal = None
        self.my_prepare = self.my_commit = None
        self.ticks_in_view = 0
        self._resend_ticks = 0
        self._my_new_view = None
        self.vcs.prune_below(new_view)
        self._persist_round(out)
        prep = self.prepared
        vc = self._sign(ViewChangeMsg(self.height, new_view, self.index,
                                      None if prep is None else prep.cert,
                                      None if prep is None else prep.block))
        self._my_vc = vc
        out.append(Send(None, vc))
        self.vcs.add(vc)
        self._after_view_change(out)

    def _on_view_change(self, msg: ViewChangeMsg, out: list[Effect]) -> None:
        if msg.view < self.view:
            return
        if msg.view == self.view and not self.in_view_change:
            # It missed our view's new view: the leader repeats it to that replica.
            if self._my_new_view is not None and self._my_new_view.view == self.view:
                out.append(Send(msg.sender, self._my_new_view))
            return
        reason = check_view_change(self.suite, self.chain_id, self.validators, msg,
                                   self.height, need_block=True)
        if reason is not None:
            out.append(Log("warning", f"dropped view change: {reason}"))
            return
        self.vcs.add(msg)
        self._after_view_change(out)

    def _after_view_change(self, out: list[Effect]) -> None:
        n = len(self.validators)
        target = self.vcs.join_target(self.view, self.index, weak_quorum(n))
        if target is not None:
            self._start_view_change(target, out)  # recurses here once, then target is None
            return
        if (not self.in_view_change or self.index is None or self._my_new_view is not None
                or self._leader(self.view) != self.index):
            return
        vcs = self.vcs.for_view(self.view)
        if len(vcs) < quorum(n):
            return
        best = highest_prepared(vcs)
        if best is not None and best.prepared is not None:
            block = best.block
            if block is None or not self._check_block(block, fresh=False, out=out):
                raise AssertionError("a prepared block in a checked view change fails checks")
        else:
            block = self._build_block(self.view, out)
        nv = self._sign(NewView(self.height, self.view, self.index,
                                tuple(vc.stripped() for vc in vcs), block))
        self._my_new_view = nv
        self._enter_new_view(nv, out)

    def _on_new_view(self, msg: NewView, out: list[Effect]) -> None:
        if msg.view < self.view or (msg.view == self.view and not self.in_view_change
                                    and self.proposal is not None):
            return
        reason, fresh = check_new_view(self.suite, self.chain_id, self.validators, msg,
                                       self.height, self.passed_over)
        if reason is not None:
            out.append(Log("warning", f"dropped new view: {reason}"))
            return
        if not self._check_block(msg.block, fresh=fresh, out=out):
            return
        for vc in msg.view_changes:
            self.vcs.add(vc)
        self._enter_new_view(msg, out)

    def _enter_new_view(self, nv: NewView, out: list[Effect]) -> None:
        if nv.view != self.view:
            self.my_prepare = self.my_commit = None
        self.view = nv.view
        self.in_view_change = False
        self.ticks_in_view = 0
        self.proposal = nv.block
        if nv is not self._my_new_view:
            self._my_new_view = None  # ours, if any, was for a view we have left
        self.vcs.prune_below(nv.view)
        self._persist_round(out)
        before = nv if nv.sender == self.index else None
        self._vote_prepare(nv.block.hash(self.suite), out, before=before)

    # ---- catch-up --------------------------------------------------------------------------

    def _maybe_fetch(self, peer: bytes, out: list[Effect]) -> None:
        if peer == self.pubkey or self.ticks < self._fetch_deadline or self._fetched:
            return
        self._fetch_deadline = self.ticks + self.config.fetch_timeout_ticks
        out.append(FetchBlocks(peer, self.height, self.config.fetch_blocks_max))

    def _on_fetched(self, event: BlocksFetched, out: list[Effect]) -> None:
        self._fetch_deadline = -1
        for block, qc in event.blocks[: self.config.fetch_blocks_max]:
            if block.header.height >= self.height:
                self._fetched.append((block, qc))
        while self._fetched and not self._barrier:
            self._apply_fetched(out)

    def _apply_fetched(self, out: list[Effect]) -> None:
        block, qc = self._fetched.popleft()
        if block.header.height != self.height:
            if block.header.height > self.height:
                self._fetched.clear()  # a gap: ask again later
            return
        reason, nxt = check_fetched(self.suite, self.chain_id, self.head, self.validators,
                                    block, qc, self.app)
        if reason is not None:
            self._fetched.clear()
            out.append(Log("warning", f"rejected fetched block: {reason}"))
            return
        self._commit(block, qc, nxt, out)

    # ---- read-only views for the shell and tests -------------------------------------------

    def status(self) -> ReplicaStatus:
        n = len(self.validators)
        return ReplicaStatus(self.height, self.view, self._leader(self.view),
                             self.in_view_change, self.index, n, self.head.time_ms,
                             len(self.evidence), tuple(sorted(self.passed_over)))


def _index_of(validators: ValidatorSet, pubkey: bytes) -> int | None:
    for i, v in enumerate(validators):
        if v.pubkey == pubkey:
            return i
    return None
