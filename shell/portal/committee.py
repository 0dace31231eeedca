"""A tender's evaluation in its timeline (电子评标): each round's committee draw (the request
with its groups and the evaluation window; the seated members by expert code, who declined,
the beacon's seed), the contract's result computed from the members' score sheets (each
bid's price score, bonus, mean of the members' points, total, rank; the candidates), and the
report with the members' signatures — from ``draw/<tender>/<round>``,
``eval/<tender>/<round>/result`` and ``eval/<tender>/<round>/report`` (``contracts/
STATE_KEYS.md``), each with its verify action, and the draw's and closing transactions where
disclosure shows them. Scores are kept in 1/10^``score_decimals`` of a point and shown as
points. All of it comes after the bid deadline, when the bids are public.
"""

from __future__ import annotations

from typing import Any

from contracts.draw import draw_key
from shell.portal.layout import facts, state_proof
from shell.portal.markup import Markup, el, join
from shell.portal.reads import PortalReader
from shell.portal.steps import Names, Step, TenderTxs
from shell.portal.text import label, period, short_hex, yuan

ROUNDS_MAX = 16  # a tender redoes its evaluation a few times at most; the page shows these


def committee_steps(reader: PortalReader, tender_id: str, tender: dict[str, Any],
                    txs: TenderTxs, names: Names) -> list[Step]:
    steps: list[Step] = []
    decimals = int(reader.param("score_decimals"))
    rounds = min(int(tender.get("eval_round") or 0), ROUNDS_MAX)
    for rnd in range(1, rounds + 1):
        draw = reader.get(draw_key(tender_id, rnd))
        if isinstance(draw, dict):
            steps += _draw_steps(tender_id, rnd, draw, txs)
        result_key = f"eval/{tender_id}/{rnd}/result"
        result = reader.get(result_key)
        if isinstance(result, dict):
            steps.append(Step(
                int(result.get("closed_ms", 0)),
                label(f"评标结果（第 {rnd} 轮）", f"Evaluation result (round {rnd})"),
                join(facts([(label("结论", "Outcome"), _outcome(result.get("outcome"))),
                            (label("计入的成员", "Members counted"),
                             ", ".join(map(str, result.get("counted") or [])))]),
                     *[_ranking(lot, decimals, names) for lot in result.get("lots") or []]),
                [(state_proof(result_key), f"the result of round {rnd}"),
                 *txs.proof(txs.nth("evaluation.close", rnd), "closing the evaluation")]))
        report_key = f"eval/{tender_id}/{rnd}/report"
        report = reader.get(report_key)
        if isinstance(report, dict):
            members = len(draw.get("members") or []) if isinstance(draw, dict) else 0
            signed = report.get("signatures") or {}
            steps.append(Step(
                int(report.get("at_ms", 0)), label(f"评标报告（第 {rnd} 轮）",
                                                   f"Evaluation report (round {rnd})"),
                facts([(label("报告哈希", "Report hash"),
                        el("code", None, short_hex(report.get("report_hash"), 64))),
                       (label("签署", "Signed by"),
                        f"{len(signed)} / {members}: {', '.join(sorted(map(str, signed)))}")]),
                [(state_proof(report_key), f"the report of round {rnd}")]))
    return steps


def _draw_steps(tender_id: str, rnd: int, draw: dict[str, Any], txs: TenderTxs) -> list[Step]:
    key = draw_key(tender_id, rnd)
    groups = "; ".join(f"{g.get('specialty', '')} × {g.get('count', '')} "
                       f"(pool {g.get('pool_size', '')})" for g in draw.get("groups") or [])
    steps = [Step(
        int(draw.get("request_ms", 0)),
        label(f"申请抽取评标专家（第 {rnd} 轮）", f"Committee draw requested (round {rnd})"),
        facts([(label("人数", "Size"), str(draw.get("size", ""))),
               (label("专业与人数", "Specialties"), groups),
               (label("异地评标", "Cross-region"),
                label("是", "yes") if draw.get("cross_region") else label("否", "no")),
               (label("评标时间", "Evaluation"),
                period(draw.get("evaluation_start_ms"), draw.get("evaluation_end_ms")))]),
        [(state_proof(key), f"draw {rnd}"),
         *txs.proof(txs.nth("draw.request", rnd), "the draw request")])]
    if draw.get("seated_ms"):
        members = [_member(m) for m in draw.get("members") or [] if isinstance(m, dict)]
        declined = ", ".join(str(d.get("member", "")) for d in draw.get("declined") or [])
        steps.append(Step(
            int(draw["seated_ms"]),
            label(f"评标委员会组成（第 {rnd} 轮）", f"Committee seated (round {rnd})"),
            join(el("ul", {"class": "members"}, [el("li", None, m) for m in members]),
                 facts([(label("回避或谢绝", "Declined"), declined or "—"),
                        (label("随机种子", "Beacon seed"),
                         el("code", None, short_hex(draw.get("seed"), 64))),
                        (label("状态", "Status"), str(draw.get("status", "")))])),
            [(state_proof(key), f"the committee of round {rnd}"),
             *txs.proof(txs.nth("draw.seat", rnd), "seating the committee")]))
    return steps


def _member(m: dict[str, Any]) -> Markup:
    code = el("code", None, str(m.get("member", "")))
    if m.get("kind") == "representative":  # no pool, no region (user walk: "remote")
        return join(code, " · ", label("招标人代表", "tenderer's representative"))
    where = label("本地", "local") if m.get("local") else label("异地", "remote")
    return join(code, " · ", label("专家", "expert"), " · ", where)


def _outcome(value: object) -> Markup:
    if value == "decided":
        return label("已确定中标候选人", "candidates decided")
    if value == "redo":
        return label("未达多数，重新评标", "no majority: evaluated again")
    return join(str(value))


def _points(value: object, decimals: int) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "—"
    return f"{value / 10 ** decimals:.{decimals}f}"


def _ranking(lot: dict[str, Any], decimals: int, names: Names) -> Markup:
    candidates = set(map(str, lot.get("candidates") or []))
    rows = [el("tr", None,
               el("td", None, str(i)), el("td", None, names(str(r.get("uscc", "")))),
               el("td", {"class": "num"}, yuan(r.get("price_fen"))),
               *[el("td", {"class": "num"}, _points(r.get(f), decimals))
                 for f in ("price_score", "bonus", "mean", "total")],
               el("td", {"class": "num"}, str(r.get("sheets", ""))),
               el("td", None, label("候选人", "candidate")
                  if str(r.get("uscc")) in candidates else ""))
            for i, r in enumerate(lot.get("ranking") or [], start=1) if isinstance(r, dict)]
    heads = (label("名次", "Rank"), label("投标人", "Bidder"), label("报价", "Price"),
             label("价格分", "Price score"), label("加分", "Bonus"),
             label("专家评分均值", "Members' mean"), label("总分", "Total"),
             label("评分表", "Sheets"), label("结果", "Result"))
    return el("table", {"class": "ranking"},
              el("caption", None, label(f"标段 {lot.get('lot')}", f"Lot {lot.get('lot')}"), " ",
                 label("基准价", "base price"), " ", yuan(lot.get("base_price_fen"))),
              el("thead", None, el("tr", None, [el("th", {"scope": "col"}, h) for h in heads])),
              el("tbody", None, rows))
