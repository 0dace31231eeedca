"""Reader identity: requests signed by a key the chain knows, and how the node checks them.

An unsigned request is the public. A signed one carries four headers:

| header | value |
|---|---|
| ``X-Credchain-Key`` | the signer's public key, hex (an entity key, a role key, a validator key) |
| ``X-Credchain-Time`` | the signer's clock, Unix ms; within ``SKEW_MS`` of the node's |
| ``X-Credchain-Nonce`` | 16 fresh random bytes, hex; a (key, nonce) pair seen before is refused |
| ``X-Credchain-Signature`` | the signature, hex, over the signing bytes below |

Signing bytes (tag ``0x5D``, ``ledger.tags.API_REQUEST``)::

    0x5D ‖ CE({"chain_id": str, "method": str, "target": str, "time_ms": int,
               "nonce": bin16, "body_hash": bin32})

``target`` is the request's path and query exactly as sent (``/state/bid/T-1/1/ab?x=1``),
``method`` upper case, ``body_hash`` the chain's hash ``H`` of the request body (of the empty
string for a GET). The node resolves the key at the head (``contracts.disclosure.reader_of``:
its entity, if the key is bound to one in force, and its roles) for every request, so a role
revoked or a key unbound a block ago reads as the public from then on. A bad signature, a
stale or future time, a replayed nonce, or a key the chain does not know is a 401 with the
reason.
"""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from typing import Any

from contracts.disclosure import PUBLIC, Reader, reader_of
from contracts.state import StateReader
from ledger import encoding, tags
from ledger.crypto import Suite
from ledger.errors import InvalidInput

H_KEY = "X-Credchain-Key"
H_TIME = "X-Credchain-Time"
H_NONCE = "X-Credchain-Nonce"
H_SIG = "X-Credchain-Signature"
SKEW_MS = 30_000
_TIME_MS = re.compile(r"[0-9]{1,16}")  # the signer's Unix ms (16 digits: beyond year 300,000)
NONCE_LEN = 16
SEEN_MAX = 100_000  # remembered (key, nonce) pairs; the oldest go first


class AuthError(InvalidInput):
    """A signed request that is refused (HTTP 401); ``str()`` says why."""


def signing_bytes(suite: Suite, chain_id: str, method: str, target: str, time_ms: int,
                  nonce: bytes, body: bytes) -> bytes:
    return bytes((tags.API_REQUEST,)) + encoding.encode({
        "chain_id": chain_id, "method": method.upper(), "target": target, "time_ms": time_ms,
        "nonce": nonce, "body_hash": suite.hash(body)})


def sign_request(suite: Suite, secret: bytes, chain_id: str, method: str, target: str,
                 body: bytes = b"", now_ms: int | None = None) -> dict[str, str]:
    """The headers that make a request this key's."""
    time_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    nonce = os.urandom(NONCE_LEN)
    sig = suite.sign(secret, signing_bytes(suite, chain_id, method, target, time_ms, nonce,
                                           body))
    return {H_KEY: suite.public_key(secret).hex(), H_TIME: str(time_ms),
            H_NONCE: nonce.hex(), H_SIG: sig.hex()}


class Readers:
    """Checks signed requests for one chain; remembers nonces within the skew window."""

    def __init__(self, suite: Suite, chain_id: str, skew_ms: int = SKEW_MS) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.skew_ms = skew_ms
        self._seen: OrderedDict[bytes, int] = OrderedDict()  # key + nonce -> time_ms

    def reader(self, headers: Any, method: str, target: str, body: bytes, now_ms: int,
               state: StateReader, head_ms: int) -> Reader:
        """``PUBLIC`` for an unsigned request; the signer's ``Reader``; or ``AuthError``."""
        if H_SIG not in headers and H_KEY not in headers:
            return PUBLIC
        if not _TIME_MS.fullmatch(headers.get(H_TIME, "")):
            raise AuthError(f"{H_TIME} must be the signer's clock in Unix ms: 1 to 16 decimal "
                            "digits")
        time_ms = int(headers[H_TIME])
        try:
            key = bytes.fromhex(headers.get(H_KEY, ""))
            nonce = bytes.fromhex(headers.get(H_NONCE, ""))
            sig = bytes.fromhex(headers.get(H_SIG, ""))
        except ValueError:
            raise AuthError(f"a signed request needs {H_KEY}, {H_TIME}, {H_NONCE} and "
                            f"{H_SIG}, in hex (the time in decimal ms)") from None
        if len(nonce) != NONCE_LEN:
            raise AuthError(f"{H_NONCE} must be {NONCE_LEN} bytes")
        if abs(time_ms - now_ms) > self.skew_ms:
            raise AuthError(f"the request's time is {abs(time_ms - now_ms) // 1000} s from "
                            f"the node's clock (at most {self.skew_ms // 1000} s)")
        try:
            self.suite.check_pubkey(key)
            ok = self.suite.verify(key, signing_bytes(self.suite, self.chain_id, method, target,
                                                      time_ms, nonce, body), sig)
        except InvalidInput:
            ok = False
        if not ok:
            raise AuthError("the request's signature does not verify (key, chain, method, "
                            "path and query, time, nonce and body are signed)")
        # Who signed first: only keys the chain knows take room among the remembered nonces.
        found = reader_of(state, key, head_ms)
        if found is None:
            raise AuthError("the key is not bound to an entity, a role, a validator or an "
                            "expert on chain")
        seen_key = key + nonce
        if seen_key in self._seen:
            raise AuthError("this request was seen before (a replayed nonce)")
        self._remember(seen_key, now_ms)
        return found

    def _remember(self, seen_key: bytes, now_ms: int) -> None:
        """Remember a nonce for the replay window. Nonces still inside it are never dropped
        to make room (a dropped one could be replayed): when the window holds ``SEEN_MAX``,
        signed requests wait until the oldest leave it."""
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if at >= now_ms - 2 * self.skew_ms:
                break
            del self._seen[oldest]
        if len(self._seen) >= SEEN_MAX:
            raise AuthError("this node checks no more signed requests for a moment (too many "
                            "in its replay window); retry shortly")
        self._seen[seen_key] = now_ms
