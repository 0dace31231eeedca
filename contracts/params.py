"""Every chain parameter, with its default and its type: the numbers of DOMAIN.md.

Contracts read parameters from state (``param/<name>``, see ``runtime.param``), never from
this table: the table only seeds genesis and says which names a governance vote may set
and what values they take. Names carry their unit (``_ms``, ``_days``, ``_months``,
``_pct``, ``_fen``). A value has the type of its default (int or text); an int must lie in
its bounds (``BOUNDS``, default ``[0, 2^63-1]``).
"""

from __future__ import annotations

from contracts.errors import E_BAD_ARGS, ContractError
from contracts.periods import DAY_MS

MAX_PARAM_INT = (1 << 63) - 1
MAX_PARAM_TEXT = 512

DEFAULTS: dict[str, int | str] = {
    # --- governance ---
    # votes needed = ceil(committee size × pct / 100): 67 is a two-thirds supermajority
    "gov_threshold_pct": 67,
    "gov_proposal_ttl_ms": 7 * DAY_MS,
    # the validator set never shrinks below this (4 tolerates one byzantine validator)
    "min_validators": 4,
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
    # a judgment-defaulter record runs at most this long per decision; an extension by
    # the same issuer adds at most this much again
    "judgment_defaulter_months": 24,
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
}

# Inclusive bounds of int parameters whose range is narrower than [0, 2^63-1].
BOUNDS: dict[str, tuple[int, int]] = {
    "gov_threshold_pct": (51, 100),
    "gov_proposal_ttl_ms": (60_000, 365 * DAY_MS),
    "min_validators": (4, 256),
    "keys_per_entity_max": (1, 64),
    "attestation_max_days": (1, 3660),
    "consent_max_days": (1, 3660),
    "credit_records_per_entity_max": (1, 4096),
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
        return name, value
    if type(value) is not str or len(value) > MAX_PARAM_TEXT:
        raise ContractError(
            E_BAD_ARGS, f"parameter {name!r} takes a text of at most {MAX_PARAM_TEXT} characters"
        )
    return name, value


def text_set(value: str) -> frozenset[str]:
    """A comma-separated text parameter as a set of its non-empty items."""
    return frozenset(item.strip() for item in value.split(",") if item.strip())
