"""Totals and ranking of one lot's valid bids: the pure arithmetic of DOMAIN.md step 7, which
``contracts.evaluation`` runs when an evaluation closes and anyone can rerun.

All scores are integers in units of ``1/scale`` of a point, ``scale = 10^score_decimals``
(two decimals by default, as evaluation reports show them), each rounded half up once:

- price score = ``price_points × base ÷ price`` with ``base`` the lowest valid price of the
  lot (formula ``lowest_price_ratio``); a price of 0 fen is the lowest and scores the
  maximum;
- members' points: each member's sheet sum for the bid; with at least
  ``drop_extremes_min_members`` sheets, one highest and one lowest are dropped; the score is
  the mean of the rest;
- total = price score + reward bonus (``contracts.method.bonus_points``) + members' mean.

Ranking: total descending, ties by the lower price, then by USCC (a fixed order, so the
result never depends on the order in which sheets arrived); the candidates are the first
``candidates_max``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BidTotal:
    uscc: str
    price_fen: int
    price_score: int
    bonus: int
    mean: int
    total: int
    sheets: int

    def to_obj(self) -> dict[str, int | str]:
        return {
            "uscc": self.uscc,
            "price_fen": self.price_fen,
            "price_score": self.price_score,
            "bonus": self.bonus,
            "mean": self.mean,
            "total": self.total,
            "sheets": self.sheets,
        }


def round_half_up(num: int, den: int) -> int:
    """``num / den`` rounded half up (both non-negative, ``den`` positive)."""
    return (2 * num + den) // (2 * den)


def price_score(price_points: int, base_fen: int, price_fen: int, scale: int) -> int:
    if price_fen == 0:
        return price_points * scale
    return round_half_up(price_points * scale * base_fen, price_fen)


def members_mean(sums: Sequence[int], drop_min_members: int, scale: int) -> int:
    kept = sorted(sums)
    if len(kept) >= drop_min_members:
        kept = kept[1:-1]
    if not kept:
        return 0
    return round_half_up(sum(kept) * scale, len(kept))


def score_lot(
    price_points: int,
    bids: Sequence[tuple[str, int]],
    sums: Mapping[str, Sequence[int]],
    bonus: Mapping[str, int],
    drop_min_members: int,
    scale: int,
) -> list[BidTotal]:
    """Every valid bid's total, ranked. ``bids``: (USCC, price) of the lot's valid bids;
    ``sums``: each bid's members' sheet sums; ``bonus``: each bid's reward points."""
    if not bids:
        return []
    base = min(price for _, price in bids)
    totals = []
    for uscc, price in bids:
        p = price_score(price_points, base, price, scale)
        b = bonus.get(uscc, 0) * scale
        m = members_mean(sums.get(uscc, ()), drop_min_members, scale)
        totals.append(BidTotal(uscc, price, p, b, m, p + b + m, len(sums.get(uscc, ()))))
    return rank(totals)


def rank(totals: Sequence[BidTotal]) -> list[BidTotal]:
    return sorted(totals, key=lambda t: (-t.total, t.price_fen, t.uscc))
