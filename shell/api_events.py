"""The event routes: a Server-Sent Events stream, pages of the same items, one item's proof.

- ``GET /events/stream`` — ``text/event-stream``. Each chain event or notice is one frame
  ``id: <cursor>`` / ``data: <JSON>`` (no ``event:`` line, so a browser's ``onmessage`` gets
  them all); ``event: hello`` first (chain id, head, where the walk starts), ``event:
  heartbeat`` every ``heartbeat_ms`` without other traffic (its ``id`` is the cursor to
  resume from, so a reader whose filter matched nothing for a long time does not walk the
  same blocks again), ``event: cutoff`` last when the node ends the stream (its reason).
- ``GET /events`` — the same items as JSON pages: ``{"items": [...], "next": cursor,
  "head": height}``; ask again with ``cursor=next``.
- ``GET /events/{cursor}`` — one item with its proof (``shell.eventproof``).

Where a walk starts: the ``Last-Event-ID`` header (an ``EventSource`` sends it when it
reconnects, with the original URL), else ``cursor``, else ``from_height``, else (stream
only) after the current head. Filters: ``type``, ``tender``, ``region``, ``kind``,
``entity`` (``shell.eventkit``); ``remind=3d,1h`` (the default; ``none`` for no reminders
before the deadline) chooses the ``notice.deadline_soon`` offsets.

Why Server-Sent Events and no websocket: the stream is one-way; SSE is plain HTTP, so it
passes the API's middleware (rate limits, connection guard), proxies and ``curl``; it has
resuming built in (``id`` / ``Last-Event-ID``) where a websocket would need a protocol of our
own for the same thing; a mini-program's back end gets notices as webhooks
(``credchain watch --post``), so nothing needs a socket from a phone.

The caller (for the per-caller cap and the read budget) is ``caller_of(request)``: the key of
a signed request (``shell.readers``), else the client address. Every reader is served the
public lane (``shell.events``) for now, signed or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from ledger.errors import InvalidInput
from shell.apikit import NodeView, Route, error, height_param, json_response, reader
from shell.apischema import ERROR, TEXT, answer, ref
from shell.eventkit import (
    NOTICE,
    Filter,
    cursor_text,
    end_key,
    first_height,
    json_bytes,
    parse_cursor,
    parse_filter,
    parse_reminders,
    sse_frame,
)
from shell.eventproof import build_proof
from shell.events import EventHub, StreamRefused, Walk, cutoff_frame

HEARTBEAT_MS_RANGE = (1_000, 60_000)
RETRY_MS = 2_000  # what an EventSource waits before reconnecting
CLOSE_GRACE_S = 2.0  # a cut-off reader's socket gets this long to take its last frame


def caller_of(request: web.Request) -> str:
    """Who is asking, for the per-caller cap and read budget: the key of a signed request
    (``shell.readers``), else the client address."""
    signer = reader(request).pubkey
    return f"key:{signer.hex()}" if signer is not None else (request.remote or "?")


def hub_of(node: NodeView) -> EventHub:
    hub = getattr(node, "event_hub", None)
    if not isinstance(hub, EventHub):
        raise LookupError("this node serves no event stream")
    return hub


def parse_walk(request: web.Request, node: NodeView, hub: EventHub,
               live_default: bool) -> Walk:
    """The reader's start, filters, reminders and heartbeat; InvalidInput (400) on bad input."""
    q = request.query
    resume = request.headers.get("Last-Event-ID", "").strip()
    if resume:
        after = parse_cursor(resume)
    elif "cursor" in q:
        after = parse_cursor(q["cursor"])
    elif "from_height" in q:
        after = end_key(max(0, height_param(q["from_height"], "from_height") - 1))
    elif live_default:
        after = end_key(hub.chain.height())
    else:
        raise InvalidInput("say where to start: cursor=... or from_height=...")
    hub.check_start(after)
    # below the oldest height this node keeps: 410 naming it (shell.retention)
    node.history.check(first_height(after), "the events of block")
    flt = parse_filter({k: q.getall(k, []) for k in ("type", "tender", "region", "kind",
                                                     "entity")})
    return Walk(after, flt, parse_offsets(q.get("remind"), hub), parse_heartbeat(q, hub))


def parse_offsets(text: str | None, hub: EventHub) -> tuple[int, ...]:
    s = hub.settings
    if text is None:
        return s.default_offsets_ms
    return parse_reminders(text, s.offsets_max, s.offset_max_ms)


def parse_heartbeat(q: Any, hub: EventHub) -> int:
    if "heartbeat_ms" not in q:
        return hub.settings.heartbeat_ms
    lo, hi = HEARTBEAT_MS_RANGE
    value = height_param(q["heartbeat_ms"], "heartbeat_ms")
    if not lo <= value <= hi:
        raise InvalidInput(f"heartbeat_ms must be within {lo}-{hi}")
    return value


def _hello(hub: EventHub, walk: Walk) -> bytes:
    data = json_bytes({"chain_id": hub.chain.chain_id, "head": hub.chain.height(),
                       "after": cursor_text(walk.after), "filter": _shown(walk.filter),
                       "remind_ms": list(walk.offsets_ms), "heartbeat_ms": walk.heartbeat_ms})
    return f"retry: {RETRY_MS}\n".encode() + sse_frame(data, event="hello")


def _shown(flt: Filter) -> dict[str, list[str]]:
    return {k: v for k, v in flt.to_query().items() if v}


async def get_stream(request: web.Request, node: NodeView) -> web.StreamResponse:
    hub = hub_of(node)
    walk = parse_walk(request, node, hub, live_default=True)
    try:
        sub = hub.subscribe(caller_of(request))
    except StreamRefused as exc:
        return error(exc.status, exc.reason)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                       "Cache-Control": "no-cache",
                                       "X-Accel-Buffering": "no"})
    stall_s = hub.settings.write_stall_ms / 1000
    try:
        await resp.prepare(request)
        transport = request.transport
        if transport is None:
            return resp
        # The node-side buffer of this reader: the socket's, bounded here (shell.events).
        transport.set_write_buffer_limits(high=hub.settings.send_buffer_bytes)
        sub.gone = transport.is_closing  # a walk waiting for blocks notices a reader left
        await resp.write(_hello(hub, walk))
        async with contextlib.aclosing(hub.walk(sub, walk)) as frames:
            async for chunk in frames:
                if transport.is_closing():
                    break  # the reader left
                try:
                    await asyncio.wait_for(resp.write(chunk), stall_s)
                except TimeoutError:
                    reason = (f"slow consumer: the connection took nothing for "
                              f"{stall_s:.0f} s; resume from your last cursor")
                    hub.cut(sub, "slow", reason)
                    await _last_words(resp, transport, cutoff_frame(reason, walk.after))
                    break
    except (ConnectionError, RuntimeError):
        pass  # the reader went away mid-write ("cannot write to closing transport")
    finally:
        hub.unsubscribe(sub)
    return resp


async def _last_words(resp: web.StreamResponse, transport: asyncio.Transport,
                      frame: bytes) -> None:
    """Queue the cut-off frame behind what the socket holds, close it gently, and drop it
    for good if the reader still takes nothing (memory is not held for it)."""
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        await asyncio.wait_for(resp.write(frame), 0.01)
    transport.close()
    asyncio.get_running_loop().call_later(CLOSE_GRACE_S, transport.abort)


async def get_page(request: web.Request, node: NodeView) -> web.StreamResponse:
    hub = hub_of(node)
    walk = parse_walk(request, node, hub, live_default=False)
    limit_text = request.query.get("limit")
    limit = hub.settings.page_items_max if limit_text is None else height_param(limit_text, "limit")
    if not 1 <= limit <= hub.settings.page_items_max:
        raise InvalidInput(f"limit must be within 1-{hub.settings.page_items_max}")
    items, after = hub.page(walk, limit, caller_of(request))
    body = (b'{"head":' + str(hub.chain.height()).encode() + b',"items":['
            + b",".join(i.data for i in items) + b'],"next":'
            + json.dumps(cursor_text(after)).encode() + b"}")
    return web.Response(body=body, content_type="application/json")


async def get_item(request: web.Request, node: NodeView) -> web.StreamResponse:
    hub = hub_of(node)
    key = parse_cursor(request.match_info["cursor"])
    # a notice's proof reads the block before its own
    node.history.check(key[0] - 1 if key[1] == NOTICE else key[0], "the items of block")
    return json_response(build_proof(hub, key))


_FILTER_PARAMS = tuple(
    {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
     "description": text, "schema": {"type": "array", "items": {"type": "string"}}}
    for name, text in (
        ("type", "event or notice type, or a prefix ending in * (tender.*); repeatable"),
        ("tender", "tender id; repeatable"),
        ("region", "tender region (a credit record's scope regions); repeatable"),
        ("kind", "tender kind (a credit record's scope kinds); repeatable"),
        ("entity", "USCC of an entity the item concerns; repeatable"),
    ))
_START_PARAMS = (
    {"name": "cursor", "in": "query", "required": False,
     "description": "resume after this cursor (H, H.P.E, H.n.T.TENDER or H.o.N.TENDER)",
     "schema": {"type": "string"}},
    {"name": "from_height", "in": "query", "required": False,
     "description": "start with this block", "schema": {"type": "integer", "minimum": 0}},
    {"name": "remind", "in": "query", "required": False,
     "description": "reminders before deadlines, e.g. 3d,1h (default) or none",
     "schema": {"type": "string"}},
)

_GONE_EVENTS = answer("below the oldest height this node keeps: ask an archive node", ERROR)
_AHEAD = answer("the start (cursor or from_height) is far ahead of this node's chain, or the "
                "node serves no event stream", ERROR)

EVENT_ROUTES: tuple[Route, ...] = (
    Route("GET", "/events/stream", get_stream,
          "Server-Sent Events: chain events and deadline notices from a cursor, then live",
          params=(*_START_PARAMS, *_FILTER_PARAMS,
                  {"name": "heartbeat_ms", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1000, "maximum": 60000}},
                  {"name": "Last-Event-ID", "in": "header", "required": False,
                   "description": "the last cursor received (takes precedence)",
                   "schema": {"type": "string"}}),
          responses={"200": {"description": "Server-Sent Events: a `hello` frame, then "
                                            "items (`id:` the cursor, `data:` an EventItem), "
                                            "heartbeats and a `cutoff` frame if cut off",
                             "content_type": "text/event-stream", "schema": TEXT},
                     "400": answer("a bad cursor, filter, reminder or heartbeat", ERROR),
                     "404": _AHEAD, "410": _GONE_EVENTS,
                     "429": answer("this caller has its most streams open", ERROR),
                     "503": answer("the node serves its most streams", ERROR)}),
    Route("GET", "/events", get_page,
          "Chain events and deadline notices as JSON pages (the stream's items)",
          params=(*_START_PARAMS, *_FILTER_PARAMS,
                  {"name": "limit", "in": "query", "required": False,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}),
          responses={"200": answer("one page of items and the cursor after it",
                                  ref("EventPage")),
                     "400": answer("a bad cursor, filter, reminder or limit", ERROR),
                     "404": _AHEAD, "410": _GONE_EVENTS}),
    Route("GET", "/events/{cursor}", get_item,
          "One event (with its §8 inclusion bundle) or notice (with two §7 bundles)",
          params=({"name": "cursor", "in": "path", "required": True,
                   "schema": {"type": "string"}},),
          responses={"200": answer("the item and its proof", ref("EventProof")),
                     "400": answer("not a cursor", ERROR),
                     "404": answer("no such public item", ERROR), "410": _GONE_EVENTS}),
)
