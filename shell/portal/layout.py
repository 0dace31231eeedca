"""The frame every portal page shares, and the pieces pages are made of: the header with its
navigation and trust-anchor status, the footer naming the block the page was read at, fact
tables, links to tenders and entities, and the "verify" action a record carries.

A verify action (``Proof``) names the bundle the browser fetches — §7 ``/proof/{key}``, §9
``/proofs?key=…``, §8 ``/txs/{id}/inclusion`` — and what it must prove (the key or the
transaction id), plus the fields the page withholds before a deadline
(``PortalReader.withheld``, a JSON map key → field paths). ``portal.mjs`` finds these by
their ``data-`` attributes; the page works without scripts, only the verify action needs
them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from shell.portal.markup import Child, Markup, document, el, join
from shell.portal.text import label, plain, when

PREFIX = "/portal"
ProofKind = Literal["state", "multi", "inclusion"]


Withheld = tuple[tuple[str, tuple[str, ...]], ...]  # (key, field paths) pairs


@dataclass(frozen=True)
class Proof:
    """A bundle to fetch and what it must prove."""

    kind: ProofKind
    url: str
    expect: str  # the key (state), the keys joined by a newline (multi), the tx id (inclusion)
    withhold: Withheld = ()  # fields of these keys' records the panel does not show


def _withheld(fields: Mapping[str, Sequence[str]]) -> Withheld:
    return tuple((k, tuple(v)) for k, v in sorted(fields.items()) if v)


def state_proof(key: str, withhold: Sequence[str] = ()) -> Proof:
    return Proof("state", "/proof/" + quote(key, safe="/"), key, _withheld({key: withhold}))


def multi_proof(keys: Iterable[str], withhold: Mapping[str, Sequence[str]] | None = None,
                ) -> Proof:
    ordered = sorted(set(keys), key=lambda k: k.encode("utf-8"))
    return Proof("multi", "/proofs?" + urlencode([("key", k) for k in ordered]),
                 "\n".join(ordered), _withheld(withhold or {}))


def tx_proof(tx_id: bytes) -> Proof:
    return Proof("inclusion", f"/txs/{tx_id.hex()}/inclusion", tx_id.hex())


def verify_action(proof: Proof, what: str) -> Markup:
    """The button that fetches ``proof`` and checks it in the browser, and where the
    verdict appears. ``what``: what the record is, for the button's accessible name."""
    withhold = json.dumps(dict(proof.withhold), ensure_ascii=False) if proof.withhold else None
    return el("div", {"class": "verify", "data-kind": proof.kind, "data-url": proof.url,
                      "data-expect": proof.expect, "data-withhold": withhold},
              el("button", {"type": "button", "class": "verify-btn",
                            "aria-label": f"验证 {what} / Verify {what}"},
                 label("验证", "Verify"),
                 " ", el("small", None, f"{_KIND_NOTE[proof.kind]} · {what}")),
              el("div", {"class": "verdict", "role": "status", "aria-live": "polite"}))


_KIND_NOTE = {"state": "§7", "multi": "§9", "inclusion": "§8"}


def page_url(path: str, **query: str | None) -> str:
    given = [(k, v) for k, v in query.items() if v]
    return PREFIX + path + ("?" + urlencode(given) if given else "")


def tender_link(tender_id: str) -> Markup:
    return el("a", {"href": page_url("/tender/" + quote(tender_id, safe=""))}, tender_id)


def entity_link(uscc: str, name: str | None = None) -> Markup:
    href = page_url("/entity/" + quote(uscc, safe=""))
    if name:
        return join(el("a", {"href": href}, name), " ", el("code", None, uscc))
    return el("a", {"href": href}, el("code", None, uscc))


def facts(rows: Iterable[tuple[Markup, Child]]) -> Markup:
    """A two-column table of facts: label, value."""
    return el("dl", {"class": "facts"},
              [join(el("dt", None, name), el("dd", None, value)) for name, value in rows])


def section(heading_id: str, heading: Markup, *body: Child) -> Markup:
    return el("section", {"aria-labelledby": heading_id},
              el("h2", {"id": heading_id}, heading), *body)


def notice(kind: Literal["sealed", "info", "warn"], *body: Child) -> Markup:
    return el("p", {"class": f"notice notice-{kind}"}, *body)


@dataclass(frozen=True)
class Frame:
    """What the footer says about the read: chain, height and the head block's time."""

    chain_id: str
    height: int
    now_ms: int


_NAV = (
    ("/", "招标公告", "Tenders"),
    ("/exposure", "曝光台", "Exposure list"),
    ("/guarantee", "保函验真", "Guarantee check"),
    ("/offline", "离线核验", "Offline check"),
    ("/anchor", "信任锚", "Trust anchor"),
)


def page(title_zh: str, title_en: str, frame: Frame | None, *body: Child,
         subject: str | None = None, current: str = "",
         scripts: Sequence[str] = ("portal.mjs",)) -> str:
    """A whole page: header, navigation, ``body`` as the main content, footer. ``subject``:
    what the page is about (a tender id, an entity's name), after the title."""
    head = join(
        el("meta", {"charset": "utf-8"}),
        el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        el("title", None, (f"{subject} · " if subject else "")
           + f"{title_zh} · {title_en} — credchain"),
        el("link", {"rel": "stylesheet", "href": PREFIX + "/static/portal.css"}),
        el("link", {"rel": "icon", "href": "data:,"}),  # no request for /favicon.ico
        [el("script", {"type": "module", "src": PREFIX + "/js/" + s}) for s in scripts],
    )
    nav = el("nav", {"aria-label": plain("主导航", "Main navigation")},
             el("ul", None, [el("li", None, el(
                 "a", {"href": page_url(path), "aria-current": "page" if path == current
                       else None}, label(zh, en))) for path, zh, en in _NAV]))
    header = el("header", {"class": "site"},
                el("a", {"class": "skip", "href": "#main"}, label("跳到正文", "Skip to content")),
                el("p", {"class": "brand"},
                   el("a", {"href": page_url("/")},
                      label("公共资源交易信息公开", "Public resource trading disclosure")),
                   " ", el("small", None, "credchain")),
                nav, _entity_search(),
                el("p", {"class": "anchor-status", "id": "anchor-status", "aria-live": "polite"},
                   label("信任锚：未载入", "Trust anchor: none loaded"), " ",
                   el("a", {"href": page_url("/anchor")}, label("载入", "load one"))))
    main = el("main", {"id": "main", "tabindex": "-1"},
              el("h1", None, label(title_zh, title_en),
                 (" ", el("span", {"class": "subject"}, subject)) if subject else None), *body)
    return document("zh-CN", head, join(header, main, _footer(frame)))


def _entity_search() -> Markup:
    return el("form", {"class": "entity-search", "method": "get",
                       "action": page_url("/entity"), "role": "search"},
              el("label", {"for": "q-uscc"}, label("查询主体（统一社会信用代码）",
                                                   "Entity by USCC")),
              el("input", {"id": "q-uscc", "name": "uscc", "type": "search", "maxlength": 18,
                           "autocomplete": "off", "spellcheck": "false"}),
              el("button", {"type": "submit"}, label("查询", "Look up")))


def _footer(frame: Frame | None) -> Markup:
    if frame is None:
        return el("footer", {"class": "site"},
                  label("本页不依赖网络：所有核验在浏览器中完成。",
                        "This page needs no network: every check runs in your browser."))
    return el("footer", {"class": "site"},
              el("p", None, label("数据读取自区块", "Read at block"), " ",
                 el("strong", {"id": "page-height"}, str(frame.height)), " · ",
                 label("链", "chain"), " ", el("code", None, frame.chain_id), " · ",
                 label("区块时间（北京时间）", "block time (Beijing)"), " ",
                 when(frame.now_ms)),
              el("p", None, label(
                  "页面内容由节点提供；请用“验证”按钮对照您自备的信任锚核验每条记录。",
                  "The node serves this page; check each record against your own trust "
                  "anchor with its Verify button.")))


def error_page(status: int, reason: str, frame: Frame | None) -> str:
    titles = {400: ("请求有误", "Bad request"), 403: ("未公开", "Not public"),
              404: ("未找到", "Not found")}
    zh, en = titles.get(status, ("错误", "Error"))
    return page(zh, en, frame, el("p", {"class": "error"}, reason))
