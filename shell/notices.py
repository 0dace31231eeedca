"""Derived notices: reminders before a tender's deadline, computed from the chain alone.

A notice is not a transaction. It says "in block ``H`` the chain's time crossed a threshold
of a tender's deadline", and every part of that is on the chain: the deadline is in the
tender's record, the times are the blocks' ``time_ms`` (no node's clock decides anything).

The rule (one notice per tender, threshold and block)
-----------------------------------------------------
With ``d`` the tender's ``deadline_ms`` *in force after block H−1* (its record existed then,
so the tender was announced in an earlier block) and an offset ``o`` (how long before the
deadline), the notice fires in block ``H`` iff

    time(H−1) < d − o ≤ time(H)

``o = 0`` is ``notice.deadline_passed`` (the bid deadline, which DOMAIN.md makes the opening
time too: bidding has closed, the platform may open); ``o > 0`` is ``notice.deadline_soon``
(defaults 3 days and 1 hour; each subscriber chooses its own with ``remind=``). So:

- a notice fires exactly once per crossing, in the first block at or after the threshold,
  even when blocks were sparse (several may fire in one block after a pause);
- an amendment that moves the deadline (it can only move later, and only before it) starts
  a new schedule: thresholds of the new deadline fire when crossed; a threshold that had
  already passed when the amendment was committed never fires ("3 days before" is not
  sent 2 days before); the amendment's own event tells the new deadline;
- a notice comes before the transactions' events of its block: the time had passed the
  threshold when the block's transactions ran.

Its cursor is ``H.n.T.TENDER`` with ``T = d − o`` (``shell.eventkit``): intrinsic to the
notice, so resuming is exact whatever offsets the reader asked for before.

Proof: the notice names the state key ``tender/<id>``; the PROTOCOL §7 bundles of that key at
heights ``H−1`` and ``H`` prove the deadline in force and both block times, offline
(``shell.eventproof.check_notice``).

Objections (``notice.objection``)
-------------------------------
A documents objection comes before the deadline from a would-be bidder, so its transaction
is not in the public lane (``shell.events``), yet the tender's side has ``reply_days`` to
answer it. So every objection filed, at any stage, is also a derived notice in the block
that filed it, naming only what the public objection record ``tender/<id>/objection/<n>``
holds (the tender, ``n``, the stage): never who objected (``objector/<id>/<n>`` is sealed,
``contracts.objections``). Its cursor is ``H.o.N.TENDER``; its proof is the §7 bundle of
the objection record after block ``H``, whose ``at_ms`` is block ``H``'s time (block times
strictly increase, so the record was made in ``H``).

Memory: ``TenderSchedule`` keeps one small entry per deadline value ever set (announce or
amendment), sorted by deadline, at most ``versions_max``; beyond that the earliest
deadlines are forgotten and ``forgotten_until_ms`` says up to where reminders of old blocks
can no longer be reproduced. It is built at start by reading every block's receipts once
(``tender.announced`` and ``tender.amended`` carry ``deadline_ms``) and kept current by the
commit observer. A store started from a snapshot at height ``B`` holds no block below ``B``:
the schedule then starts from the tender records at ``B`` (``seed``), so reminders of blocks
after ``B`` are the same as an archive node's, and those of earlier blocks are not served.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEADLINE_SOON = "notice.deadline_soon"
DEADLINE_PASSED = "notice.deadline_passed"
NOTICE_TYPES = (DEADLINE_SOON, DEADLINE_PASSED)  # the deadline schedule's notices
OBJECTION = "notice.objection"
OBJECTION_EVENT = "tender.objection"  # the contract's event an objection notice comes from
DEADLINE_EVENTS = ("tender.announced", "tender.amended")  # events that set deadline_ms
NEVER = 1 << 63


@dataclass(slots=True)
class _Version:
    """A deadline value in force for blocks ``from_height < H ≤ until_height`` (as "the
    deadline after block H−1")."""

    deadline_ms: int
    tender_id: str
    from_height: int
    until_height: int


@dataclass(frozen=True, slots=True)
class Fired:
    threshold_ms: int
    tender_id: str
    deadline_ms: int
    before_ms: int


class TenderSchedule:
    """Every tender's deadlines with the heights they were in force; answers which notices
    fire in a block. ``covered_height``: every block up to it has been indexed."""

    def __init__(self, versions_max: int = 200_000) -> None:
        self.versions_max = versions_max
        self.covered_height = 0
        self.forgotten_until_ms = -1
        self._by_deadline: list[_Version] = []
        self._of_tender: dict[str, list[_Version]] = {}  # oldest first

    def __len__(self) -> int:
        return len(self._by_deadline)

    def index_block(self, height: int, changes: Iterable[tuple[str, int]]) -> None:
        """Block ``height``'s deadline settings (``(tender_id, deadline_ms)`` in transaction
        order); blocks must come one after another."""
        if height != self.covered_height + 1:
            raise AssertionError(f"schedule covers {self.covered_height}, got block {height}")
        for tender_id, deadline_ms in changes:
            versions = self._of_tender.setdefault(tender_id, [])
            if versions:
                if versions[-1].deadline_ms == deadline_ms:
                    continue  # an amendment that kept the deadline
                versions[-1].until_height = height
            version = _Version(deadline_ms, tender_id, height, NEVER)
            bisect.insort(self._by_deadline, version, key=_deadline)
            versions.append(version)
        while len(self._by_deadline) > self.versions_max:
            dropped = self._by_deadline.pop(0)
            self.forgotten_until_ms = max(self.forgotten_until_ms, dropped.deadline_ms)
            versions = self._of_tender[dropped.tender_id]
            versions.remove(dropped)
            if not versions:
                del self._of_tender[dropped.tender_id]
        self.covered_height = height

    def seed(self, height: int, deadlines: Iterable[tuple[str, int]]) -> None:
        """Start after block ``height`` (a store started from a snapshot there holds no
        earlier block) with the deadlines in force after it."""
        if self.covered_height or self._by_deadline:
            raise AssertionError("a schedule is seeded before it indexes any block")
        for tender_id, deadline_ms in deadlines:
            version = _Version(deadline_ms, tender_id, height, NEVER)
            bisect.insort(self._by_deadline, version, key=_deadline)
            self._of_tender.setdefault(tender_id, []).append(version)
        self.covered_height = height

    def fired(self, height: int, prev_time_ms: int, time_ms: int,
              offsets_ms: Sequence[int]) -> list[Fired]:
        """The notices of block ``height`` for these offsets, in cursor order (threshold,
        then tender id). Needs every block before ``height`` indexed."""
        if self.covered_height < height - 1:
            raise AssertionError(f"schedule covers {self.covered_height}, asked block {height}")
        out: list[Fired] = []
        for before in sorted(set(offsets_ms)):
            lo = bisect.bisect_right(self._by_deadline, prev_time_ms + before, key=_deadline)
            hi = bisect.bisect_right(self._by_deadline, time_ms + before, key=_deadline)
            for v in self._by_deadline[lo:hi]:
                if v.from_height < height <= v.until_height:
                    out.append(Fired(v.deadline_ms - before, v.tender_id, v.deadline_ms, before))
        out.sort(key=lambda f: (f.threshold_ms, f.tender_id))
        return out

    def next_deadline_after(self, time_ms: int) -> int | None:
        """The earliest deadline later than ``time_ms`` still in force after the last block
        indexed (a moved deadline's old value is not), or None."""
        for v in self._by_deadline[bisect.bisect_right(self._by_deadline, time_ms,
                                                       key=_deadline):]:
            if v.until_height == NEVER:
                return v.deadline_ms
        return None

    def deadline_at(self, tender_id: str, height: int) -> int | None:
        """The deadline in force after block ``height`` (None: unknown or forgotten)."""
        for v in self._of_tender.get(tender_id, ()):
            if v.from_height <= height < v.until_height:
                return v.deadline_ms
        return None


def _deadline(v: _Version) -> int:
    return v.deadline_ms


def notice_type(before_ms: int) -> str:
    return DEADLINE_PASSED if before_ms == 0 else DEADLINE_SOON
