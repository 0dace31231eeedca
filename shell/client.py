"""A typed client of a node's HTTP API, for the CLI, the demo, tools and tests.

Every call returns decoded JSON (or typed values) or raises ``NodeError``: ``status`` is the
HTTP status (0 when the node could not be reached) and ``reason`` the node's own explanation.
No caller ever looks for a magic key in a response to learn that a request failed.

A client made with a ``Signer`` signs every request with that key (``shell.readers``): the
node then answers as it answers that key's entity and roles (its own bids and nonces; all
of it for a supervisor). Without one, the client reads as the public.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ledger import jsonform
from ledger.block import QC, Block, Header
from ledger.crypto import Suite
from ledger.tx import Receipt, SignedTx, TxBody, sign_tx
from shell.readers import sign_request

# The largest answer this client reads. A node's largest (a block's JSON form: at most a
# 16 MiB block, its bytes as hex) stays well below; anything longer is not a node talking.
MAX_ANSWER_BYTES = 64 << 20


class NodeError(Exception):
    """The node refused a request (``status`` ≥ 400) or could not be reached (0)."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        super().__init__(f"{reason} ({url}, HTTP {status})" if status else reason)
        self.status = status
        self.reason = reason
        self.url = url


@dataclass(frozen=True)
class Submitted:
    accepted: int
    results: list[dict[str, Any]]
    http_status: int

    def tx_ids(self) -> list[str]:
        return [r["tx_id"] for r in self.results]


@dataclass(frozen=True)
class Committed:
    tx_id: str
    height: int
    index: int
    receipt: Receipt


@dataclass(frozen=True)
class Signer:
    suite: Suite
    secret: bytes

    @property
    def pubkey(self) -> bytes:
        return self.suite.public_key(self.secret)


class NodeClient:
    def __init__(self, url: str, timeout_s: float = 10.0, signer: Signer | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.signer = signer
        self._chain_id: str | None = None

    def as_key(self, suite: Suite, secret: bytes) -> NodeClient:
        """A client of the same node that signs its requests with this key."""
        return NodeClient(self.url, self.timeout_s, Signer(suite, secret))

    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = NodeClient(self.url, self.timeout_s).status_text("chain_id")
        return self._chain_id

    # ---- transport --------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None,
             timeout_s: float | None = None) -> tuple[int, Any]:
        """``(HTTP status, decoded JSON)``; raises ``NodeError`` only when the node can't be
        reached or answers something that is not JSON."""
        url = self.url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.signer is not None:
            headers.update(sign_request(self.signer.suite, self.signer.secret, self.chain_id(),
                                        method, path, data or b""))
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s) as resp:
                return resp.status, self._answer(resp.read(MAX_ANSWER_BYTES + 1), url)
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, self._answer(exc.read(MAX_ANSWER_BYTES + 1), url)
            except (NodeError, OSError):
                raise NodeError(exc.code, str(exc.reason), url) from None
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            if "WRONG_VERSION_NUMBER" in str(why):  # TLS spoken to a plain HTTP listener
                why = f"{why} (it answers plain HTTP, not TLS: use http:// for this node)"
            raise NodeError(0, f"cannot reach the node at {self.url}: {why}", url) from None
        except http.client.HTTPException as exc:  # something answered, not in HTTP
            raise NodeError(0, f"{self.url} does not answer HTTP ({type(exc).__name__}): is "
                               "it a node's peer port rather than its HTTP API (http_port)?",
                            url) from None
        except ValueError as exc:  # a request urllib would not send (the URL, a header)
            raise NodeError(0, f"cannot ask {self.url}: {exc}", url) from None

    def _answer(self, raw: bytes, url: str) -> Any:
        if len(raw) > MAX_ANSWER_BYTES:
            raise NodeError(0, f"{self.url} answered more than {MAX_ANSWER_BYTES >> 20} MiB, "
                               "more than any node's answer: is the URL a node's HTTP API?", url)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise NodeError(0, f"the node at {self.url} did not answer JSON (or answered it "
                               "nested too deeply)", url) from None

    def status_text(self, name: str) -> str:
        """A text field of ``/status`` (``chain_id``, ``suite``)."""
        value: str = self._status_field(name, str)
        return value

    def head_height(self) -> int:
        """The node's committed height, from ``/status``."""
        height: int = self._status_field("height", int)
        return height

    def _status_field(self, name: str, kind: type) -> Any:
        """``/status``'s field ``name`` of type ``kind`` (a whole number when ``int``);
        ``NodeError`` naming it when the answer has none (not a node, or not this
        project's)."""
        value = self.status().get(name)
        negative = type(value) is int and value < 0
        if type(value) is not kind or negative:
            raise NodeError(0, f"{self.url} answered /status without a {name}: is it a "
                               "credchain node's HTTP API?", self.url + "/status")
        return value

    def request(self, method: str, path: str, body: Any = None,
                timeout_s: float | None = None) -> Any:
        """The decoded JSON answer; ``NodeError`` with the node's reason for any 4xx/5xx."""
        status, payload = self.call(method, path, body, timeout_s)
        if status >= 400:
            raise NodeError(status, _reason(payload), self.url + path)
        return payload

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    # ---- typed calls --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        got = self.get("/status")
        if not isinstance(got, dict):
            raise NodeError(0, f"{self.url} answered /status with something other than a "
                               "JSON object", self.url + "/status")
        return got

    def head_time_ms(self) -> int:
        return self.header(self.head_height()).time_ms

    def header(self, height: int) -> Header:
        got = self.get(f"/headers/{height}")
        return Header.from_obj(jsonform.from_json(got["header"], jsonform.HEADER))

    def certified_header(self, height: int) -> tuple[Header, QC]:
        """A committed block's header with its QC (both public), height ≥ 1."""
        got = self.get(f"/headers/{height}")
        return (Header.from_obj(jsonform.from_json(got["header"], jsonform.HEADER)),
                QC.from_obj(jsonform.from_json(got["qc"], jsonform.QC)))

    def block_ids(self, height: int) -> tuple[Header, list[bytes]]:
        """A block as anyone may see it: its header and its transaction ids."""
        got = self.get(f"/blocks/{height}")
        header = Header.from_obj(jsonform.from_json(got["header"], jsonform.HEADER))
        return header, [bytes.fromhex(t) for t in got["tx_ids"]]

    def block(self, height: int) -> tuple[Block, QC]:
        """A whole block with its transactions: the node shows it to supervisors."""
        got = self.get(f"/blocks/{height}")
        if "block" not in got:
            raise NodeError(403, f"the node shows block {height}'s transactions to supervisors "
                                 "only (sign the requests with a supervisor's key)",
                            self.url + f"/blocks/{height}")
        block = Block.from_obj(jsonform.from_json(got["block"], jsonform.BLOCK))
        qc = QC.from_obj(jsonform.from_json(got["qc"], jsonform.QC))
        return block, qc

    def state(self, key: str) -> Any:
        """The decoded head value of ``key`` (bytes as ``{"$bin": hex}``), None if absent."""
        got = self.state_answer(key)
        return None if got is None else got["value"]

    def state_answer(self, key: str) -> dict[str, Any] | None:
        """``GET /state/{key}``'s answer (``key``, ``value``, ``height``), None if absent."""
        try:
            got: dict[str, Any] = self.get(f"/state/{_quote(key)}")
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise
        return got

    def nonce(self, pubkey: bytes) -> int:
        """A sender's next nonce. An entity key's nonce is private: read it as that key."""
        value = self.state(f"nonce/{pubkey.hex()}")
        return 0 if value is None else int(value)

    def proof(self, key: str, height: int | None = None) -> dict[str, Any]:
        q = f"?height={height}" if height is not None else ""
        got: dict[str, Any] = self.get(f"/proof/{_quote(key)}{q}")
        return got

    def inclusion(self, tx_id: str) -> dict[str, Any]:
        """The PROTOCOL §8 inclusion bundle (JSON form) of a committed transaction
        (``GET /txs/{tx_id}/inclusion``); ``NodeError`` 404 when it is not committed, 403
        while it is a sealed bid before its tender's deadline."""
        got: dict[str, Any] = self.get(f"/txs/{tx_id}/inclusion")
        return got

    def block_json(self, height: int) -> dict[str, Any]:
        """``GET /blocks/{height}`` as the node answers it: ``block``, ``qc``, ``hash``,
        ``tx_ids`` and ``receipts`` (JSON forms); ``NodeError`` 403 for a block holding a
        sealed bid before its tender's deadline, 404 beyond the head."""
        got: dict[str, Any] = self.get(f"/blocks/{height}")
        return got

    def key_entity(self, pubkey: bytes) -> str | None:
        """The USCC a public key is bound to on chain (``id/key/<hex>``), or None."""
        value = self.state(f"id/key/{pubkey.hex()}")
        if isinstance(value, dict) and isinstance(value.get("uscc"), str):
            return str(value["uscc"])
        return None

    def tx_status(self, tx_id: str) -> dict[str, Any]:
        """``{"status": "pending" | "committed" | "unknown", ...}``."""
        try:
            got: dict[str, Any] = self.get(f"/txs/{tx_id}")
            return got
        except NodeError as exc:
            if exc.status == 404:
                return {"tx_id": tx_id, "status": "unknown"}
            raise

    def submit(self, txs: list[SignedTx], strict: bool = True) -> Submitted:
        """Submit signed transactions. ``strict``: raise ``NodeError`` unless every one was
        admitted; otherwise return the per-transaction results whatever they are."""
        status, got = self.call("POST", "/txs", {"txs": [t.encode().hex() for t in txs]})
        if not isinstance(got, dict) or "results" not in got:
            raise NodeError(status, _reason(got), self.url + "/txs")
        result = Submitted(int(got["accepted"]), list(got["results"]), status)
        if strict and result.accepted < len(txs):
            raise NodeError(status, _reason(got), self.url + "/txs")
        return result

    def wait_committed(self, tx_id: str, timeout_s: float = 30.0) -> Committed:
        deadline = time.monotonic() + timeout_s
        got: dict[str, Any] = {}
        while time.monotonic() < deadline:
            got = self.tx_status(tx_id)
            if got.get("status") == "committed":
                if "receipt" not in got:
                    raise NodeError(0, f"transaction {tx_id} committed at height "
                                       f"{got['height']}; the node withholds its receipt "
                                       "(read it as the sender's key)", self.url)
                receipt = Receipt.from_obj(jsonform.from_json(got["receipt"], jsonform.RECEIPT))
                return Committed(tx_id, int(got["height"]), int(got["index"]), receipt)
            time.sleep(0.05)
        # Not a failure: it may still commit (validators down or behind). Said so, a user
        # does not run the command again and send a second transaction (user walk: a
        # proposal retried after this became a duplicate proposal).
        raise NodeError(0, f"transaction {tx_id} is not committed after {timeout_s:.0f} s "
                           f"(the node says: {got.get('status', 'unknown')}); it may still "
                           f"commit: see GET {self.url}/txs/{tx_id} before sending it again, "
                           "or the command run again sends another transaction", self.url)

    def sign(self, suite: Suite, secret: bytes, call: str, args: dict[str, Any],
             nonce: int | None = None, chain_id: str | None = None) -> SignedTx:
        sender = suite.public_key(secret)
        if nonce is None:
            nonce = self.as_key(suite, secret).nonce(sender)
        body = TxBody(chain_id or self.chain_id(), sender, nonce, call, args)
        return sign_tx(suite, secret, body)

    def events(self, **query: str | int) -> dict[str, Any]:
        """A page of stream items (``GET /events``): ``{"items", "next", "head"}``; give
        ``from_height`` or ``cursor`` (the last page's ``next``), and any filters."""
        got: dict[str, Any] = self.get("/events?" + urllib.parse.urlencode(query))
        return got

    def event_proof(self, cursor: str) -> dict[str, Any]:
        """One stream item with its proof (``shell.eventproof.check_proof`` checks it)."""
        got: dict[str, Any] = self.get(f"/events/{urllib.parse.quote(cursor, safe='')}")
        return got

    def send(self, signed: SignedTx, timeout_s: float = 30.0) -> Committed:
        """Submit one transaction and wait until it is committed (whatever its receipt)."""
        got = self.submit([signed])
        return self.wait_committed(got.tx_ids()[0], timeout_s)


def _quote(key: str) -> str:
    return urllib.parse.quote(key, safe="/")


def _reason(payload: Any) -> str:
    if isinstance(payload, dict):
        if isinstance(payload.get("error"), str):
            return str(payload["error"])
        results = payload.get("results")
        if isinstance(results, list):
            refused = [r for r in results if isinstance(r, dict) and not r.get("accepted")]
            if refused:
                return "refused: " + "; ".join(
                    f"{r.get('tx_id', '')[:16] or '?'}: {r.get('reason')}" for r in refused[:5])
    return "the node refused the request"
