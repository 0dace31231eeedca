"""What the portal says, Chinese first with English: labels, the names of kinds and states,
and how times (Beijing time) and amounts (yuan from fen) are written.

``label(zh, en)`` is the bilingual pair as markup (the English part marked ``lang="en"`` so a
screen reader switches voice); ``plain(zh, en)`` is the same pair as plain text, for
attributes and titles. Names of kinds and states fall back to the raw value when the chain
holds one this table does not know (a later contract may add kinds), so nothing is hidden.
"""

from __future__ import annotations

from ledger.verdict import beijing_time
from shell.portal.markup import Markup, el, join

TENDER_KINDS = {"works": ("工程", "works"), "goods": ("货物", "goods"),
                "services": ("服务", "services"), "land": ("土地", "land"),
                "mining": ("矿业权", "mining rights")}
TENDER_STATES = {
    "bidding": ("投标中", "open for bids"), "decrypting": ("开标解密中", "decrypting"),
    "opened": ("已开标", "opened"), "drawing": ("抽取评标专家", "drawing the committee"),
    "evaluating": ("评标中", "evaluating"), "reporting": ("评标报告签署中", "signing the report"),
    "evaluated": ("中标候选人公示", "candidates' publicity"), "awarded": ("已定标", "awarded"),
    "contracted": ("已签订合同", "contracted"), "failed": ("流标", "failed"),
    "archived": ("已归档", "archived"),
}
CREDIT_KINDS = {
    "qualification": ("资质", "qualification"), "performance": ("业绩", "performance"),
    "good_standing": ("守信记录", "good standing"),
    "quality_enterprise": ("优质企业", "quality enterprise"), "award": ("表彰奖励", "award"),
    "general_breach": ("一般失信", "general breach"),
    "serious_breach": ("严重失信", "serious breach"),
    "judgment_defaulter": ("失信被执行人", "judgment defaulter"),
    "bid_debarment": ("禁止投标", "bid debarment"),
    "gp_debarment": ("政府采购禁入", "procurement debarment"),
    "tax_violation": ("重大税收违法", "tax violation"),
}
OBJECTION_STAGES = {"documents": ("对招标文件", "to the documents"),
                    "opening": ("对开标", "to the opening"),
                    "candidates": ("对中标候选人", "to the candidates"),
                    "result": ("对结果", "to the result")}
OBJECTION_STATES = {"open": ("待答复", "awaiting reply"), "replied": ("已答复", "replied"),
                    "ruled": ("已裁决", "ruled")}
OPENING_BID_STATES = {"revealed": ("已解密", "decrypted"),
                      "decrypt_failed": ("解密失败", "decryption failed"),
                      "revoked": ("已撤回", "revoked"), "sealed": ("未解密", "never decrypted")}
GUARANTEE_STATES = {"issued": ("已开立", "issued"), "bound": ("已绑定投标", "bound to a bid"),
                    "released": ("已释放", "released"),
                    "claimed": ("已索赔", "claimed")}
LOT_STATES = {"bidding": ("投标中", "open for bids"), "failed": ("流标", "failed"),
              "decrypting": ("解密中", "decrypting"), "opened": ("已开标", "opened")}


def label(zh: str, en: str) -> Markup:
    """``zh`` then ``en`` (marked English), as markup."""
    return join(zh, " ", el("span", {"lang": "en", "class": "en"}, en))


def plain(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def named(table: dict[str, tuple[str, str]], value: object) -> Markup:
    """The bilingual name of a kind or state, or the raw value when the table lacks it."""
    pair = table.get(str(value))
    return label(*pair) if pair else join(str(value))


def when(time_ms: object) -> str:
    """A chain time (ms, UTC) in Beijing time; "—" for the 0 that means "not yet"."""
    if not isinstance(time_ms, int) or isinstance(time_ms, bool) or time_ms <= 0:
        return "—"
    return beijing_time(time_ms)


def period(start_ms: object, end_ms: object) -> str:
    """From one chain time to another, both in Beijing time."""
    return f"{when(start_ms)} — {when(end_ms)}"


def yuan(fen: object) -> str:
    """An amount in fen as yuan, ``1,234.56 元``; a price not revealed (-1) as "—"."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
        return "—"
    return f"{fen // 100:,}.{fen % 100:02d} 元"


def short_hex(data: object, n: int = 16) -> str:
    """The first ``n`` hex digits of a hash or key (the full value is in the record)."""
    if isinstance(data, (bytes, bytearray)):
        full = bytes(data).hex()
        return full if len(full) <= n else full[:n] + "…"
    return str(data)
