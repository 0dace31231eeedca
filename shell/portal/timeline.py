"""A tender's timeline (项目进程), Beijing time: announcement, amendments, objections and
their replies and rulings, suspensions, the bid deadline, opening and the opening record,
the committee and its scores once public, candidates' publicity with its end, the award
notice, the contract, collusion findings, archive.

Each step comes from a state record (the tender, ``tender/<id>/objection/<n>``,
``objector/<id>/<n>``, ``tender/<id>/opening``, ``tender/<id>/collusion/<uscc>``; the
committee's records are read by ``shell.portal.committee``) and, where state keeps no time
or to prove who did it, from the tender's indexed transactions
(``shell.portal.steps.TenderTxs``: a transaction is shown only where
``contracts.disclosure`` allows). Every step carries the verify actions of what it shows.
Before the deadline no step says anything about bids, the deadline step says so, and an
objection's step does not name who made it (a documents objector is likely a bidder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.objections import objector_key
from contracts.tender_rules import load_periods
from shell.portal.committee import committee_steps
from shell.portal.layout import Proof, facts, notice, state_proof
from shell.portal.markup import Child, Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.steps import Names, Step, TenderTxs
from shell.portal.text import (
    OBJECTION_STAGES,
    OBJECTION_STATES,
    OPENING_BID_STATES,
    label,
    named,
    short_hex,
    when,
    yuan,
)


def tender_steps(reader: PortalReader, tender_id: str, tender: dict[str, Any],
                 subs: dict[str, Any], txs: TenderTxs, names: Names) -> list[Step]:
    """Every step of the tender so far, in time order, then what is still to come."""
    key = f"tender/{tender_id}"
    steps = [Step(tender.get("announced_ms", 0), label("招标公告发布", "Tender announced"),
                  facts([(label("文件发售", "Documents on sale"),
                          f"{when(tender.get('issue_start_ms'))} — "
                          f"{when(tender.get('doc_sale_end_ms'))}"),
                         (label("投标截止", "Bid deadline"), when(tender.get("deadline_ms")))]),
                  txs.proof(txs.first("tender.announce"), "the announcement transaction"))]
    for i, amendment in enumerate(tender.get("amendments") or [], start=1):
        steps.append(Step(
            amendment.get("at_ms", 0), label(f"澄清或修改 {i}", f"Amendment {i}"),
            facts([(label("新文件哈希", "New document hash"),
                    el("code", None, short_hex(amendment.get("doc_hash"), 64))),
                   (label("影响投标", "Affects bids"),
                    label("是", "yes") if amendment.get("affects_bids") else label("否", "no")),
                   (label("修改后的截止时间", "Deadline after it"),
                    when(amendment.get("deadline_ms")))]),
            txs.proof(txs.nth("tender.amend", i), f"amendment {i}")))
    steps += _objection_steps(reader, tender_id, subs, txs, names)
    for call, zh, en in (("tender.suspend", "项目暂停", "Suspended by a supervisor"),
                         ("tender.resume", "项目恢复", "Resumed")):
        steps += [Step(e.time_ms, label(zh, en), join(), txs.proof(e, en))
                  for e in txs.shown(call)]
    steps.append(_deadline_step(reader, tender_id, tender))
    if reader.deadline_passed(tender_id):
        steps += _opening_steps(tender_id, tender, subs, txs, names)
        steps += committee_steps(reader, tender_id, tender, txs, names)
        steps += _award_steps(reader, key, tender, txs, names)
        steps += _collusion_steps(tender_id, subs, names)
    if tender.get("archived_ms"):
        steps.append(Step(tender["archived_ms"], label("项目归档", "Archived"),
                          el("p", None, label("归档后不再接受任何变更。",
                                              "Archived: no further change is accepted.")),
                          txs.proof(txs.first("tender.archive"), "the archive transaction")))
    done = sorted((s for s in steps if not s.upcoming), key=lambda s: s.at_ms)
    return done + [s for s in steps if s.upcoming]


def _objection_steps(reader: PortalReader, tender_id: str, subs: dict[str, Any],
                     txs: TenderTxs, names: Names) -> list[Step]:
    steps = []
    prefix = f"tender/{tender_id}/objection/"
    numbered = sorted((int(k[len(prefix):]), k, v) for k, v in subs.items()
                      if k.startswith(prefix) and k[len(prefix):].isdigit())
    for n, key, obj in numbered:
        objector, objector_proof = _objector(reader, tender_id, n, names)
        steps.append(Step(
            obj.get("at_ms", 0),
            join(label(f"异议 {n}", f"Objection {n}"), " ", named(OBJECTION_STAGES,
                                                                  obj.get("stage"))),
            facts([(label("异议人", "Objector"), objector),
                   (label("异议理由哈希", "Reason hash"),
                    el("code", None, short_hex(obj.get("reason_hash"), 64))),
                   (label("状态", "Status"), named(OBJECTION_STATES, obj.get("status")))]),
            [(state_proof(key), f"objection {n}"), *objector_proof,
             *txs.proof(txs.nth("tender.object", n), f"objection {n} sent")]))
        reply = txs.first("tender.reply", n=n)
        if obj.get("reply_hash"):
            steps.append(Step(
                txs.time_of(reply, obj.get("at_ms", 0)),
                label(f"答复异议 {n}", f"Reply to objection {n}"),
                facts([(label("答复哈希", "Reply hash"),
                        el("code", None, short_hex(obj.get("reply_hash"), 64)))]),
                [(state_proof(key), f"objection {n} as replied"),
                 *txs.proof(reply, f"reply to objection {n}")]))
        if obj.get("ruling"):
            ruled = txs.first("tender.rule", n=n)
            steps.append(Step(
                txs.time_of(ruled, obj.get("at_ms", 0)),
                label(f"监督部门裁决异议 {n}", f"Ruling on objection {n}"),
                el("p", None, str(obj["ruling"])), txs.proof(ruled, f"ruling on objection {n}")))
    return steps


def _objector(reader: PortalReader, tender_id: str, n: int,
              names: Names) -> tuple[Markup, list[tuple[Proof, str]]]:
    """Who made objection ``n`` and the proof of it; before the deadline only that it is
    sealed: a documents objector is likely a bidder (``contracts.disclosure``)."""
    key = objector_key(tender_id, n)
    if reader.sealed(key):
        return label("投标截止后公开", "Made public at the bid deadline"), []
    record = reader.get(key)
    uscc = record.get("uscc") if isinstance(record, dict) else None
    if not isinstance(uscc, str):
        return names(""), []
    return names(uscc), [(state_proof(key), f"who made objection {n}")]


def _deadline_step(reader: PortalReader, tender_id: str, tender: dict[str, Any]) -> Step:
    deadline = tender.get("deadline_ms", 0)
    if reader.deadline_passed(tender_id):
        return Step(deadline, label("投标截止（开标时间）", "Bid deadline (opening time)"),
                    el("p", None, label("投标截止，此后不再接受投标。",
                                        "Bids closed; none is accepted after this.")))
    return Step(deadline, label("投标截止（开标时间）", "Bid deadline (opening time)"),
                notice("sealed", label(
                    "投标截止前，投标情况一律保密：本页不显示任何投标信息，包括是否有人投标及投标数量。",
                    "Until the deadline bids are sealed: this page shows nothing about them, "
                    "not even whether anyone has bid or how many.")),
                upcoming=True)


def _opening_steps(tender_id: str, tender: dict[str, Any], subs: dict[str, Any],
                   txs: TenderTxs, names: Names) -> list[Step]:
    steps = []
    if tender.get("opened_ms"):
        # the bid.open block's time: the record's opened_ms is when the opening record was
        # published (closing the window; the 30 minutes for objections at opening run from it)
        opened = txs.first("bid.open")
        steps.append(Step(txs.time_of(opened, tender["opened_ms"]), label("开标", "Opening"),
                          facts([(label("解密截止", "Decryption window ends"),
                                  when(tender.get("window_end_ms")))]),
                          txs.proof(opened, "the opening transaction")))
    failed = [lot for lot in tender.get("lots") or [] if lot.get("status") == "failed"]
    opening = subs.get(f"tender/{tender_id}/opening")
    if isinstance(opening, dict):
        tables = [_opening_table(lot, names) for lot in opening.get("lots") or []]
        steps.append(Step(opening.get("closed_ms", 0), label("开标记录", "Opening record"),
                          join(*tables),
                          [(state_proof(f"tender/{tender_id}/opening"), "the opening record"),
                           *txs.proof(txs.first("bid.close"), "closing the decryption window")]))
    elif failed and not tender.get("opened_ms"):
        steps.append(Step(tender.get("deadline_ms", 0), label("流标", "Failed"), el(
            "p", None, label("有效投标不足三家，项目流标。",
                             "Fewer than 3 bids: the tender failed."))))
    return steps


def _opening_table(lot: dict[str, Any], names: Names) -> Markup:
    rows = [el("tr", None, el("td", None, names(str(b.get("uscc", "")))),
               el("td", {"class": "num"}, yuan(b.get("price_fen"))),
               el("td", None, named(OPENING_BID_STATES, b.get("status"))),
               el("td", None, el("code", None, short_hex(b.get("commitment")))))
            for b in lot.get("bids") or []]
    return el("table", {"class": "opening"},
              el("caption", None, label(f"标段 {lot.get('lot')}", f"Lot {lot.get('lot')}"), " ",
                 str(lot.get("status", ""))),
              el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in (
                  label("投标人", "Bidder"), label("投标报价", "Price"), label("状态", "Status"),
                  label("承诺值", "Commitment"))])),
              el("tbody", None, rows))


def _award_steps(reader: PortalReader, key: str, tender: dict[str, Any], txs: TenderTxs,
                 names: Names) -> list[Step]:
    steps = []
    lots = [lot for lot in tender.get("lots") or [] if isinstance(lot, dict)]
    start = tender.get("publicity_start_ms", 0)
    if start:
        periods = load_periods(str(tender.get("rules")), reader.param)
        end = periods.period_end(start, periods.publicity_min_days)
        steps.append(Step(start, label("中标候选人公示", "Candidates' publicity"), join(
            facts([(label("公示期", "Publicity"), f"{when(start)} — {when(end)}"),
                   (label("状态", "Status"),
                    label("公示中", "running") if reader.now_ms < end else label("已结束",
                                                                              "ended"))]),
            *[_ranked(lot, "candidates", names) for lot in lots]),
            [(state_proof(key), "the tender record")]))
    if tender.get("award_ms"):
        steps.append(Step(tender["award_ms"], label("中标结果公告", "Award notice"),
                          join(*[_ranked(lot, "winner", names) for lot in lots]),
                          [(state_proof(key), "the tender record"),
                           *txs.proof(txs.first("tender.award"), "the award transaction")]))
    if tender.get("contract_hash"):
        entry = txs.first("tender.record_contract")
        steps.append(Step(txs.time_of(entry, tender.get("award_ms", 0)),
                          label("合同签订", "Contract recorded"),
                          facts([(label("合同哈希", "Contract hash"),
                                  el("code", None, short_hex(tender["contract_hash"], 64)))]),
                          [(state_proof(key), "the tender record"),
                           *txs.proof(entry, "the contract transaction")]))
    return steps


def _ranked(lot: dict[str, Any], field_name: str, names: Names) -> Markup:
    value = lot.get(field_name)
    people = value if isinstance(value, list) else ([value] if value else [])
    items: list[Child] = [el("li", None, names(str(u))) for u in people]
    return el("div", {"class": "lot-result"},
              el("h4", None, label(f"标段 {lot.get('lot')}", f"Lot {lot.get('lot')}"), " ",
                 str(lot.get("name", ""))),
              el("ol", None, items) if items else el("p", None, "—"))


def _collusion_steps(tender_id: str, subs: dict[str, Any], names: Names) -> list[Step]:
    prefix = f"tender/{tender_id}/collusion/"
    return [Step(v.get("at_ms", 0), label("认定串通投标", "Collusion found"),
                 facts([(label("主体", "Entity"), names(k[len(prefix):])),
                        (label("证据哈希", "Evidence hash"),
                         el("code", None, short_hex(v.get("evidence_hash"), 64)))]),
                 [(state_proof(k), "the collusion finding")])
            for k, v in sorted(subs.items()) if k.startswith(prefix) and isinstance(v, dict)]


def render_steps(steps: list[Step], verify: Callable[[Proof, str], Markup]) -> Markup:
    return el("ol", {"class": "timeline"}, [
        el("li", {"class": "step upcoming" if s.upcoming else "step"},
           el("h3", None, el("time", None, when(s.at_ms)), " ", s.title),
           s.body, [verify(p, what) for p, what in s.proofs])
        for s in steps])

