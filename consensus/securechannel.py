"""The secure peer link protocol, sans-IO: handshake messages, key schedule, sealed records.

A peer link is encrypted and mutually authenticated with the nodes' own keys, with forward
secrecy, after CometBFT's SecretConnection (station-to-station: ephemeral Diffie-Hellman,
then each side signs a challenge drawn from the session under encryption). The primitives
are the chain suite's (``ledger.linkcrypto``): X25519, HKDF-SHA256 and ChaCha20-Poly1305 on
``ed25519-sha256`` chains; ECDH on the SM2 curve, HKDF over HMAC-SM3 and SM4-GCM on
``sm2-sm3`` chains. ``P`` below is the suite's node public key length (32 or 65 bytes), ``E``
its ephemeral public key length (32 or 65), ``K`` its AEAD key length (32 or 16), ``H`` its
hash (SHA-256 or SM3) and ``Hd(tag, x) = H(tag ‖ x)``.

**1. HELLO**, sent by both sides at once, in the clear, ``6 + E`` bytes (38 or 71):

| offset | len | field |
|---|---|---|
| 0 | 4 | magic ``b"CCSL"`` |
| 4 | 1 | version ``0x01`` |
| 5 | 1 | suite: ``0x01`` ed25519-sha256, ``0x02`` sm2-sm3 |
| 6 | E | a fresh ephemeral public key (X25519, or SM2 point ``04‖X‖Y``) |

A reader takes exactly 6 bytes, checks them (a stranger's bytes end here), then exactly
``E``. A key equal to our own (a reflected HELLO) is refused.

**2. Keys.** ``lo``/``hi`` are the two ephemeral keys in byte order; the side whose key is
``lo`` is the *low* side. ``shared`` is the X25519 output, or X of ``d·P`` on SM2 (32 bytes).

    T   = Hd(0x5C, 0x01 ‖ suite ‖ lo ‖ hi ‖ len(chain_id) (1 byte) ‖ chain_id (ASCII))
    OKM = HKDF-H(salt = T, ikm = shared, info = "credchain secure link v1", L = 2K + 32)
    key of records sent by the low side  = OKM[0 : K]
    key of records sent by the high side = OKM[K : 2K]
    challenge                            = OKM[2K : 2K + 32]

Both ephemeral secrets are dropped here: what was sent cannot be decrypted later with the
nodes' long-term keys (they enter no key, only the signatures below).

**3. AUTH**, one sealed record each way (record counter 0), plaintext ``P + 69 + len(chain_id)``
bytes; the reader demands exactly the length its own chain id implies:

| offset | len | field |
|---|---|---|
| 0 | P | the node's long-term public key |
| P | 64 | signature with that key over ``0x5B ‖ challenge ‖ side ‖ role`` |
| P + 64 | 4 | role: validator index, big-endian; ``0xFFFFFFFF`` an observer |
| P + 68 | 1 | ``len(chain_id)`` |
| P + 69 | n | chain id (ASCII) |

``side`` is one byte, ``0x00`` when the signer is the low side, ``0x01`` when high; ``role``
is the same four bytes as in the record. The challenge binds the signature to this session
(both ephemeral keys and the shared secret), the chain id and the suite: a recorded AUTH is
worthless on another session, and a man in the middle, who must run a session with each
side, holds two different challenges and no signature over the other. The caller decides
whether the authenticated key may hold the claimed role (the validator set, the observers).

**4. Records**, every frame after the handshake and the AUTH itself:

| offset | len | field |
|---|---|---|
| 0 | 4 | ``n``: length of what follows, big-endian (in the clear, so a reader bounds it) |
| 4 | n | AEAD(key of the sender's side, nonce, plaintext, associated data = the 4 bytes): |
| | | the ciphertext and its 16-byte tag, so ``n = len(plaintext) + 16`` |

``nonce = 0x00000000 ‖ counter`` (8 bytes, big-endian), the counter counting the records one
side sent, from 0 (the AUTH). A record that is altered (including its length), replayed,
reordered, dropped or cut short does not open, and the link is over: there is no recovery
inside a session. ``n`` above ``max_plain_bytes + 16`` is refused before a byte is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus import wire
from ledger import tags
from ledger.crypto import SIG_LEN, Suite
from ledger.errors import InvalidInput
from ledger.linkcrypto import (
    AEAD_NONCE_LEN,
    AEAD_TAG_LEN,
    Aead,
    Ephemeral,
    LinkCryptoError,
    LinkSuite,
    link_suite,
)

MAGIC = b"CCSL"
VERSION = 0x01
HELLO_HEADER_LEN = len(MAGIC) + 2
LENGTH_PREFIX_LEN = wire.LENGTH_PREFIX_LEN
CHALLENGE_LEN = 32
ROLE_LEN = 4
OBSERVER_ROLE = 0xFFFF_FFFF
MAX_VALIDATOR_INDEX = OBSERVER_ROLE - 1
MAX_CHAIN_ID_LEN = 64
MAX_RECORD_COUNTER = (1 << 64) - 1
KDF_INFO = b"credchain secure link v1"
LOW_SIDE = 0x00
HIGH_SIDE = 0x01


class SecureLinkError(wire.WireError):
    """A secure link refused or broken by what the peer (or the path) did; ``str()`` says
    what."""


class LinkTimeout(SecureLinkError):
    """The peer sent nothing, or too little, within the time allowed."""


class LinkClosed(SecureLinkError):
    """The connection ended: cleanly between records, or in the middle of one."""


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """What the key schedule yields: a key per direction and the challenge both sign."""

    low_to_high: bytes
    high_to_low: bytes
    challenge: bytes


def encode_role(role: int | None) -> bytes:
    """Four bytes: a validator index, or ``0xFFFFFFFF`` for an observer (None)."""
    if role is None:
        return OBSERVER_ROLE.to_bytes(ROLE_LEN, "big")
    if not 0 <= role <= MAX_VALIDATOR_INDEX:
        raise ValueError(f"validator index {role} out of range")
    return role.to_bytes(ROLE_LEN, "big")


def decode_role(data: bytes) -> int | None:
    value = int.from_bytes(data, "big")
    return None if value == OBSERVER_ROLE else value


def chain_id_bytes(chain_id: str) -> bytes:
    raw = chain_id.encode("ascii") if chain_id.isascii() else b""
    if not 1 <= len(raw) <= MAX_CHAIN_ID_LEN:
        raise ValueError(f"a chain id is 1..{MAX_CHAIN_ID_LEN} ASCII characters")
    return raw


def hello_len(suite: Suite) -> int:
    return HELLO_HEADER_LEN + link_suite(suite).ephemeral_pub_len


def auth_plain_len(suite: Suite, chain_id: str) -> int:
    return suite.pubkey_len + SIG_LEN + ROLE_LEN + 1 + len(chain_id_bytes(chain_id))


def transcript_hash(suite: Suite, chain_id: str, low: bytes, high: bytes) -> bytes:
    """``T`` of step 2: the session's public values, domain-separated by tag 0x5C."""
    cid = chain_id_bytes(chain_id)
    code = link_suite(suite).code
    body = bytes((VERSION, code)) + low + high + bytes((len(cid),)) + cid
    return suite.hd(tags.SECURE_LINK_TRANSCRIPT, body)


def derive_session_keys(suite: Suite, shared: bytes, transcript: bytes) -> SessionKeys:
    """Step 2's HKDF: the inputs are the ephemeral shared secret and public values only."""
    link = link_suite(suite)
    k = link.aead_key_len
    okm = link.kdf(shared, transcript, KDF_INFO, 2 * k + CHALLENGE_LEN)
    return SessionKeys(okm[:k], okm[k : 2 * k], okm[2 * k :])


def auth_signing_bytes(challenge: bytes, side: int, role: int | None) -> bytes:
    """What a node signs to authenticate itself on one session (tag 0x5B)."""
    return bytes((tags.SECURE_LINK_AUTH,)) + challenge + bytes((side,)) + encode_role(role)


def record_nonce(counter: int) -> bytes:
    return bytes(AEAD_NONCE_LEN - 8) + counter.to_bytes(8, "big")


class RecordSealer:
    """Seals the records of one direction, counting them (the nonce)."""

    def __init__(self, aead: Aead) -> None:
        self._aead = aead
        self.counter = 0

    def seal(self, plaintext: bytes) -> bytes:
        """``length ‖ AEAD(...)`` of the next record."""
        if self.counter > MAX_RECORD_COUNTER:
            raise SecureLinkError("record counter exhausted: the link must be re-established")
        sealed_len = len(plaintext) + AEAD_TAG_LEN
        if sealed_len >= 1 << (8 * LENGTH_PREFIX_LEN):
            raise ValueError(f"a frame of {len(plaintext)} bytes does not fit a record")
        prefix = sealed_len.to_bytes(LENGTH_PREFIX_LEN, "big")
        sealed = self._aead.seal(record_nonce(self.counter), plaintext, prefix)
        self.counter += 1
        return prefix + sealed


class RecordOpener:
    """Opens the records of the other direction, in order; the first failure ends it."""

    def __init__(self, aead: Aead) -> None:
        self._aead = aead
        self.counter = 0
        self.failed = False

    def body_len(self, prefix: bytes, max_plain_bytes: int) -> int:
        """How many bytes to read after ``prefix``; refused before any is read if over."""
        self._check_usable()
        if len(prefix) != LENGTH_PREFIX_LEN:
            raise SecureLinkError("a record's length prefix is 4 bytes")
        n = int.from_bytes(prefix, "big")
        if n < AEAD_TAG_LEN:
            self.failed = True
            raise SecureLinkError(f"record of {n} bytes is shorter than its tag")
        if n - AEAD_TAG_LEN > max_plain_bytes:
            self.failed = True
            raise SecureLinkError(
                f"frame of {n - AEAD_TAG_LEN} bytes exceeds the limit of {max_plain_bytes}")
        return n

    def open(self, prefix: bytes, body: bytes) -> bytes:
        self._check_usable()
        if len(body) != int.from_bytes(prefix, "big"):
            self.failed = True
            raise SecureLinkError("record body length differs from its prefix")
        try:
            plain = self._aead.open(record_nonce(self.counter), body, prefix)
        except LinkCryptoError:
            self.failed = True
            raise SecureLinkError(
                f"record {self.counter} does not authenticate: it was altered, replayed, "
                "reordered or one before it was dropped") from None
        self.counter += 1
        return plain

    def _check_usable(self) -> None:
        if self.failed:
            raise SecureLinkError("the link already failed; it must be re-established")
        if self.counter > MAX_RECORD_COUNTER:
            raise SecureLinkError("record counter exhausted: the link must be re-established")


@dataclass(frozen=True, slots=True)
class Established:
    """A finished handshake: the two record directions and the authenticated peer."""

    sealer: RecordSealer
    opener: RecordOpener
    peer_pubkey: bytes
    peer_role: int | None


class Handshake:
    """One side of a secure link's handshake (module docstring, steps 1–3).

    ``hello`` → send; the peer's HELLO: ``check_hello_header`` on its first 6 bytes, then
    ``on_hello`` on all ``hello_len`` → our AUTH record, send it; the peer's AUTH:
    ``auth_body_len(prefix)`` → read that many bytes, ``on_auth(prefix, body)`` →
    ``Established``. Any refusal is a ``SecureLinkError`` saying why.
    """

    def __init__(self, suite: Suite, chain_id: str, my_secret: bytes, my_role: int | None,
                 ephemeral_seed: bytes, expected_peer_key: bytes | None = None) -> None:
        self._suite = suite
        self._link: LinkSuite = link_suite(suite)
        self._chain_id = chain_id
        self._chain_id_raw = chain_id_bytes(chain_id)
        self._secret = my_secret
        self._pubkey = suite.public_key(my_secret)
        self._role = my_role
        encode_role(my_role)  # an out-of-range role is our caller's bug: refuse it now
        self._expected = expected_peer_key
        self._ephemeral: Ephemeral | None = self._link.ephemeral(ephemeral_seed)
        self.ephemeral_public = self._ephemeral.public
        self.hello = (MAGIC + bytes((VERSION, self._link.code)) + self.ephemeral_public)
        self.peer_hello_len = len(self.hello)
        self._side: int | None = None
        self._challenge: bytes | None = None
        self._sealer: RecordSealer | None = None
        self._opener: RecordOpener | None = None
        self._auth_body_len = auth_plain_len(suite, chain_id) + AEAD_TAG_LEN

    def check_hello_header(self, header: bytes) -> None:
        """The first 6 bytes from the peer: ours is a credchain v1 link of this suite?"""
        if len(header) != HELLO_HEADER_LEN or header[: len(MAGIC)] != MAGIC:
            # an HTTP request, or a TLS hello (0x16 0x03): a client at the wrong port
            web = header[:4] in (b"GET ", b"POST", b"HEAD", b"PUT ") or header[:2] == b"\x16\x03"
            raise SecureLinkError(
                f"not a credchain secure link: the peer's first bytes are {header[:8].hex()}"
                + (" (an HTTP or TLS request: a client pointed at this peer port instead of "
                   "the HTTP API's http_port?)" if web else ""))
        if header[4] != VERSION:
            raise SecureLinkError(f"peer speaks secure link version {header[4]}, we speak 1")
        if header[5] != self._link.code:
            raise SecureLinkError(
                f"peer's suite code is {header[5]:#04x}, ours ({self._suite.name}) is "
                f"{self._link.code:#04x}: the peer is on another chain")

    def on_hello(self, peer_hello: bytes) -> bytes:
        """Derive the session from the peer's HELLO; returns our AUTH record to send."""
        if self._ephemeral is None:
            raise SecureLinkError("HELLO after the session keys were derived")
        self.check_hello_header(peer_hello[:HELLO_HEADER_LEN])
        if len(peer_hello) != self.peer_hello_len:
            raise SecureLinkError(f"HELLO of {len(peer_hello)} bytes, expected "
                                  f"{self.peer_hello_len}")
        peer_public = peer_hello[HELLO_HEADER_LEN:]
        mine = self.ephemeral_public
        if peer_public == mine:
            raise SecureLinkError("peer sent our own ephemeral key back (a reflected HELLO)")
        try:
            shared = self._ephemeral.agree(peer_public)
        except LinkCryptoError as exc:
            raise SecureLinkError(str(exc)) from None
        finally:
            # Forward secrecy: the only secret of the session's keys goes now, whatever
            # happens next.
            self._ephemeral = None
        self._side = LOW_SIDE if mine < peer_public else HIGH_SIDE
        low, high = (mine, peer_public) if self._side == LOW_SIDE else (peer_public, mine)
        keys = derive_session_keys(self._suite, shared,
                                   transcript_hash(self._suite, self._chain_id, low, high))
        send_key, recv_key = ((keys.low_to_high, keys.high_to_low) if self._side == LOW_SIDE
                              else (keys.high_to_low, keys.low_to_high))
        self._sealer = RecordSealer(self._link.aead(send_key))
        self._opener = RecordOpener(self._link.aead(recv_key))
        self._challenge = keys.challenge
        signature = self._suite.sign(
            self._secret, auth_signing_bytes(keys.challenge, self._side, self._role))
        plain = (self._pubkey + signature + encode_role(self._role)
                 + bytes((len(self._chain_id_raw),)) + self._chain_id_raw)
        return self._sealer.seal(plain)

    def auth_body_len(self, prefix: bytes) -> int:
        """The peer's AUTH record must be exactly as long as our chain id makes it."""
        if self._opener is None:
            raise SecureLinkError("AUTH before HELLO")
        n = int.from_bytes(prefix, "big")
        if len(prefix) != LENGTH_PREFIX_LEN or n != self._auth_body_len:
            raise SecureLinkError(
                f"peer's AUTH record is {n} bytes, expected exactly {self._auth_body_len}: "
                "another chain, another version, or not a credchain node")
        return n

    def on_auth(self, prefix: bytes, body: bytes) -> Established:
        """Open and check the peer's AUTH: its key, its signature over our challenge."""
        if self._opener is None or self._sealer is None or self._challenge is None:
            raise SecureLinkError("AUTH before HELLO")
        self.auth_body_len(prefix)
        try:
            plain = self._opener.open(prefix, body)
        except SecureLinkError:
            raise SecureLinkError(
                "peer's AUTH does not decrypt: it is on another chain (the chain id enters "
                "the keys), or the handshake was altered in transit") from None
        p = self._suite.pubkey_len
        pubkey, signature = plain[:p], plain[p : p + SIG_LEN]
        role_bytes = plain[p + SIG_LEN : p + SIG_LEN + ROLE_LEN]
        cid = plain[p + SIG_LEN + ROLE_LEN + 1 :]
        if plain[p + SIG_LEN + ROLE_LEN] != len(cid) or cid != self._chain_id_raw:
            raise SecureLinkError(f"peer's AUTH names chain {cid!r}, not {self._chain_id!r}")
        try:
            self._suite.check_pubkey(pubkey)
        except InvalidInput as exc:
            raise SecureLinkError(f"peer's node key is refused: {exc}") from None
        if pubkey == self._pubkey:
            raise SecureLinkError("peer authenticated with our own node key")
        if self._expected is not None and pubkey != self._expected:
            raise SecureLinkError(
                f"dialled node key {self._expected.hex()[:16]}… but "
                f"{pubkey.hex()[:16]}… answered")
        assert self._side is not None
        peer_side = HIGH_SIDE if self._side == LOW_SIDE else LOW_SIDE
        role = decode_role(role_bytes)
        if not self._suite.verify(
                pubkey, auth_signing_bytes(self._challenge, peer_side, role), signature):
            raise SecureLinkError(
                f"peer's signature over this session's challenge does not verify under key "
                f"{pubkey.hex()[:16]}… (a replayed or relayed handshake, or the wrong key)")
        return Established(self._sealer, self._opener, pubkey, role)
