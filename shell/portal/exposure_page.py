"""The exposure page (曝光台): sanction records in force, filtered by entity, kind and region,
in pages, each record with the entity's name and its verify action. The list itself is the
contracts' query (``shell.portal.exposure``).
"""

from __future__ import annotations

from collections.abc import Mapping

from shell.portal import inputs
from shell.portal.entity_page import credit_card
from shell.portal.exposure import exposure_page, sanction_kinds
from shell.portal.layout import Frame, notice, page, page_url, section
from shell.portal.markup import Markup, el
from shell.portal.reads import PortalReader
from shell.portal.tender_page import EntityNames
from shell.portal.text import CREDIT_KINDS, label, plain

QUERY = ("uscc", "kind", "region", "after")
PAGE_SIZE = 30


def render_exposure(reader: PortalReader, frame: Frame, query: Mapping[str, str]) -> str:
    q = inputs.single(query, QUERY)
    kinds = sanction_kinds(reader)
    uscc = inputs.uscc(q["uscc"]) if "uscc" in q else None
    kind = inputs.one_of(q["kind"], kinds, "kind") if "kind" in q else None
    region = inputs.region(q["region"]) if "region" in q else None
    after = inputs.count(q["after"], "after") if "after" in q else 0
    found = exposure_page(reader, uscc=uscc, kind=kind, region=region, cursor=after,
                          limit=PAGE_SIZE)
    names = EntityNames(reader)
    cards = [el("div", {"class": "exposed"}, el("p", {"class": "who"}, names(str(r["uscc"]))),
                credit_card(str(r["id"]), r)) for r in found.records]
    more = el("p", {"class": "more"}, el("a", {"href": page_url("/exposure", **{
        **q, "after": str(found.next_cursor)})}, label("下一页", "Next page"))) \
        if found.next_cursor is not None else None
    return page("曝光台", "Exposure list", frame,
                el("p", None, label(
                    "当前生效的严重失信、失信被执行人、禁止投标、政府采购禁入及重大税收违法记录，依法向社会公开。",
                    "Sanction records in force — serious breach, judgment defaulter, bid and "
                    "procurement debarment, tax violation — published to everyone.")),
                _form(q, kinds),
                section("exposed", label("曝光名单", "Listed"),
                        el("div", {"class": "records"}, cards) if cards else notice(
                            "info", label("没有符合条件的记录。", "No record matches.")), more),
                current="/exposure")


def _form(q: dict[str, str], kinds: tuple[str, ...]) -> Markup:
    options = [el("option", {"value": ""}, plain("全部", "all"))] + [
        el("option", {"value": k, "selected": q.get("kind") == k},
           plain(*CREDIT_KINDS.get(k, (k, k)))) for k in kinds]
    return el("form", {"class": "search", "method": "get", "action": page_url("/exposure"),
                       "aria-label": plain("筛选曝光名单", "Filter the list")},
              el("div", {"class": "field"},
                 el("label", {"for": "x-uscc"}, label("统一社会信用代码", "USCC")),
                 el("input", {"id": "x-uscc", "name": "uscc", "maxlength": 18,
                              "value": q.get("uscc", "")})),
              el("div", {"class": "field"}, el("label", {"for": "x-kind"}, label("类别", "Kind")),
                 el("select", {"id": "x-kind", "name": "kind"}, options)),
              el("div", {"class": "field"},
                 el("label", {"for": "x-region"}, label("地区", "Region")),
                 el("input", {"id": "x-region", "name": "region", "maxlength": 32,
                              "value": q.get("region", "")})),
              el("button", {"type": "submit"}, label("筛选", "Filter")))
