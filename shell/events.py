"""The event hub: the chain's events and derived notices, in commit order, for every reader.

What a stream is
----------------
A stream walks the chain block by block from where the reader resumes: for each block ``H``
it sends the derived notices of ``H`` (``shell.notices``), then the events of ``H``'s
receipts in transaction order, each item with a cursor (``shell.eventkit``). A block's items
are a function of the chain alone, computed once (``block_items``) and shared by every
subscriber from a bounded cache; a block not in the cache is read from the store. Backfill
and live delivery are the same walk: "live" only means the walk reached the head and waits
for the next commit, so there is no seam where an item could be lost or sent twice; a
reader that resumes after cursor ``c`` gets exactly the items whose cursor sorts after ``c``.

A slow reader is never buffered for: the walk is pulled by the writer, so it pauses while
the reader's socket is full, falls behind, and later reads old blocks from the store. What
the node holds for one reader is bounded: ``send_buffer_bytes`` (its socket's high-water
mark) + 64 KiB (aiohttp writes that much before it waits for the socket) + ``flush_bytes``
(one write of frames) — 112 KiB with the defaults — beside the kernel's socket buffers. A
reader whose socket accepts nothing for ``write_stall_ms`` is cut off with the reason
(``shell.api_events``).

Backfill is work, and it is budgeted: a block read from the store (not in the shared cache)
costs its caller one token plus one per event, from ``reads_per_s_per_caller`` a second; a
caller out of tokens waits (its streams slow down, its pages come shorter), so no caller's
backfills take the node's CPU from consensus and the other readers.

Sealed bids (DOMAIN.md step 4): the argument
--------------------------------------------
1. *The public lane.* What the public may see is decided by ``contracts.disclosure``, never
   here. A transaction's events are in the public stream iff it succeeded and
   ``tx_disclosed(state, PUBLIC, tx, now)`` holds twice: with the state and time *of its own
   block* (which fixes its place for good: the chain up to that block never changes), and
   with the head state and time when the block is prepared (so the stream never shows what
   the other read paths refuse at that moment). Today's policy makes a transaction naming a
   tender public from that tender's deadline on, and before it keeps every ``bid.*`` call,
   every other act of an entity's key that is not the tender's own side, and a
   ``guarantee.issue`` naming a bidder from the public; the supermarket's calls
   (``market.*``, none of which carries a bid) are public whoever sends them, so an open
   request and an agency's selection reach every reader. A bid is only ever committed before
   its deadline, so judged at its own block it never enters the stream; the opening, its
   record and the award (sent after the deadline) do, as public notices must. So no bid, no
   bidder's act and no guarantee naming a bidder reaches a stranger through the stream
   before the deadline; after it, the stream carries what the opening makes public.
2. *Cursors leave no trace of sealed transactions.* In ``H.P.E`` the ``P`` is the rank among
   the block's transactions that were public *when committed* (0, 1, 2 … without holes),
   not the raw transaction index. An unfiltered public stream shows ``P = 0, 1, 2 …`` in
   every block whether or not bids sit between those transactions; holes appear only where
   the reader's own filter left something out, or (rarely) where a transaction public when
   committed is withheld by the policy now — a public act, not a bid. The whole public
   stream is a function of the public acts' events, block heights and times, and fields of
   tender, guarantee and credit records fixed when they were created; none of these depends
   on whether, how many or which bids a block holds, so two chains that differ only in bid
   transactions give byte-identical public streams (``tests/test_events_privacy.py``). No
   counter or metric here counts anything outside the public lane.
3. *When the deadline passes* a stranger's stream shows ``notice.deadline_passed`` in the
   first block whose time reaches the deadline, before that block's events; from then on
   the opening's transactions (``bid.open``, ``bid.reveal``, ``bid.close``), the evaluation
   and the award are public acts and their events are in the stream, as public notices of
   an opening must be. The bids themselves were committed before the deadline and never
   enter it (point 1).
4. *Objections.* A documents objection's transaction is not in the public lane (a would-be
   bidder sent it), but the objection itself is a public record, so ``notice.objection``
   (``shell.notices``) tells every reader that objection ``n`` to a tender was filed in the
   block, with its stage: what ``tender/<id>/objection/<n>`` shows anyone, never who
   objected. Objections are not bids; the streams of two chains that differ only in bids
   stay the same.
5. *Outside the stream* (not made worse here): block sizes and transaction counts are public
   (``contracts.disclosure`` says so), and a §8 bundle states its block's ``count``.

Readers with rights (the bidder itself, supervisors) are served the public lane for now; a
lane of their own would place their private items between the public ranks (``H.P.E`` then a
suffix), so a public cursor stays valid for them. The caller of the per-caller cap is the
signed reader's key when a request is signed, else the client address (``shell.api_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.credit import record_key as credit_key
from contracts.disclosure import PUBLIC, tx_disclosed
from contracts.guarantee import guarantee_key
from contracts.state import Overlay
from contracts.tender_record import objection_key, tender_key
from ledger.block import QC, Block
from ledger.errors import InvalidInput
from ledger.jsonform import tagged_to_json
from ledger.tx import Receipt, SignedTx
from shell.chain import Chain
from shell.config import StreamSettings
from shell.eventkit import (
    END,
    Filter,
    Item,
    Key,
    Subjects,
    cursor_text,
    end_key,
    event_key,
    first_height,
    json_bytes,
    make_item,
    named_id,
    named_tender,
    notice_key,
    objection_notice_key,
    sse_frame,
    usccs_in,
)
from shell.metrics import Metrics
from shell.notices import (
    DEADLINE_EVENTS,
    NOTICE_TYPES,
    OBJECTION,
    OBJECTION_EVENT,
    TenderSchedule,
    notice_type,
)
from shell.ratelimit import TokenBuckets

log = logging.getLogger("credchain.events")



class StreamRefused(Exception):
    """No subscription: ``status`` (429 or 503) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(eq=False)
class Subscription:
    caller: str
    closed: str | None = None  # why the hub ended it
    delivered: int = 0
    gone: Callable[[], bool] = lambda: False  # the reader left (its connection closed)


@dataclass
class BlockItems:
    height: int
    time_ms: int
    prev_time_ms: int
    events: tuple[Item, ...]
    objections: tuple[Item, ...] = ()  # the block's notice.objection items
    notices: dict[tuple[int, ...], tuple[Item, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Walk:
    """What a reader asked for: resume after ``after``, these filters and reminders."""

    after: Key
    filter: Filter
    offsets_ms: tuple[int, ...]
    heartbeat_ms: int

    @property
    def wants_notices(self) -> bool:
        return any(self.filter.wants_type(t) for t in NOTICE_TYPES)


class EventHub:
    """One per node: built with the chain, fed by the driver's commit observer."""

    def __init__(self, chain: Chain, metrics: Metrics,
                 settings: StreamSettings | None = None) -> None:
        self.chain = chain
        self.metrics = metrics
        self.settings = settings or StreamSettings()
        self.schedule = TenderSchedule(self.settings.schedule_versions_max)
        self._cache: OrderedDict[int, BlockItems] = OrderedDict()
        self._cached_items = 0
        self._tenders: OrderedDict[str, Subjects] = OrderedDict()
        self._callers: defaultdict[str, int] = defaultdict(int)
        self._subs: set[Subscription] = set()
        self._reads: TokenBuckets | None = None  # per caller, made at the first read
        self._committed = _Signal()  # a block was committed
        self._indexed = _Signal()  # the deadline schedule covers more blocks
        self.closing = False
        self._register_metrics()

    # ---- feeding ------------------------------------------------------------------------

    def on_commit(self, block: Block, qc: QC, receipts: list[Receipt]) -> None:
        """The driver's commit observer: index the block's deadlines, wake the walkers
        (cheap: a block's items are prepared when a walker first needs them)."""
        height = block.header.height
        if self.schedule.covered_height == height - 1:
            self.schedule.index_block(height, deadline_changes(receipts))
            self._indexed.fire()
        self._committed.fire()

    def start(self) -> asyncio.Task[None]:
        """The task that indexes the deadlines of the blocks already in the store."""
        return asyncio.create_task(self._index_stored())

    async def _index_stored(self) -> None:
        started = time.monotonic()
        while not self.closing and self.schedule.covered_height < self.chain.height():
            self._index_up_to(min(self.chain.height(), self.schedule.covered_height
                                  + self.settings.backfill_slice_blocks))
            await asyncio.sleep(0)
        if self.schedule.covered_height < self.chain.height():  # stopped (closing) before
            # the end (operator walk: a stop during the start read like a finished count)
            log.info("deadline schedule: stopped at block %d of %d", self.schedule.covered_height,
                     self.chain.height())
            return
        log.info("deadline schedule: %d blocks, %d deadlines indexed in %.1f s",
                 self.schedule.covered_height, len(self.schedule), time.monotonic() - started)

    def _index_up_to(self, height: int) -> None:
        """Index the deadlines of the stored blocks up to ``height``."""
        store = self.chain.store
        if self.schedule.covered_height < store.base:
            self._seed_at_base()
        if self.schedule.covered_height >= height:
            return
        for h in range(self.schedule.covered_height + 1, height + 1):
            self.schedule.index_block(h, deadline_changes(store.receipts(h) or []))
        self._indexed.fire()

    def _seed_at_base(self) -> None:
        """A store started from a snapshot at height B holds no block below B: the schedule
        starts from the deadlines the tender records held after B."""
        store = self.chain.store
        base_state = self.chain.state_at(store.base)
        assert base_state is not None
        then = Overlay(base_state)
        found = []
        prefix = tender_key("")
        # tender records and their sub-records (objections, slots …) share the prefix
        for key in self.chain.state_keys(prefix, 16 * self.settings.schedule_versions_max):
            tender_id = key[len(prefix):]
            record = None if "/" in tender_id else then.get(key)
            if isinstance(record, dict) and type(record.get("deadline_ms")) is int:
                found.append((tender_id, int(record["deadline_ms"])))
        self.schedule.seed(store.base, found)
        log.info("deadline schedule starts at the store's base %d: %d tenders", store.base,
                 len(found))

    def close(self) -> None:
        """The node stops: every walk ends with the reason."""
        self.closing = True
        for sub in self._subs:
            sub.closed = sub.closed or "the node is stopping"
        self._committed.fire()
        self._indexed.fire()

    # ---- subscriptions ------------------------------------------------------------------

    def subscribe(self, caller: str) -> Subscription:
        s = self.settings
        if self.closing:
            raise StreamRefused(503, "the node is stopping")
        if len(self._subs) >= s.subscribers_max:
            self.metrics.inc("events_refused_total", reason="node_full")
            raise StreamRefused(503, f"this node serves at most {s.subscribers_max} streams; "
                                     "retry later or ask another node")
        if self._callers[caller] >= s.subscribers_per_caller_max:
            self.metrics.inc("events_refused_total", reason="caller_cap")
            raise StreamRefused(429, f"at most {s.subscribers_per_caller_max} streams per "
                                     "caller; close one first")
        sub = Subscription(caller)
        self._subs.add(sub)
        self._callers[caller] += 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            self._callers[sub.caller] -= 1
            if self._callers[sub.caller] <= 0:
                del self._callers[sub.caller]

    def cut(self, sub: Subscription, label: str, reason: str) -> None:
        sub.closed = sub.closed or reason
        self.metrics.inc("events_cutoff_total", reason=label)

    # ---- a block's items ----------------------------------------------------------------

    def block_items(self, height: int, caller: str | None = None) -> BlockItems:
        """Block ``height``'s public events, prepared once and cached (bounded). A read
        from the store is charged to ``caller``'s budget (``read_wait_s``)."""
        got = self._cache.get(height)
        if got is not None:
            self._cache.move_to_end(height)
            return got
        got = self._prepare(height)
        if caller is not None:
            self._budget().take_up_to(caller, 1 + len(got.events), time.monotonic())
        self._cache[height] = got
        self._cached_items += len(got.events)
        s = self.settings
        while len(self._cache) > 1 and (len(self._cache) > s.cache_blocks
                                        or self._cached_items > s.cache_items_max):
            _, old = self._cache.popitem(last=False)
            self._cached_items -= len(old.events)
        return got

    def _prepare(self, height: int) -> BlockItems:
        store = self.chain.store
        block, receipts = store.block(height), store.receipts(height)
        if block is None or receipts is None or height < 1:
            raise LookupError(f"no committed block {height}")
        prev = store.header(height - 1)
        assert prev is not None
        now_ms = block.header.time_ms
        around = self.chain.sender_states(height)  # the states before and after the block
        then = around[-1]  # after it (a committed block's state root is always held)
        head, head_ms = self.chain.head_state(), int(store.head_header().time_ms)
        tx_ids = block.tx_ids(self.chain.suite)
        items: list[Item] = []
        objections: list[Item] = []
        rank = 0
        for i, (tx, receipt) in enumerate(zip(block.txs, receipts, strict=True)):
            if not receipt.ok or not receipt.events:
                continue
            objections += [self._objection_notice(height, now_ms, event)
                           for event in receipt.events if event.get("type") == OBJECTION_EVENT]
            if not tx_disclosed(then, PUBLIC, tx, now_ms, around):
                continue  # not in the public lane, and no trace of it (module docstring)
            rank += 1
            if not tx_disclosed(head, PUBLIC, tx, head_ms, around):
                continue  # public when committed, withheld now (its rank stays taken)
            for e, event in enumerate(receipt.events):
                type_ = event.get("type")
                body = {"source": "chain", "height": height, "time_ms": now_ms,
                        "tx_id": tx_ids[i].hex(), "call": tx.body.call, "event_index": e,
                        "event": _event_json(event)}
                items.append(make_item(event_key(height, rank - 1, e), str(type_),
                                       self._subjects(event, tx), body))
        return BlockItems(height, now_ms, prev.time_ms, tuple(items),
                          tuple(sorted(objections, key=lambda item: item.key)))

    def _objection_notice(self, height: int, time_ms: int, event: dict[str, Any]) -> Item:
        """An objection filed in block ``height``, as the public record shows it: tender,
        number and stage, never who objected (``shell.notices``, "Objections")."""
        tender_id, n = str(event["tender_id"]), int(event["n"])
        body = {"source": "derived", "height": height, "time_ms": time_ms, "n": n,
                "stage": event.get("stage"),
                "proof": {"state_key": objection_key(tender_id, n), "heights": [height]}}
        return make_item(objection_notice_key(height, n, tender_id), OBJECTION,
                         self._tender(tender_id), body)

    def read_wait_s(self, caller: str, height: int) -> float:
        """How long ``caller`` must wait before block ``height`` is read for it: 0 when
        the block is prepared already or the caller's budget has a token left."""
        if height in self._cache:
            return 0.0
        budget = self._budget()
        missing = 1.0 - budget.available(caller, time.monotonic())
        return max(0.0, missing / budget.rate)

    def _budget(self) -> TokenBuckets:
        rate = self.settings.reads_per_s_per_caller
        if self._reads is None or self._reads.rate != rate:
            self._reads = TokenBuckets(rate)
        return self._reads

    def notices(self, bi: BlockItems, offsets_ms: tuple[int, ...]) -> tuple[Item, ...]:
        """The notices of a block for these reminder offsets (deadline_passed always)."""
        wanted = tuple(sorted(set(offsets_ms) | {0}))
        got = bi.notices.get(wanted)
        if got is not None:
            return got
        out = []
        for f in self.schedule.fired(bi.height, bi.prev_time_ms, bi.time_ms, wanted):
            body = {"source": "derived", "height": bi.height, "time_ms": bi.time_ms,
                    "deadline_ms": f.deadline_ms, "before_ms": f.before_ms,
                    "threshold_ms": f.threshold_ms,
                    "proof": {"state_key": tender_key(f.tender_id),
                              "heights": [bi.height - 1, bi.height]}}
            out.append(make_item(notice_key(bi.height, f.threshold_ms, f.tender_id),
                                 notice_type(f.before_ms), self._tender(f.tender_id), body))
        got = tuple(out)
        if len(bi.notices) < 8:  # a few offset sets per block; others are recomputed
            bi.notices[wanted] = got
        return got

    def select(self, height: int, walk: Walk, after: Key,
               caller: str | None = None) -> list[Item]:
        """The items of block ``height`` after ``after`` that ``walk`` wants, in order."""
        bi = self.block_items(height, caller)
        chosen: list[Item] = []
        if walk.wants_notices:
            offsets = walk.offsets_ms if walk.filter.wants_type(NOTICE_TYPES[0]) else ()
            chosen += [n for n in self.notices(bi, offsets)
                       if n.key > after and walk.filter.matches(n)]
        if walk.filter.wants_type(OBJECTION):
            chosen += [n for n in bi.objections if n.key > after and walk.filter.matches(n)]
        chosen += [e for e in bi.events if e.key > after and walk.filter.matches(e)]
        return chosen

    # ---- who an item concerns -------------------------------------------------------------

    def _subjects(self, event: dict[str, Any], tx: SignedTx) -> Subjects:
        type_ = str(event.get("type", ""))
        tender_id = named_tender(event, tx.body.args)
        entities = set(usccs_in(event))
        regions: tuple[str, ...] = ()
        kinds: tuple[str, ...] = ()
        state = Overlay(self.chain.head_state())
        if type_.startswith("guarantee.") and isinstance(event.get("number"), str):
            g = state.get(guarantee_key(event["number"]))
            if isinstance(g, dict):
                entities |= set(usccs_in({k: g.get(k) for k in ("principal", "beneficiary")}))
                tender_id = tender_id or named_id(g.get("tender_id"))
        if type_.startswith("credit.") and isinstance(event.get("id"), str):
            rec = state.get(credit_key(event["id"]))
            if isinstance(rec, dict):
                regions = tuple(str(r) for r in rec.get("scope_regions", ()))
                kinds = tuple(str(k) for k in rec.get("scope_kinds", ()))
        if tender_id:
            t = self._tender(tender_id)
            return Subjects(tender_id, t.regions, t.kinds, frozenset(entities | t.entities))
        return Subjects("", regions, kinds, frozenset(entities))

    def _tender(self, tender_id: str) -> Subjects:
        """A tender's region, kind, tenderer and agent: fixed when it is announced, so a
        cached answer never goes stale."""
        got = self._tenders.get(tender_id)
        if got is not None:
            self._tenders.move_to_end(tender_id)
            return got
        t = Overlay(self.chain.head_state()).get(tender_key(tender_id))
        if not isinstance(t, dict):
            return Subjects(tender_id)
        parties = frozenset(usccs_in({k: t.get(k) for k in ("tenderer", "agent")}))
        got = Subjects(tender_id, (str(t.get("region", "")),), (str(t.get("kind", "")),),
                       parties)
        self._tenders[tender_id] = got
        if len(self._tenders) > self.settings.subject_cache_max:
            self._tenders.popitem(last=False)
        return got

    # ---- walking ------------------------------------------------------------------------

    def check_start(self, after: Key) -> None:
        """A cursor far ahead of this node's chain is refused (``LookupError``: 404)."""
        ahead = after[0] - self.chain.height()
        if ahead > self.settings.cursor_ahead_max_blocks:
            raise LookupError(f"the start (cursor or from_height) is {ahead} blocks ahead of "
                              f"this node's chain, at height {self.chain.height()}")

    def page(self, walk: Walk, limit: int, caller: str | None = None) -> tuple[list[Item], Key]:
        """Up to ``limit`` items after ``walk.after`` (at most ``page_blocks_max`` blocks,
        as far as ``caller``'s read budget goes), and the cursor to continue from (never
        past what was read)."""
        after, items = walk.after, list[Item]()
        h = max(1, first_height(after))
        stop = min(self.chain.height(), h + self.settings.page_blocks_max - 1)
        if walk.wants_notices:
            # a page does not wait for the indexing task: it indexes what it needs (bounded)
            self._index_up_to(min(stop, self.schedule.covered_height
                                  + self.settings.page_blocks_max))
            stop = min(stop, self.schedule.covered_height + 1)
        while h <= stop:
            if caller is not None and self.read_wait_s(caller, h) > 0:
                break  # over budget: the reader continues from here later
            for item in self.select(h, walk, after, caller):
                if len(items) == limit:
                    return items, after
                items.append(item)
                after = item.key
            after = end_key(h)
            h += 1
        return items, after

    async def walk(self, sub: Subscription, walk: Walk) -> AsyncGenerator[bytes, None]:
        """Frames for one reader, gathered into writes of about ``flush_bytes``: items,
        heartbeats (carrying the cursor to resume from, never behind what was sent), and
        a last ``cutoff`` frame when the hub ends the stream."""
        s = self.settings
        after = walk.after
        h = max(1, first_height(after))
        beat_s = walk.heartbeat_ms / 1000
        out = _Outbox(self.metrics, sub)
        walked = 0
        while sub.closed is None and not sub.gone():
            ready = h <= self.chain.height() and (
                not walk.wants_notices or self.schedule.covered_height >= h - 1)
            if not ready:
                if out.pending():
                    yield out.take()
                signal = self._committed if h > self.chain.height() else self._indexed
                await signal.wait(out.last_write_s + beat_s - time.monotonic())
                if sub.closed is None and time.monotonic() - out.last_write_s >= beat_s:
                    yield out.take(self.heartbeat(after))
                continue
            wait_s = self.read_wait_s(sub.caller, h)
            if wait_s > 0:  # this caller's walks read the store faster than its budget
                if out.pending():
                    yield out.take()
                await asyncio.sleep(min(wait_s, beat_s))
                continue
            for item in self.select(h, walk, after, sub.caller):
                out.add(item.frame)
                after = item.key
                if out.size() >= s.flush_bytes:
                    yield out.take()
            after = end_key(h)
            h += 1
            walked += 1
            if walked % s.backfill_slice_blocks == 0 or (
                    time.monotonic() - out.last_write_s >= beat_s):
                # Let the rest of the node run during a long backfill, and tell a reader
                # whose filter matched nothing for a while how far the walk has come.
                yield out.take(b"" if out.pending() else self.heartbeat(after))
        if sub.gone():
            return
        if out.pending():
            yield out.take()
        yield cutoff_frame(sub.closed or "ended", after)

    def heartbeat(self, after: Key) -> bytes:
        text = cursor_text(after)
        data = json_bytes({"cursor": text, "head": self.chain.height(),
                           "height": after[0] if after[1] == END else after[0] - 1})
        return sse_frame(data, text, "heartbeat")

    # ---- metrics ------------------------------------------------------------------------

    def _register_metrics(self) -> None:
        m = self.metrics
        m.counter("events_delivered_total",
                  "Items (chain events and notices, public only) written to event streams.")
        m.counter("events_cutoff_total", "Event streams the node ended, by reason.")
        m.counter("events_refused_total", "Event stream requests refused, by reason.")
        m.gauge_fn("events_subscribers", "Open event streams.",
                   lambda: [((), float(len(self._subs)))])
        m.gauge_fn("events_schedule_height", "Blocks whose tender deadlines are indexed.",
                   lambda: [((), float(self.schedule.covered_height))])
        m.gauge_fn("events_cached_items", "Prepared stream items kept for every reader.",
                   lambda: [((), float(self._cached_items))])


def cutoff_frame(reason: str, after: Key) -> bytes:
    text = cursor_text(after)
    return sse_frame(json_bytes({"reason": reason, "cursor": text}), text, "cutoff")


def deadline_changes(receipts: Sequence[Receipt]) -> list[tuple[str, int]]:
    """``(tender_id, deadline_ms)`` set by a block's events, in order."""
    out = []
    for r in receipts:
        for e in r.events:
            if e.get("type") in DEADLINE_EVENTS:
                tid, deadline = e.get("tender_id"), e.get("deadline_ms")
                if isinstance(tid, str) and type(deadline) is int:
                    out.append((tid, deadline))
    return out


def _event_json(event: dict[str, Any]) -> Any:
    try:
        return tagged_to_json(event)
    except InvalidInput:  # a value tagged JSON can't carry: the bundle still has its bytes
        return {"type": str(event.get("type")), "unreadable": True}


class _Signal:
    """Wakes every walker waiting for it; each ``fire`` arms a fresh event for the next."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        old, self._event = self._event, asyncio.Event()
        old.set()

    async def wait(self, timeout_s: float) -> None:
        if timeout_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)


class _Outbox:
    """A walker's frames waiting for the next write, and what it has written."""

    def __init__(self, metrics: Metrics, sub: Subscription) -> None:
        self._metrics = metrics
        self._sub = sub
        self._buf = bytearray()
        self._items = 0
        self.last_write_s = time.monotonic()

    def add(self, frame: bytes) -> None:
        self._buf += frame
        self._items += 1

    def size(self) -> int:
        return len(self._buf)

    def pending(self) -> bool:
        return bool(self._buf)

    def take(self, extra: bytes = b"") -> bytes:
        data = bytes(self._buf) + extra
        if self._items:
            self._metrics.inc("events_delivered_total", self._items)
            self._sub.delivered += self._items
        self._buf.clear()
        self._items = 0
        self.last_write_s = time.monotonic()
        return data
