"""Guarantee verification by number (保函验真): is this electronic guarantee on the chain,
issued by a guarantor that holds the role and is not frozen, valid now, for how much, and
not released or claimed, and for a tender still deciding its lots — with one §9 bundle
proving the guarantee, the issuer's role, the absence of a freeze and the tender at one
height.

The public record does not change when a bid binds the guarantee (the binding is its own
record, sealed with the tender's bids: ``contracts/STATE_KEYS.md``), so the page shows the
record as it is, before a deadline as after.
"""

from __future__ import annotations

from typing import Any

from contracts.guarantee import guarantee_key
from contracts.keys import frozen, role
from contracts.tender_record import tender_key
from contracts.tender_rules import UNDECIDED_STATES
from shell.portal.layout import (
    Frame,
    entity_link,
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
from shell.portal.markup import Child, Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.text import (
    GUARANTEE_STATES,
    label,
    named,
    period,
    plain,
    short_hex,
    when,
    yuan,
)


def render_guarantee(reader: PortalReader, frame: Frame, number: str | None) -> str:
    body: list[Child] = [_form(number)]
    if number is not None and not number.strip():  # the form sent empty: say what it needs
        body.append(section("result", label("验真结果", "Result"), notice("warn", label(
            "请输入保函编号。", "Enter a guarantee number to check."))))
    elif number is not None:
        key = guarantee_key(number)
        g = reader.get(key)
        if not isinstance(g, dict):
            body.append(section("result", label("验真结果", "Result"), notice("warn", label(
                f"链上没有编号为 {number} 的保函。", f"No guarantee numbered {number} is on "
                "the chain.")), verify_action(state_proof(key), "the guarantee number")))
        else:
            body.append(_result(reader, number, key, g))
    return page("保函验真", "Guarantee check", frame, *body, current="/guarantee")


def _form(number: str | None) -> Markup:
    return el("form", {"class": "search", "method": "get", "action": page_url("/guarantee")},
              el("div", {"class": "field"},
                 el("label", {"for": "g-number"}, label("保函编号", "Guarantee number")),
                 el("input", {"id": "g-number", "name": "number", "required": True,
                              "maxlength": 64, "pattern": "[A-Za-z0-9._\\-]{1,64}",
                              "value": number or ""})),
              el("button", {"type": "submit"}, label("验真", "Check")))


def _result(reader: PortalReader, number: str, key: str, g: dict[str, Any]) -> Markup:
    issuer = g.get("issuer")
    issuer_hex = issuer.hex() if isinstance(issuer, bytes) else ""
    role_key, frozen_key = role("guarantor", issuer or b""), frozen(issuer_hex)
    whitelisted = reader.get(role_key) is not None
    issuer_frozen = reader.get(frozen_key) is not None
    now = reader.now_ms
    valid_now = g.get("valid_from_ms", 0) <= now < g.get("valid_to_ms", 0)
    status: Markup = named(GUARANTEE_STATES, reader.guarantee_status(g))
    claimed = g.get("status") == "claimed"
    released = g.get("status") == "released"
    t_key = tender_key(str(g.get("tender_id", "")))
    tender = reader.get(t_key)
    under_way = isinstance(tender, dict) and tender.get("state") in UNDECIDED_STATES
    checks = [
        (whitelisted, plain("开立机构持有保函机构角色", "the issuer holds the guarantor role")),
        (not issuer_frozen, plain("开立机构未被冻结", "the issuer is not frozen")),
        (valid_now, plain("当前在有效期内", "valid now")),
        (not released, plain("未被释放", "not released")),
        (not claimed, plain("未被索赔", "not claimed")),
        # a guarantee serves a tender still deciding its lots; once the tender has decided
        # (awarded, failed, archived) an unused one stands for nothing (verifier walk)
        # (said positively: "✗ not decided yet" read as a double negative, user walk)
        (under_way, plain("所担保项目仍在招标中", "its tender is still under way (no award, "
                                                "not failed or archived)")),
    ]
    claim = g.get("claim") if isinstance(g.get("claim"), dict) else {}
    rows = [
        (label("保函编号", "Number"), el("code", None, number)),
        (label("开立机构密钥", "Issuer key"), el("code", None, short_hex(issuer, 64))),
        (label("被保证人（投标人）", "Principal (bidder)"),
         entity_link(str(g.get("principal", "")))),
        (label("受益人（招标人）", "Beneficiary (tenderer)"),
         entity_link(str(g.get("beneficiary", "")))),
        (label("项目与标段", "Tender and lot"),
         join(tender_link(str(g.get("tender_id", ""))), f" · {g.get('lot', '')}")),
        (label("金额", "Amount"), yuan(g.get("amount_fen"))),
        (label("有效期", "Valid"), period(g.get("valid_from_ms"), g.get("valid_to_ms"))),
        (label("保函文件哈希", "File hash"), el("code", None, short_hex(g.get("file_hash"), 64))),
        (label("开立时间", "Issued"), when(g.get("issued_ms"))),
        (label("状态", "Status"), status),
    ]
    if released:
        rows.append((label("释放", "Released"),
                     f"{when(g.get('released_ms'))} · {g.get('release_reason', '')}"))
    if isinstance(tender, dict):
        rows.append((label("项目状态", "Tender state"), str(tender.get("state", ""))))
    if claim:
        rows.append((label("索赔", "Claim"),
                     f"{yuan(claim.get('amount_fen'))} · {claim.get('reason', '')} · "
                     f"{when(claim.get('at_ms'))}"))
    return section(
        "result", label("验真结果", "Result"),
        el("ul", {"class": "checks"}, [el("li", {"class": "ok" if ok else "bad"},
                                          ("✓ " if ok else "✗ ") + text) for ok, text in checks]),
        el("p", None, label("以上为节点所述；请用下方按钮在浏览器中核验。",
                            "This is what the node says; check it in your browser below.")),
        facts(rows),
        verify_action(state_proof(key), "the guarantee"),
        el("h3", None, label("保函、开立机构角色与冻结状态、所担保项目（同一高度）",
                             "The guarantee, the issuer's role and freeze, its tender, at one "
                             "height")),
        verify_action(multi_proof([key, role_key, frozen_key, t_key]),
                      "the guarantee with its issuer and tender"))
