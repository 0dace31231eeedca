"""What contract calls actually do while code runs: each refused ``(call, code)`` and each
argument name a handler reads, recorded at the one place every transaction passes
(``Executor.execute_tx``), whichever harness drives it (``tests.contract_harness``,
``contracts.scenario`` clients, ``ChainApp``).

In-process::

    with observing() as seen:
        ...                      # run transactions
    seen.refusals                # {("bid.submit", "E_DEADLINE"), ...}
    seen.reads                   # {("bid.submit", "tender_id"), ...}

As a pytest plugin over a whole run (``tests/test_call_reference.py`` does this)::

    CREDCHAIN_CALLS_OBSERVED=out.json python -m pytest -p tests.call_observer tests/...

writes ``{"refusals": [[call, code], ...], "reads": [[call, name], ...], "receipts": n}``.
Observing changes nothing a handler sees but the mapping type of ``call.args`` (a mapping
that records the names looked up).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contracts.runtime import BlockContext, Call, Executor, Handler
from contracts.state import Overlay
from ledger.tx import OK, Receipt, SignedTx

ENV = "CREDCHAIN_CALLS_OBSERVED"


@dataclass
class Observed:
    refusals: set[tuple[str, str]] = field(default_factory=set)
    reads: set[tuple[str, str]] = field(default_factory=set)
    receipts: int = 0

    def to_obj(self) -> dict[str, Any]:
        return {
            "refusals": sorted(self.refusals),
            "reads": sorted(self.reads),
            "receipts": self.receipts,
        }

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Observed:
        return cls(
            {(c, code) for c, code in obj["refusals"]},
            {(c, name) for c, name in obj["reads"]},
            int(obj["receipts"]),
        )


class _RecordingArgs(Mapping[str, Any]):
    """A call's arguments that note every name looked up (present or not)."""

    def __init__(self, inner: Mapping[str, Any], call: str, seen: Observed) -> None:
        self._inner, self._call, self._seen = inner, call, seen

    def _note(self, key: object) -> None:
        if isinstance(key, str):
            self._seen.reads.add((self._call, key))

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return self._inner[key]

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return key in self._inner

    def __iter__(self) -> Iterator[str]:
        for key in self._inner:
            self._note(key)
            yield key

    def __len__(self) -> int:
        return len(self._inner)


def _recording(handler: Handler, name: str, seen: Observed) -> Handler:
    def run(call: Call) -> None:
        call.args = _RecordingArgs(call.args, name, seen)
        handler(call)

    return run


@contextmanager
def observing() -> Iterator[Observed]:
    seen = Observed()
    original = Executor.execute_tx

    def execute_tx(
        self: Executor, block_state: Overlay, ctx: BlockContext, tx: SignedTx
    ) -> Receipt:
        name = tx.body.call
        handlers = self._handlers
        handler = handlers.get(name)
        if handler is not None:
            self._handlers = {**handlers, name: _recording(handler, name, seen)}
        try:
            receipt = original(self, block_state, ctx, tx)
        finally:
            self._handlers = handlers
        seen.receipts += 1
        if receipt.code != OK:
            seen.refusals.add((name, receipt.code))
        return receipt

    setattr(Executor, "execute_tx", execute_tx)  # noqa: B010 (a method, not an attribute)
    try:
        yield seen
    finally:
        setattr(Executor, "execute_tx", original)  # noqa: B010


_session = ExitStack()
_seen: list[Observed] = []


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(ENV):
        _seen.append(_session.enter_context(observing()))


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get(ENV)
    _session.close()
    if path and _seen:
        Path(path).write_text(json.dumps(_seen[0].to_obj()), encoding="utf-8")
