"""Peer link frames and the signed handshake (pure: bytes in, values or reasons out).

A peer link is a TCP stream between two validators carrying length-prefixed frames:

    record = length (4 bytes, big-endian) ‖ frame
    frame  = kind (1 byte) ‖ seq (8 bytes, big-endian) ‖ CE(body)

The shell reads the length first and refuses a frame over the limit of the link's phase
before reading or decoding any of it: ``HANDSHAKE_MAX_FRAME_BYTES`` until the peer's AUTH
verified (a stranger can make the node read and decode a few hundred bytes, no more), then
the configured ``max_frame_bytes``.

``seq`` counts the frames a sender sent on this link, from 0; a receiver refuses a frame
whose ``seq`` is not exactly the next one (a replayed, dropped or reordered frame means the
link is broken, so the shell closes it and reconnects). Frame kinds and bodies:

| kind | name | body |
|---|---|---|
| 0x01 | HELLO | ``{"chain_id": str, "index": int, "nonce": bin32}`` — a fresh challenge |
| 0x02 | AUTH | ``{"sig": bin64}`` — the handshake signature (below) |
| 0x10 | CONSENSUS | ``{"msg": bin}`` — one encoded consensus message (``consensus.messages``) |
| 0x11 | TXS | ``{"txs": [bin, ...]}`` — a gossip batch of CE-encoded signed transactions |
| 0x12 | FETCH | ``{"from_height": int, "max_blocks": int}`` — ask for committed blocks |
| 0x13 | BLOCKS | ``{"blocks": [[bin block, bin qc], ...]}`` — the answer, ascending heights |
| 0x14 | PING | ``{}`` — kept for compatibility; a link silent for longer than the shell's
  idle timeout is closed (a peer that died without a FIN is noticed) |
| 0x15 | STATUS | ``{"height": int}`` — the sender's committed head; sent when a link comes up
  and whenever it is otherwise idle, so a node behind its peers fetches blocks even while an
  idle chain sends no consensus messages. A validator that does not vote (its vote records
  are missing) adds ``"abstaining": true``, so its peers' health counts only voters |
| 0x16 | PROPOSAL | ``{"msg": bin, "tx_ids": [bin32, ...]}`` — a pre-prepare or new view whose
  block is encoded without its transactions, and their ids in order (``shell.proposals``) |
| 0x17 | GET_TXS | ``{"ids": [bin32, ...]}`` — the transactions of a proposal the receiver lacks |
| 0x18 | TXS_FOR | ``{"txs": [bin, ...]}`` — the answer: those the sender holds, CE-encoded |
| 0x19 | SNAPSHOTS | ``{}`` — which certified heights can you serve a state snapshot of? |
| 0x1A | SNAPSHOT_OFFER | ``{"low": int, "high": int}`` — any height in ``low..high``; none
  when ``high`` is 0 (``shell.statesync``) |
| 0x1B | SNAPSHOT_GET | ``{"height": int, "max_bytes": int}`` — the manifest of that height,
  or ``{"nodes": [bin32, ...], "max_bytes": int}`` — the state pieces headed by these hashes
  (``ledger.snapshot``); ``max_bytes``: the asker's bound on the answer's body |
| 0x1C | SNAPSHOT_PART | ``{"manifest": bin}`` (empty: not served) or ``{"nodes": [[bin record,
  [[str key, bin value], ...]], ...]}`` — pieces for a prefix of the hashes asked, in order |

Handshake: each side sends HELLO with a fresh random 32-byte nonce, then AUTH: its node key's
signature over

    0x5A ‖ CE({"chain_id", "signer": index, "signer_key": bin, "peer": index,
               "peer_key": bin, "signer_nonce": bin32, "peer_nonce": bin32})

``peer_nonce`` is the nonce the *other* side just sent, so a recorded AUTH cannot be replayed
on a new link, and the signature binds the chain id and both endpoints' identities (a
signature for one peer is no good towards another). Nothing else is accepted before the
peer's AUTH verified; the signer must be a validator other than ourselves.

Consensus messages and transactions carry their own signatures, checked by the replica and
the pool's batch verifier: the link's authentication only says which validator is talking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import encoding, tags
from ledger.block import MAX_BLOCK_TXS, Validator
from ledger.crypto import DIGEST_LEN, Suite
from ledger.errors import InvalidInput
from ledger.fields import exact_map, get_bytes, get_int, get_list, get_str

HELLO = 0x01
AUTH = 0x02
CONSENSUS = 0x10
TXS = 0x11
FETCH = 0x12
BLOCKS = 0x13
PING = 0x14
STATUS = 0x15
PROPOSAL = 0x16
GET_TXS = 0x17
TXS_FOR = 0x18
SNAPSHOTS = 0x19
SNAPSHOT_OFFER = 0x1A
SNAPSHOT_GET = 0x1B
SNAPSHOT_PART = 0x1C
KIND_NAMES = {
    HELLO: "hello",
    AUTH: "auth",
    CONSENSUS: "consensus",
    TXS: "txs",
    FETCH: "fetch",
    BLOCKS: "blocks",
    PING: "ping",
    STATUS: "status",
    PROPOSAL: "proposal",
    GET_TXS: "get_txs",
    TXS_FOR: "txs_for",
    SNAPSHOTS: "snapshots",
    SNAPSHOT_OFFER: "snapshot_offer",
    SNAPSHOT_GET: "snapshot_get",
    SNAPSHOT_PART: "snapshot_part",
}

NONCE_LEN = 32
HEADER_LEN = 9
LENGTH_PREFIX_LEN = 4
HANDSHAKE_MAX_FRAME_BYTES = 512  # HELLO and AUTH are ~100 bytes
DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024
MAX_GOSSIP_TXS = 10_000
MAX_FETCH_BLOCKS = 256
MAX_SNAPSHOT_NODES = 1024  # state pieces asked for (and answered) in one frame


class WireError(InvalidInput):
    """A frame or handshake from a peer that is refused; ``str()`` is the reason."""


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    seq: int
    body: dict[str, Any]


def encode_frame(kind: int, seq: int, body: dict[str, Any]) -> bytes:
    if kind not in KIND_NAMES:
        raise ValueError(f"unknown frame kind {kind:#x}")
    return bytes((kind,)) + seq.to_bytes(8, "big") + encoding.encode(body)


def decode_frame(data: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame:
    """Split and decode one frame; the body's shape is checked per kind."""
    if len(data) > max_frame_bytes:
        raise WireError(f"frame of {len(data)} bytes exceeds the limit of {max_frame_bytes}")
    if len(data) < HEADER_LEN + 1:
        raise WireError("frame shorter than its header")
    kind = data[0]
    if kind not in KIND_NAMES:
        raise WireError(f"unknown frame kind {kind:#x}")
    seq = int.from_bytes(data[1:HEADER_LEN], "big")
    body = encoding.decode(data[HEADER_LEN:], max_frame_bytes)
    _check_body(kind, body)
    return Frame(kind, seq, body)


def _check_body(kind: int, body: Any) -> None:
    what = KIND_NAMES[kind]
    if kind == HELLO:
        m = exact_map(body, what, {"chain_id", "index", "nonce"})
        get_str(m, "chain_id", what)
        get_int(m, "index", what)
        get_bytes(m, "nonce", what, NONCE_LEN)
    elif kind == AUTH:
        get_bytes(exact_map(body, what, {"sig"}), "sig", what, 64)
    elif kind == CONSENSUS:
        get_bytes(exact_map(body, what, {"msg"}), "msg", what, max_len=DEFAULT_MAX_FRAME_BYTES)
    elif kind in (TXS, TXS_FOR):
        txs = get_list(exact_map(body, what, {"txs"}), "txs", what,
                       MAX_GOSSIP_TXS if kind == TXS else MAX_BLOCK_TXS)
        if not all(type(t) is bytes for t in txs):
            raise WireError(f"{what} frame must carry byte strings")
    elif kind in (PROPOSAL, GET_TXS):
        m = exact_map(body, what, {"msg", "tx_ids"} if kind == PROPOSAL else {"ids"})
        if kind == PROPOSAL:
            get_bytes(m, "msg", what, max_len=DEFAULT_MAX_FRAME_BYTES)
        ids = get_list(m, "tx_ids" if kind == PROPOSAL else "ids", what, MAX_BLOCK_TXS)
        if not all(type(i) is bytes and len(i) == DIGEST_LEN for i in ids):
            raise WireError(f"{what} frame must carry 32-byte transaction ids")
    elif kind == FETCH:
        m = exact_map(body, what, {"from_height", "max_blocks"})
        get_int(m, "from_height", what)
        n = get_int(m, "max_blocks", what, minimum=1)
        if n > MAX_FETCH_BLOCKS:
            raise WireError(f"fetch asks for {n} blocks, above {MAX_FETCH_BLOCKS}")
    elif kind == PING:
        exact_map(body, what, set())
    elif kind == STATUS:
        m = exact_map(body, what, {"height"}, optional=frozenset({"abstaining"}))
        get_int(m, "height", what)
        if "abstaining" in m and m["abstaining"] is not True:
            raise WireError(f"{what}: abstaining is true when present")
    elif kind == BLOCKS:
        blocks = get_list(exact_map(body, what, {"blocks"}), "blocks", what, MAX_FETCH_BLOCKS)
        for pair in blocks:
            if not (
                type(pair) is list
                and len(pair) == 2
                and type(pair[0]) is bytes
                and type(pair[1]) is bytes
            ):
                raise WireError("blocks frame must carry [block, qc] byte pairs")
    elif kind in (SNAPSHOTS, SNAPSHOT_OFFER, SNAPSHOT_GET, SNAPSHOT_PART):
        _check_snapshot_body(kind, body)


def _check_snapshot_body(kind: int, body: Any) -> None:
    """Shapes only: every piece and manifest is checked against the chain by
    ``ledger.snapshot`` before anything in it is believed."""
    what = KIND_NAMES[kind]
    if kind == SNAPSHOTS:
        exact_map(body, what, set())
    elif kind == SNAPSHOT_OFFER:
        m = exact_map(body, what, {"low", "high"})
        get_int(m, "low", what)
        get_int(m, "high", what)
    elif kind == SNAPSHOT_GET:
        if isinstance(body, dict) and "height" in body:
            m = exact_map(body, what, {"height", "max_bytes"})
            get_int(m, "height", what, minimum=1)
            get_int(m, "max_bytes", what, minimum=1)
        else:
            m = exact_map(body, what, {"nodes", "max_bytes"})
            get_int(m, "max_bytes", what, minimum=1)
            nodes = get_list(m, "nodes", what, MAX_SNAPSHOT_NODES)
            if not nodes or not all(type(n) is bytes and len(n) == DIGEST_LEN for n in nodes):
                raise WireError("snapshot_get must name 1 or more 32-byte hashes")
    elif isinstance(body, dict) and "manifest" in body:
        # Bounded by the frame (at most the 256 MiB the config allows).
        get_bytes(exact_map(body, what, {"manifest"}), "manifest", what, max_len=1 << 28)
    else:
        pieces = get_list(exact_map(body, what, {"nodes"}), "nodes", what, MAX_SNAPSHOT_NODES)
        if not all(type(p) is list and len(p) == 2 and type(p[0]) is bytes
                   and type(p[1]) is list for p in pieces):
            raise WireError("snapshot_part must carry [record, leaves] pieces")


def handshake_bytes(
    chain_id: str,
    signer: int,
    signer_key: bytes,
    peer: int,
    peer_key: bytes,
    signer_nonce: bytes,
    peer_nonce: bytes,
) -> bytes:
    body = {
        "chain_id": chain_id,
        "signer": signer,
        "signer_key": signer_key,
        "peer": peer,
        "peer_key": peer_key,
        "signer_nonce": signer_nonce,
        "peer_nonce": peer_nonce,
    }
    return bytes((tags.PEER_HANDSHAKE,)) + encoding.encode(body)


class Handshake:
    """One side of a link's handshake. ``hello()`` → send; ``on_hello(frame)`` with the
    peer's HELLO → our AUTH frame; ``on_auth(frame)`` → the verified peer index."""

    def __init__(
        self,
        suite: Suite,
        chain_id: str,
        validators: Sequence[Validator],
        my_index: int,
        secret: bytes,
        my_nonce: bytes,
        expect_peer: int | None = None,
    ) -> None:
        if len(my_nonce) != NONCE_LEN:
            raise ValueError("handshake nonce must be 32 bytes")
        self._suite = suite
        self._chain_id = chain_id
        self._validators = tuple(validators)
        self._me = my_index
        self._secret = secret
        self._my_nonce = my_nonce
        self._expect = expect_peer
        self._peer: int | None = None
        self._peer_nonce: bytes | None = None
        self.peer_index: int | None = None  # set once the peer's AUTH verified

    def hello(self) -> bytes:
        body = {"chain_id": self._chain_id, "index": self._me, "nonce": self._my_nonce}
        return encode_frame(HELLO, 0, body)

    def on_hello(self, frame: Frame) -> bytes:
        if frame.kind != HELLO or frame.seq != 0:
            raise WireError("expected the peer's HELLO as its first frame")
        if frame.body["chain_id"] != self._chain_id:
            raise WireError(f"peer is on chain {frame.body['chain_id']!r}, not ours")
        peer = frame.body["index"]
        if peer >= len(self._validators):
            raise WireError(f"peer index {peer} is not a validator")
        if peer == self._me:
            raise WireError("peer claims our own index")
        if self._expect is not None and peer != self._expect:
            raise WireError(f"dialled validator {self._expect} but {peer} answered")
        if frame.body["nonce"] == self._my_nonce:
            raise WireError("peer echoed our own nonce")
        self._peer = peer
        self._peer_nonce = frame.body["nonce"]
        msg = handshake_bytes(
            self._chain_id,
            self._me,
            self._validators[self._me].pubkey,
            peer,
            self._validators[peer].pubkey,
            self._my_nonce,
            self._peer_nonce,
        )
        return encode_frame(AUTH, 1, {"sig": self._suite.sign(self._secret, msg)})

    def on_auth(self, frame: Frame) -> int:
        if self._peer is None or self._peer_nonce is None:
            raise WireError("AUTH before HELLO")
        if frame.kind != AUTH or frame.seq != 1:
            raise WireError("expected the peer's AUTH as its second frame")
        msg = handshake_bytes(
            self._chain_id,
            self._peer,
            self._validators[self._peer].pubkey,
            self._me,
            self._validators[self._me].pubkey,
            self._peer_nonce,
            self._my_nonce,
        )
        if not self._suite.verify(self._validators[self._peer].pubkey, msg, frame.body["sig"]):
            raise WireError(f"handshake signature of validator {self._peer} does not verify")
        self.peer_index = self._peer
        return self._peer


class FrameCounter:
    """Sequence numbers of one link direction after the handshake (which used 0 and 1)."""

    def __init__(self) -> None:
        self.next_seq = 2

    def take(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def check(self, frame: Frame) -> None:
        if frame.seq != self.next_seq:
            raise WireError(f"frame seq {frame.seq}, expected {self.next_seq} (replay or loss)")
        if frame.kind in (HELLO, AUTH):
            raise WireError("handshake frame after the handshake")
        self.next_seq += 1
