"""Append-only lists in state: ``<base>`` holds the count, ``<base>/<i>`` the i-th item.

One key per item, so appending writes two small keys whatever the list's length (a list
kept as one value would be rewritten whole on every append), and a reader can page through
it or binary-search it (items appended in ascending order stay sorted). Items are never
removed: the lists are indexes over records that are never deleted either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from contracts.state import Overlay

StateGet = Callable[[str], Any]


def length(get: StateGet, base: str) -> int:
    count = get(base)
    return 0 if count is None else int(count)


def item(get: StateGet, base: str, i: int) -> Any:
    value = get(f"{base}/{i}")
    if value is None:
        raise KeyError(f"list {base!r} has no item {i}: broken index")
    return value


def append(state: Overlay, base: str, value: Any) -> int:
    """Append ``value``; returns its position."""
    i = length(state.get, base)
    state.put(f"{base}/{i}", value)
    state.put(base, i + 1)
    return i


def items_from(get: StateGet, base: str, start: int) -> Iterator[tuple[int, Any]]:
    """``(position, item)`` from ``start`` to the end."""
    for i in range(max(0, start), length(get, base)):
        yield i, item(get, base, i)


def first_at_least(get: StateGet, base: str, value: int) -> int:
    """The first position whose item is ≥ ``value`` in a list of ascending integers."""
    low, high = 0, length(get, base)
    while low < high:
        mid = (low + high) // 2
        if int(item(get, base, mid)) < value:
            low = mid + 1
        else:
            high = mid
    return low
