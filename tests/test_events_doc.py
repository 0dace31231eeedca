"""``shell/EVENTS.md`` documents every event type the contracts emit, and what a stream item
holds, because it is generated from the code and checked here against it."""

from __future__ import annotations

import re

from contracts.periods import DAY_MS
from contracts.registry import CONTRACTS
from shell.eventdoc import CONTRACTS_DIR, ENVELOPE, EVENTS_MD, TITLES, render, scan
from shell.notices import NOTICE_TYPES, OBJECTION
from tests.test_events_kit import Story, SynthChain, everything, page_all, tender_story


def test_events_md_is_current_with_the_code() -> None:
    assert EVENTS_MD.read_text(encoding="utf-8") == render(scan()), (
        "shell/EVENTS.md is stale: run `python -m shell.eventdoc` and commit it")


def test_every_event_type_the_contracts_emit_is_documented_with_a_call_that_emits_it() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in CONTRACTS_DIR.glob("*.py"))
    emitted = set(re.findall(r"\.emit\(\s*\"([A-Za-z0-9_.]+)\"", source))
    types = scan()
    calls = {f"{c.name}.{m}" for c in CONTRACTS for m in c.methods}
    assert emitted and emitted == set(types)
    doc = EVENTS_MD.read_text(encoding="utf-8")
    for t in emitted | set(NOTICE_TYPES) | {OBJECTION}:
        assert f"| `{t}` |" in doc, t
    for t in types.values():
        assert t.calls, f"{t.type} is emitted by no registered contract call"
        assert t.calls <= calls
    # reached through helpers: the losers' guarantees are released by the award
    assert {"tender.award", "bid.open", "guarantee.release"} <= types["guarantee.released"].calls
    assert types["tender.announced"].fields == {"tender_id", "deadline_ms"}


def test_every_current_type_has_its_chinese_and_english_title() -> None:
    assert set(scan()) | set(NOTICE_TYPES) | {OBJECTION} <= set(TITLES)


def test_the_documented_envelope_is_what_items_hold() -> None:
    sc, story = SynthChain(), Story()
    tender_story(sc, story)
    items = page_all(sc.hub, everything(offsets_ms=(3 * DAY_MS,)))
    chain = next(i for i in items if i["source"] == "chain")
    documented = {f for f, where, _ in ENVELOPE if where in ("all", "chain")}
    assert set(chain) == documented
    for notice_type, where in (("notice.deadline_soon", "deadline notices"),
                               ("notice.objection", "notice.objection")):
        notice = next(i for i in items if i["type"] == notice_type)
        documented = {f for f, w, _ in ENVELOPE if w in ("all", "derived", where)}
        assert set(notice) == documented, notice_type
