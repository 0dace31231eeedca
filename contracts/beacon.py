"""The validators' randomness beacon (``beacon.*``): commit-reveal among the current
validators, for what the chain must draw at random (evaluation committees, random
selections in the supermarket). DOMAIN.md: the draw's randomness "is fixed only after the
draw request is committed, no single party (tenderer, platform, any one validator) can
choose it, and anyone can recompute the committee from the chain".

Why not block data
------------------
Contracts see state and the block context (height, time_ms, proposer). Headers do not carry
the previous block's QC, and the leader chooses the block time (within the ±2 s skew
bound) and which transactions it includes: anything derived from block data alone can be
ground by the leader (try times and transaction subsets until the draw suits it).

The protocol
------------
A consumer (``contracts.draw``, ``contracts.selection``) opens a request with
``open_request(call, request_id, subject)`` in the transaction that fixes what is drawn:
``subject`` is the hash of everything the draw depends on. The request keeps the validator
set V of that moment (``gov/validators``): n = |V|, f = (n − 1) // 3.

A window closes at the first block that is both C blocks and T ms past its start, or early
once every validator concerned has acted. Both bounds, because the leader picks its block's
time (within the ±2 s skew bound) and anyone can make blocks come fast (send transactions):
the block count makes several leaders take turns, the duration keeps a flood of blocks from
cutting the window short. On an idle chain the next transaction (e.g. the consumer asking
for the seed) makes the block that closes it.

1. Commit, from the next block, until ``beacon_commit_blocks`` blocks and
   ``beacon_commit_ms`` have passed since the request, or until every validator of V
   committed: validator v sends ``beacon.commit {id, commitment}``,
   ``commitment = Hd(0x62, CE({"chain_id", "id", "validator": v, "value": r}))`` with
   ``r = HMAC_H(secret_v, 0x64 ‖ CE({"chain_id", "id"}))`` (``beacon_value``: HMAC over the
   chain suite's hash, keyed with the validator's secret key), so a restarted node derives
   the same value and never stores it.
2. Reveal, until ``beacon_reveal_blocks`` blocks and ``beacon_reveal_ms`` have passed since
   the commit phase's end: each committer sends ``beacon.reveal {id, value}``, checked
   against its commitment. No reveal is taken while commitments are (an early reveal could
   be answered by a late commitment).
3. Final as soon as every committer revealed (in that reveal), or when the reveal window is
   over with at least f + 1 values revealed (then at least one is an honest validator's):
   ``seed = Hd(0x63, CE({"chain_id", "id", "subject", "reveals": [[pubkey, value], ...]}))``,
   reveals sorted by public key. With fewer than f + 1 reveals the request fails and the
   consumer asks again under a new id. A validator of V without a reveal is counted in
   ``beacon/missed/<pubkey hex>``, evidence for governance.

Numbers drawn from a seed: ``stream(suite, seed, label, k, bound)`` is
``int(Hd(0x65, seed ‖ CE([label, k]))) mod bound`` (``label`` separates the draws made from
one seed; a 256-bit value leaves a modulo bias below 2^-200).

Why no single party can choose the seed, and what remains
---------------------------------------------------------
- After the request: every value is committed after the request exists, and an honest
  value is a PRF of a secret key and the request id, unpredictable without that key.
- Tenderer, platform, expert pool: they fix the subject before any value is revealed and
  hold no validator key, so they have nothing to grind.
- The leader of a block: the seed depends neither on which block holds a reveal nor on
  transaction order nor on block times; a window lasts its blocks *and* its time, so the
  ±2 s a leader may move its block's time only matters for a reveal sent at the very end,
  which honest nodes don't do (they reveal as soon as the commit phase is over). A leader may
  leave reveals out of its own block, but leaders rotate with the height: to keep an honest
  reveal out, every leader of the window would have to. Nor can anyone (the platform
  included) close a window early by making blocks come fast: its time must pass too.
- One validator, or up to f byzantine ones: a value is committed before any is revealed, so
  it cannot be adapted; a validator can only withhold its reveal after seeing the others'.
  That chooses between at most two seeds per byzantine committer: f colluding validators
  choose among at most 2^f seeds, so an outcome of probability p under a fair seed happens
  with probability at most 1 − (1 − p)^(2^f) ≤ 2^f · p — at most twice as likely with the
  default 4 validators (f = 1) — and every withheld reveal is recorded against its
  validator. Honest reveals cannot be withheld by them (that takes every leader of the
  window).
- What consumers add: a draw seats an expert only if eligible as of the request *and* now,
  from pool positions that existed at the request (``contracts.committee``), so a pool
  change after the seed is public can take an expert out (an act on chain, audited) but
  never bring one in; a random selection ranges over responses fixed when its window closed.
- Recomputation: the request, the subject and every reveal are in committed state and
  transactions; ``seed_from`` is the formula and ``contracts.committee`` the draw.

The node takes part automatically: after each commit it calls ``beacon_actions(get,
chain_id, suite, validator_pubkey, validator_secret, head_height, head_time_ms)``, a pure
function of the head state giving the ``beacon.commit`` / ``beacon.reveal`` transactions
this validator should send now (the same answer until they are committed; a duplicate that
commits anyway is refused with ``E_EXISTS`` and changes nothing but the nonce). On a chain
that writes blocks only when there is something to do, the node should also ask after its
heartbeat, or on a timer, so a window that ended by time alone is noticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import args as A
from contracts.errors import E_EXISTS, E_FORBIDDEN, E_NOT_FOUND, E_STATE, ContractError
from contracts.governance import current_validators, require_unfrozen_sender
from contracts.runtime import Call, Contract
from ledger import encoding, tags
from ledger.block import max_faulty
from ledger.crypto import Suite

E_BEACON_PHASE = "E_BEACON_PHASE"  # a commitment or reveal outside its phase
E_BEACON_MISMATCH = "E_BEACON_MISMATCH"  # the revealed value does not open the commitment
E_BEACON_PENDING = "E_BEACON_PENDING"  # the beacon is not final yet
E_BEACON_BUSY = "E_BEACON_BUSY"  # too many requests open at once

StateGet = Callable[[str], Any]
OPEN = "beacon/open"  # sorted ids of the requests not yet final or failed
VALUE_LEN = 32
HMAC_BLOCK = 64  # the block size of SHA-256 and of SM3
PENDING, FINAL, FAILED = "pending", "final", "failed"


def request_key(request_id: str) -> str:
    return f"beacon/{request_id}"


def missed_key(pubkey: bytes) -> str:
    """How many requests a validator was asked for a value and gave none."""
    return f"beacon/missed/{pubkey.hex()}"


# --- the formulas (anyone recomputes them) ---


def _hmac(suite: Suite, key: bytes, msg: bytes) -> bytes:
    if len(key) > HMAC_BLOCK:
        key = suite.hash(key)
    key = key.ljust(HMAC_BLOCK, b"\0")
    inner = suite.hash(bytes(b ^ 0x36 for b in key) + msg)
    return suite.hash(bytes(b ^ 0x5C for b in key) + inner)


def beacon_value(suite: Suite, secret: bytes, chain_id: str, request_id: str) -> bytes:
    """A validator's value for a request: a PRF of its secret key (computed off chain)."""
    msg = bytes((tags.BEACON_VALUE,)) + encoding.encode({"chain_id": chain_id, "id": request_id})
    return _hmac(suite, secret, msg)


def commitment_of(
    suite: Suite, chain_id: str, request_id: str, validator: bytes, value: bytes
) -> bytes:
    body = {"chain_id": chain_id, "id": request_id, "validator": validator, "value": value}
    return suite.hd(tags.BEACON_COMMIT, encoding.encode(body))


def seed_from(
    suite: Suite, chain_id: str, request_id: str, subject: bytes, reveals: dict[str, bytes]
) -> bytes:
    """The seed of a request from its subject and its reveals (public key hex → value)."""
    ordered = [[bytes.fromhex(k), reveals[k]] for k in sorted(reveals)]
    body = {"chain_id": chain_id, "id": request_id, "subject": subject, "reveals": ordered}
    return suite.hd(tags.BEACON_SEED, encoding.encode(body))


def stream(suite: Suite, seed: bytes, label: str, k: int, bound: int) -> int:
    """The k-th number in ``[0, bound)`` of the draw ``label`` from ``seed``."""
    if bound <= 0:
        raise ValueError("a draw needs a positive bound")
    digest = suite.hd(tags.DRAW_STREAM, seed + encoding.encode([label, k]))
    return int.from_bytes(digest, "big") % bound


def phase(rec: dict[str, Any], height: int, time_ms: int) -> str:
    """``commit``, ``reveal``, ``expired`` (the window is over, not settled yet), or the
    request's settled status (``final`` / ``failed``) in a block of this height and time."""
    if rec["status"] != PENDING:
        return str(rec["status"])
    if rec["commit_closed_height"]:
        end_h, end_ms = rec["commit_closed_height"], rec["commit_closed_ms"]
    else:
        end_h, end_ms = rec["commit_end_height"], rec["commit_end_ms"]
    if height < end_h or time_ms < end_ms:
        return "commit"
    if height < end_h + rec["reveal_blocks"] or time_ms < end_ms + rec["reveal_ms"]:
        return "reveal"
    return "expired"


# --- what consumers call ---


def open_request(call: Call, request_id: str, subject: bytes) -> None:
    """Open a request whose seed will bind ``subject`` (a 32-byte hash of what is drawn)."""
    if call.state.exists(request_key(request_id)):
        raise ContractError(E_EXISTS, f"beacon request {request_id} exists")
    opened = list(call.state.get(OPEN) or [])
    if len(opened) >= int(call.param("beacon_open_max")):
        raise ContractError(E_BEACON_BUSY, "too many beacon requests are open")
    height = call.block.height
    call.state.put(
        request_key(request_id),
        {
            "id": request_id,
            "subject": subject,
            "validators": [v.pubkey for v in current_validators(call.state)],
            "opened_height": height,
            "opened_ms": call.now_ms,
            "commit_end_height": height + 1 + int(call.param("beacon_commit_blocks")),
            "commit_end_ms": call.now_ms + int(call.param("beacon_commit_ms")),
            "commit_closed_height": 0,
            "commit_closed_ms": 0,
            "reveal_blocks": int(call.param("beacon_reveal_blocks")),
            "reveal_ms": int(call.param("beacon_reveal_ms")),
            "commits": {},
            "reveals": {},
            "status": PENDING,
            "seed": b"",
            "settled_height": 0,
        },
    )
    call.state.put(OPEN, sorted([*opened, request_id]))
    call.emit("beacon.requested", id=request_id)


def settle(call: Call, request_id: str) -> tuple[str, bytes]:
    """``(status, seed)`` now: ``pending``, ``final`` (with the seed) or ``failed``; a request
    whose reveal window is over is settled here, in the caller's transaction."""
    rec = _load(call, request_id)
    if phase(rec, call.block.height, call.now_ms) == "expired":
        _settle(call, rec)
    return str(rec["status"]), bytes(rec["seed"])


def reveals_needed(rec: dict[str, Any]) -> int:
    """How many reveals make a request final: f + 1 of its validators."""
    return max_faulty(len(rec["validators"])) + 1


def final_seed(suite: Suite, chain_id: str, rec: dict[str, Any]) -> bytes | None:
    """The seed a request's reveals give, or None with fewer than ``reveals_needed``."""
    if len(rec["reveals"]) < reveals_needed(rec):
        return None
    return seed_from(suite, chain_id, rec["id"], rec["subject"], rec["reveals"])


def _settle(call: Call, rec: dict[str, Any]) -> None:
    reveals: dict[str, bytes] = rec["reveals"]
    seed = final_seed(call.block.suite, call.block.chain_id, rec)
    if seed is not None:
        rec["status"] = FINAL
        rec["seed"] = seed
    else:
        rec["status"] = FAILED
    rec["settled_height"] = call.block.height
    for pubkey in rec["validators"]:
        if pubkey.hex() not in reveals:
            call.state.put(missed_key(pubkey), int(call.state.get(missed_key(pubkey)) or 0) + 1)
    call.state.put(request_key(rec["id"]), rec)
    call.state.put(OPEN, [i for i in call.state.get(OPEN) or [] if i != rec["id"]])
    call.emit("beacon.settled", id=rec["id"], status=rec["status"], reveals=len(reveals))


# --- handlers ---


def _load(call: Call, request_id: str) -> dict[str, Any]:
    rec = call.state.get(request_key(request_id))
    if rec is None:
        raise ContractError(E_NOT_FOUND, f"no beacon request {request_id}")
    return dict(rec)


def _request_of(call: Call, wanted: str) -> dict[str, Any]:
    require_unfrozen_sender(call.state, call.sender)
    rec = _load(call, A.text(call.args, "id", max_len=128))
    now = phase(rec, call.block.height, call.now_ms)
    if now != wanted:
        raise ContractError(E_BEACON_PHASE, f"the request is in phase {now!r}, not {wanted!r}")
    return rec


def commit(call: Call) -> None:
    """Commit to this validator's value for an open request, in its commit phase.

    Who: a validator of the request's set (the set when it was opened), key not frozen; its
    node sends it by itself (``beacon_actions``).

    Args:
        id: the beacon request (opened by ``draw.request`` or a random ``market.select``).
        commitment: ``Hd(0x62, CE({"chain_id", "id", "validator", "value"}))``.

    A request is opened only inside ``draw.request`` and a random ``market.select``, never by
    a call of its own (they are refused ``E_BEACON_BUSY`` while ``beacon_open_max`` requests
    are open).
    """
    rec = _request_of(call, "commit")
    if call.sender not in rec["validators"]:
        raise ContractError(E_FORBIDDEN, "only a validator of the request's set commits")
    me = call.sender.hex()
    if me in rec["commits"]:
        raise ContractError(E_EXISTS, "this validator has committed")
    rec["commits"] = {**rec["commits"], me: A.blob(call.args, "commitment", length=32)}
    if len(rec["commits"]) == len(rec["validators"]):
        # every validator committed: reveals from the next block, the window counted from here
        rec["commit_closed_height"] = call.block.height + 1
        rec["commit_closed_ms"] = call.now_ms
    call.state.put(request_key(rec["id"]), rec)
    call.emit("beacon.committed", id=rec["id"])


def reveal(call: Call) -> None:
    """Reveal the committed value in the reveal phase; checked against the commitment. The
    last committer's reveal settles the request.

    Who: a validator that committed to the request, key not frozen (sent by its node).

    Args:
        id: the beacon request.
        value: the value committed to (``beacon_value``).
    """
    rec = _request_of(call, "reveal")
    me = call.sender.hex()
    if me not in rec["commits"]:
        raise ContractError(E_FORBIDDEN, "only a validator that committed reveals")
    if me in rec["reveals"]:
        raise ContractError(E_EXISTS, "this validator has revealed")
    value = A.blob(call.args, "value", length=VALUE_LEN)
    expected = commitment_of(call.block.suite, call.block.chain_id, rec["id"], call.sender, value)
    if expected != rec["commits"][me]:
        raise ContractError(E_BEACON_MISMATCH, "the value does not open the commitment")
    rec["reveals"] = {**rec["reveals"], me: value}
    call.emit("beacon.revealed", id=rec["id"])
    if len(rec["reveals"]) == len(rec["commits"]):
        _settle(call, rec)
    else:
        call.state.put(request_key(rec["id"]), rec)


def finalize(call: Call) -> None:
    """Settle a request whose reveal window is over: ``final`` (seed fixed) with at least
    f + 1 reveals, else ``failed``; validators without a reveal are counted in
    ``beacon/missed/<pubkey hex>``.

    Who: Anyone (a consumer's own call, e.g. ``draw.seat``, settles it too).

    Args:
        id: the beacon request.
    """
    rec = _load(call, A.text(call.args, "id", max_len=128))
    now = phase(rec, call.block.height, call.now_ms)
    if now in (FINAL, FAILED):
        raise ContractError(E_STATE, f"the request is already {now}")
    if now != "expired":
        raise ContractError(E_BEACON_PENDING, f"the request is still in phase {now!r}")
    _settle(call, rec)


# --- what a validator's node sends ---


def beacon_actions(
    get: StateGet,
    chain_id: str,
    suite: Suite,
    validator_pubkey: bytes,
    validator_secret: bytes,
    head_height: int,
    head_time_ms: int,
) -> list[tuple[str, dict[str, Any]]]:
    """The ``(call, args)`` this validator should send now, given the head state
    (``get(key)`` → decoded value or None) at ``head_height`` / ``head_time_ms`` (the head
    block's): a commitment for every open request in its commit phase that it has not
    committed to, a reveal for every one in its reveal phase that it committed to and has
    not revealed (judged for the next block, no earlier than the head's time). Pure: no
    clock, no I/O."""
    actions: list[tuple[str, dict[str, Any]]] = []
    me = validator_pubkey.hex()
    for request_id in get(OPEN) or []:
        rec = get(request_key(request_id))
        if rec is None or validator_pubkey not in rec["validators"]:
            continue
        now = phase(rec, head_height + 1, head_time_ms)
        value = beacon_value(suite, validator_secret, chain_id, request_id)
        if now == "commit" and me not in rec["commits"]:
            c = commitment_of(suite, chain_id, request_id, validator_pubkey, value)
            actions.append(("beacon.commit", {"id": request_id, "commitment": c}))
        elif now == "reveal" and me in rec["commits"] and me not in rec["reveals"]:
            actions.append(("beacon.reveal", {"id": request_id, "value": value}))
    return actions


CONTRACT = Contract("beacon", {"commit": commit, "reveal": reveal, "finalize": finalize})
