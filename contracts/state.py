"""State views for contract execution.

``Overlay`` is a write view over a reader (the state tree's head, or another overlay): reads
fall through, writes stay in the overlay until ``commit()`` merges them into the parent, or
the overlay is dropped. A block runs in one overlay over the committed state; each
transaction runs in a child overlay that is committed on success and dropped on failure, so a
failed transaction changes nothing (the runtime then bumps only the sender's nonce).

Values are stored as canonical-encoding bytes and decoded afresh on every read, so a contract
that mutates what it read cannot change state without an explicit ``put``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from ledger import encoding


class StateReader(Protocol):
    """Committed state: CE bytes of a key's value, or None when absent."""

    def get(self, key: str) -> bytes | None: ...


class Overlay:
    def __init__(self, parent: StateReader | Overlay) -> None:
        self._parent = parent
        self._writes: dict[str, bytes | None] = {}

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

    def exists(self, key: str) -> bool:
        return self.get_raw(key) is not None

    def put(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError(f"put of None at {key!r}: use delete")
        self._writes[key] = encoding.encode(value)

    def delete(self, key: str) -> None:
        self._writes[key] = None

    def child(self) -> Overlay:
        return Overlay(self)

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
