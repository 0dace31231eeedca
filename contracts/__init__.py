"""The deterministic state machine: ``(state view, block context, tx) → writes + receipt``.

No clock, no randomness, no I/O, no floats. "Now" is the block's ``time_ms``. Every error a
caller can cause is a receipt with a stable code (``ContractError``), never an exception
that escapes; a broken internal invariant raises and stops the node.

Every call — its arguments, who may send it, the codes it may return — is in
``contracts/CALLS.md``, generated from the code by ``python -m contracts.reference``.
"""
