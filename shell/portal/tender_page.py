"""A tender's page: its announcement (parties, periods, lots, required qualifications), its
timeline (``shell.portal.timeline``) and the verify actions of what it shows, including one
§9 bundle of all its records at one height.

Before the bid deadline the page shows the announcement and what happened to the documents
(amendments, objections to them) and nothing about bids: no count per lot, no opening, and
the tender record's ``bids`` fields are withheld from the verify panel too.
"""

from __future__ import annotations

from typing import Any

from shell.portal.committee import ROUNDS_MAX
from shell.portal.layout import (
    Frame,
    entity_link,
    facts,
    multi_proof,
    notice,
    page,
    section,
    state_proof,
    verify_action,
)
from shell.portal.markup import Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.steps import TenderTxs
from shell.portal.text import (
    LOT_STATES,
    TENDER_KINDS,
    TENDER_STATES,
    label,
    named,
    short_hex,
    when,
    yuan,
)
from shell.portal.timeline import render_steps, tender_steps
from shell.portal.txindex import TxIndex

SUBRECORDS_MAX = 500
MULTI_KEYS_MAX = 64  # ledger.multi.MAX_ENTRIES bounds it too


class EntityNames:
    """USCC → a link with the entity's attested name, read once per page."""

    def __init__(self, reader: PortalReader) -> None:
        self._reader = reader
        self._names: dict[str, str | None] = {}

    def __call__(self, uscc: str) -> Markup:
        if not uscc:
            return join("—")
        if uscc not in self._names:
            att = self._reader.get(f"id/entity/{uscc}")
            self._names[uscc] = str(att.get("name")) if isinstance(att, dict) else None
        return entity_link(uscc, self._names[uscc])


def render_tender(reader: PortalReader, frame: Frame, tender_id: str,
                  tender: dict[str, Any]) -> str:
    key = f"tender/{tender_id}"
    names = EntityNames(reader)
    open_for_bids = not reader.deadline_passed(tender_id)
    subs = dict(reader.scan(f"{key}/", None, SUBRECORDS_MAX, SUBRECORDS_MAX * 4).items)
    index = TxIndex.for_chain(reader.chain)
    behind = index.catch_up()
    txs = TenderTxs(reader, index.of_tender(tender_id))
    steps = tender_steps(reader, tender_id, tender, subs, txs, names)
    shown = [key, *(k for k in subs if "/slots/" not in k),
             *_committee_keys(reader, tender_id, tender)][:MULTI_KEYS_MAX]
    lag = notice("info", label(f"交易索引尚有 {behind} 个区块未读完，部分步骤的交易稍后显示。",
                               f"The transaction index is {behind} blocks behind: some steps' "
                               "transactions appear later.")) if behind or index.full else None
    return page(
        "招标项目", "Tender", frame,
        notice("sealed", label("投标截止前不公开任何投标信息（包括投标数量）。",
                               "Before the bid deadline nothing about bids is shown, not even "
                               "their number.")) if open_for_bids else None,
        section("announcement", label("招标公告", "Announcement"),
                _summary(tender_id, tender, names),
                _lots(tender, open_for_bids),
                _qualifications(tender),
                verify_action(state_proof(key, reader.withheld(key, tender)),
                              "the tender record")),
        section("timeline", label("项目进程（北京时间）", "Timeline (Beijing time)"), lag,
                render_steps(steps, verify_action)),
        section("all-records", label("同一高度核验全部记录", "All its records at one height"),
                el("p", None, label(f"一次核验本项目的 {len(shown)} 条记录（§9 多键证明）。",
                                    f"Checks the tender's {len(shown)} records in one §9 "
                                    "bundle.")),
                verify_action(multi_proof(shown, {key: reader.withheld(key, tender)}),
                              "all of the tender's records")),
        subject=tender_id)


def _committee_keys(reader: PortalReader, tender_id: str, t: dict[str, Any]) -> list[str]:
    """The evaluation rounds' records the timeline shows (``shell.portal.committee``)."""
    rounds = min(int(t.get("eval_round") or 0), ROUNDS_MAX)
    keys = [k for r in range(1, rounds + 1) for k in (
        f"draw/{tender_id}/{r}", f"eval/{tender_id}/{r}/result", f"eval/{tender_id}/{r}/report")]
    return [k for k in keys if reader.get(k) is not None]


def _summary(tender_id: str, t: dict[str, Any], names: EntityNames) -> Markup:
    state = named(TENDER_STATES, t.get("state"))
    if t.get("suspended"):
        state = join(state, " ", el("strong", None, label("（已暂停）", "(suspended)")))
    rows = [
        (label("项目编号", "Tender"), el("code", None, tender_id)),
        (label("类别", "Kind"), named(TENDER_KINDS, t.get("kind"))),
        (label("地区", "Region"), str(t.get("region", ""))),
        (label("适用规则", "Rules"), str(t.get("rules", ""))),
        (label("招标人", "Tenderer"), names(str(t.get("tenderer", "")))),
        (label("招标代理", "Agent"), names(str(t.get("agent", "")))),
        (label("交易平台", "Platform"), names(str(t.get("platform_uscc", "")))),
        (label("状态", "State"), state),
        (label("公告时间", "Announced"), when(t.get("announced_ms"))),
        (label("文件发售", "Documents on sale"),
         f"{when(t.get('issue_start_ms'))} — {when(t.get('doc_sale_end_ms'))}"),
        (label("投标截止（开标时间）", "Bid deadline (opening)"), when(t.get("deadline_ms"))),
        (label("投标有效期", "Bid validity"), f"{t.get('validity_days', '')} 天 days"),
        (label("招标文件哈希", "Document hash"),
         el("code", None, short_hex(t.get("doc_hash"), 64))),
    ]
    return facts(rows)


def _lots(t: dict[str, Any], open_for_bids: bool) -> Markup:
    heads = [label("标段", "Lot"), label("名称", "Name"), label("估算价", "Estimated price"),
             label("投标保证金（保函）", "Guarantee required"), label("状态", "Status")]
    if not open_for_bids:
        heads.append(label("开标时有效投标", "Bids named at opening"))
    rows = []
    for lot in t.get("lots") or []:
        if not isinstance(lot, dict):
            continue
        cells = [el("td", None, str(lot.get("lot", ""))), el("td", None, str(lot.get("name", ""))),
                 el("td", {"class": "num"}, yuan(lot.get("estimated_price_fen"))),
                 el("td", {"class": "num"}, yuan(lot.get("guarantee_fen"))),
                 el("td", None, named(LOT_STATES, lot.get("status")))]
        if not open_for_bids:
            cells.append(el("td", {"class": "num"}, str(lot.get("bids", ""))))
        rows.append(el("tr", None, cells))
    return el("table", {"class": "lots"},
              el("caption", None, label("标段", "Lots")),
              el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in heads])),
              el("tbody", None, rows))


def _qualifications(t: dict[str, Any]) -> Markup | None:
    quals = [q for q in t.get("qualifications") or [] if isinstance(q, dict)]
    if not quals:
        return None
    return el("p", None, label("资格要求：", "Required qualifications: "),
              "; ".join(f"{q.get('category', '')} ≥ {q.get('min_level', '')}" for q in quals))
