"""``credchain committee check``: recompute a tender's evaluation committee from the chain.

DOMAIN.md ("Evaluation committees"): anyone can recompute the committee from the chain. The
draw (``contracts.committee.draw_committee``) judges each expert as it stood at the request
*and as it stands when the committee is seated*, so the recomputation must read the pool as
the seating transaction read it: the state after the block before the seating block. A
node's ``/state`` answers at the head only; ``/proof/{key}?height=N`` (PROTOCOL §7) answers
at any height the node keeps, so every value here is read through a proof bundle at the
height it is needed and checked with ``ledger.bundle.verify_bundle`` against ``--anchor``
(the header's commit certificate from the genesis set): no node is trusted. Without an
anchor the state proofs are still checked against the header each bundle carries, and the
output says that the headers are the node's word.

What is checked, in order:

1. The seating block S: the first height whose proven draw record is no longer ``waiting``
   (a bisection over heights; a record never goes back to ``waiting``); its time must be
   the record's ``seated_ms``.
2. The beacon (``contracts.beacon``), as of block S: final; every reveal opens its
   commitment; at least f + 1 of the request's validators revealed; ``seed_from`` of the
   reveals is the beacon's seed and the draw record's; the subject is the hash of the draw
   request's fields (so the seed is bound to what was drawn).
3. The committee: ``draw_committee`` over the state after block S − 1 equals the seats and
   cursors the record holds after S (``contracts.draw.drawn_of``).
4. Each decline, in order: found the same way (the first height whose record lists it), the
   replacement recomputed with ``replace_seat`` over the state before that block; the result
   must equal the committee the record holds at the head.

Proofs exist per block, not per transaction: a transaction that ran before the seat (or a
decline) in the same block, and changed the pool, is not in the state read here. The check
then differs, and says how many transactions that block holds.

Exit 0 when everything equals, 1 with the first difference named, 2 when it cannot be
checked (no such tender or round, a draw not seated, a node unreachable or keeping too
little history, a proof that does not verify).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

from shell.commands.common import url_option

if TYPE_CHECKING:
    from contracts.committee import Drawn, DrawSpec, Seat
    from ledger.block import Header
    from ledger.crypto import Suite
    from ledger.genesis import Anchor
    from shell.client import NodeClient

CANNOT_CHECK_EXIT = 2


class CannotCheck(click.ClickException):
    """The committee could not be checked (not that it differs): exit 2."""

    exit_code = CANNOT_CHECK_EXIT


def _cannot(message: str) -> NoReturn:
    raise CannotCheck(message)


class Mismatch(Exception):
    """The recomputation differs from what the chain holds; the message names where."""


# ---- proven reads of past state ------------------------------------------------------------


class ProvenState:
    """State values after a given block, each read through a §7 bundle at that height and
    verified (against the anchor when there is one), decoded as the contracts see them."""

    def __init__(self, client: NodeClient, anchor: Anchor | None, suite: Suite) -> None:
        self.client, self.anchor, self.suite = client, anchor, suite
        self.headers: dict[int, Header] = {}
        self._values: dict[tuple[str, int], Any] = {}

    @property
    def reads(self) -> int:
        return len(self._values)

    def get(self, key: str, height: int) -> Any:
        if (key, height) not in self._values:
            self._values[(key, height)] = self._prove(key, height)
        return self._values[(key, height)]

    def at(self, height: int) -> Callable[[str], Any]:
        """A ``get(key)`` of the state after block ``height``, as the contracts take it."""
        return lambda key: self.get(key, height)

    def _prove(self, key: str, height: int) -> Any:
        from ledger import bundle, encoding

        obj = bundle.from_json(self.client.proof(key, height))
        proved = (bundle.verify_bundle(obj, self.anchor) if self.anchor is not None
                  else bundle.verify_unanchored(obj, self.suite))
        header, value, proved_key = proved.header, proved.value, proved.key
        if proved_key != key or header.height != height:
            _cannot(f"the node answered a proof of {proved_key!r} at block {header.height} "
                    f"when asked for {key!r} at block {height}")
        known = self.headers.setdefault(height, header)
        if known.hash(self.suite) != header.hash(self.suite):
            _cannot(f"the node proved values at block {height} under two different headers")
        return None if value is None else encoding.decode(value)


def _first_height(state: ProvenState, key: str, low: int, high: int,
                  reached: Callable[[Any], bool]) -> int:
    """The first height in ``[low, high]`` whose value of ``key`` is ``reached`` (which,
    once true, stays true); it is at ``high``."""
    if reached(state.get(key, low)):
        return low
    while high - low > 1:
        middle = (low + high) // 2
        if reached(state.get(key, middle)):
            high = middle
        else:
            low = middle
    return high


# ---- the draw record and the beacon --------------------------------------------------------


@dataclass
class Found:
    """A draw record at the head, the block that seated it, the record just after, and
    the blocks whose transactions acted on it (seat, declines)."""

    round_: int
    head: int
    seated_at: int
    seated: dict[str, Any]
    now: dict[str, Any]
    acts: list[int] = field(default_factory=list)


def _locate(state: ProvenState, tender_id: str, round_: int | None) -> Found:
    from contracts import draw
    from contracts.tender_record import tender_key

    head = state.client.head_height()
    if head < 2:
        _cannot(f"the chain is at height {head}: no committee can have been drawn")
    tender = state.get(tender_key(tender_id), head)
    if tender is None:
        _cannot(f"no tender {tender_id!r} on this chain (absent at block {head})")
    last = int(tender["eval_round"])
    if last == 0:
        _cannot(f"no committee has been drawn for tender {tender_id} (at block {head})")
    wanted = last if round_ is None else round_
    if not 1 <= wanted <= last:
        _cannot(f"tender {tender_id} has draw rounds 1..{last}; there is no round {wanted}")
    key = draw.draw_key(tender_id, wanted)
    now = state.get(key, head)
    if now is None:
        _cannot(f"no draw record {key} at block {head}")
    if now["status"] == draw.WAITING:
        _cannot(f"round {wanted} of tender {tender_id} is not seated yet (its beacon is not "
                "final): nothing to recompute")
    if now["status"] == draw.BEACON_FAILED:
        _cannot(f"round {wanted} of tender {tender_id} seated nobody: its beacon failed")
    seated_at = _first_height(state, key, int(now["request_height"]), head,
                              lambda rec: rec is not None and rec["status"] != draw.WAITING)
    seated = state.get(key, seated_at)
    block_ms = state.headers[seated_at].time_ms
    found = Found(wanted, head, seated_at, seated, now, [seated_at])
    if seated["seated_ms"] != block_ms:
        raise Mismatch(f"the record says it was seated at {seated['seated_ms']} ms; block "
                       f"{seated_at}, where it stopped waiting, has time {block_ms} ms")
    return found


def _check_beacon(state: ProvenState, chain_id: str, rec: dict[str, Any],
                  height: int) -> list[str]:
    """The seed the record holds is the one the beacon's reveals give; lines to print."""
    from contracts import beacon, draw

    suite = state.suite
    request_id = draw.beacon_id(rec["tender_id"], rec["round"])
    b = state.get(beacon.request_key(request_id), height)
    if b is None or b["status"] != beacon.FINAL:
        raise Mismatch(f"the beacon {request_id} is not final at block {height}")
    if not draw.subject_of(suite, rec) == rec["subject"] == b["subject"]:
        raise Mismatch("the beacon's subject is not the hash of the draw request's fields")
    for who, value in sorted(b["reveals"].items()):
        pubkey = bytes.fromhex(who)
        commitment = beacon.commitment_of(suite, chain_id, request_id, pubkey, value)
        if pubkey not in b["validators"] or commitment != b["commits"].get(who):
            raise Mismatch(f"validator {who[:16]}…'s reveal does not open its commitment")
    needed = beacon.reveals_needed(b)
    seed = beacon.final_seed(suite, chain_id, b)
    if seed is None:
        raise Mismatch(f"{len(b['reveals'])} reveals; a final beacon needs {needed}")
    if not seed == b["seed"] == rec["seed"]:
        raise Mismatch("the seed the record holds is not the one the beacon's reveals give")
    return [f"beacon {request_id}: final, {len(b['reveals'])} of {len(b['validators'])} "
            f"validators revealed (f + 1 = {needed}), every reveal opens its commitment;",
            f"  seed {seed.hex()[:16]}… = seed_from(the reveals), bound to the request's "
            "fields"]


# ---- the committee -------------------------------------------------------------------------


def _compare(what: str, recomputed: Drawn, recorded: Drawn) -> None:
    """Seats in order, then the groups' cursors: the first difference, if any."""
    for i in range(max(len(recomputed.seats), len(recorded.seats))):
        mine = recomputed.seats[i] if i < len(recomputed.seats) else None
        theirs = recorded.seats[i] if i < len(recorded.seats) else None
        if mine != theirs:
            raise Mismatch(f"{what}, expert seat {i + 1}: recomputed {_seat_text(mine)}, the "
                           f"chain holds {_seat_text(theirs)}")
    if recomputed.cursors != recorded.cursors:
        raise Mismatch(f"{what}: the groups' cursors are {recomputed.cursors} recomputed, "
                       f"{recorded.cursors} on the chain")


def _seat_text(seat: Seat | None) -> str:
    if seat is None:
        return "nobody"
    local = ", local" if seat.local else ""
    return f"{seat.code} (group {seat.group}, position {seat.position}{local})"


def _recompute(state: ProvenState, found: Found, lines: list[str]) -> None:
    """The committee at seating, then after each decline, each compared with the record;
    what is found is added to ``lines`` before any comparison can fail."""
    from contracts import committee, draw
    from ledger.verdict import beijing_time

    rec, s = found.seated, found.seated_at
    spec, seed = committee.spec_of(rec), bytes(rec["seed"])
    drawn = committee.draw_committee(state.at(s - 1), state.suite, seed, spec)
    lines.append(f"recomputed over the state after block {s - 1}, as the seat in block {s} "
                 f"({beijing_time(state.headers[s].time_ms)}) read it:")
    lines += _member_lines(drawn, spec, rec["representatives"])
    _compare(f"seating in block {s}", drawn, draw.drawn_of(rec))
    if drawn.short != (rec["status"] == draw.SHORT):
        raise Mismatch(f"seating in block {s}: recomputed {_fullness(drawn)}, the record "
                       f"says {rec['status']}")
    lines.append(f"  equal to the committee seated in block {s}")
    key = draw.draw_key(rec["tender_id"], found.round_)
    for i, declined in enumerate(found.now["declined"]):
        at = _first_height(state, key, found.acts[-1], found.head, _declines(i + 1))
        found.acts.append(at)
        new = committee.replace_seat(state.at(at - 1), state.suite, seed, spec, drawn,
                                     declined["member"])
        lines.append(f"  {declined['member']} declined in block {at}: the same draw seats "
                     f"{new.code if new else 'nobody (short)'} (state after block {at - 1})")
    if found.now["declined"]:
        lines.append("the committee now, recomputed:")
        lines += _member_lines(drawn, spec, rec["representatives"])
        _compare(f"after the declines (record at block {found.head})", drawn,
                 draw.drawn_of(found.now))
        if drawn.short != (found.now["status"] == draw.SHORT):
            raise Mismatch(f"after the declines: recomputed {_fullness(drawn)}, the record at "
                           f"block {found.head} says {found.now['status']}")
        lines.append(f"  equal to the committee the chain holds at block {found.head}")


def _fullness(drawn: Drawn) -> str:
    return "short (a group ran out)" if drawn.short else "a full committee"


def _declines(count: int) -> Callable[[Any], bool]:
    """Does a draw record list at least ``count`` declines?"""
    return lambda rec: len(rec["declined"]) >= count


def _member_lines(drawn: Drawn, spec: DrawSpec, representatives: list[bytes]) -> list[str]:
    lines = []
    for n, seat in enumerate(drawn.seats, 1):
        group = spec.groups[seat.group]
        local = ", local" if seat.local else ""
        lines.append(f"  {n}. {seat.code}  {group.specialty}, position {seat.position} of "
                     f"{group.pool_size}{local}")
    for i, key in enumerate(representatives):
        lines.append(f"  {len(drawn.seats) + i + 1}. rep-{i}  the tenderer's representative "
                     f"(key {bytes(key).hex()[:16]}…)")
    if drawn.short:
        lines.append("  short: a group ran out of eligible experts")
    return lines


def _hint(client: NodeClient, acts: list[int]) -> list[str]:
    """Why an honest chain could still differ here: the state read is the one after the
    block before; a transaction before the seat (or decline) in its own block is not in it."""
    from shell.client import NodeError

    lines = []
    for height in acts:
        try:
            count = len(client.block_ids(height)[1])
        except NodeError:
            continue  # only a hint: the difference stands without it
        if count > 1:
            lines.append(f"  note: block {height} holds {count} transactions; one run before "
                         "the draw's in that block is not in the state read here")
    return lines


# ---- the command ---------------------------------------------------------------------------


@click.group()
def committee() -> None:
    """Evaluation committees: recompute a draw from the chain."""


@committee.command("check")
@click.argument("tender_id")
@click.option("--round", "round_", type=click.IntRange(1),
              help="the draw round (default: the tender's current one)")
@url_option
@click.option("--anchor", "anchor_path", type=click.Path(dir_okay=False, exists=True),
              help="the consortium's anchor file: every value read is proven from it "
                   "(without it the headers are the node's word)")
def committee_check(tender_id: str, round_: int | None, url: str,
                    anchor_path: str | None) -> None:
    """Recompute TENDER_ID's evaluation committee from the chain, reading the expert pool as
    the seating transaction read it (the state after the block before), every value
    through a proof, and check the beacon's seed. Exit 0 equal, 1 different (the first
    difference named), 2 when it cannot be checked."""
    from contracts import draw
    from ledger.crypto import get_suite
    from ledger.errors import InvalidInput
    from ledger.genesis import Anchor
    from shell.client import NodeClient, NodeError

    client = NodeClient(url)
    lines: list[str] = []
    found: Found | None = None
    try:
        anchor = Anchor.load(anchor_path) if anchor_path else None
        status = client.status()
        if anchor is not None and anchor.header.chain_id != status["chain_id"]:
            _cannot(f"the node serves chain {status['chain_id']!r}, the anchor is of "
                    f"{anchor.header.chain_id!r}")
        suite = anchor.suite if anchor is not None else get_suite(str(status["suite"]))
        state = ProvenState(client, anchor, suite)
        try:
            found = _locate(state, tender_id, round_)
            done = "drawn SHORT" if found.now["status"] == draw.SHORT else "seated"
            lines.append(f"tender {tender_id}, round {found.round_}: {done} in block "
                         f"{found.seated_at}")
            lines += _check_beacon(state, str(status["chain_id"]), found.seated,
                                   found.seated_at)
            _recompute(state, found, lines)
        except Mismatch as exc:
            lines.append(f"MISMATCH: {exc}")
            lines += _hint(client, found.acts) if found is not None else []
            click.echo("\n".join(lines))
            sys.exit(1)
    except NodeError as exc:
        _cannot(str(exc))
    except InvalidInput as exc:  # a proof that does not verify (ProofError) among them
        _cannot(f"cannot check: {exc}")
    trust = ("each proven from the anchor" if anchor is not None else
             "NOT anchored: the headers are the node's word (give --anchor)")
    lines.append(f"{state.reads} values read through proof bundles, {trust}")
    assert found is not None  # (every path without one has exited)
    if found.now["status"] == draw.SHORT:  # the draw is right, and it seated no committee
        lines.append("MATCH: the draw recomputed from the chain equals the recorded one: "
                     "SHORT, no committee is seated (a group ran out of eligible experts; "
                     "the tender draws again in a new round)")
    else:
        lines.append("MATCH: the committee recomputed from the chain equals the seated one")
    click.echo("\n".join(lines))
