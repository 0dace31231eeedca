"""What an event stream is made of: cursors, items, filters, and their wire forms.

A stream is the chain's events (from receipts) and the derived notices (``shell.notices``)
in one total order. Every item has a **cursor**, a position in that order that depends on the
chain alone (never on the node, the reader or the time of reading), so a client that gives
back the last cursor it received resumes exactly after it, on this node or any other.

Cursor texts and their order inside block ``H`` (the module docstring of ``shell.events``
says why the middle number is a rank among public transactions, not the raw index):

============================  =====================================================  =====
text                          what                                                   order
============================  =====================================================  =====
``H.n.T.TENDER``              a derived notice: threshold time ``T`` (ms) of tender  first
                              ``TENDER`` was crossed in block ``H``
``H.o.N.TENDER``              a derived notice: objection ``N`` to tender ``TENDER``  then
                              was filed in block ``H``
``H.P.E``                     event ``E`` (its index in the receipt) of the ``P``-th  then
                              transaction of block ``H`` whose events are public
``H``                         the end of block ``H`` (heartbeats carry it)            last
============================  =====================================================  =====

Within a kind, items sort by their numbers (deadline notices by ``T``, then tender id;
objection notices after them, by ``N``, then tender id). A client
resumes with any cursor it received, ``Last-Event-ID`` first, then the ``cursor`` query
parameter, then ``from_height`` (every item of blocks ``≥ from_height``).

``Filter``: within one field the values are alternatives (any may match), across fields all
must match. ``type`` values match exactly, or by prefix when written ``tender.*``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.uscc import valid_uscc
from ledger.errors import InvalidInput

Key = tuple[int, int, int, int, str]

NOTICE, EVENT, END = 0, 1, 2  # the second member of a key: the kind's place in a block
OBJECTION_T = (1 << 63) - 1  # an objection notice's third member: after every deadline notice
CURSOR_TEXT_MAX = 120
FILTER_VALUES_MAX = 32  # values per filter field
FILTER_VALUE_CHARS_MAX = 64
_CURSOR_FORMS = "H, H.P.E, H.n.T.TENDER or H.o.N.TENDER"
_DIGITS = re.compile(r"[0-9]{1,19}")
_TENDER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_VALUE = re.compile(r"[A-Za-z0-9._*:/-]{1,64}")
_DURATION = re.compile(r"([0-9]{1,6})(d|h|m|s)")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000}


# ---- cursors --------------------------------------------------------------------------------


def end_key(height: int) -> Key:
    return (height, END, 0, 0, "")


def event_key(height: int, rank: int, index: int) -> Key:
    return (height, EVENT, rank, index, "")


def notice_key(height: int, threshold_ms: int, tender_id: str) -> Key:
    return (height, NOTICE, threshold_ms, 0, tender_id)


def objection_notice_key(height: int, n: int, tender_id: str) -> Key:
    return (height, NOTICE, OBJECTION_T, n, tender_id)


def cursor_text(key: Key) -> str:
    height, kind, a, b, tender = key
    if kind == END:
        return str(height)
    if kind == EVENT:
        return f"{height}.{a}.{b}"
    if a == OBJECTION_T:
        return f"{height}.o.{b}.{tender}"
    return f"{height}.n.{a}.{tender}"


def parse_cursor(text: str) -> Key:
    """The key of a cursor text; ``InvalidInput`` (a 400) with the reason otherwise."""
    if not isinstance(text, str) or not 0 < len(text) <= CURSOR_TEXT_MAX:
        raise InvalidInput(f"bad cursor: 1 to {CURSOR_TEXT_MAX} characters expected")
    parts = text.split(".", 3)
    numbers = [p for p in parts[:3] if p not in ("n", "o")]
    if not all(_DIGITS.fullmatch(p) for p in numbers):
        raise InvalidInput(f"bad cursor {text[:40]!r}: expected {_CURSOR_FORMS} with decimal "
                           "numbers")
    if len(parts) == 1:
        return end_key(int(parts[0]))
    if len(parts) == 3 and parts[1] not in ("n", "o"):
        return event_key(int(parts[0]), int(parts[1]), int(parts[2]))
    if len(parts) == 4 and parts[1] == "n" and _TENDER_ID.fullmatch(parts[3]):
        return notice_key(int(parts[0]), int(parts[2]), parts[3])
    if len(parts) == 4 and parts[1] == "o" and _TENDER_ID.fullmatch(parts[3]):
        return objection_notice_key(int(parts[0]), int(parts[2]), parts[3])
    raise InvalidInput(f"bad cursor {text[:40]!r}: expected {_CURSOR_FORMS}")


def first_height(after: Key) -> int:
    """The first block a walk that resumes after ``after`` has to read."""
    height, kind = after[0], after[1]
    return height + 1 if kind == END else height


def parse_duration_ms(text: str) -> int:
    """``3d``, ``1h``, ``30m``, ``45s`` → milliseconds."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise InvalidInput(f"bad duration {text[:20]!r}: a number and d, h, m or s (e.g. 3d)")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_reminders(text: str, offsets_max: int, offset_max_ms: int) -> tuple[int, ...]:
    """``3d,1h`` (or ``none``) → the reminder offsets in ms, each 1 s to ``offset_max_ms``
    before a deadline, at most ``offsets_max`` of them, in ascending order."""
    if text.strip() == "none":
        return ()
    offsets = tuple(sorted({parse_duration_ms(p) for p in text.split(",") if p.strip()}))
    if len(offsets) > offsets_max:
        raise InvalidInput(f"at most {offsets_max} reminders (remind=3d,1h)")
    if any(not 1_000 <= o <= offset_max_ms for o in offsets):
        raise InvalidInput(f"a reminder is 1s to {offset_max_ms // 86_400_000}d before")
    return offsets


def duration_text(ms: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ms and ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


# ---- items ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subjects:
    """What filters look at: a tender, its regions and kinds, the entities concerned. A
    region or kind ``*`` (a credit record's scope "everywhere") matches any filter value."""

    tender_id: str = ""
    regions: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    entities: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Item:
    """One chain event or derived notice, ready to send: ``data`` is its JSON (UTF-8),
    ``frame`` its Server-Sent Events frame."""

    key: Key
    type: str
    subjects: Subjects
    data: bytes
    frame: bytes

    @property
    def cursor(self) -> str:
        return cursor_text(self.key)


def make_item(key: Key, type_: str, subjects: Subjects, body: Mapping[str, Any]) -> Item:
    """The item with its JSON: ``body`` plus the cursor and the filter subjects."""
    cursor = cursor_text(key)
    obj = dict(body)
    obj.update({"cursor": cursor, "type": type_, "tender_id": subjects.tender_id or None,
                "regions": list(subjects.regions), "kinds": list(subjects.kinds),
                "entities": sorted(subjects.entities)})
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Item(key, type_, subjects, data, sse_frame(data, cursor))


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def named_id(value: Any) -> str:
    """``value`` if it is a record id (1–64 of ``[A-Za-z0-9._-]``), else ""."""
    return value if isinstance(value, str) and 0 < len(value) <= 64 and set(
        value) <= _ID_CHARS else ""


def named_tender(event: Mapping[str, Any], args: Any) -> str:
    """The tender a chain event names itself, or else its transaction's arguments do ("" for
    neither). Both are in the event's inclusion bundle, so an offline check recomputes it
    (``shell.eventproof``); a tender taken from another record (a guarantee's) is not."""
    named = named_id(event.get("tender_id"))
    return named or (named_id(args.get("tender_id")) if isinstance(args, Mapping) else "")


def usccs_in(value: Any, depth: int = 0) -> list[str]:
    """Every valid USCC among ``value``'s strings (in maps and lists, a few levels deep)."""
    if isinstance(value, str):
        return [value] if len(value) == 18 and valid_uscc(value) else []
    if depth > 4:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [u for v in value for u in usccs_in(v, depth + 1)]
    return []


def sse_frame(data: bytes, event_id: str | None = None, event: str | None = None) -> bytes:
    """One SSE frame. ``data`` is one line of JSON (``json.dumps`` escapes newlines)."""
    head = b""
    if event is not None:
        head += b"event: " + event.encode() + b"\n"
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    types: frozenset[str] = frozenset()
    type_prefixes: tuple[str, ...] = ()
    tenders: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()

    def wants_type(self, type_: str) -> bool:
        if not self.types and not self.type_prefixes:
            return True
        return type_ in self.types or type_.startswith(self.type_prefixes)

    def matches(self, item: Item) -> bool:
        s = item.subjects
        if not self.wants_type(item.type):
            return False
        if self.tenders and s.tender_id not in self.tenders:
            return False
        if self.regions and not _meets(s.regions, self.regions):
            return False
        if self.kinds and not _meets(s.kinds, self.kinds):
            return False
        return not (self.entities and self.entities.isdisjoint(s.entities))

    def to_query(self) -> dict[str, list[str]]:
        """The query parameters that give this filter back (for clients)."""
        return {
            "type": sorted(self.types) + [p + "*" for p in self.type_prefixes],
            "tender": sorted(self.tenders), "region": sorted(self.regions),
            "kind": sorted(self.kinds), "entity": sorted(self.entities)}


def _meets(have: Sequence[str], wanted: frozenset[str]) -> bool:
    return "*" in have or not wanted.isdisjoint(have)


def parse_filter(query: Mapping[str, Sequence[str]]) -> Filter:
    """A filter from query parameters ``type``, ``tender``, ``region``, ``kind``, ``entity``
    (each repeatable, or comma-separated)."""
    values = {name: _values(query, name) for name in ("type", "tender", "region", "kind",
                                                      "entity")}
    exact = {t for t in values["type"] if not t.endswith("*")}
    prefixes = tuple(sorted(t[:-1] for t in values["type"] if t.endswith("*")))
    if any("*" in t for t in exact) or any("*" in p for p in prefixes):
        raise InvalidInput("a type filter is a name (tender.announced) or a prefix ending in "
                           "* (tender.*)")
    for t in values["tender"]:
        if not _TENDER_ID.fullmatch(t):
            raise InvalidInput(f"bad tender id {t[:40]!r}: 1-64 of A-Z a-z 0-9 . _ -")
    # A value that can match nothing is a mistake, not an empty subscription (user walk of
    # 2026-12-03: a misspelt type or a USCC with a wrong check character streamed nothing,
    # for ever); a malformed USCC is refused everywhere (DOMAIN.md).
    known = _known_types()
    for t in sorted(exact):
        if t not in known:
            raise InvalidInput(f"no event or notice type {t!r} (shell/EVENTS.md lists them)")
    for p in prefixes:
        if not any(k.startswith(p) for k in known):
            raise InvalidInput(f"no event or notice type starts with {p!r} "
                               "(shell/EVENTS.md lists them)")
    for u in values["entity"]:
        if not valid_uscc(u):
            raise InvalidInput(f"{u[:40]!r} is not a valid unified social credit code")
    return Filter(frozenset(exact), prefixes, frozenset(values["tender"]),
                  frozenset(values["region"]), frozenset(values["kind"]),
                  frozenset(values["entity"]))


def _known_types() -> Mapping[str, Any]:
    """Every event and notice type the stream can carry, as the keys of
    ``shell.eventdoc.TITLES`` (which a test keeps a superset of what the contracts emit and
    the node derives)."""
    from shell.eventdoc import TITLES  # (it imports this module: read at call time)

    return TITLES


def _values(query: Mapping[str, Sequence[str]], name: str) -> list[str]:
    out: list[str] = []
    for raw in query.get(name, ()):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    if len(out) > FILTER_VALUES_MAX:
        raise InvalidInput(f"at most {FILTER_VALUES_MAX} values for filter {name!r}")
    for v in out:
        if not _VALUE.fullmatch(v):
            raise InvalidInput(f"bad {name} filter value {v[:40]!r}: 1-{FILTER_VALUE_CHARS_MAX}"
                               " of A-Z a-z 0-9 . _ - : / *")
    return out
