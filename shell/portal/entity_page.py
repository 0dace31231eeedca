"""An entity's page (主体信息): its attestation, any freeze, its qualifications and
performance, rewards (守信激励), sanctions in force and the rest of its credit history, and
the guarantees it holds — each record with its verify action, and all of them at one height
in one §9 bundle ("may this entity bid now" checked by the reader, offline).

Guarantees have no index by principal on chain: they are found by a bounded scan of
``guarantee/…``, and one whose tender still takes bids is not listed (that it exists names a
likely bidder; ``PortalReader.guarantee_listable``).
"""

from __future__ import annotations

from typing import Any

from contracts.credit import entity_index_key, record_in_force, record_key
from contracts.identity import entity_key, in_force
from contracts.keys import frozen
from contracts.supermarket import agency_key, suspended_by_ratings
from shell.portal.exposure import sanction_kinds
from shell.portal.layout import (
    Frame,
    facts,
    multi_proof,
    notice,
    page,
    page_url,
    section,
    state_proof,
    tender_link,
    verify_action,
)
from shell.portal.markup import Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.text import (
    CREDIT_KINDS,
    GUARANTEE_STATES,
    label,
    named,
    period,
    short_hex,
    when,
    yuan,
)

CREDIT_SHOWN_MAX = 200
GUARANTEE_SCAN_MAX = 5_000
GUARANTEES_SHOWN_MAX = 100
MULTI_KEYS_MAX = 64
REWARD_KINDS = ("good_standing", "quality_enterprise", "award")
ABILITY_KINDS = ("qualification", "performance")


def render_entity(reader: PortalReader, frame: Frame, uscc: str,
                  att: dict[str, Any] | None) -> str:
    frozen_key = frozen(uscc)
    freeze = reader.get(frozen_key)
    records = _credit(reader, uscc)
    now = reader.now_ms
    sanctions = sanction_kinds(reader)
    groups = (
        ("qualifications", label("资质与业绩", "Qualifications and performance"),
         [r for r in records if r[1].get("kind") in ABILITY_KINDS and record_in_force(r[1], now)]),
        ("rewards", label("守信激励", "Rewards"),
         [r for r in records if r[1].get("kind") in REWARD_KINDS and record_in_force(r[1], now)]),
        ("sanctions", label("生效中的惩戒", "Sanctions in force"),
         [r for r in records if r[1].get("kind") in sanctions and record_in_force(r[1], now)]),
        # in force, of a kind none of the above (a general breach): not with the ended ones
        # (user walk of 2026-12-03: one in force till next year was filed under "ended")
        ("other", label("其他生效中的信用记录", "Other records in force"),
         [r for r in records if record_in_force(r[1], now)
          and r[1].get("kind") not in (*ABILITY_KINDS, *REWARD_KINDS, *sanctions)]),
        ("history", label("已失效、已修复的信用记录", "Ended, repaired or expired records"),
         [r for r in records if not record_in_force(r[1], now)]),
    )
    # the index lists every credit record's id, so a record left out of the bundle (by a
    # dishonest node, or because it holds too many) shows against it
    head = [entity_key(uscc), frozen_key, entity_index_key(uscc)]
    proven = [record_key(rid) for rid, _ in records][-(MULTI_KEYS_MAX - len(head)):]
    keys = [*head, *proven]
    name = str(att.get("name", "")) if att else ""
    return page("主体信息", "Entity", frame,
                section("attestation", label("身份认证", "Attestation"),
                        _attestation(reader, uscc, att),
                        verify_action(state_proof(entity_key(uscc)), "the attestation")),
                section("freeze", label("冻结状态", "Freeze"),
                        notice("warn", label("该主体已被冻结：", "This entity is frozen: "),
                               str(freeze.get("reason", ""))) if isinstance(freeze, dict) else
                        el("p", None, label("未冻结。", "Not frozen.")),
                        verify_action(state_proof(frozen_key), "the freeze record")),
                [section(gid, heading, _records(group) if group else el(
                    "p", None, label("无。", "None."))) for gid, heading, group in groups],
                _supermarket(reader, uscc),
                section("guarantees", label("电子保函", "Guarantees"),
                        _guarantees(reader, uscc)),
                section("all-records",
                        label("同一高度核验全部记录", "All its records at one height"),
                        el("p", None, label(
                            "一次核验认证、冻结状态、信用记录索引（列出全部记录编号，"
                            "遗漏的记录可据此发现）与信用记录（§9 多键证明）。"
                            "能否投标某一标段，请用 credchain eligibility 离线复核。",
                            "Checks the attestation, the freeze record, the index of its "
                            "credit records (it lists every record's id, so one left out "
                            "shows) and the records, in one §9 bundle. Whether it may bid on "
                            "a tender: credchain eligibility, which re-applies the rule "
                            "offline.")),
                        el("p", None, label(
                            f"证明包含最新的 {len(proven)} 条（共 {len(records)} 条）。",
                            f"The bundle holds the newest {len(proven)} of its "
                            f"{len(records)} records.")) if len(proven) < len(records) else "",
                        verify_action(multi_proof(keys), "all its records")),
                subject=name or uscc)


def _supermarket(reader: PortalReader, uscc: str) -> Markup | str:
    """An agency's standing in the intermediary supermarket (中介服务超市), when the chain
    holds its record: cleared out (清退) by low ratings, until when and why, is public (user
    walk: only a supervisor's history showed it). A sanction in force suspends it too: that
    is in the sanctions above."""
    rec = reader.get(agency_key(uscc))
    if not isinstance(rec, dict):
        return ""
    end, reason = rec["suspended_to_ms"], str(rec["suspension_reason"])
    if suspended_by_ratings(rec, reader.now_ms):
        said: Markup = notice("warn", label(f"已清退至 {when(end)}：{reason}",
                                            f"Suspended until {when(end)}: {reason}"))
    else:
        said = el("p", None, label("未因评价被清退（生效中的惩戒亦会清退，见上）。",
                                   "Not suspended by its ratings (a sanction in force also "
                                   "suspends it: see above)."))
    return section("supermarket", label("中介服务超市", "Intermediary supermarket"), said,
                   verify_action(state_proof(agency_key(uscc)), "the agency record"))


def _attestation(reader: PortalReader, uscc: str, att: dict[str, Any] | None) -> Markup:
    if att is None:
        return el("p", None, label("链上没有该主体的认证记录。", "No attestation on the chain."))
    ok = in_force(att, reader.now_ms)
    return facts([
        (label("名称", "Name"), str(att.get("name", ""))),
        (label("统一社会信用代码", "USCC"), el("code", None, uscc)),
        (label("主体类型", "Type"), str(att.get("entity_type", ""))),
        (label("证书", "Certificate"),
         f"{att.get('cert_issuer', '')} {att.get('cert_serial', '')}"),
        (label("有效期", "Valid"), period(att.get("valid_from_ms"), att.get("valid_to_ms"))),
        (label("状态", "Status"), label("有效", "in force") if ok else el(
            "strong", None, label("无效（已撤销或过期）", "not in force (revoked or expired)"))),
        (label("认证机构密钥", "Attestor key"), el("code", None, short_hex(att.get("attestor")))),
        (label("绑定密钥数", "Keys bound"), str(len(att.get("keys") or []))),
    ])


def _credit(reader: PortalReader, uscc: str) -> list[tuple[str, dict[str, Any]]]:
    ids = reader.get(entity_index_key(uscc)) or []
    out = []
    for rid in list(ids)[-CREDIT_SHOWN_MAX:]:
        rec = reader.get(record_key(str(rid)))
        if isinstance(rec, dict):
            out.append((str(rid), rec))
    return out


def _records(group: list[tuple[str, dict[str, Any]]]) -> Markup:
    return el("div", {"class": "records"}, [credit_card(rid, rec) for rid, rec in group])


def credit_card(rid: str, rec: dict[str, Any]) -> Markup:
    """One credit record as a card with its verify action (also used by the exposure list)."""
    ended = []
    if rec.get("repaired_ms"):
        ended.append((label("信用修复", "Repaired"), when(rec["repaired_ms"])))
    if rec.get("ended_ms"):
        ended.append((label("终止", "Ended"),
                      f"{when(rec['ended_ms'])} {rec.get('end_reason', '')}"))
    level = f" · {rec.get('category', '')} {rec.get('level', '')}" if rec.get("category") else ""
    return el("article", {"class": "record"},
              el("h3", None, named(CREDIT_KINDS, rec.get("kind")), level),
              facts([
                  (label("文书编号", "Document"), str(rec.get("document_no", ""))),
                  (label("依据", "Basis"), str(rec.get("basis", ""))),
                  (label("适用范围", "Scope"),
                   f"{', '.join(map(str, rec.get('scope_kinds') or []))} / "
                   f"{', '.join(map(str, rec.get('scope_regions') or []))}"),
                  (label("有效期", "In force"), period(rec.get("from_ms"), rec.get("to_ms"))),
                  (label("记录编号", "Record id"), el("code", None, short_hex(rid, 16))),
                  *ended]),
              verify_action(state_proof(record_key(rid)), "the credit record"))


def _guarantees(reader: PortalReader, uscc: str) -> Markup:
    found: list[tuple[str, dict[str, Any]]] = []
    page_ = reader.scan("guarantee/", None, GUARANTEE_SCAN_MAX, GUARANTEE_SCAN_MAX)
    for key, g in page_.items:
        # Not even how many are left out is said: it would tell how many tenders it may bid on.
        if isinstance(g, dict) and g.get("principal") == uscc and reader.guarantee_listable(g):
            found.append((key[len("guarantee/"):], g))
    rows = [el("tr", None,
               el("th", {"scope": "row"}, el("a", {"href": page_url("/guarantee", number=n)}, n)),
               el("td", None, tender_link(str(g.get("tender_id", "")))),
               el("td", None, str(g.get("lot", ""))),
               el("td", {"class": "num"}, yuan(g.get("amount_fen"))),
               el("td", None, period(g.get("valid_from_ms"), g.get("valid_to_ms"))),
               el("td", None, named(GUARANTEE_STATES, reader.guarantee_status(g))))
            for n, g in found[:GUARANTEES_SHOWN_MAX]]
    note = [el("p", None, label(
        "投标截止前的项目的保函不在此列出。",
        "Guarantees for tenders still taking bids are not listed here."))]
    if page_.next_after is not None:
        note.append(notice("info", label(f"仅检索了前 {page_.scanned} 份保函。",
                                         f"Only the first {page_.scanned} guarantees were "
                                         "searched.")))
    table = el("table", {"class": "guarantees"},
               el("caption", None, label("作为被保证人的保函", "Guarantees it holds")),
               el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in (
                   label("保函编号", "Number"), label("项目", "Tender"), label("标段", "Lot"),
                   label("金额", "Amount"), label("有效期", "Valid"), label("状态", "Status"))])),
               el("tbody", None, rows)) if rows else el("p", None, label("无。", "None."))
    return join(table, *note)
