"""Drawing an evaluation committee from the expert pool: the pure computation, which anyone
reruns from committed data (DOMAIN.md "Evaluation committees, expert draw and remote
evaluation"; ``contracts.draw`` holds the calls, ``contracts.beacon`` the seed).

Inputs, all on chain: the draw record (``draw/<tender>/<round>``: groups with the pool size
each had at the request, the request time, the tender's region, the local-expert cap, the
conflicted parties), the beacon seed, and the pool (``contracts.experts``).

For each group in order — a specialty and how many experts it gives — the pool positions
``[0, N)`` that existed at the request are shuffled by a lazy Fisher–Yates driven by the
seed: pick k swaps position k with ``k + stream(seed, "draw/<group>", k, N − k)`` and takes
what lands at k, so no position comes twice and every order is equally likely. A picked
expert is seated when

- it does not sit already (an expert in two groups' pools sits once) and has not declined;
- both as it stood at the request (``experts.as_of``) and as it stands now, it is
  ``active``, holds the group's specialty, and is neither employed by nor related to the
  tenderer, its agent or any bidder named at opening (so nothing changed after the seed is
  public can bring an expert in: only take one out);
- seating it keeps the cross-region quota reachable: at most ``local_max`` experts whose
  region, as of the request, is the tender's own (``local_max = E − ⌈E·num/den⌉`` for a
  cross-region tender of E experts, E otherwise; regions compare as codes, exactly).

Otherwise it is passed over, for good. A group that runs out of positions first leaves the
committee short. A decline continues the same group's shuffle from where it stopped
(``cursor``: picks made so far), which is "replaced by the same draw".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts import experts
from contracts.beacon import stream
from ledger.crypto import Suite

StateGet = Callable[[str], Any]


@dataclass(frozen=True)
class Group:
    specialty: str
    count: int
    pool_size: int  # positions of the specialty's pool that existed at the request


@dataclass(frozen=True)
class DrawSpec:
    """What a draw depends on besides the seed and the pool (``spec_of`` reads a record)."""

    groups: tuple[Group, ...]
    request_ms: int
    home_region: str
    local_max: int
    parties: frozenset[str]


@dataclass(frozen=True)
class Seat:
    code: str
    group: int
    position: int
    local: bool


@dataclass
class Drawn:
    """The seats, each group's cursor (picks made), and whether a group ran out."""

    seats: list[Seat]
    cursors: list[int]
    short: bool = False
    declined: set[str] = field(default_factory=set)


def spec_of(record: dict[str, Any]) -> DrawSpec:
    """The spec of a draw record (``draw/<tender>/<round>``, see STATE_KEYS.md)."""
    return DrawSpec(
        groups=tuple(Group(g["specialty"], g["count"], g["pool_size"]) for g in record["groups"]),
        request_ms=int(record["request_ms"]),
        home_region=str(record["home_region"]),
        local_max=int(record["local_max"]),
        parties=frozenset(record["parties"]),
    )


class _Shuffle:
    """The lazy Fisher–Yates shuffle of one group's positions (swaps kept sparse)."""

    def __init__(self, suite: Suite, seed: bytes, group: int, size: int) -> None:
        self.suite, self.seed, self.label, self.size = suite, seed, f"draw/{group}", size
        self.moved: dict[int, int] = {}

    def pick(self, k: int) -> int:
        j = k + stream(self.suite, self.seed, self.label, k, self.size - k)
        at_k, at_j = self.moved.get(k, k), self.moved.get(j, j)
        self.moved[j] = at_k
        self.moved[k] = at_j
        return at_j


def eligible(get: StateGet, code: str, specialty: str, spec: DrawSpec) -> tuple[bool, bool]:
    """``(may sit, is local)``: the rules above, as of the request and now."""
    then = experts.as_of(get, code, spec.request_ms)
    now = experts.current(get, code)
    for rec in (then, now):
        if rec is None or rec["status"] != experts.ACTIVE or specialty not in rec["specialties"]:
            return False, False
        if experts.conflicted(rec, spec.parties):
            return False, False
    assert then is not None
    return True, then["region"] == spec.home_region


def _fill(get: StateGet, shuffle: _Shuffle, g: int, spec: DrawSpec, drawn: Drawn, need: int) -> int:
    """Seat up to ``need`` experts of group ``g`` from its cursor on; returns how many."""
    group = spec.groups[g]
    seated = {s.code for s in drawn.seats}
    locals_now = sum(1 for s in drawn.seats if s.local)
    filled = 0
    while filled < need and drawn.cursors[g] < group.pool_size:
        position = shuffle.pick(drawn.cursors[g])
        drawn.cursors[g] += 1
        code = experts.pool_code(get, group.specialty, position)
        if code in seated or code in drawn.declined:
            continue
        ok, local = eligible(get, code, group.specialty, spec)
        if not ok or (local and locals_now >= spec.local_max):
            continue
        drawn.seats.append(Seat(code, g, position, local))
        seated.add(code)
        locals_now += int(local)
        filled += 1
    return filled


def draw_committee(get: StateGet, suite: Suite, seed: bytes, spec: DrawSpec) -> Drawn:
    """Every group's experts, in group order then draw order: anyone recomputes the
    committee of a draw record as ``draw_committee(get, suite, seed, spec_of(record))``."""
    drawn = Drawn([], [0] * len(spec.groups))
    for g, group in enumerate(spec.groups):
        shuffle = _Shuffle(suite, seed, g, group.pool_size)
        if _fill(get, shuffle, g, spec, drawn, group.count) < group.count:
            drawn.short = True
    return drawn


def replace_seat(
    get: StateGet, suite: Suite, seed: bytes, spec: DrawSpec, drawn: Drawn, code: str
) -> Seat | None:
    """Take ``code`` off the committee and seat the next eligible expert of its group's
    shuffle (``drawn`` is updated); None when the group's positions run out."""
    (gone,) = [s for s in drawn.seats if s.code == code]
    drawn.seats.remove(gone)
    drawn.declined.add(code)
    g = gone.group
    shuffle = _Shuffle(suite, seed, g, spec.groups[g].pool_size)
    for k in range(drawn.cursors[g]):  # replay the picks made, to resume the same shuffle
        shuffle.pick(k)
    before = len(drawn.seats)
    if _fill(get, shuffle, g, spec, drawn, 1) == 0:
        drawn.short = True
        return None
    return drawn.seats[before]
