"""Lifecycles as data: a table of ``(state, action) → outcome → next state``, and the one way
a record's state changes, ``Table.advance``.

A handler decides *which* outcome happened (a lot opened or failed, a reveal decrypted or
not); the table alone says which state that outcome leads to. ``advance`` looks the move up
and raises ``LifecycleBug`` when it is not in the table: a handler that tries a move its
table does not have is a broken contract, not a caller's error, so the node stops rather
than write a state nobody declared (DESIGN.md "a broken internal invariant raises"). Refusing
a caller is the handlers' business, before they advance (``Table.row`` answers "may I").

Tables here: the tender lifecycle and the lot and bid tables (``contracts.tender_rules``),
the supermarket's selection requests (``contracts.selection``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OK = "ok"  # the outcome of a move that has only one


class LifecycleBug(RuntimeError):
    """A handler tried a move its table does not declare (a bug in contract code)."""


@dataclass(frozen=True)
class Transition:
    """One row: the outcomes of an action in a state, and the guards that must hold."""

    outcomes: Mapping[str, str]
    guards: tuple[str, ...] = ()

    @property
    def next_states(self) -> frozenset[str]:
        return frozenset(self.outcomes.values())


def to(next_state: str, guards: tuple[str, ...] = ()) -> Transition:
    """A row with a single outcome, ``OK``."""
    return Transition({OK: next_state}, guards)


def branches(outcomes: Mapping[str, str], guards: tuple[str, ...] = ()) -> Transition:
    """A row whose handler picks one of several named outcomes."""
    return Transition(dict(outcomes), guards)


@dataclass(frozen=True)
class Table:
    """A lifecycle: its rows, its known states, and the record field that holds the state."""

    name: str
    field_name: str
    rows: Mapping[tuple[str, str], Transition]
    states: frozenset[str]

    def row(self, state: str, action: str) -> Transition | None:
        return self.rows.get((state, action))

    def next_state(self, state: str, action: str, outcome: str = OK) -> str:
        transition = self.rows.get((state, action))
        if transition is None:
            raise LifecycleBug(f"{self.name}: no move {action!r} from {state!r}")
        nxt = transition.outcomes.get(outcome)
        if nxt is None:
            raise LifecycleBug(f"{self.name}: {action!r} from {state!r} has no outcome {outcome!r}")
        return nxt

    def advance(self, record: dict[str, Any], action: str, outcome: str = OK) -> str:
        """Set the record's state to where the table takes it; returns the new state."""
        nxt = self.next_state(str(record[self.field_name]), action, outcome)
        record[self.field_name] = nxt
        return nxt

    def start(self, action: str, outcome: str = OK) -> str:
        """The state a new record starts in (rows from the pseudo-state ``""``)."""
        return self.next_state("", action, outcome)

    def check(self, known_guards: Iterable[str] = ()) -> None:
        """Every row starts in a known state (or ``""``, a new record), leads to known states,
        and names only known guards (tests call it)."""
        guards = set(known_guards)
        for (state, action), transition in self.rows.items():
            if state != "" and state not in self.states:
                raise LifecycleBug(f"{self.name}: row ({state!r}, {action!r}) from unknown state")
            if not transition.outcomes or not transition.next_states <= self.states:
                raise LifecycleBug(f"{self.name}: row ({state!r}, {action!r}) leads nowhere known")
            unknown = [g for g in transition.guards if g not in guards]
            if unknown:
                raise LifecycleBug(f"{self.name}: row ({state!r}, {action!r}) guards {unknown}")
