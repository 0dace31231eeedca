"""Notices forwarded as signed webhooks (``credchain watch --post URL``), at least once.

Each stream item is one ``POST`` of its JSON (exactly the stream's ``data``) with:

- ``Idempotency-Key: <chain_id>:<cursor>`` — the same for every attempt, after a restart
  of ``watch`` and from any node (the cursor is the chain's), so the receiver can drop a
  repeat; ``X-Credchain-Event-Id: <cursor>`` too.
- ``X-Credchain-Timestamp: <Unix ms>`` and ``X-Credchain-Signature: sha256=<hex>`` with
  ``HMAC-SHA256(secret, timestamp + "." + idempotency_key + "." + body)``: the receiver
  recomputes it with the shared secret and refuses a stale timestamp (``verify`` below, 5
  minutes by default), so a captured request can't be replayed later, nor sent again under
  another ``Idempotency-Key`` to pass the receiver's repeat check (user walk: with the key
  unsigned, a delivery replayed as ``credchain-other:3.0.0`` was handled twice).

The secret is the bytes of ``watch --secret-file`` with its trailing line breaks (LF, CR)
removed, used as they are: a file holding a hex or base64 text keys the HMAC with that
text's ASCII bytes, not with what it decodes to. Make one, readable by you only, with
``head -c 32 /dev/urandom | base64 > hook.key && chmod 600 hook.key`` and give the receiver
the same text. The receiver's check, in any language:

1. the timestamp header is decimal Unix milliseconds (ASCII digits, no leading zero);
   refuse it more than 5 minutes from your clock;
2. compute HMAC-SHA256 keyed with the secret over the timestamp header's text, a ``.``, the
   ``Idempotency-Key`` header's text, a ``.``, and the request body exactly as received (no
   re-encoding of the JSON);
3. compare its lowercase hex with what follows ``sha256=`` in the signature header, in
   constant time (``hmac.compare_digest``, ``crypto.timingSafeEqual``);
4. drop a request whose ``Idempotency-Key`` it has already handled.

Why HMAC with a shared secret rather than the node's key: the signature only says "this came
from our watcher", for one hop; what the notice *says* is proven by its PROTOCOL §8 bundle
(``GET /events/{cursor}``), whoever relays it. A mini-program back end checks an HMAC with
its language's standard library, where an SM2 or Ed25519 check needs a crypto library of
the suite; and ``watch`` never needs a validator's key on the machine it runs on.

Delivery: a 2xx answer is success. Connection failures, timeouts, 408, 425, 429 and 5xx are
retried for ever with back-off (0.5 s doubling to 60 s, ±20% jitter; a ``Retry-After`` of
up to 300 s is honoured), so nothing is skipped while the receiver is down; ``watch`` saves
its cursor only after success, so a crash re-sends the last item (same idempotency key).
Any other answer (e.g. 400: the receiver rejects the payload) stops with
``WebhookRefused``: retrying can't help and skipping would lose a notice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import re
import time
from collections.abc import Callable, Mapping

import aiohttp

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 60.0
RETRY_AFTER_MAX_S = 300.0
TOLERANCE_MS = 300_000
RETRYABLE = frozenset({408, 425, 429})
_STAMP = re.compile(r"[1-9][0-9]{0,15}")  # ASCII only: str.isdigit() also takes "²"


def signature(secret: bytes, timestamp: str, idempotency_key: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``HMAC-SHA256(secret, timestamp "." idempotency_key "." body)``,
    over the two headers' texts as sent."""
    signed = timestamp.encode() + b"." + idempotency_key.encode() + b"." + body
    return "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now_ms: int,
           tolerance_ms: int = TOLERANCE_MS) -> bool:
    """The receiver's check: a signature over this body and idempotency key, and a
    timestamp within tolerance; False for any header missing or malformed."""
    stamp = headers.get("X-Credchain-Timestamp", "")
    if not _STAMP.fullmatch(stamp) or abs(now_ms - int(stamp)) > tolerance_ms:
        return False
    expected = signature(secret, stamp, headers.get("Idempotency-Key", ""), body)
    return hmac.compare_digest(expected, headers.get("X-Credchain-Signature", ""))


class WebhookRefused(Exception):
    """The receiver refused an item for good (a 4xx that retrying can't change)."""


class Poster:
    def __init__(self, url: str, secret: bytes, chain_id: str,
                 session: aiohttp.ClientSession, timeout_s: float = 10.0,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 on_retry: Callable[[str], None] = lambda _: None) -> None:
        self.url = url
        self.secret = secret
        self.chain_id = chain_id
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.clock_ms = clock_ms
        self.on_retry = on_retry
        self.attempts = 0

    async def deliver(self, cursor: str, body: bytes) -> None:
        """POST until a 2xx (see the module docstring); WebhookRefused for a final refusal."""
        backoff_s = BACKOFF_MIN_S
        while True:
            stamp, key = str(self.clock_ms()), f"{self.chain_id}:{cursor}"
            headers = {"Content-Type": "application/json",
                       "Idempotency-Key": key,
                       "X-Credchain-Event-Id": cursor,
                       "X-Credchain-Timestamp": stamp,
                       "X-Credchain-Signature": signature(self.secret, stamp, key, body)}
            self.attempts += 1
            wait_s = backoff_s
            try:
                async with self.session.post(self.url, data=body, headers=headers,
                                             timeout=self.timeout) as resp:
                    if 200 <= resp.status < 300:
                        return
                    text = (await resp.text())[:200]
                    if resp.status not in RETRYABLE and resp.status < 500:
                        raise WebhookRefused(f"{self.url} refused {cursor}: HTTP "
                                             f"{resp.status} {text}")
                    wait_s = max(wait_s, _retry_after(resp.headers.get("Retry-After")))
                    why = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                why = f"cannot post to {self.url} ({str(exc) or type(exc).__name__})"
            self.on_retry(f"webhook {cursor}: {why}; retrying in {wait_s:.1f} s")
            await asyncio.sleep(wait_s * random.uniform(0.8, 1.2))
            backoff_s = min(BACKOFF_MAX_S, backoff_s * 2)


def _retry_after(value: str | None) -> float:
    if value is None or not value.strip().isdigit():
        return 0.0
    return min(RETRY_AFTER_MAX_S, float(value.strip()))
