"""The node's garbage-collector setting at start (``shell.server.tune_gc_for_serving``):
what the node loaded leaves the collections, young passes are rarer, and garbage made
afterwards is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shell.server import GC_YOUNG_OBJECTS_MAX, tune_gc_for_serving


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    threshold = gc.get_threshold()
    tune_gc_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


class _Cell:
    def __init__(self) -> None:
        self.me: _Cell | None = None


def test_what_was_loaded_is_frozen_and_the_collector_stays_on(frozen_heap: None) -> None:
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_OBJECTS_MAX


def test_a_cycle_made_after_the_freeze_is_still_collected(frozen_heap: None) -> None:
    cell = _Cell()
    cell.me = cell
    gone = weakref.ref(cell)
    del cell
    gc.collect()
    assert gone() is None
