"""A tender's announced evaluation method, and the reward bonus it grants (DOMAIN.md step 7,
"Evaluation committees" and the credit paragraph's rewards).

The method is part of the tender record (``tender/<id>`` field ``method``), announced with
the tender (``tender.announce`` argument ``method``) or changed by an amendment that affects
bids (``tender.amend``)::

    {"formula": "lowest_price_ratio",
     "price_points": int,                               # the price criterion's maximum
     "criteria": [{"name": str, "max_points": int}],    # what members score on their sheets
     "bonus": {"max_points": int,                       # at most bonus_max_points (2)
               "points": {"good_standing": int, "quality_enterprise": int, "award": int}}}

The maxima — price, every criterion, the bonus — sum to ``score_total_points`` (100). The
price score is computed by the contract from the opened prices (``contracts.scoring``):
formula ``lowest_price_ratio`` takes the lowest valid price of the lot as the base price
and gives ``price_points × base ÷ price`` (DOMAIN.md's example, the only formula so far).
The bonus is computed by the contract too: for each reward kind the method names, the
bidder gets its points when it holds a record of that kind in force at the bid deadline,
written at or before the deadline, in the tender's kind and region; the sum is capped at
``bonus.max_points``. Members score only the named criteria.

A tender announced without a method gets ``default_method``: the whole 100 points on price
(the lowest valid price ranks first), no criteria, no bonus.
"""

from __future__ import annotations

import re
from typing import Any

from contracts import args
from contracts.credit import REWARD_KINDS, in_scope, record_in_force, records_of
from contracts.errors import E_BAD_ARGS, ContractError
from contracts.runtime import Call
from contracts.state import Overlay

E_METHOD = "E_METHOD"  # the evaluation method's maxima do not add up or break a bound

FORMULAS = ("lowest_price_ratio",)
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def default_method(total_points: int) -> dict[str, Any]:
    return {
        "formula": FORMULAS[0],
        "price_points": total_points,
        "criteria": [],
        "bonus": {"max_points": 0, "points": {}},
    }


def parse_method(call: Call, raw: Any) -> dict[str, Any]:
    """The normalised method, or ``E_BAD_ARGS`` (shape) / ``E_METHOD`` (numbers)."""
    total = int(call.param("score_total_points"))
    if raw is None:
        return default_method(total)
    if type(raw) is not dict or set(raw) != {"formula", "price_points", "criteria", "bonus"}:
        raise ContractError(E_BAD_ARGS, "method is {formula, price_points, criteria, bonus}")
    formula = args.text(raw, "formula", max_len=32)
    if formula not in FORMULAS:
        raise ContractError(E_BAD_ARGS, f"price formula must be one of {list(FORMULAS)}")
    price_points = args.integer(raw, "price_points", 0, total)
    criteria = _criteria(call, raw["criteria"], total)
    bonus = _bonus(call, raw["bonus"])
    used = price_points + sum(c["max_points"] for c in criteria) + bonus["max_points"]
    if used != total:
        raise ContractError(E_METHOD, f"the maxima sum to {used}, not {total}")
    return {"formula": formula, "price_points": price_points, "criteria": criteria, "bonus": bonus}


def _criteria(call: Call, raw: Any, total: int) -> list[dict[str, Any]]:
    limit = int(call.param("method_criteria_max"))
    if type(raw) is not list or len(raw) > limit:
        raise ContractError(E_BAD_ARGS, f"criteria must be an array of at most {limit}")
    out: list[dict[str, Any]] = []
    for item in raw:
        if type(item) is not dict or set(item) != {"name", "max_points"}:
            raise ContractError(E_BAD_ARGS, "a criterion is {name, max_points}")
        name = args.text(item, "name", max_len=32)
        if not _NAME.fullmatch(name) or any(c["name"] == name for c in out):
            raise ContractError(E_BAD_ARGS, f"criterion names are distinct [a-z0-9_]: {name!r}")
        out.append({"name": name, "max_points": args.integer(item, "max_points", 1, total)})
    return out


def _bonus(call: Call, raw: Any) -> dict[str, Any]:
    if type(raw) is not dict or set(raw) != {"max_points", "points"}:
        raise ContractError(E_BAD_ARGS, "bonus is {max_points, points}")
    cap = int(call.param("bonus_max_points"))
    max_points = args.integer(raw, "max_points", 0)
    if max_points > cap:
        raise ContractError(E_METHOD, f"reward bonus points are at most {cap}")
    points = raw["points"]
    if type(points) is not dict or not set(points) <= set(REWARD_KINDS):
        raise ContractError(E_BAD_ARGS, f"bonus points are given for {list(REWARD_KINDS)} only")
    checked = {kind: args.integer(points, kind, 0, max_points) for kind in sorted(points)}
    return {"max_points": max_points, "points": checked}


def scored_criteria(method: dict[str, Any]) -> dict[str, int]:
    """Criterion name → maximum: what a member's sheet holds."""
    return {c["name"]: int(c["max_points"]) for c in method["criteria"]}


def bonus_points(state: Overlay, method: dict[str, Any], uscc: str, tender: dict[str, Any]) -> int:
    """The reward bonus of a bidder, from the records in force at the tender's bid deadline
    (written by then, in the tender's kind and region), capped at the method's maximum."""
    bonus = method["bonus"]
    if bonus["max_points"] == 0:
        return 0
    deadline_ms = int(tender["deadline_ms"])
    held = {
        rec["kind"]
        for _, rec in records_of(state, uscc)
        if rec["kind"] in bonus["points"]
        and rec["recorded_ms"] <= deadline_ms
        and record_in_force(rec, deadline_ms)
        and in_scope(rec, tender["kind"], tender["region"])
    }
    return min(int(bonus["max_points"]), sum(int(bonus["points"][k]) for k in held))
