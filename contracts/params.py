"""Every chain parameter, with its default and its type: the numbers of DOMAIN.md.

Contracts read parameters from state (``param/<name>``, see ``runtime.param``), never from
this table: the table only seeds genesis and says which names a governance vote may set
and what values they take. Names carry their unit (``_ms``, ``_days``, ``_months``,
``_pct``, ``_fen``). A value has the type of its default (int or text); an int must lie in
its bounds (``BOUNDS``, default ``[0, 2^63-1]``).
"""

from __future__ import annotations

import functools

from contracts.errors import E_BAD_ARGS, ContractError
from contracts.periods import DAY_MS
from ledger.limits import LEADER_MEMORY_MAX

MAX_PARAM_INT = (1 << 63) - 1
MAX_PARAM_TEXT = 512

DEFAULTS: dict[str, int | str] = {
    # --- governance ---
    # votes needed = ceil(committee size × pct / 100): 67 is a two-thirds supermajority
    "gov_threshold_pct": 67,
    "gov_proposal_ttl_ms": 7 * DAY_MS,
    # the validator set never shrinks below this (4 tolerates one byzantine validator)
    "min_validators": 4,
    # --- consensus ---
    # a validator that failed to lead within this many heights leads last (consensus.quorum):
    # a crashed node costs one view change per this many heights, not one every n heights
    # (100 cost a view timeout every ~20 s under load, benchmarks/RESULTS.md); 0: plain
    # rotation. A chain parameter, so every validator picks the same leaders.
    "leader_memory_heights": 1000,
    # an idle chain's heartbeat: with nothing to propose, a leader proposes an empty block
    # after this long at a height, and every validator expects one then (a leader silent
    # past it is timed out). A chain parameter, so that no validator times out a leader for
    # keeping a longer heartbeat than its own. 0: each validator's own [replica]
    # empty_block_ticks (the chains of the simulator and in-process tests; `credchain
    # network init` writes a value). A vote may not set 0 (``GENESIS_ONLY``), nor less than
    # HEARTBEAT_MIN_MS (an idle chain would write a block every tick).
    "heartbeat_ms": 0,
    # --- identity and consent ---
    "keys_per_entity_max": 16,
    "attestation_max_days": 1830,  # five years: the longest validity an attestor may give
    "consent_max_days": 1830,
    # --- credit (资信共享, 联合惩戒): display / sanction bounds, DOMAIN.md ---
    "general_breach_min_months": 3,
    "general_breach_max_months": 12,
    "serious_breach_min_months": 6,
    "serious_breach_max_months": 36,
    "bid_debarment_min_months": 12,
    "bid_debarment_max_months": 36,
    # a judgment-defaulter record runs exactly this long when written (2 years); its issuer
    # may extend it by min..max months (1–3 years), counted from its current end
    "judgment_defaulter_months": 24,
    "judgment_defaulter_extension_min_months": 12,
    "judgment_defaulter_extension_max_months": 36,
    # record kinds that stop an entity from bidding while in force in scope
    "debarring_kinds": "bid_debarment,gp_debarment,serious_breach,judgment_defaulter,tax_violation",
    "credit_records_per_entity_max": 256,
    # --- trading parameters (tender, bid, guarantee) ---
    # (contracts-trading adds its parameters below this line)
    # rule-set periods in days: contracts/tender_rules.py gives the source of each number
    "bl_bid_min_days": 20,
    "bl_doc_sale_min_days": 5,
    "bl_amend_min_days": 15,
    "bl_doc_objection_before_days": 10,
    "bl_doc_objection_days": 0,  # 0: no limit from the issue start (only the 10 days before)
    "bl_reply_days": 3,
    "bl_publicity_min_days": 3,
    "bl_result_objection_days": 10,
    "bl_contract_days": 30,
    "gp_bid_min_days": 20,
    "gp_doc_sale_min_days": 5,  # 5 working days in 87号令 §18, modelled as calendar days
    "gp_amend_min_days": 15,
    "gp_doc_objection_before_days": 0,
    "gp_doc_objection_days": 7,  # 7 working days (政府采购法 §52), as calendar days
    "gp_reply_days": 7,
    "gp_publicity_min_days": 1,
    "gp_result_objection_days": 7,
    "gp_contract_days": 30,
    "opening_objection_ms": 30 * 60_000,
    "decrypt_window_ms": 30 * 60_000,
    "tender_kinds": "works,goods,services,land,mining",
    "tender_lots_max": 32,
    "tender_amendments_max": 32,
    "tender_objections_max": 64,
    "bid_validity_max_days": 365,
    "bid_min_count": 3,
    "bid_versions_max": 16,
    "bids_per_lot_max": 200,
    "committee_min_size": 5,
    "candidates_max": 3,
    # a guarantee is at most 2% (200 basis points) of the lot's estimated price, and at most
    # 800,000 yuan for works and goods (招标投标法实施条例 §26; 工程建设项目施工招标投标办法 §37)
    "guarantee_max_bp": 200,
    "guarantee_cap_fen": 80_000_000,
    "guarantee_cap_kinds": "works,goods",
    # demonstration chains only: a "day" of the trading periods is this many ms from the
    # event (0, the default, counts real Beijing calendar days); see contracts/tender_rules.py
    "demo_day_ms": 0,
    # --- end of trading parameters ---
    # --- evaluation committees, expert draw, score sheets (DOMAIN.md step 7) ---
    "committee_max_size": 25,
    # experts (technical and economic) are at least num/den of the committee
    "committee_expert_min_num": 2,
    "committee_expert_min_den": 3,
    # a cross-region tender draws at least num/den of its experts from other regions' pools
    "cross_region_min_num": 1,
    "cross_region_min_den": 3,
    # the draw comes no more than this many days before the evaluation starts
    "draw_lead_max_days": 2,
    # DOMAIN.md sets no bound: this keeps a stalled evaluation from holding a tender forever
    "evaluation_max_days": 10,
    "draw_groups_max": 8,
    "expert_specialties_max": 8,
    "expert_relations_max": 32,
    # the validators' beacon (contracts/beacon.py): a window closes once BOTH its blocks
    # (several leaders take turns: no leader can keep a reveal out) AND its time (a flood of
    # blocks can't shorten it) have passed, or early once every validator has acted
    "beacon_commit_blocks": 8,
    "beacon_commit_ms": 30_000,
    "beacon_reveal_blocks": 8,
    "beacon_reveal_ms": 30_000,
    "beacon_open_max": 256,
    # score sheets: criteria maxima sum to this; rewards add at most bonus_max_points
    "score_total_points": 100,
    "bonus_max_points": 2,
    # totals are kept in 1/10^score_decimals of a point, rounded half up (保留两位小数)
    "score_decimals": 2,
    # with at least this many members scoring, one highest and one lowest are dropped per bid
    "drop_extremes_min_members": 7,
    "method_criteria_max": 16,
    # --- credit rewards and exposure ---
    "quality_enterprise_months": 12,
    # sanction records: public while in force (曝光), and they clear agencies out
    "sanction_kinds": "serious_breach,judgment_defaulter,bid_debarment,gp_debarment,tax_violation",
    # --- intermediary services supermarket (网上中介服务超市) ---
    "market_direct_max_fen": 10_000_000,  # direct selection: budget at most 100,000 yuan
    "market_response_min_days": 3,
    "market_confirm_days": 2,
    "market_rating_max": 5,  # ratings are 1..market_rating_max
    "market_low_rating_max": 2,  # a rating at or below this is a low rating
    "market_low_ratings_count": 3,  # this many low ratings ...
    "market_low_ratings_months": 12,  # ... within this many months suspend the agency ...
    "market_suspension_months": 12,  # ... for this many months (so does a sanction in force)
    "market_responses_max": 200,
    "market_required_max": 8,  # qualifications an item may require
    # quality_price ranks an agency with no rating in the last 12 months at this rating
    "market_unrated_rating": 3,
}

HEARTBEAT = "heartbeat_ms"  # the replica reads it (``consensus.api.Application``)
HEARTBEAT_MIN_MS = 100
# Int parameters whose 0 has a meaning of its own and whose other values start higher.
NONZERO_MIN: dict[str, int] = {HEARTBEAT: HEARTBEAT_MIN_MS}
# Values a genesis may hold and a vote may not set (the setting they stand for is not one
# value for the whole chain).
GENESIS_ONLY: dict[str, int | str] = {HEARTBEAT: 0}

# Parameters that only a demonstration chain (genesis field ``demo``) may set to anything but
# their default; governance can never turn them on elsewhere (E_DEMO_ONLY).
DEMO_ONLY = ("demo_day_ms",)

# Inclusive bounds of int parameters whose range is narrower than [0, 2^63-1].
BOUNDS: dict[str, tuple[int, int]] = {
    "gov_threshold_pct": (51, 100),
    "gov_proposal_ttl_ms": (60_000, 365 * DAY_MS),
    "min_validators": (4, 256),
    "leader_memory_heights": (0, LEADER_MEMORY_MAX),
    "heartbeat_ms": (0, DAY_MS),
    "keys_per_entity_max": (1, 64),
    "attestation_max_days": (1, 3660),
    "consent_max_days": (1, 3660),
    "credit_records_per_entity_max": (1, 4096),
    "judgment_defaulter_extension_min_months": (1, 120),
    "judgment_defaulter_extension_max_months": (1, 120),
    # --- trading bounds ---
    "bl_bid_min_days": (1, 365),
    "gp_bid_min_days": (1, 365),
    "bl_reply_days": (1, 60),
    "gp_reply_days": (1, 60),
    "decrypt_window_ms": (60_000, DAY_MS),
    "opening_objection_ms": (0, DAY_MS),
    "tender_lots_max": (1, 256),
    "bid_min_count": (1, 100),
    "bid_versions_max": (1, 256),
    "bids_per_lot_max": (1, 2000),
    "committee_min_size": (1, 99),
    "candidates_max": (1, 10),
    "guarantee_max_bp": (0, 10_000),
    # --- end of trading bounds ---
    "committee_max_size": (1, 99),
    "committee_expert_min_num": (0, 100),
    "committee_expert_min_den": (1, 100),
    "cross_region_min_num": (0, 100),
    "cross_region_min_den": (1, 100),
    "draw_lead_max_days": (0, 60),
    "evaluation_max_days": (1, 365),
    "draw_groups_max": (1, 32),
    "expert_specialties_max": (1, 64),
    "expert_relations_max": (0, 256),
    "beacon_commit_blocks": (1, 10_000),
    "beacon_commit_ms": (0, 7 * DAY_MS),
    "beacon_reveal_blocks": (1, 10_000),
    "beacon_reveal_ms": (0, 7 * DAY_MS),
    "beacon_open_max": (1, 4096),
    "score_total_points": (1, 1000),
    "bonus_max_points": (0, 100),
    "score_decimals": (0, 6),
    "drop_extremes_min_members": (3, 99),
    "method_criteria_max": (0, 64),
    "quality_enterprise_months": (1, 120),
    "market_response_min_days": (0, 60),
    "market_confirm_days": (1, 60),
    "market_rating_max": (2, 100),
    "market_low_ratings_count": (1, 100),
    "market_low_ratings_months": (1, 120),
    "market_suspension_months": (1, 120),
    "market_responses_max": (1, 2000),
    "market_required_max": (0, 32),
    "market_unrated_rating": (0, 100),
}


def check_param(name: object, value: object) -> tuple[str, int | str]:
    """A known parameter name and a value of its type and in its bounds, else E_BAD_ARGS."""
    if type(name) is not str or name not in DEFAULTS:
        raise ContractError(E_BAD_ARGS, f"unknown chain parameter {name!r}")
    default = DEFAULTS[name]
    if isinstance(default, int):
        if type(value) is not int:
            raise ContractError(E_BAD_ARGS, f"parameter {name!r} takes an integer")
        low, high = BOUNDS.get(name, (0, MAX_PARAM_INT))
        if not low <= value <= high:
            raise ContractError(
                E_BAD_ARGS, f"parameter {name!r} must be in [{low}, {high}], got {value}"
            )
        if 0 < value < NONZERO_MIN.get(name, 0):
            raise ContractError(E_BAD_ARGS, f"parameter {name!r} must be 0 or at least "
                                            f"{NONZERO_MIN[name]}, got {value}")
        return name, value
    if type(value) is not str or len(value) > MAX_PARAM_TEXT:
        raise ContractError(
            E_BAD_ARGS, f"parameter {name!r} takes a text of at most {MAX_PARAM_TEXT} characters"
        )
    return name, value


@functools.lru_cache(maxsize=256)
def text_set(value: str) -> frozenset[str]:
    """A comma-separated text parameter as a set of its non-empty items. Remembered by
    value (a pure function with an immutable result): bids and guarantees split the same
    few parameters at every call."""
    return frozenset(item.strip() for item in value.split(",") if item.strip())
