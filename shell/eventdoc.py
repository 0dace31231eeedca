"""The event reference, generated from the code: ``shell/EVENTS.md``.

Every event type comes from the contracts' own source: each ``call.emit("type", field=...)``
in ``contracts/*.py`` is found by reading the syntax tree, with its field names and the
function it sits in; the contract calls that reach it (each call the node runs, from
``contracts.registry``) come from ``contracts.callwalk``, the walk that also writes the call
reference ``contracts/CALLS.md``, so the two references never disagree. The stream's
envelope, the cursor rules and the notices come from ``shell.eventkit``, ``shell.notices``
and this module's tables. Other engineers add contract calls and events all the time, so
nothing here is copied by hand: regenerate with ``python -m shell.eventdoc`` (a test fails
while the file is stale).

``TITLES`` gives each type a Chinese and an English title (what ``credchain watch`` prints);
a type without one is still documented, with its name as its title.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import shell.eventkit
import shell.events
import shell.notices
import shell.webhook

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
EVENTS_MD = Path(__file__).resolve().parent / "EVENTS.md"

TITLES: dict[str, tuple[str, str]] = {
    "gov.proposed": ("治理提案", "governance proposal"),
    "gov.voted": ("治理投票", "governance vote"),
    "gov.decided": ("提案表决结果", "proposal decided"),
    "gov.executed": ("提案已执行", "proposal executed"),
    "identity.attested": ("主体身份认证", "entity attested"),
    "identity.key_bound": ("绑定密钥", "key bound"),
    "identity.key_unbound": ("解绑密钥", "key unbound"),
    "identity.key_rotated": ("密钥轮换", "key rotated"),
    "identity.revoked": ("身份认证撤销", "attestation revoked"),
    "consent.granted": ("数据授权", "data consent granted"),
    "consent.revoked": ("撤销数据授权", "data consent revoked"),
    "credit.recorded": ("信用记录", "credit record"),
    "credit.repaired": ("信用修复", "credit repaired"),
    "credit.extended": ("信用记录延期", "credit record extended"),
    "credit.ended": ("信用记录终止", "credit record ended"),
    "tender.announced": ("招标公告", "tender announced"),
    "tender.amended": ("澄清或修改", "tender amended"),
    "tender.objection": ("异议", "objection"),
    "tender.replied": ("异议答复", "objection replied"),
    "tender.ruled": ("监管裁决", "supervisor's ruling"),
    "tender.suspended": ("项目暂停", "tender suspended"),
    "tender.resumed": ("项目恢复", "tender resumed"),
    "tender.collusion": ("认定串通投标", "collusion found"),
    "tender.evaluated": ("评标结果公示", "candidates published"),
    "tender.awarded": ("中标通知", "award notice"),
    "tender.contracted": ("合同签订", "contract recorded"),
    "tender.archived": ("项目归档", "tender archived"),
    "bid.sealed": ("投标已密封提交", "sealed bid submitted"),
    "bid.withdrawn": ("撤回投标", "bid withdrawn"),
    "bid.opened": ("开标", "bids opened"),
    "bid.lot_failed": ("流标", "lot failed"),
    "bid.revealed": ("解密成功", "bid decrypted"),
    "bid.decrypt_failed": ("解密失败", "decryption failed"),
    "bid.opening_record": ("开标记录公布", "opening record published"),
    "bid.revoked": ("撤销投标", "bid revoked"),
    "bid.candidate_revoked": ("候选人撤销投标", "candidate revoked its bid"),
    "bid.enrolled": ("投标人登记投标密钥", "bidder enrolled its bid secret"),
    "guarantee.issued": ("电子保函开立", "guarantee issued"),
    "guarantee.released": ("保函释放", "guarantee released"),
    "guarantee.claimed": ("保函索赔", "guarantee claimed"),
    # the expert draw, remote evaluation and the supermarket
    "beacon.requested": ("随机数请求", "randomness requested"),
    "beacon.committed": ("随机数承诺", "randomness committed"),
    "beacon.revealed": ("随机数揭示", "randomness revealed"),
    "beacon.settled": ("随机数确定", "randomness settled"),
    "draw.requested": ("专家抽取申请", "expert draw requested"),
    "draw.seated": ("评标委员会组成", "committee seated"),
    "draw.declined": ("专家回避或拒绝", "expert declined"),
    "evaluation.scored": ("评分提交", "score sheet submitted"),
    "evaluation.closed": ("评标结束", "evaluation closed"),
    "evaluation.signed": ("评标报告签署", "report signed"),
    "evaluation.report": ("评标报告", "evaluation report"),
    "expert.registered": ("专家入库", "expert registered"),
    "expert.updated": ("专家信息变更", "expert updated"),
    "expert.declared": ("专家利害关系申报", "expert declared a relation"),
    "market.item_added": ("中介服务事项新增", "service item added"),
    "market.item_updated": ("中介服务事项变更", "service item updated"),
    "market.registered": ("中介机构入驻", "agency registered"),
    "market.requested": ("中介服务采购需求", "selection requested"),
    "market.responded": ("中介机构响应", "agency responded"),
    "market.selected": ("中介机构选定", "agency selected"),
    "market.lapsed": ("中选逾期未确认", "selection lapsed: not confirmed in time"),
    "market.confirmed": ("中选确认", "selection confirmed"),
    "market.failed": ("中介选取失败", "selection failed"),
    "market.contracted": ("中介服务合同", "service contract recorded"),
    "market.rated": ("服务评价", "service rated"),
    "market.cancelled": ("需求取消", "selection cancelled"),
    shell.notices.DEADLINE_SOON: ("投标截止(开标)提醒", "deadline (opening) soon"),
    shell.notices.DEADLINE_PASSED: ("投标截止，开标时间已到", "deadline passed: opening time"),
    shell.notices.OBJECTION: ("收到异议，请在答复期内答复", "objection filed: the tender's side "
                                                    "replies in its period"),
}

ENVELOPE: tuple[tuple[str, str, str], ...] = (
    # (field, in, meaning)
    ("cursor", "all", "the item's position (below); the SSE `id`"),
    ("type", "all", "the event type (below) or `notice.*`"),
    ("source", "all", "`chain` (from a receipt) or `derived` (a notice)"),
    ("height", "all", "the block the item belongs to"),
    ("time_ms", "all", "that block's time (Unix ms; shown in Beijing time)"),
    ("tender_id", "all", "the tender it concerns, or null"),
    ("regions", "all", "the tender's region (a credit record: its scope regions)"),
    ("kinds", "all", "the tender's kind (a credit record: its scope kinds)"),
    ("entities", "all", "USCCs it concerns: in the event, the tender's tenderer and agent, "
                        "a guarantee's principal and beneficiary"),
    ("tx_id", "chain", "the transaction; `GET /txs/{tx_id}/inclusion` is its §8 bundle"),
    ("call", "chain", "the transaction's contract call"),
    ("event_index", "chain", "the event's index in the receipt's `events`"),
    ("event", "chain", "the receipt's event exactly (tagged JSON: bytes as {\"$bin\": hex})"),
    ("deadline_ms", "deadline notices", "the deadline in force after block height − 1"),
    ("before_ms", "deadline notices", "how long before the deadline the reminder is (0: it "
                                      "passed)"),
    ("threshold_ms", "deadline notices", "deadline_ms − before_ms: crossed in this block"),
    ("n", "notice.objection", "the objection's number (which `tender.reply` names)"),
    ("stage", "notice.objection", "`documents`, `opening`, `candidates` or `result`"),
    ("proof", "derived", "the state key and the heights whose §7 bundles prove it (a "
                         "deadline notice: two; an objection: one)"),
)


@dataclass
class EventType:
    type: str
    fields: set[str] = field(default_factory=set)
    dynamic_fields: bool = False
    sites: set[str] = field(default_factory=set)  # module.function
    calls: set[str] = field(default_factory=set)  # contract calls that reach it


def scan(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, EventType]:
    """Every event type the contracts' source emits (and where), with the registered calls
    that reach it and its fields as ``contracts.callwalk`` reads them (the same walk that
    writes ``contracts/CALLS.md``)."""
    from contracts.callwalk import walk
    from contracts.registry import CONTRACTS

    types: dict[str, EventType] = {}
    for path in sorted(contracts_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                for type_, fields, dynamic in _emits(node):
                    t = types.setdefault(type_, EventType(type_))
                    t.fields |= fields
                    t.dynamic_fields |= dynamic
                    t.sites.add(f"{path.stem}.{node.name}")
    for contract in CONTRACTS:
        for method, handler in contract.methods.items():
            for type_, attrs in walk(handler).events.items():
                t = types.setdefault(type_, EventType(type_))
                t.calls.add(f"{contract.name}.{method}")
                t.fields |= set(attrs)
    return dict(sorted(types.items()))


def _emits(node: ast.FunctionDef) -> list[tuple[str, set[str], bool]]:
    """``call.emit("type", field=...)`` in a function: type, field names, and whether some
    fields are given with ``**``."""
    out = []
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                and sub.func.attr == "emit" and sub.args
                and isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, str)):
            out.append((sub.args[0].value, {k.arg for k in sub.keywords if k.arg is not None},
                        any(k.arg is None for k in sub.keywords)))
    return out


def _call_link(call: str) -> str:
    """A link to the call's entry in the call reference (GitHub's heading anchors)."""
    return f"[`{call}`](../contracts/CALLS.md#{call.replace('.', '')})"


def render(types: dict[str, EventType]) -> str:
    lines = [
        "# Events and notices (reference)",
        "",
        "GENERATED by `python -m shell.eventdoc` from the contracts' `call.emit(...)`, the",
        "walk behind the call reference (`contracts/callwalk.py`) and the stream's code: do",
        "not edit by hand (a test fails while this file is stale). Each call, with its",
        "arguments, codes and events: `contracts/CALLS.md`; state keys:",
        "`contracts/STATE_KEYS.md`.",
        "",
        "Read them with `GET /events/stream` (Server-Sent Events), `GET /events` (pages) and",
        "`GET /events/{cursor}` (one item with its proof), or `credchain watch`.",
        "",
        "## Every item",
        "",
        "| field | in | meaning |",
        "|---|---|---|",
        *(f"| `{name}` | {where} | {text} |" for name, where, text in ENVELOPE),
        "",
        "## Cursors",
        "",
        *_docstring_section(shell.eventkit.__doc__ or "", "Cursor texts", "``Filter``"),
        "## Chain events",
        "",
        "Fields are the receipt event's (besides `type`). *Reached from*: the registered calls",
        "whose handler emits the event, directly or through the functions it calls.",
        "",
        "| type | 中文 | English | fields | reached from | emitted in |",
        "|---|---|---|---|---|---|",
    ]
    for t in types.values():
        zh, en = TITLES.get(t.type, ("—", "—"))
        fields = ", ".join(f"`{f}`" for f in sorted(t.fields)) or "—"
        if t.dynamic_fields:
            fields += " (and fields given with `**`)"
        calls = ", ".join(_call_link(c) for c in sorted(t.calls)) or "—"
        sites = ", ".join(f"`{s}`" for s in sorted(t.sites))
        lines.append(f"| `{t.type}` | {zh} | {en} | {fields} | {calls} | {sites} |")
    lines += ["", "## Derived notices", "",
              "| type | 中文 | English |", "|---|---|---|"]
    for n in (*shell.notices.NOTICE_TYPES, shell.notices.OBJECTION):
        zh, en = TITLES[n]
        lines.append(f"| `{n}` | {zh} | {en} |")
    lines += ["", *_docstring_section(shell.notices.__doc__ or "", "The rule", "Memory:"),
              "## Sealed bids", "",
              *_docstring_section(shell.events.__doc__ or "", "1. *The public lane.*", None),
              "## Webhooks (`credchain watch --post`)", "",
              *_docstring_section(shell.webhook.__doc__ or "", "Each stream item", None)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _docstring_section(doc: str, start: str, stop: str | None) -> list[str]:
    """The lines of a module docstring from the one starting with ``start`` to the one
    starting with ``stop`` (or the end)."""
    lines = doc.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    last = next((i for i, line in enumerate(lines) if i > first and stop is not None
                 and line.strip().startswith(stop)), len(lines))
    out = [line.rstrip() for line in lines[first:last]]
    while out and not out[-1]:
        out.pop()
    return ["```text", *out, "```", ""]


def main() -> int:
    EVENTS_MD.write_text(render(scan()), encoding="utf-8")
    print(f"wrote {EVENTS_MD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
