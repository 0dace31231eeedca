"""The two pages that read no chain data: the offline check (drop a bundle file and an anchor,
get the verdict in the browser, with no network after load: ``offline.mjs``) and the trust
anchor page (load, check and pin the anchor the verify actions use: ``anchor-page.mjs``).

The offline page shows no block height (``Frame`` None): a service worker may keep it, and a
kept page must not claim a chain state it no longer knows.
"""

from __future__ import annotations

from shell.portal.layout import notice, page, section
from shell.portal.markup import Markup, el
from shell.portal.text import label


def _file(id_: str, zh: str, en: str, accept: str | None = None) -> Markup:
    return el("div", {"class": "field"}, el("label", {"for": id_}, label(zh, en)),
              el("input", {"id": id_, "type": "file", "accept": accept}))


def _text(id_: str, zh: str, en: str, rows: int) -> Markup:
    return el("div", {"class": "field"}, el("label", {"for": id_}, label(zh, en)),
              el("textarea", {"id": id_, "rows": rows, "spellcheck": "false",
                              "autocomplete": "off"}))


def render_offline() -> str:
    return page(
        "离线核验", "Offline check", None,
        el("p", None, label(
            "将证明文件（§7 记录、§8 交易、§9 多键；JSON 或二进制）与信任锚文件拖放到下方，"
            "核验完全在本浏览器中完成，不向任何服务器发送数据。",
            "Drop a bundle file (§7 record, §8 transaction or §9 several records; JSON or "
            "binary) and an anchor file below. The check runs entirely in this browser; "
            "nothing is sent anywhere.")),
        el("p", {"id": "o-sw-state", "class": "small", "aria-live": "polite"},
           label("页面载入后即可断网使用。", "Once loaded, this page works without a network.")),
        section("o-anchor", label("1. 信任锚", "1. Trust anchor"),
                el("p", {"id": "o-anchor-state", "aria-live": "polite"},
                   label("尚未选择信任锚。", "No anchor chosen yet.")),
                el("div", {"class": "controls"},
                   _file("o-anchor-file", "锚文件", "Anchor file", ".json,application/json"),
                   _text("o-anchor-text", "或粘贴锚文件内容", "Or paste the anchor", 3),
                   el("label", None, el("input", {"id": "o-pin", "type": "checkbox"}), " ",
                      label("在本浏览器固定此锚", "Pin this anchor in this browser")))),
        section("o-bundle", label("2. 证明文件", "2. Bundle"),
                el("div", {"id": "o-drop", "class": "dropzone", "tabindex": 0, "role": "button",
                           "aria-describedby": "o-drop-help"},
                   el("p", {"id": "o-drop-help"},
                      label("将证明文件（可同时拖入锚文件）拖放到此处，或按回车选择文件",
                            "Drop the bundle file (and the anchor file) here, or press Enter to "
                            "choose one"))),
                el("p", {"id": "o-bundle-state", "aria-live": "polite"},
                   label("尚未选择证明文件。", "No bundle file chosen yet.")),
                el("div", {"class": "controls"},
                   _file("o-bundle-file", "证明文件", "Bundle file"),
                   _text("o-bundle-text", "或粘贴证明 JSON", "Or paste the bundle's JSON", 5))),
        el("p", None, el("button", {"id": "o-verify", "type": "button"},
                         label("核验", "Verify"))),
        section("o-out", label("3. 结论", "3. Verdict"),
                el("div", {"id": "o-result", "class": "verdict", "role": "status",
                           "aria-live": "polite"})),
        current="/offline", scripts=("portal.mjs", "offline.mjs"))


def render_anchor() -> str:
    return page(
        "信任锚", "Trust anchor", None,
        notice("info", label(
            "信任锚是创世区块头与创世验证者集合（credchain 导出的 anchor.json）。请从其他渠道取得——"
            "例如交易平台公布的文件——不要从提供本页面的节点取得，并与公布的创世哈希比对。",
            "The trust anchor is the genesis header and validator set (the anchor.json "
            "credchain exports). Take it from another source — the file a trading platform "
            "publishes — not from the node serving this page, and compare its genesis hash "
            "with a published one.")),
        section("a-current", label("当前固定的信任锚", "Pinned in this browser"),
                el("div", {"id": "a-pinned", "aria-live": "polite"},
                   el("p", None, label("需要启用脚本。", "Needs scripts enabled.")))),
        section("a-load", label("载入并固定", "Load and pin"),
                el("div", {"class": "controls"},
                   _file("a-file", "从文件载入", "From a file", ".json,application/json"),
                   _text("a-text", "或粘贴锚文件内容", "Or paste the anchor file", 6),
                   el("p", None, el("button", {"id": "a-pin", "type": "button"},
                                    label("检查并固定", "Check and pin")), " ",
                      el("button", {"id": "a-clear", "type": "button"},
                         label("移除", "Remove")))),
                el("p", {"id": "a-status", "role": "status", "aria-live": "polite"})),
        current="/anchor", scripts=("portal.mjs", "anchor-page.mjs"))
