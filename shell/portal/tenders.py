"""The tender announcements page (招标公告): search by region, kind and announcement date, in
pages.

Tenders are listed from the head state (``tender/<id>`` records, in id order) by a bounded
scan: each page looks at most at ``SCAN_MAX`` keys and shows at most ``PAGE_SIZE`` tenders,
then links to the next page by the last key looked at, so a search over a long history
answers in bounded time and the reader follows "more". Sub-records (``tender/<id>/…``) are
skipped. What a row shows before a tender's deadline is its announcement only — never a
bid count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.params import text_set
from ledger.encoding import decode_trusted
from shell.portal import inputs
from shell.portal.layout import Frame, page, page_url, section, tender_link
from shell.portal.markup import Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.text import TENDER_KINDS, TENDER_STATES, label, named, plain, when, yuan

PREFIX = "tender/"
PAGE_SIZE = 20
SCAN_MAX = 5_000
QUERY = ("region", "kind", "from", "to", "after")


@dataclass(frozen=True)
class TenderQuery:
    region: str | None = None
    kind: str | None = None
    from_ms: int | None = None  # announced at or after
    to_ms: int | None = None  # announced before
    after: str | None = None  # the rest of the key to go on after
    given: Mapping[str, str] | None = None  # the raw parameters, to fill the form again


def parse_query(query: Mapping[str, str], kinds: frozenset[str]) -> TenderQuery:
    q = inputs.single(query, QUERY)
    return TenderQuery(
        region=inputs.region(q["region"]) if "region" in q else None,
        kind=inputs.one_of(q["kind"], kinds, "kind") if "kind" in q else None,
        from_ms=inputs.day_start_ms(q["from"], "from") if "from" in q else None,
        to_ms=inputs.day_end_ms(q["to"], "to") if "to" in q else None,
        after=inputs.cursor(q["after"]) if "after" in q else None,
        given=q,
    )


@dataclass(frozen=True)
class TenderList:
    rows: list[tuple[str, dict[str, Any]]]
    next_after: str | None
    scanned: int


def list_tenders(reader: PortalReader, q: TenderQuery) -> TenderList:
    rows: list[tuple[str, dict[str, Any]]] = []
    scanned = 0
    last: str | None = None
    after = PREFIX + q.after if q.after else None
    for key, raw in reader.scan_keys(PREFIX, after, SCAN_MAX + 1):
        if scanned >= SCAN_MAX or len(rows) >= PAGE_SIZE:
            return TenderList(rows, _rest(last), scanned)
        scanned += 1
        last = key
        tender_id = key[len(PREFIX):]
        if "/" in tender_id:
            continue  # a tender's sub-record
        tender = decode_trusted(raw)
        if isinstance(tender, dict) and _matches(tender, q):
            rows.append((tender_id, tender))
    return TenderList(rows, None, scanned)


def _rest(key: str | None) -> str | None:
    return None if key is None else key[len(PREFIX):]


def _matches(t: dict[str, Any], q: TenderQuery) -> bool:
    announced = t.get("announced_ms", 0)
    return ((q.region is None or t.get("region") == q.region)
            and (q.kind is None or t.get("kind") == q.kind)
            and (q.from_ms is None or announced >= q.from_ms)
            and (q.to_ms is None or announced < q.to_ms))


def kinds_of(reader: PortalReader) -> frozenset[str]:
    return text_set(str(reader.param("tender_kinds")))


def render_list(reader: PortalReader, frame: Frame, q: TenderQuery) -> str:
    found = list_tenders(reader, q)
    given = dict(q.given or {})
    table = el("table", {"class": "tenders"},
               el("caption", None, label("招标公告（按编号排列）", "Tender announcements, by id")),
               el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in (
                   label("项目编号", "Tender"), label("类别", "Kind"), label("地区", "Region"),
                   label("状态", "State"), label("公告时间", "Announced"),
                   label("投标截止", "Bid deadline"), label("标段与估算价", "Lots"))])),
               el("tbody", None, [_row(reader, tid, t) for tid, t in found.rows]))
    more: Markup = join()
    if found.next_after is not None:
        more = el("p", {"class": "more"}, el("a", {"href": page_url("/", **{
            **given, "after": found.next_after})}, label("下一页", "Next page")),
            " ", el("small", None, f"(scanned {found.scanned} records)"))
    empty = el("p", None, label("没有符合条件的招标公告。", "No tender matches.")) if not \
        found.rows else None
    return page("招标公告", "Tender announcements", frame,
                _search_form(kinds_of(reader), given),
                section("results", label("检索结果", "Results"), table, empty, more),
                current="/")


def _row(reader: PortalReader, tender_id: str, t: dict[str, Any]) -> Markup:
    lots = t.get("lots") or []
    lot_text = "; ".join(f"{lot.get('name', '')} {yuan(lot.get('estimated_price_fen'))}"
                         for lot in lots[:3] if isinstance(lot, dict))
    if len(lots) > 3:
        lot_text += f"; +{len(lots) - 3}"
    return el("tr", None,
              el("th", {"scope": "row"}, tender_link(tender_id)),
              el("td", None, named(TENDER_KINDS, t.get("kind"))),
              el("td", None, str(t.get("region", ""))),
              el("td", None, named(TENDER_STATES, t.get("state"))),
              el("td", None, when(t.get("announced_ms"))),
              el("td", None, when(t.get("deadline_ms"))),
              el("td", None, lot_text))


def _search_form(kinds: frozenset[str], given: dict[str, str]) -> Markup:
    def field(name: str, zh: str, en: str, control: Markup) -> Markup:
        return el("div", {"class": "field"}, el("label", {"for": f"f-{name}"}, label(zh, en)),
                  control)

    kind_options = [el("option", {"value": ""}, plain("全部", "all"))] + [
        el("option", {"value": k, "selected": given.get("kind") == k},
           plain(*TENDER_KINDS.get(k, (k, k)))) for k in sorted(kinds)]
    return el("form", {"class": "search", "method": "get", "action": page_url("/"),
                       "aria-label": plain("检索招标公告", "Search tenders")},
              field("region", "地区（行政区划代码）", "Region code",
                    el("input", {"id": "f-region", "name": "region", "maxlength": 32,
                                 "value": given.get("region", "")})),
              field("kind", "类别", "Kind",
                    el("select", {"id": "f-kind", "name": "kind"}, kind_options)),
              field("from", "公告日期自", "Announced from",
                    el("input", {"id": "f-from", "name": "from", "type": "date",
                                 "value": given.get("from", "")})),
              field("to", "至", "to",
                    el("input", {"id": "f-to", "name": "to", "type": "date",
                                 "value": given.get("to", "")})),
              el("button", {"type": "submit"}, label("检索", "Search")))
