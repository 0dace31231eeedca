"""State views for contract execution.

``Overlay`` is a write view over a reader (the state tree's head, or another overlay): reads
fall through, writes stay in the overlay until ``commit()`` merges them into the parent, or
the overlay is dropped. A block runs in one overlay over the committed state; each
transaction runs in a child overlay that is committed on success and dropped on failure, so a
failed transaction changes nothing (the runtime then bumps only the sender's nonce).

Values are stored as canonical-encoding bytes and decoded afresh on every read, so a contract
that mutates what it read cannot change state without an explicit ``put``.

``get_shared`` and ``get_derived`` are the exception, for records that many transactions of
a block only read (a tender's record for each of its bids, an entity's attestation for each
of its keys' calls): the value is decoded once per block and handed out deep-frozen (maps as
read-only mappings, arrays as tuples), or as an immutable fact derived from it, so no caller
can change what another sees. The memo is checked against the bytes a read finds now, so it
is never stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ledger import encoding


class StateReader(Protocol):
    """Committed state: CE bytes of a key's value, or None when absent."""

    def get(self, key: str) -> bytes | None: ...


def frozen(value: Any) -> Any:
    """A decoded CE value made deeply immutable: maps become read-only mappings, arrays
    tuples; text, bytes, integers, booleans and None are immutable already. A caller that
    tries to change a shared value gets a ``TypeError`` (a bug that stops the block), never a
    silent change that other transactions would see."""
    t = type(value)
    if t is dict:
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if t is list:
        return tuple([frozen(v) for v in value])
    return value


T = TypeVar("T")
Derive = Callable[[Any], Any]  # a pure function of a decoded value, with an immutable result
Memo = dict[tuple[Derive, str], tuple[bytes, Any]]


class Overlay:
    def __init__(self, parent: StateReader | Overlay, memo: Memo | None = None) -> None:
        self._parent = parent
        self._writes: dict[str, bytes | None] = {}
        # get_derived's memo: (derive, key) -> (the CE bytes read, what derive made of
        # them). One per block: the block's overlay makes it, its transactions' child
        # overlays use the same dict.
        self._memo: Memo = {} if memo is None else memo

    def get_raw(self, key: str) -> bytes | None:
        # A loop down the overlays, not a call per level: every state read comes here.
        view = self
        while True:
            if key in view._writes:
                return view._writes[key]
            parent = view._parent
            if not isinstance(parent, Overlay):
                return parent.get(key)
            view = parent

    def get(self, key: str) -> Any:
        raw = self.get_raw(key)
        return None if raw is None else encoding.decode_trusted(raw)

    def get_shared(self, key: str) -> Any:
        """The value at ``key`` (None when absent) deep-frozen (``frozen``), for a caller
        that only reads it, decoded once per block for the same bytes (``get_derived``)."""
        return self.get_derived(key, frozen)

    def get_derived(self, key: str, derive: Callable[[Any], T]) -> T | None:
        """``derive`` of the value at ``key`` (None when absent), computed once for the same
        bytes. ``derive`` must be a pure function of the decoded value whose result is
        immutable (the memo hands the same object to every later caller). The memo holds
        the bytes it was computed from and is used only while a read finds bytes equal to
        them, so a write in this or an earlier transaction, or a failed transaction's
        dropped write, is always seen as it is by ``get``."""
        raw = self.get_raw(key)
        if raw is None:
            return None
        memo_key = (derive, key)
        memo = self._memo.get(memo_key)
        if memo is not None and memo[0] == raw:
            result: T = memo[1]
            return result
        value = derive(encoding.decode_trusted(raw))
        self._memo[memo_key] = (raw, value)
        return value

    def exists(self, key: str) -> bool:
        return self.get_raw(key) is not None

    def put(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError(f"put of None at {key!r}: use delete")
        self._writes[key] = encoding.encode(value)

    def delete(self, key: str) -> None:
        self._writes[key] = None

    def child(self) -> Overlay:
        return Overlay(self, self._memo)

    def commit(self) -> None:
        """Merge this overlay's writes into its parent overlay."""
        if not isinstance(self._parent, Overlay):
            raise TypeError("only a child overlay can be committed into its parent")
        self._parent._writes.update(self._writes)
        self._writes = {}

    @property
    def writes(self) -> dict[str, bytes | None]:
        """The writes collected here, in key order (what the state tree applies)."""
        return dict(sorted(self._writes.items()))

    def written_keys(self) -> Iterator[str]:
        return iter(self._writes)


def reading_view(state: StateReader | Overlay) -> Overlay:
    """A view to read ``state`` through: a child of an overlay (sharing its memo, so a
    caller asking many questions of one state has each record decoded once), or a new
    overlay over a plain reader."""
    return state.child() if isinstance(state, Overlay) else Overlay(state)


class DictState:
    """A plain in-memory ``StateReader`` (tests, genesis construction)."""

    def __init__(self, values: dict[str, bytes] | None = None) -> None:
        self.values: dict[str, bytes] = dict(values or {})

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def apply(self, writes: dict[str, bytes | None]) -> None:
        for k, v in writes.items():
            if v is None:
                self.values.pop(k, None)
            else:
                self.values[k] = v
