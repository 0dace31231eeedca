"""The contracts a node runs: ``default_executor()`` builds the Executor from ``CONTRACTS``.

Every node of a chain must run the same list (the same calls, the same code), or the nodes'
state roots part ways at the first transaction they treat differently.

``contracts/CALLS.md`` documents every call of this list (``python -m contracts.reference
--write`` regenerates it from the handlers and their docstrings, and with it
``contracts/argnames.py``, the arguments each call takes; a test fails when a call is added
without its documentation).
"""

from __future__ import annotations

from contracts import (
    argnames,
    beacon,
    bid,
    consent,
    credit,
    draw,
    evaluation,
    experts,
    governance,
    guarantee,
    identity,
    supermarket,
    tender,
)
from contracts.runtime import Contract, Executor

CONTRACTS: list[Contract] = [
    governance.CONTRACT,
    identity.CONTRACT,
    consent.CONTRACT,
    credit.CONTRACT,
    # --- trading contracts (tender, bid, guarantee): contracts-trading appends here ---
    tender.CONTRACT,
    bid.CONTRACT,
    guarantee.CONTRACT,
    # --- end of trading contracts ---
    # evaluation committees (DOMAIN.md step 7): the pool, the validators' beacon, the draw,
    # score sheets
    experts.CONTRACT,
    beacon.CONTRACT,
    draw.CONTRACT,
    evaluation.CONTRACT,
    # the intermediary services supermarket: catalogue, agencies, selection requests
    supermarket.contract(),
]


def default_executor() -> Executor:
    """The executor of ``CONTRACTS``, refusing arguments a call does not take
    (``contracts/argnames.py``, generated with ``CALLS.md``)."""
    return Executor(CONTRACTS, argnames.ARGUMENTS)
