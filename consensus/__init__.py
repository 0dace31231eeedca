"""The PBFT replica as a pure state machine (sans-IO), its messages and quorum arithmetic.

``Replica.step(event) -> list[Effect]`` (``consensus.replica``) is the whole interface; the
events, effects, ``Application`` protocol and config are in ``consensus.api`` and the
messages in ``consensus.messages``. Nothing in this package reads a clock, draws a random
number, touches a socket, a file or a thread: time comes in as ``Tick(now_ms)``.

The durability contract (written once, here; every shell follows it):

1. **Persist, then send, then apply.** The shell executes a step's effects in order. Every
   ``Persist`` is durable (one synced KV batch) before any later ``Send`` of that step
   leaves the machine. A replica's own prepare and commit votes and its view changes are
   persisted before they are sent, so a restarted replica can never vote for two
   different blocks at one height and view, nor return to a view it left.
2. ``CommitBlock(block, qc)`` is applied (block, QC, state, head in one atomic batch)
   before the next ``step`` call: the replica calls the ``Application`` on the new head
   straight away in the next step.
3. On restart the shell builds a ``StoreState`` from its store — the head header and QC,
   and every key under ``ledger.schema.CONSENSUS`` as last persisted — and passes it, with
   the validator set certifying ``head.height + 1``, to a new ``Replica``.
"""
