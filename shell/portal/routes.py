"""The portal's routes (``ROUTES``, added to the node's API by ``shell.api.all_routes``): every
page under ``/portal/``, its scripts and stylesheet, and the service worker.

| path | page |
|---|---|
| ``/portal/`` | tender announcements, search by ``region``, ``kind``, ``from``, ``to`` (dates) |
| ``/portal/tender/{tender_id}`` | a tender: announcement, timeline, verify actions |
| ``/portal/entity/{uscc}`` (``/portal/entity?uscc=``) | an entity's records |
| ``/portal/exposure`` | sanctions in force by ``uscc``, ``kind``, ``region`` |
| ``/portal/guarantee?number=`` | guarantee verification by number (验真) |
| ``/portal/offline`` | drop a bundle and an anchor, verdict offline |
| ``/portal/anchor`` | load and pin the trust anchor |
| ``/portal/static/{name}``, ``/portal/js/{name}``, ``/portal/js/verify/{name}`` | assets |
| ``/portal/sw.js`` | the service worker of the offline page |

Read-only: no route writes anything. The setting ``limits.portal_enabled`` (int, default 1,
bounds 0..1) switches it off: every portal path then answers 404. Until the node's config
declares it, this module reads it from ``NodeLimits`` when present and takes the default
otherwise. Pages answer HTML with a strict Content-Security-Policy (scripts and styles only
from the node itself, no inline script), bad input 400, a sealed record 403, an unknown
tender or entity 404 — each a page saying why.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from contracts.identity import entity_key
from contracts.tender_record import tender_key
from shell.apikit import NodeView, Route
from shell.apischema import text_answer
from shell.portal import inputs
from shell.portal.entity_page import render_entity
from shell.portal.exposure import ExposureQueryError
from shell.portal.exposure_page import render_exposure
from shell.portal.guarantee_page import render_guarantee
from shell.portal.layout import PREFIX, Frame, error_page
from shell.portal.reads import NotFound, PortalReader, SealedRecord
from shell.portal.tender_page import render_tender
from shell.portal.tenders import kinds_of, parse_query, render_list
from shell.portal.tools_page import render_anchor, render_offline

PORTAL_ENABLED_DEFAULT = 1
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
PORTAL_ASSETS = WEB_DIR / "portal"
VERIFIER_ASSETS = WEB_DIR / "verify"
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.(mjs|css)")
_TYPES = {"mjs": "text/javascript", "js": "text/javascript", "css": "text/css"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; "
       "worker-src 'self'")
_SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
             "Referrer-Policy": "no-referrer"}


def portal_enabled(node: NodeView) -> bool:
    return bool(getattr(node.limits, "portal_enabled", PORTAL_ENABLED_DEFAULT))


# ---- assets: read once, served with an ETag --------------------------------------------------


class _Asset:
    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _load(directory: Path) -> dict[str, _Asset]:
    return {p.name: _Asset(p.read_bytes(), _TYPES[p.suffix[1:]])
            for p in sorted(directory.iterdir()) if _ASSET_NAME.fullmatch(p.name)}


_PORTAL = _load(PORTAL_ASSETS)
_VERIFIER = _load(VERIFIER_ASSETS)


def _offline_assets() -> list[str]:
    """What the service worker keeps: the offline page and everything it loads."""
    return ([PREFIX + "/offline", PREFIX + "/static/portal.css"]
            + [PREFIX + "/js/" + n for n in _PORTAL if n.endswith(".mjs")]
            + [PREFIX + "/js/verify/" + n for n in _VERIFIER])


def _service_worker() -> _Asset:
    assets = _offline_assets()
    version = hashlib.sha256("".join(
        a.etag for a in (*_PORTAL.values(), *_VERIFIER.values())).encode()).hexdigest()[:16]
    body = (f"const VERSION = {json.dumps(version)};\nconst ASSETS = {json.dumps(assets)};\n"
            + (PORTAL_ASSETS / "sw-body.js").read_text("utf-8"))
    return _Asset(body.encode("utf-8"), "text/javascript")


_SW = _service_worker()


def _asset_response(request: web.Request, asset: _Asset | None) -> web.StreamResponse:
    if asset is None:
        return web.Response(status=404, text="no such asset", content_type="text/plain")
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", **_SECURITY}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers=headers, content_type=asset.content_type,
                        charset="utf-8")


# ---- pages ---------------------------------------------------------------------------------


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store", **_SECURITY})


PageFn = Callable[[web.Request, PortalReader, Frame], web.StreamResponse]


def _page(render: PageFn) -> Callable[[web.Request, NodeView], Awaitable[web.StreamResponse]]:
    """A page handler: the switch, one reader for the whole page, errors as pages."""

    async def handler(request: web.Request, node: NodeView) -> web.StreamResponse:
        if not portal_enabled(node):
            return _off()
        reader = PortalReader(node.chain)
        frame = Frame(node.chain.chain_id, reader.height, reader.now_ms)
        try:
            return render(request, reader, frame)
        except (inputs.BadRequest, ExposureQueryError) as exc:
            return _html(error_page(400, str(exc), frame), 400)
        except SealedRecord as exc:
            return _html(error_page(403, str(exc), frame), 403)
        except NotFound as exc:
            return _html(error_page(404, str(exc), frame), 404)

    return handler


def _off() -> web.Response:
    return web.Response(status=404, text="the portal is off on this node "
                        "(limits.portal_enabled = 0)", content_type="text/plain")


def tenders(request: web.Request, reader: PortalReader, frame: Frame) -> web.StreamResponse:
    return _html(render_list(reader, frame, parse_query(request.query, kinds_of(reader))))


def tender(request: web.Request, reader: PortalReader, frame: Frame) -> web.StreamResponse:
    inputs.single(request.query, ())
    tender_id = inputs.record_id(request.match_info["tender_id"], "a tender id")
    record = reader.get(tender_key(tender_id))
    if not isinstance(record, dict):
        raise NotFound(f"no tender {tender_id!r} on the chain (at block {reader.height})")
    return _html(render_tender(reader, frame, tender_id, record))


def entity_search(request: web.Request, reader: PortalReader,
                  frame: Frame) -> web.StreamResponse:
    q = inputs.single(request.query, ("uscc",))
    if "uscc" not in q:
        raise inputs.BadRequest("give an entity's unified social credit code: ?uscc=...")
    raise web.HTTPSeeOther(PREFIX + "/entity/" + quote(inputs.uscc(q["uscc"]), safe=""))


def entity(request: web.Request, reader: PortalReader, frame: Frame) -> web.StreamResponse:
    inputs.single(request.query, ())
    uscc = inputs.uscc(request.match_info["uscc"])
    att = reader.get(entity_key(uscc))
    has_credit = reader.get(f"credit/entity/{uscc}") is not None
    if att is None and not has_credit:
        raise NotFound(f"no attestation or credit record of {uscc} on the chain "
                          f"(at block {reader.height})")
    return _html(render_entity(reader, frame, uscc, att if isinstance(att, dict) else None))


def exposure(request: web.Request, reader: PortalReader, frame: Frame) -> web.StreamResponse:
    return _html(render_exposure(reader, frame, request.query))


def guarantee(request: web.Request, reader: PortalReader, frame: Frame) -> web.StreamResponse:
    q = inputs.single(request.query, ("number",))
    number = (inputs.record_id(q["number"], "a guarantee number") if "number" in q
              else "" if "number" in request.query else None)  # "": sent empty, say so
    return _html(render_guarantee(reader, frame, number))


async def _static_page(request: web.Request, node: NodeView, text: str) -> web.StreamResponse:
    if not portal_enabled(node):
        return _off()
    return _html(text)


async def offline(request: web.Request, node: NodeView) -> web.StreamResponse:
    return await _static_page(request, node, render_offline())


async def anchor(request: web.Request, node: NodeView) -> web.StreamResponse:
    return await _static_page(request, node, render_anchor())


async def root(request: web.Request, node: NodeView) -> web.StreamResponse:
    if not portal_enabled(node):
        return _off()
    raise web.HTTPMovedPermanently(PREFIX + "/")


def _assets(table: dict[str, _Asset]) -> Callable[[web.Request, NodeView],
                                                   Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request, node: NodeView) -> web.StreamResponse:
        if not portal_enabled(node):
            return _off()
        return _asset_response(request, table.get(request.match_info["name"]))

    return handler


async def service_worker(request: web.Request, node: NodeView) -> web.StreamResponse:
    if not portal_enabled(node):
        return _off()
    response = _asset_response(request, _SW)
    response.headers["Service-Worker-Allowed"] = PREFIX + "/"
    return response


_HTML_PAGE = "text/html"
_PLAIN = "text/plain"
_OFF = text_answer("no such asset, or the portal is off on this node", _PLAIN)
_HTML = {"200": text_answer("an HTML page", _HTML_PAGE),
         "400": text_answer("bad input: a page saying why", _HTML_PAGE),
         "403": text_answer("a record sealed for the public: a page saying why", _HTML_PAGE),
         "404": text_answer("not on the chain: a page saying why (or the portal is off: "
                            "plain text)", _HTML_PAGE, _PLAIN)}
_STATIC_PAGE = {"200": text_answer("an HTML page", _HTML_PAGE), "404": _OFF}
_UNCHANGED = {"description": "unchanged since the ETag sent in If-None-Match"}


def _asset_answers(*types: str) -> dict[str, dict[str, Any]]:
    return {"200": text_answer("the file", *types), "304": _UNCHANGED, "404": _OFF}


def _path(name: str) -> tuple[dict[str, object], ...]:
    return ({"name": name, "in": "path", "required": True, "schema": {"type": "string"}},)


_NAME = _path("name")


def _q(*names: str) -> tuple[dict[str, object], ...]:
    return tuple({"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                 for n in names)


ROUTES: tuple[Route, ...] = (
    Route("GET", PREFIX, root, "The disclosure portal (redirects to /portal/)",
          responses={"301": {"description": "to /portal/"}, "404": _OFF}),
    Route("GET", PREFIX + "/", _page(tenders),
          "Portal: tender announcements, searched by region, kind and announcement date",
          params=_q("region", "kind", "from", "to", "after"), responses=_HTML),
    Route("GET", PREFIX + "/tender/{tender_id}", _page(tender),
          "Portal: a tender's announcement and timeline (nothing of bids before the deadline)",
          params=_path("tender_id"),
          responses=_HTML),
    Route("GET", PREFIX + "/entity", _page(entity_search),
          "Portal: look an entity up by USCC (redirects to its page)", params=_q("uscc"),
          responses={"303": {"description": "to the entity's page"}, **_HTML}),
    Route("GET", PREFIX + "/entity/{uscc}", _page(entity),
          "Portal: an entity's attestation, credit records, sanctions in force and guarantees",
          params=_path("uscc"),
          responses=_HTML),
    Route("GET", PREFIX + "/exposure", _page(exposure),
          "Portal: the exposure list, sanction records in force by entity, kind and region",
          params=_q("uscc", "kind", "region", "after"), responses=_HTML),
    Route("GET", PREFIX + "/guarantee", _page(guarantee),
          "Portal: guarantee verification by number (验真)", params=_q("number"),
          responses=_HTML),
    Route("GET", PREFIX + "/offline", offline,
          "Portal: check a bundle file against an anchor in the browser, offline",
          responses=_STATIC_PAGE),
    Route("GET", PREFIX + "/anchor", anchor, "Portal: load and pin the trust anchor",
          responses=_STATIC_PAGE),
    Route("GET", PREFIX + "/static/{name}", _assets(_PORTAL), "Portal stylesheet",
          params=_NAME, responses=_asset_answers("text/css", "text/javascript")),
    Route("GET", PREFIX + "/js/{name}", _assets(_PORTAL), "Portal scripts (ES modules)",
          params=_NAME, responses=_asset_answers("text/javascript", "text/css")),
    Route("GET", PREFIX + "/js/verify/{name}", _assets(_VERIFIER),
          "The JS verifier's modules (shell/web/verify)", params=_NAME,
          responses=_asset_answers("text/javascript")),
    Route("GET", PREFIX + "/sw.js", service_worker,
          "The service worker that keeps the offline check page",
          responses=_asset_answers("text/javascript")),
)
