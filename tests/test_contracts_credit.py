"""Credit and qualification records: writing with bounds, in force by block time, scope,
repair by the same issuer, extension, ending, and the eligibility query."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts import keys
from contracts.credit import (
    E_BOUNDS,
    E_NOT_ISSUER,
    bid_blockers,
    eligibility,
    has_qualification,
)
from contracts.errors import (
    E_BAD_ARGS,
    E_EXISTS,
    E_FORBIDDEN,
    E_FROZEN,
    E_NOT_FOUND,
    E_STATE,
    ContractError,
)
from contracts.params import DEFAULTS, check_param
from contracts.periods import DAY_MS, end_of_months_ms, extended_end_ms, ms_of_beijing, shown
from contracts.state import Overlay
from contracts.uscc import E_BAD_USCC
from tests.contract_harness import Account, Harness

USCC = "91441500MA4W00001C"
OTHER = "91441502MA4W123451"
EVIDENCE = b"\xee" * 32


def setup(**params: int | str) -> Harness:
    return Harness(
        params=params, roles={"credit_authority": ["court", "bureau"], "attestor": ["att"]}
    )


def view(h: Harness) -> Overlay:
    return Overlay(h.state)


_DOC_COUNTER = [0]


def rec_args(h: Harness, kind: str = "bid_debarment", **over: Any) -> dict[str, Any]:
    _DOC_COUNTER[0] += 1
    from_ms = over.pop("from_ms", h.time_ms)
    args: dict[str, Any] = {
        "uscc": USCC,
        "kind": kind,
        "document_no": f"汕财采〔2024〕{_DOC_COUNTER[0]}号",
        "basis": "招标投标法实施条例第六十七条",
        "scope_kinds": ["*"],
        "scope_regions": ["*"],
        "from_ms": from_ms,
        "to_ms": end_of_months_ms(from_ms, 12),
        "evidence_hash": EVIDENCE,
    }
    if kind == "qualification":
        args.update(category="建筑工程施工总承包", level=3, to_ms=from_ms + 1000 * DAY_MS)
    args.update(over)
    return args


def record(h: Harness, who: Account, args: dict[str, Any]) -> str:
    return h.expect_ok(who, "credit.record", args).tx_id.hex()


def test_a_record_is_written_with_every_field_and_indexed() -> None:
    h = setup()
    court = h.account("court")
    args = rec_args(h)
    rid = record(h, court, args)
    rec = h.get(f"credit/record/{rid}")
    assert rec["issuer"] == court.pubkey and rec["kind"] == "bid_debarment"
    assert rec["document_no"] == args["document_no"] and rec["evidence_hash"] == EVIDENCE
    assert rec["from_ms"] == args["from_ms"] and rec["to_ms"] == args["to_ms"]
    assert h.get(f"credit/entity/{USCC}") == [rid]


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"uscc": "91441500MA4W00001D"}, E_BAD_USCC),
        ({"kind": "parking_ticket"}, E_BAD_ARGS),
        ({"to_ms": 0}, E_BAD_ARGS),
        ({"evidence_hash": b"\x01" * 31}, E_BAD_ARGS),
        ({"scope_kinds": []}, E_BAD_ARGS),
        ({"scope_regions": ["441500", "441500"]}, E_BAD_ARGS),
        ({"category": "x"}, E_BAD_ARGS),
        ({"level": 2}, E_BAD_ARGS),
        ({"document_no": ""}, E_BAD_ARGS),
    ],
)
def test_bad_records_are_refused(over: dict[str, Any], code: str) -> None:
    h = setup()
    h.expect_refused(h.account("court"), "credit.record", rec_args(h, **over), code)


def test_a_qualification_needs_a_category_and_a_level() -> None:
    h = setup()
    court = h.account("court")
    for missing in ("category", "level"):
        args = rec_args(h, "qualification")
        del args[missing]
        h.expect_refused(court, "credit.record", args, E_BAD_ARGS)
    h.expect_refused(court, "credit.record", rec_args(h, "qualification", level=0), E_BAD_ARGS)


def test_only_an_unfrozen_credit_authority_writes_and_a_document_only_once() -> None:
    h = setup()
    h.expect_refused(h.account("att"), "credit.record", rec_args(h), E_FORBIDDEN)
    args = rec_args(h)
    record(h, h.account("court"), args)
    h.expect_refused(h.account("court"), "credit.record", args, E_EXISTS)
    # another authority may use the same document number (numbers are per issuer)
    record(h, h.account("bureau"), args)
    h.govern("freeze", {"subject": h.account("court").hex, "reason": "audit"})
    h.expect_refused(h.account("court"), "credit.record", rec_args(h), E_FROZEN)


def test_records_per_entity_are_bounded() -> None:
    h = setup(credit_records_per_entity_max=2)
    record(h, h.account("court"), rec_args(h))
    record(h, h.account("court"), rec_args(h))
    h.expect_refused(h.account("court"), "credit.record", rec_args(h), E_STATE)


@pytest.mark.parametrize(
    ("kind", "min_months", "max_months"),
    [
        ("general_breach", 3, 12),
        ("serious_breach", 6, 36),
        ("tax_violation", 6, 36),
        ("bid_debarment", 12, 36),
        ("gp_debarment", 12, 36),
    ],
)
def test_sanction_bounds_are_checked_on_write(kind: str, min_months: int, max_months: int) -> None:
    h = setup()
    court = h.account("court")
    start = h.time_ms + 10
    low, high = end_of_months_ms(start, min_months), end_of_months_ms(start, max_months)
    for to_ms, code in ((low - 1, E_BOUNDS), (high + 1, E_BOUNDS)):
        h.expect_refused(
            court, "credit.record", rec_args(h, kind, from_ms=start, to_ms=to_ms), code
        )
    record(h, court, rec_args(h, kind, from_ms=start, to_ms=low))
    record(h, court, rec_args(h, kind, from_ms=start, to_ms=high))


def test_bounds_follow_their_parameters() -> None:
    h = setup(bid_debarment_min_months=1)
    start = h.time_ms
    record(h, h.account("court"), rec_args(h, from_ms=start, to_ms=end_of_months_ms(start, 1)))


JUDGMENT = "judgment_defaulter"


@pytest.mark.parametrize(
    "to_ms",
    [
        lambda start: start + 30 * DAY_MS,
        lambda start: start + 365 * DAY_MS,
        lambda start: end_of_months_ms(start, 24) - 1,
        lambda start: end_of_months_ms(start, 24) + 1,
        lambda start: end_of_months_ms(start, 36),
    ],
    ids=["30 days", "365 days", "24 months - 1 ms", "24 months + 1 ms", "36 months"],
)
def test_a_judgment_defaulter_record_runs_two_years_no_less_no_more(
    to_ms: Callable[[int], int],
) -> None:
    h = setup()
    start = h.time_ms + 10
    args = rec_args(h, JUDGMENT, from_ms=start, to_ms=to_ms(start))
    receipt = h.expect_refused(h.account("court"), "credit.record", args, E_BOUNDS)
    two_years = end_of_months_ms(start, 24)
    assert receipt.message == (
        f"a judgment_defaulter record must end at exactly {shown(two_years)}, 24 months from "
        "from_ms"
    )
    rid = record(h, h.account("court"), rec_args(h, JUDGMENT, from_ms=start, to_ms=two_years))
    assert h.get(f"credit/record/{rid}")["to_ms"] == two_years


def test_a_judgment_defaulter_record_runs_its_parameter_exactly() -> None:
    h = setup(judgment_defaulter_months=12)
    court, start = h.account("court"), h.time_ms
    args = rec_args(h, JUDGMENT, from_ms=start, to_ms=end_of_months_ms(start, 24))
    h.expect_refused(court, "credit.record", args, E_BOUNDS)
    record(h, court, rec_args(h, JUDGMENT, from_ms=start, to_ms=end_of_months_ms(start, 12)))


def _judgment(h: Harness) -> tuple[str, int]:
    """A judgment-defaulter record by the court, and its end."""
    start = h.time_ms
    two_years = end_of_months_ms(start, 24)
    args = rec_args(h, JUDGMENT, from_ms=start, to_ms=two_years)
    return record(h, h.account("court"), args), two_years


def test_a_judgment_defaulter_record_is_extended_by_its_issuer() -> None:
    h = setup()
    court, bureau = h.account("court"), h.account("bureau")
    rid, two_years = _judgment(h)
    three_years = extended_end_ms(two_years, 12)
    ext = {"id": rid, "to_ms": three_years, "document_no": "(2026)粤15执恢1号"}
    h.expect_refused(bureau, "credit.extend", ext, E_NOT_ISSUER)
    h.expect_refused(court, "credit.extend", {**ext, "to_ms": two_years}, E_BAD_ARGS)
    h.expect_ok(court, "credit.extend", ext)
    rec = h.get(f"credit/record/{rid}")
    assert rec["to_ms"] == three_years
    assert rec["extensions"] == [{"document_no": ext["document_no"], "old_to_ms": two_years}]
    # a second decision extends again, counted from the new end
    again = {**ext, "to_ms": extended_end_ms(three_years, 36), "document_no": "(2027)粤15执恢2号"}
    h.expect_ok(court, "credit.extend", again)
    assert h.get(f"credit/record/{rid}")["to_ms"] == again["to_ms"]
    other = record(h, court, rec_args(h, "bid_debarment"))
    h.expect_refused(court, "credit.extend", {**ext, "id": other}, E_STATE)


def test_a_year_s_extension_ends_on_the_same_calendar_day() -> None:
    """User walk: a record ending 2028-12-05 00:00 Beijing (24:00 of 4 December) extended by
    a year had to end 2029-12-06 00:00, a day more than a year."""
    end = ms_of_beijing(2028, 12, 5)
    assert extended_end_ms(end, 12) == ms_of_beijing(2029, 12, 5)
    assert extended_end_ms(end, 36) == ms_of_beijing(2031, 12, 5)
    assert extended_end_ms(ms_of_beijing(2028, 3, 1), 12) == ms_of_beijing(2029, 3, 1)  # 28 Feb


@pytest.mark.parametrize(
    ("months", "extra_ms", "accepted"),
    [
        (11, 0, False),
        (12, -1, False),
        (12, 0, True),
        (24, 0, True),
        (36, 0, True),
        (36, 1, False),
        (37, 0, False),
    ],
)
def test_an_extension_is_of_one_to_three_years(months: int, extra_ms: int, accepted: bool) -> None:
    h = setup()
    court = h.account("court")
    rid, two_years = _judgment(h)
    to_ms = extended_end_ms(two_years, months) + extra_ms
    ext = {"id": rid, "to_ms": to_ms, "document_no": "(2026)粤15执恢1号"}
    if accepted:
        h.expect_ok(court, "credit.extend", ext)
        assert h.get(f"credit/record/{rid}")["to_ms"] == to_ms
        return
    receipt = h.expect_refused(court, "credit.extend", ext, E_BOUNDS)
    low, high = extended_end_ms(two_years, 12), extended_end_ms(two_years, 36)
    assert receipt.message == f"an extension must end within [{shown(low)}, {shown(high)}]"


def test_the_extension_bounds_follow_their_parameters() -> None:
    h = setup(judgment_defaulter_extension_min_months=1, judgment_defaulter_extension_max_months=6)
    court = h.account("court")
    rid, two_years = _judgment(h)
    ext = {"id": rid, "to_ms": extended_end_ms(two_years, 7), "document_no": "(2026)粤15执恢1号"}
    h.expect_refused(court, "credit.extend", ext, E_BOUNDS)
    h.expect_ok(court, "credit.extend", {**ext, "to_ms": extended_end_ms(two_years, 1)})


@pytest.mark.parametrize(
    "name", ["judgment_defaulter_extension_min_months", "judgment_defaulter_extension_max_months"]
)
def test_the_extension_parameters_are_bounded_months(name: str) -> None:
    assert check_param(name, 1) == (name, 1)
    assert check_param(name, 120) == (name, 120)
    for bad in (0, 121, -1):
        with pytest.raises(ContractError) as refused:
            check_param(name, bad)
        assert refused.value.code == E_BAD_ARGS
        assert refused.value.message == f"parameter {name!r} must be in [1, 120], got {bad}"
    with pytest.raises(ContractError):
        check_param(name, "12")
    h = setup()
    h.govern("set_param", {"name": name, "value": 24})
    assert h.get(keys.param(name)) == 24


def test_the_extension_parameters_default_to_one_and_three_years() -> None:
    assert DEFAULTS["judgment_defaulter_months"] == 24
    assert DEFAULTS["judgment_defaulter_extension_min_months"] == 12
    assert DEFAULTS["judgment_defaulter_extension_max_months"] == 36


def test_a_record_is_in_force_by_block_time() -> None:
    h = setup()
    start = h.time_ms + 5 * DAY_MS
    args = rec_args(h, from_ms=start)
    rid = record(h, h.account("court"), args)
    assert bid_blockers(view(h), USCC, "works", "441500", start - 1) == []
    assert bid_blockers(view(h), USCC, "works", "441500", start) == [rid]
    assert bid_blockers(view(h), USCC, "works", "441500", args["to_ms"] - 1) == [rid]
    assert bid_blockers(view(h), USCC, "works", "441500", args["to_ms"]) == []
    assert bid_blockers(view(h), OTHER, "works", "441500", start) == []


def test_a_record_blocks_only_in_its_scope() -> None:
    h = setup()
    rid = record(
        h, h.account("court"), rec_args(h, scope_kinds=["works", "goods"], scope_regions=["441500"])
    )
    now = h.time_ms
    assert bid_blockers(view(h), USCC, "works", "441500", now) == [rid]
    assert bid_blockers(view(h), USCC, "goods", "441500", now) == [rid]
    assert bid_blockers(view(h), USCC, "services", "441500", now) == []
    assert bid_blockers(view(h), USCC, "works", "440300", now) == []


def test_only_debarring_kinds_block_and_the_list_is_a_parameter() -> None:
    h = setup()
    court = h.account("court")
    record(h, court, rec_args(h, "general_breach", to_ms=end_of_months_ms(h.time_ms, 6)))
    record(h, court, rec_args(h, "good_standing"))
    record(h, court, rec_args(h, "performance"))
    record(h, court, rec_args(h, "qualification"))
    assert bid_blockers(view(h), USCC, "works", "441500", h.time_ms) == []
    tax = record(h, court, rec_args(h, "tax_violation"))
    assert bid_blockers(view(h), USCC, "works", "441500", h.time_ms) == [tax]
    h.govern("set_param", {"name": "debarring_kinds", "value": "bid_debarment"})
    assert bid_blockers(view(h), USCC, "works", "441500", h.time_ms) == []


def test_repair_by_the_same_issuer_keeps_the_record_in_history() -> None:
    h = setup()
    court, bureau = h.account("court"), h.account("bureau")
    rid = record(h, court, rec_args(h))
    repair = {
        "id": rid,
        "decision_no": "信用修复〔2024〕7号",
        "basis": "整改完成",
        "evidence_hash": EVIDENCE,
    }
    h.expect_refused(bureau, "credit.repair", repair, E_NOT_ISSUER)
    h.expect_refused(court, "credit.repair", {**repair, "id": "00" * 32}, E_NOT_FOUND)
    before = h.time_ms
    assert bid_blockers(view(h), USCC, "works", "441500", before) == [rid]
    h.expect_ok(court, "credit.repair", repair)
    rec = h.get(f"credit/record/{rid}")
    assert rec["repaired_ms"] == h.time_ms and rec["repair"]["decision_no"] == "信用修复〔2024〕7号"
    assert h.get(f"credit/entity/{USCC}") == [rid]
    assert bid_blockers(view(h), USCC, "works", "441500", h.time_ms) == []
    # history: at an earlier time the record was in force
    assert bid_blockers(view(h), USCC, "works", "441500", before) == [rid]
    h.expect_refused(court, "credit.repair", repair, E_STATE)


def test_positive_records_cannot_be_repaired_but_can_be_ended() -> None:
    h = setup()
    court = h.account("court")
    rid = record(h, court, rec_args(h, "qualification"))
    repair = {"id": rid, "decision_no": "x", "basis": "y", "evidence_hash": EVIDENCE}
    h.expect_refused(court, "credit.repair", repair, E_STATE)
    assert has_qualification(view(h), USCC, "建筑工程施工总承包", 3, h.time_ms)
    h.expect_refused(h.account("bureau"), "credit.end", {"id": rid, "reason": "x"}, E_NOT_ISSUER)
    h.expect_ok(court, "credit.end", {"id": rid, "reason": "certificate withdrawn"})
    assert not has_qualification(view(h), USCC, "建筑工程施工总承包", 3, h.time_ms)
    h.expect_refused(court, "credit.end", {"id": rid, "reason": "again"}, E_STATE)


def test_has_qualification_compares_category_level_and_time() -> None:
    h = setup()
    args = rec_args(h, "qualification", level=2)
    record(h, h.account("court"), args)
    now = h.time_ms
    assert has_qualification(view(h), USCC, "建筑工程施工总承包", 1, now)
    assert has_qualification(view(h), USCC, "建筑工程施工总承包", 2, now)
    assert not has_qualification(view(h), USCC, "建筑工程施工总承包", 3, now)
    assert not has_qualification(view(h), USCC, "市政公用工程施工总承包", 1, now)
    assert not has_qualification(view(h), USCC, "建筑工程施工总承包", 1, args["to_ms"])


def test_eligibility_names_every_reason() -> None:
    h = setup()
    court, att = h.account("court"), h.account("att")
    need = [("建筑工程施工总承包", 2)]
    assert eligibility(view(h), "bad", "works", "441500", need, h.time_ms).reasons == ["bad_uscc"]
    answer = eligibility(view(h), USCC, "works", "441500", need, h.time_ms)
    assert not answer.eligible
    assert answer.reasons == ["not_attested", "missing_qualification"]
    assert answer.missing_qualifications == need

    h.expect_ok(
        att,
        "identity.attest",
        {
            "uscc": USCC,
            "name": "某公司",
            "entity_type": "enterprise",
            "cert_issuer": "GDCA",
            "cert_serial": "1",
            "valid_from_ms": h.time_ms,
            "valid_to_ms": h.time_ms + 300 * DAY_MS,
            "keys": [],
        },
    )
    record(h, court, rec_args(h, "qualification", level=2))
    ok = eligibility(view(h), USCC, "works", "441500", need, h.time_ms)
    assert ok.eligible and ok.reasons == [] and ok.to_obj()["eligible"] is True

    rid = record(h, court, rec_args(h))
    h.govern("freeze", {"subject": USCC, "reason": "investigation"})
    answer = eligibility(view(h), USCC, "works", "441500", need, h.time_ms)
    assert answer.reasons == ["frozen", "debarred"]
    assert answer.blockers == [rid]
    assert answer.to_obj()["blockers"] == [rid]


def test_a_bound_is_named_in_beijing_time_beside_its_ms() -> None:
    """User walk of 2026-12-03: E_BOUNDS named its bounds in raw Unix ms only."""
    june = ms_of_beijing(2027, 6, 1)
    assert shown(june) == f"2027-06-01 00:00 Beijing ({june})"
    assert shown(ms_of_beijing(2026, 12, 31, 23, 59) + 59_999).startswith("2026-12-31 23:59 ")
    assert shown(0) == "1970-01-01 08:00 Beijing (0)"
