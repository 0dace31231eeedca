"""What every HTTP route is made of: ``Route`` (one handler, its OpenAPI description), the
``NodeView`` handlers read, and the helpers they answer with.

``shell.api`` builds the application and the OpenAPI document from the routes of every
module (its own, and those of feature modules such as the event stream), so adding a route
means adding a ``Route`` to a table, and its documentation comes with it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from contracts.disclosure import PUBLIC, Reader
from ledger.errors import InvalidInput
from shell.admission import Admission
from shell.chain import Chain
from shell.config import NodeLimits
from shell.metrics import Metrics
from shell.ratelimit import TokenBuckets
from shell.readers import Readers
from shell.retention import History

_HEIGHT = re.compile(r"[0-9]{1,19}")


class NodeView(Protocol):
    """What the handlers read from the node (``shell.server.Node``)."""

    chain: Chain
    admission: Admission
    metrics: Metrics
    limits: NodeLimits
    body_budget: TokenBuckets
    readers: Readers
    history: History

    def status(self) -> dict[str, Any]: ...

    def health(self) -> tuple[bool, str]: ...

    def store_fault(self, reason: str) -> None: ...


Handler = Callable[[web.Request, NodeView], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One route and its OpenAPI description (``shell.apischema.document``). ``params``:
    OpenAPI parameter objects; ``request``: the JSON Schema of a JSON body; ``responses``:
    status → ``{"description", "schema", "content_type"}`` for every status the handler
    answers (``content_type`` is ``application/json`` unless given, one type or a tuple of
    types the answer may come in; the middleware's error
    statuses are added to every route by the document)."""

    method: str
    path: str
    handler: Handler
    summary: str
    params: tuple[dict[str, Any], ...] = ()
    request: dict[str, Any] | None = None
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---- helpers ------------------------------------------------------------------------------


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=lambda o: json.dumps(o, sort_keys=True))


def error(status: int, reason: str) -> web.Response:
    return json_response({"error": reason}, status)


def height_param(text: str, name: str = "height") -> int:
    """A whole number from a path segment or query parameter (a height, a lot, a cursor, a
    limit: ``name`` says which in the refusal)."""
    if not _HEIGHT.fullmatch(text):
        if text.isascii() and text.isdigit():
            raise InvalidInput(f"bad {name} {text[:40]!r}: at most 19 digits")
        raise InvalidInput(f"bad {name} {text[:40]!r}: decimal digits 0-9 only")
    return int(text)


class BodyBudgetExceeded(Exception):
    """The client spent its request-bytes budget: 429 before its body is read."""


READER = web.RequestKey("reader", Reader)
BODY = web.RequestKey("body", bytes)


def reader(request: web.Request) -> Reader:
    """Who asks (``shell.readers``): set by the API's middleware for every request."""
    found: Reader = request.get(READER, PUBLIC)
    return found


async def read_body(request: web.Request, node: NodeView) -> bytes:
    """The request's body: its declared size checked (and charged to the client's bytes
    budget) first, then read under a timeout; read once per request."""
    cached: bytes | None = request.get(BODY)
    if cached is not None:
        return cached
    limits = node.limits
    declared = request.content_length
    if declared is None:
        raise InvalidInput("a request body needs a Content-Length")
    if declared > limits.max_request_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=limits.max_request_bytes,
                                            actual_size=declared)
    if not node.body_budget.take(request.remote or "?", declared, time.monotonic()):
        raise BodyBudgetExceeded()
    try:
        body = await asyncio.wait_for(request.read(), limits.http_body_timeout_ms / 1000)
        request[BODY] = body
        return body
    except TimeoutError:
        raise InvalidInput("the request body did not arrive in time") from None
    except web.HTTPRequestEntityTooLarge:
        raise
    except Exception as exc:  # a body aiohttp can't read (broken chunks)
        raise InvalidInput(f"unreadable request body: {type(exc).__name__}") from None


async def read_json(request: web.Request, node: NodeView) -> Any:
    """The request's JSON body (``read_body``), parsed."""
    data = await read_body(request, node)
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise InvalidInput("request body must be JSON (and nested less deeply)") from None
