"""The HTTP API: one handler per route, and ``ROUTES``, the table OpenAPI is generated from
(``shell.apischema``: every route's answers, status by status, with their schemas). What a
client needs to know is in ``shell/API.md``.

JSON throughout (``/metrics`` excepted), with one convention for bytes (``ledger.jsonform``,
PROTOCOL §10): a field a schema types as bytes is lowercase hex; in an untyped value (state
values, transaction args, events) a byte string is ``{"$bin": "<lowercase hex>"}``. Every
handler gets the request and the node (``NodeView``); the middleware around them all applies
the limits that count work rather than requests (``TokenBuckets``: requests and body bytes
per client address; signature verifications are budgeted in ``Admission``), checks a body's
declared size before reading it and reads it under a timeout, and turns failures into clear
answers, each an error object ``{"error": reason}``: bad input → 400 with the reason, a
refused signature → 401, absent → 404, below the oldest height this node keeps
(``shell.retention``) → 410 naming it, over a limit → 413/415/429/503, a damaged store →
503 "store fault", anything else → 500 "internal error" with the error logged once per kind
per minute (a flood of bad requests can't flood the log). aiohttp's own refusals (no such
path, a body over the limit) are error objects too.

What may be shown is asked of ``contracts.disclosure`` (the sealed-bid rule), never decided
here.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from consensus.pool import R_BUSY, R_SENDER_BUSY
from contracts.disclosure import (
    PUBLIC,
    Reader,
    full_blocks,
    key_refusal,
    may_list_slots,
    tx_disclosed,
)
from contracts.eligibility import answer_at_head
from contracts.exposure import ExposureQueryError, exposure
from contracts.opening import is_live
from contracts.state import Overlay
from contracts.tender_record import bid_key, tender_key
from ledger import inclusion, jsonform, multi
from ledger.block import Block
from ledger.bundle import build_bundle, check_key
from ledger.bundle import to_json as bundle_to_json
from ledger.crypto import DIGEST_LEN
from ledger.encoding import decode_trusted
from ledger.errors import CorruptStore, HistoryPruned, InvalidInput
from ledger.jsonform import hex_to_bytes, tagged_to_json, to_json
from ledger.tx import Receipt
from shell.admission import R_RATE
from shell.api_events import EVENT_ROUTES
from shell.apikit import (
    READER,
    BodyBudgetExceeded,
    NodeView,
    Route,
    error,
    height_param,
    json_response,
    read_body,
    read_json,
    reader,
)
from shell.apischema import ERROR, answer, document, ref
from shell.httpguard import GuardedServer
from shell.ratelimit import TokenBuckets
from shell.readers import H_KEY, H_SIG, AuthError

log = logging.getLogger("credchain.api")

ERROR_LOG_EVERY_S = 60.0


# ---- handlers -----------------------------------------------------------------------------


async def post_txs(request: web.Request, node: NodeView) -> web.StreamResponse:
    if not node.admission.has_budget(request.remote or "?"):
        refused = error(429, "over this client's transaction budget; retry later")
        refused.force_close()  # its body is not read
        return refused
    body = await read_json(request, node)
    items = body.get("txs") if isinstance(body, dict) else None
    if isinstance(body, dict) and "tx" in body and items is None:
        items = [body["tx"]]
    if not isinstance(items, list) or not items:
        return error(400, 'body must be {"txs": ["<hex>", ...]} or {"tx": "<hex>"}')
    if len(items) > node.limits.max_txs_per_request:
        return error(413, f"at most {node.limits.max_txs_per_request} txs per request")
    source = request.remote or "?"
    # The client's budget is spent before the transactions are even hex-decoded: beyond it
    # they are refused unread.
    allowed = node.admission.take_budget(source, len(items))
    encoded = [hex_to_bytes(item, f"txs[{i}]") for i, item in enumerate(items[:allowed])]
    results = await node.admission.submit(encoded)
    results += [node.admission.refused_for_budget() for _ in items[allowed:]]
    out = [{"tx_id": r.tx_id, "accepted": r.accepted, "reason": r.reason} for r in results]
    accepted = sum(r.accepted for r in results)
    status = 202 if accepted == len(results) else 400
    if accepted == 0 and all(r.reason == R_BUSY for r in results):
        status = 503
    elif accepted == 0 and all(r.reason in (R_RATE, R_SENDER_BUSY) for r in results):
        status = 429
    return json_response({"accepted": accepted, "results": out}, status)


def _tx_id(request: web.Request) -> bytes:
    """The path's transaction id: a hash, so 64 lowercase hex digits (400 otherwise: an id
    of another length names no transaction, and the answer would repeat it as one)."""
    tx_id = hex_to_bytes(request.match_info["tx_id"], "tx id")
    if len(tx_id) != DIGEST_LEN:
        raise InvalidInput(f"tx id must be {DIGEST_LEN} bytes ({2 * DIGEST_LEN} hex digits), "
                           f"got {len(tx_id)}")
    return tx_id


async def get_tx(request: web.Request, node: NodeView) -> web.StreamResponse:
    tx_id = _tx_id(request)
    found = node.chain.receipt(tx_id)
    if found is not None:
        height, index, receipt = found
        out: dict[str, Any] = {"tx_id": tx_id.hex(), "status": "committed", "height": height,
                               "index": index}
        tx = node.chain.store.tx(tx_id)
        if tx is not None and tx_disclosed(node.chain.head_state(), reader(request), tx,
                                           _now_ms(node), node.chain.sender_states(height)):
            out["receipt"] = to_json(receipt.to_obj(), jsonform.RECEIPT)
            out["tx"] = to_json(tx.to_obj(), jsonform.TX)
        else:
            out["withheld"] = WITHHELD
        return json_response(out)
    if tx_id in node.chain.pool:
        return json_response({"tx_id": tx_id.hex(), "status": "pending"})
    return json_response({"tx_id": tx_id.hex(), "status": "unknown"}, 404)


WITHHELD = ("an entity's own act: its content is shown to that entity (sign the request with "
            "its key) and to supervisors")


def _now_ms(node: NodeView) -> int:
    return int(node.chain.store.head_header().time_ms)


async def get_block(request: web.Request, node: NodeView) -> web.StreamResponse:
    h = height_param(request.match_info["height"])
    node.history.check(h, "block")
    store = node.chain.store
    block = store.block(h)
    if block is None:
        return error(404, f"no block at height {h}")
    qc = store.qc(h)
    receipts = store.receipts(h) or []
    suite = node.chain.suite
    who = reader(request)
    out: dict[str, Any] = {
        "hash": block.hash(suite).hex(),
        "header": to_json(block.header.to_obj(), jsonform.HEADER),
        "qc": to_json(qc.to_obj(), jsonform.QC) if qc else None,
        "tx_ids": [t.hex() for t in block.tx_ids(suite)],
        "receipt_hashes": _receipt_hashes(node, who, h, block, receipts)}
    if full_blocks(who):
        out["block"] = to_json(block.to_obj(), jsonform.BLOCK)
        out["receipts"] = [to_json(r.to_obj(), jsonform.RECEIPT) for r in receipts]
    return json_response(out)


def _receipt_hashes(node: NodeView, who: Reader, height: int, block: Block,
                    receipts: list[Receipt]) -> list[str | None]:
    """Each receipt's hash, or None for a transaction withheld from ``who`` (user walk: a
    stranger hashed receipts guessed from public records, a refusal naming the bidder among
    them, until one matched a withheld bid's)."""
    suite = node.chain.suite
    if full_blocks(who):
        return [r.hash(suite).hex() for r in receipts]
    state, now_ms = node.chain.head_state(), _now_ms(node)
    around = node.chain.sender_states(height)
    return [r.hash(suite).hex() if tx_disclosed(state, who, tx, now_ms, around) else None
            for tx, r in zip(block.txs, receipts, strict=True)]


async def get_header(request: web.Request, node: NodeView) -> web.StreamResponse:
    h = height_param(request.match_info["height"])
    node.history.check(h, "header")
    header = node.chain.store.header(h)
    if header is None:
        return error(404, f"no block at height {h}")
    qc = node.chain.store.qc(h)
    return json_response({
        "hash": header.hash(node.chain.suite).hex(),
        "header": to_json(header.to_obj(), jsonform.HEADER),
        "qc": to_json(qc.to_obj(), jsonform.QC) if qc else None})


def _key_refused(request: web.Request, node: NodeView, key: str) -> str | None:
    """Why this reader may not read ``key`` now (403), or None; a key no state can hold is
    ``InvalidInput`` (400), for ``/state`` as for ``/proof``."""
    check_key(key)
    return key_refusal(node.chain.head_state(), reader(request), key, _now_ms(node))


async def get_state(request: web.Request, node: NodeView) -> web.StreamResponse:
    key = request.match_info["key"]
    refused = _key_refused(request, node, key)
    if refused:
        return error(403, refused)
    raw = node.chain.state_value(key)
    height = node.chain.height()
    if raw is None:
        return json_response({"key": key, "value": None, "height": height}, 404)
    return json_response({"key": key, "value": tagged_to_json(decode_trusted(raw)),
                          "height": height})


async def get_proof(request: web.Request, node: NodeView) -> web.StreamResponse:
    key = request.match_info["key"]
    refused = _key_refused(request, node, key)
    if refused:
        return error(403, refused)
    height = _proof_height(request, node)
    store = node.chain.store
    return json_response(bundle_to_json(build_bundle(store, store.tree, key, height)))


def _proof_height(request: web.Request, node: NodeView) -> int | None:
    """The ``?height=`` a proof is asked at (None: the head), within the history kept."""
    h = request.query.get("height")
    height = height_param(h) if h is not None else None
    if height is not None:
        node.history.check(height, "a proof at height")
    return height


async def get_inclusion(request: web.Request, node: NodeView) -> web.StreamResponse:
    tx_id = _tx_id(request)
    store = node.chain.store
    tx = store.tx(tx_id)
    if tx is None:
        oldest = node.history.oldest()
        held = (f" at the heights this node holds ({oldest}..{node.chain.height()}; ask an "
                "archive node for older ones)") if store.base > 0 else ""
        return error(404, f"transaction {tx_id.hex()} is not committed{held}")
    location = store.tx_location(tx_id)
    if location is not None:
        node.history.check(location[0], "the transaction's block")
    around = node.chain.sender_states(location[0]) if location is not None else ()
    if not tx_disclosed(node.chain.head_state(), reader(request), tx, _now_ms(node), around):
        return error(403, WITHHELD)
    return json_response(inclusion.to_json(inclusion.build_inclusion(store, tx_id)))


async def get_multi_proof(request: web.Request, node: NodeView) -> web.StreamResponse:
    keys = request.query.getall("key", [])
    if not keys:
        return error(400, "name the records with one or more ?key=... parameters")
    if len(keys) > multi.MAX_ENTRIES:
        return error(400, f"at most {multi.MAX_ENTRIES} keys in one bundle")
    if "" in keys:
        return error(400, "an empty ?key= names no record")
    for key in keys:
        refused = _key_refused(request, node, key)
        if refused:
            return error(403, refused)
    height = _proof_height(request, node)
    store = node.chain.store
    return json_response(multi.to_json(multi.build_multi(store, store.tree, keys, height)))


async def get_eligibility(request: web.Request, node: NodeView) -> web.StreamResponse:
    uscc = request.match_info["uscc"]
    tender_id = request.query.get("tender")
    if not tender_id:
        return error(400, "name the tender: ?tender=ID (and &lot=N, default 1)")
    lot = height_param(request.query.get("lot", "1"), "lot")
    return json_response(answer_at_head(node.chain.store, uscc, tender_id, lot))


async def get_exposure(request: web.Request, node: NodeView) -> web.StreamResponse:
    """Public exposure (信用信息公示): sanction records in force now, filtered, one page."""
    q = request.query
    try:
        page = exposure(Overlay(node.chain.head_state()), _now_ms(node),
                        uscc=q.get("uscc") or None, kind=q.get("kind") or None,
                        region=q.get("region") or None,
                        cursor=height_param(q.get("cursor", "0"), "cursor"),
                        limit=height_param(q.get("limit", "50"), "limit"))
    except ExposureQueryError as exc:
        return error(400, str(exc))
    return json_response(tagged_to_json(page.to_obj()))


async def get_slots(request: web.Request, node: NodeView) -> web.StreamResponse:
    tender_id = request.match_info["tender_id"]
    raw_lot = request.query.get("lot", "1")
    if not _LOT_TEXT.fullmatch(raw_lot):
        raise InvalidInput(f"bad lot {raw_lot[:40]!r}: a lot number 1, 2, … (decimal)")
    lot = int(raw_lot)
    head = node.chain.head_state()
    state = Overlay(head)
    tender = state.get(tender_key(tender_id)) if "/" not in tender_id else None
    if not isinstance(tender, dict):
        return error(404, f"no tender {tender_id!r}")
    refused = may_list_slots(head, reader(request), tender_id, _now_ms(node))
    if refused:
        return error(403, refused)
    if not 1 <= lot <= len(tender.get("lots", ())):
        return error(404, f"tender {tender_id!r} has no lot {lot}")
    prefix = bid_key(tender_id, lot, "")
    slots = [key[len(prefix):] for key in node.chain.state_keys(prefix, SLOTS_MAX)
             if is_live(state.get(key))]  # a withdrawn bid's slot is not named at opening
    return json_response({"tender_id": tender_id, "lot": lot, "slots": slots,
                          "height": node.chain.height()})


SLOTS_MAX = 10_000
_LOT_TEXT = re.compile(r"[1-9][0-9]{0,5}")


async def get_status(request: web.Request, node: NodeView) -> web.StreamResponse:
    return json_response(node.status())


async def get_health(request: web.Request, node: NodeView) -> web.StreamResponse:
    ok, reason = node.health()
    return json_response({"ok": ok, "reason": reason}, 200 if ok else 503)


async def get_metrics(request: web.Request, node: NodeView) -> web.StreamResponse:
    return web.Response(text=node.metrics.render(), content_type="text/plain",
                        charset="utf-8")


async def get_openapi(request: web.Request, node: NodeView) -> web.StreamResponse:
    return json_response(openapi())


# ---- the table ----------------------------------------------------------------------------
# Every route declares each status it answers with its schema (``shell.apischema``: the
# middleware's error answers are added to every route there); tests/test_openapi.py checks
# real answers of every route against the document.


def _path(name: str, description: str, schema: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


_TX_ID_PARAM = _path("tx_id", "transaction id: 64 lowercase hex digits (other lengths: 400)",
                     ref("Hash"))


def _query(name: str, description: str, schema: dict[str, Any],
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


_HEIGHT_PARAM = {"name": "height", "in": "path", "required": True,
                 "description": "block height, decimal digits", "schema": {"type": "integer",
                                                                           "minimum": 0}}
_AT_HEIGHT = _query("height", "prove at this committed height (default: the head)",
                    {"type": "integer", "minimum": 1})
_LOT = _query("lot", "the lot (default 1)", {"type": "integer", "minimum": 1})
_GONE = {"410": answer("below the oldest height this node keeps (the message names it): ask "
                      "an archive node", ERROR)}
_REFUSED = {"403": answer("sealed for this reader (the reason says until when, or who may "
                         "read it)", ERROR)}
_NOT_HELD = {"404": answer("no such block or QC here", ERROR)}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/txs", post_txs,
          "Submit CE-encoded signed transactions (hex); each is refused or admitted",
          request=ref("TxSubmission"),
          responses={
              "202": answer("all admitted", ref("TxResults")),
              "400": answer("some refused (the results say why), or a malformed body",
                           ref("TxResults")),
              "413": answer("more transactions than max_txs_per_request, or a body over "
                           "max_request_bytes", ERROR),
              "429": answer("over this client's transaction budget, or every transaction "
                           "refused for its sender's share of the pool", ref("TxResults")),
              "503": answer("busy: the pool is full, retry later", ref("TxResults"))}),
    Route("GET", "/txs/{tx_id}", get_tx, "Transaction status: pending, or committed with receipt",
          params=(_TX_ID_PARAM,),
          responses={"200": answer("pending, or committed (content shown or withheld)",
                                  ref("TxStatus")),
                     "404": answer("unknown to this node", ref("TxUnknown"))}),
    Route("GET", "/blocks/{height}", get_block, "A committed block and its QC",
          params=(_HEIGHT_PARAM,),
          responses={"200": answer("the block", ref("CertifiedBlock")),
                     "404": answer("no block at this height", ERROR), **_GONE}),
    Route("GET", "/headers/{height}", get_header, "A committed header and its QC",
          params=(_HEIGHT_PARAM,),
          responses={"200": answer("the header", ref("CertifiedHeader")),
                     "404": answer("no block at this height", ERROR), **_GONE}),
    Route("GET", "/state/{key}", get_state,
          "The head value of a state key (sealed bids refused before their deadline)",
          params=(_path("key", "state key, e.g. param/bid_min_count (may contain '/')"),),
          responses={"200": answer("the value", ref("StateValue")), **_REFUSED,
                     "404": answer("no such key at the head", ref("StateAbsent"))}),
    Route("GET", "/proof/{key}", get_proof, "A PROTOCOL §7 proof bundle (JSON form)",
          params=(_path("key", "state key (may contain '/')"), _AT_HEIGHT),
          responses={"200": answer("the bundle: the value or its absence, certified",
                                  ref("Bundle")), **_REFUSED, **_NOT_HELD, **_GONE}),
    Route("GET", "/txs/{tx_id}/inclusion", get_inclusion,
          "A PROTOCOL §8 inclusion bundle: the signed transaction and its receipt, certified",
          params=(_TX_ID_PARAM,),
          responses={"200": answer("the bundle", ref("Inclusion")),
                     "403": answer("an entity's own act, withheld from this reader", ERROR),
                     "404": answer("not committed (at the heights this node holds)", ERROR),
                     **_GONE}),
    Route("GET", "/proofs", get_multi_proof,
          "A PROTOCOL §9 multi-key bundle: several records at one height",
          params=({"name": "key", "in": "query", "required": True, "style": "form",
                   "explode": True, "description": "a state key; repeat for each record",
                   "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                              "maxItems": multi.MAX_ENTRIES}}, _AT_HEIGHT),
          responses={"200": answer("the bundle", ref("Multi")), **_REFUSED, **_NOT_HELD,
                     **_GONE}),
    Route("GET", "/tenders/{tender_id}/slots", get_slots,
          "The live bid slots of a tender's lot, for its platform after the deadline "
          "(a signed request), and supervisors",
          params=(_path("tender_id", "the tender"), _LOT),
          responses={"200": answer("the slots", ref("Slots")),
                     "403": answer("not the tender's platform, or too early", ERROR),
                     "404": answer("no such tender, or no such lot", ERROR)}),
    Route("GET", "/eligibility/{uscc}", get_eligibility,
          "May this entity bid on this tender now: the answer, and a PROTOCOL §9 bundle of "
          "every record the rule reads (credchain verify re-applies the rule offline)",
          params=(_path("uscc", "the entity's unified social credit code"),
                  _query("tender", "the tender", {"type": "string"}, required=True), _LOT),
          responses={"200": answer("the answer and its records", ref("Eligibility"))}),
    Route("GET", "/exposure", get_exposure,
          "Sanction records in force now (public exposure), by entity, kind or region; "
          "pages through the sanctions index with cursor",
          params=(_query("uscc", "only this entity", {"type": "string"}),
                  _query("kind", "only this sanction kind", {"type": "string"}),
                  _query("region", "only records whose scope covers this region code",
                         {"type": "string"}),
                  _query("cursor", "from this index position (next_cursor of a page)",
                         {"type": "integer", "minimum": 0}),
                  _query("limit", "records per page", {"type": "integer", "minimum": 1})),
          responses={"200": answer("one page", ref("ExposurePage")),
                     "400": answer("a bad filter, cursor or limit", ERROR)}),
    Route("GET", "/status", get_status, "Height, view, leader, peers, pool size",
          responses={"200": answer("the node's status", ref("Status"))}),
    Route("GET", "/healthz", get_health, "200 while healthy, else 503 with the reason",
          responses={"200": answer("healthy", ref("Health")),
                     "503": answer("not healthy: the first reason", ref("Health"))}),
    Route("GET", "/metrics", get_metrics, "Prometheus text metrics",
          responses={"200": {"description": "Prometheus text exposition format",
                             "content_type": "text/plain", "schema": {"type": "string"}}}),
    Route("GET", "/openapi.json", get_openapi, "This document",
          responses={"200": answer("the OpenAPI 3.1 document", ref("OpenAPI"))}),
)


def all_routes() -> tuple[Route, ...]:
    """This module's routes and every feature module's (each adds its table here)."""
    from shell.portal.routes import ROUTES as PORTAL_ROUTES

    return ROUTES + EVENT_ROUTES + PORTAL_ROUTES


def openapi() -> dict[str, Any]:
    """The OpenAPI document of ``all_routes()`` (``shell.apischema``)."""
    return document(all_routes())


# ---- the application ----------------------------------------------------------------------


class OncePerKind(logging.Filter):
    """A log filter for aiohttp's own loggers: one record per kind of error per
    ``ERROR_LOG_EVERY_S``, without its traceback (a flood of broken requests can't flood the
    node's log). A client's malformed request (a line too long, a body it compressed) is its
    mistake, not the node's: a WARNING, not an ERROR."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        kind = type(exc).__name__ if exc is not None else record.getMessage()[:80]
        now = time.monotonic()
        if now - self._last.get(kind, -ERROR_LOG_EVERY_S) < ERROR_LOG_EVERY_S:
            return False
        if len(self._last) < 1024:
            self._last[kind] = now
        if exc is not None:
            record.msg = f"{record.getMessage()}: {kind}: {str(exc)[:200]}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        if isinstance(exc, _CLIENT_FAULTS) and record.levelno > logging.WARNING:
            record.msg = f"a client's malformed request: {record.msg}"
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_CLIENT_FAULTS = (HttpProcessingError, RequestPayloadError)


def quiet_aiohttp_logs() -> None:
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerKind) for f in logger.filters):
            logger.addFilter(OncePerKind())


class _ErrorLog:
    """Logs an unexpected error once per kind per ``ERROR_LOG_EVERY_S``."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def error(self, exc: BaseException, path: str) -> None:
        kind = type(exc).__name__
        now = time.monotonic()
        if now - self._last.get(kind, -ERROR_LOG_EVERY_S) < ERROR_LOG_EVERY_S:
            self.suppressed += 1
            return
        if len(self._last) < 1024:
            self._last[kind] = now
        log.error("internal error on %s: %s: %s", path[:200], kind, str(exc)[:300])


def build_app(node: NodeView, guard: GuardedServer) -> web.Application:
    quiet_aiohttp_logs()
    requests = TokenBuckets(node.limits.requests_per_second)
    errors = _ErrorLog()
    node.metrics.counter("http_requests_limited_total",
                         "HTTP requests refused over a client's request budget.")

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        guard.enter(request.transport)
        try:
            encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # Refused before the body is read: no decompression of what a client sends.
                refused = error(415, f"Content-Encoding {encoding[:20]!r} is not accepted")
                refused.force_close()
                return refused
            if not requests.take(request.remote or "?", 1, time.monotonic()):
                node.metrics.inc("http_requests_limited_total")
                return error(429, "rate limit exceeded")
            request[READER] = await _reader_of(request, node)
            response: web.StreamResponse = await handler(request)
            return response
        except AuthError as exc:
            return error(401, str(exc))
        except BodyBudgetExceeded:
            node.metrics.inc("http_requests_limited_total")
            return error(429, "request bytes over this client's budget; retry later")
        except InvalidInput as exc:
            return error(400, str(exc))
        except HistoryPruned as exc:
            return error(410, str(exc))
        except LookupError as exc:
            return error(404, str(exc))
        except CorruptStore as exc:
            node.store_fault(str(exc))
            return error(503, "store fault: this node's data is damaged; ask another node")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # a redirect
            return _error_of(exc)
        except Exception as exc:  # a bug: answer briefly, log once per kind
            errors.error(exc, request.path)
            return error(500, "internal error")
        finally:
            guard.leave(request.transport)

    app = web.Application(client_max_size=node.limits.max_request_bytes,
                          middlewares=[middleware])
    for route in all_routes():
        app.router.add_route(route.method, _aiohttp_path(route.path), _bind(route, node))
    return app


def _error_of(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (a body over the limit, no such path, a method the path does
    not take) as the API's error object, like every other error, not aiohttp's plain text."""
    prefix = f"{exc.status}: "
    text = exc.text or exc.reason
    refused = error(exc.status, text[len(prefix):] if text.startswith(prefix) else text)
    if "Allow" in exc.headers:  # a 405 names the methods the path takes
        refused.headers["Allow"] = exc.headers["Allow"]
    if exc.status == 413:
        refused.force_close()  # its body is not read
    return refused


async def _reader_of(request: web.Request, node: NodeView) -> Reader:
    """Who asks: the public, or the key that signed the request (``shell.readers``)."""
    if H_SIG not in request.headers and H_KEY not in request.headers:
        return PUBLIC
    body = await read_body(request, node) if request.body_exists else b""
    head = node.chain.store.head_header()
    return node.readers.reader(request.headers, request.method, request.path_qs, body,
                               time.time_ns() // 1_000_000, node.chain.head_state(),
                               head.time_ms)


def _aiohttp_path(path: str) -> str:
    # State keys contain slashes: the last segment of these routes takes the rest.
    return path.replace("{key}", "{key:.+}")


def _bind(route: Route, node: NodeView) -> Callable[[web.Request],
                                                    Awaitable[web.StreamResponse]]:
    """``route``'s handler for aiohttp. A query parameter given twice is refused unless the
    route's description makes it repeatable (an array, as ``?key=`` of ``/proofs``): read
    with ``query.get`` the first would win silently (user walk: ``?height=1&height=2``
    answered at height 1), as the portal refuses it too (``portal.inputs.single``)."""
    handler = route.handler
    repeatable = frozenset(p["name"] for p in route.params
                           if p.get("in") == "query" and p["schema"].get("type") == "array")
    checked = not route.path.startswith("/portal")  # pages refuse it as a page (``single``)

    async def bound(request: web.Request) -> web.StreamResponse:
        query = request.query
        raw = request.rel_url.raw_query_string
        if checked and "%" in raw:  # (user walk: ?key=%FF read as "\ufffd", another key)
            try:
                unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("the query is not UTF-8 once its %-escapes are "
                                   "decoded") from None
        if checked and len(set(query)) < len(query):  # a name given more than once
            for name in query:
                if name not in repeatable and len(query.getall(name)) > 1:
                    raise InvalidInput(f"parameter {name[:40]!r} given twice")
        return await handler(request, node)

    return bound
