"""The arguments each contract call takes: the runtime refuses any other
(``E_BAD_ARGS``), so that a misspelt optional argument is never silently ignored.

Generated from the handlers (``contracts/reference.py``, beside ``CALLS.md``) by
``.venv/bin/python -m contracts.reference --write``: never edit it by hand.
``tests/test_call_reference.py`` fails when it differs from what the code reads.
"""

ARGUMENTS: dict[str, frozenset[str]] = {
    "gov.propose": frozenset({"action", "payload"}),
    "gov.vote": frozenset({"approve", "id"}),
    "identity.attest": frozenset({
        "cert_issuer", "cert_serial", "entity_type", "keys", "name", "uscc", "valid_from_ms",
        "valid_to_ms",
    }),
    "identity.bind_key": frozenset({"pubkey", "uscc"}),
    "identity.unbind_key": frozenset({"pubkey", "uscc"}),
    "identity.rotate_key": frozenset({"new_key", "new_key_sig"}),
    "identity.revoke": frozenset({"reason", "uscc"}),
    "consent.grant": frozenset({"dataset", "platform", "scope", "valid_to_ms"}),
    "consent.revoke": frozenset({"dataset", "platform"}),
    "credit.record": frozenset({
        "basis", "category", "document_no", "evidence_hash", "from_ms", "kind", "level",
        "scope_kinds", "scope_regions", "to_ms", "uscc",
    }),
    "credit.repair": frozenset({"basis", "decision_no", "evidence_hash", "id"}),
    "credit.extend": frozenset({"document_no", "id", "to_ms"}),
    "credit.end": frozenset({"id", "reason"}),
    "tender.announce": frozenset({
        "agent", "cross_region", "deadline_ms", "doc_hash", "doc_sale_end_ms", "issue_start_ms",
        "kind", "lots", "method", "platform_uscc", "qualifications", "region", "related_parties",
        "rules", "tender_id", "tenderer", "validity_days",
    }),
    "tender.amend": frozenset({
        "affects_bids", "doc_hash", "method", "new_deadline_ms", "tender_id",
    }),
    "tender.object": frozenset({"reason_hash", "salt", "stage", "tender_id"}),
    "tender.reply": frozenset({"n", "reply_hash", "tender_id"}),
    "tender.rule": frozenset({"n", "ruling", "tender_id"}),
    "tender.suspend": frozenset({"tender_id"}),
    "tender.resume": frozenset({"tender_id"}),
    "tender.find_collusion": frozenset({"evidence_hash", "tender_id", "uscc"}),
    "tender.award": frozenset({"tender_id", "winners"}),
    "tender.record_contract": frozenset({"contract_hash", "tender_id"}),
    "tender.archive": frozenset({"tender_id"}),
    "bid.submit": frozenset({
        "bid_secret", "bidder_key", "bidder_signature", "commitment", "file_hash", "guarantee",
        "lot", "sealed_summary", "tender_id",
    }),
    "bid.replace": frozenset({
        "bid_secret", "bidder_key", "bidder_signature", "commitment", "file_hash", "guarantee",
        "lot", "sealed_summary", "tender_id",
    }),
    "bid.withdraw": frozenset({
        "bid_secret", "bidder_key", "bidder_signature", "lot", "tender_id",
    }),
    "bid.open": frozenset({"slots", "tender_id"}),
    "bid.reveal": frozenset({"content_key", "lot", "tender_id"}),
    "bid.close": frozenset({"tender_id"}),
    "bid.revoke": frozenset({"lot", "tender_id"}),
    "bid.enrol": frozenset({"commitment"}),
    "guarantee.issue": frozenset({
        "amount_fen", "beneficiary", "file_hash", "lot", "number", "principal", "tender_id",
        "valid_from_ms", "valid_to_ms",
    }),
    "guarantee.claim": frozenset({"amount_fen", "number", "reason"}),
    "guarantee.release": frozenset({"number"}),
    "expert.register": frozenset({
        "code", "employer", "pubkey", "region", "relations", "specialties",
    }),
    "expert.update": frozenset({
        "code", "employer", "pubkey", "region", "relations", "specialties", "status",
    }),
    "expert.declare": frozenset({"uscc"}),
    "beacon.commit": frozenset({"commitment", "id"}),
    "beacon.reveal": frozenset({"id", "value"}),
    "beacon.finalize": frozenset({"id"}),
    "draw.request": frozenset({
        "evaluation_end_ms", "evaluation_start_ms", "groups", "representatives", "size",
        "tender_id",
    }),
    "draw.seat": frozenset({"tender_id"}),
    "draw.decline": frozenset({"tender_id"}),
    "evaluation.score": frozenset({"bidder", "lot", "points", "tender_id"}),
    "evaluation.close": frozenset({"candidates", "tender_id"}),
    "evaluation.report": frozenset({"report_hash", "tender_id"}),
    "evaluation.sign": frozenset({"dissent_hash", "report_hash", "tender_id"}),
    "market.add_item": frozenset({"code", "name", "required"}),
    "market.update_item": frozenset({"active", "code", "name", "required"}),
    "market.register": frozenset({"item"}),
    "market.request": frozenset({
        "agency", "budget_fen", "fiscal", "item", "method", "quality_points", "request_id",
        "window_end_ms",
    }),
    "market.respond": frozenset({"price_fen", "request_id"}),
    "market.select": frozenset({"request_id"}),
    "market.confirm": frozenset({"request_id"}),
    "market.next": frozenset({"request_id"}),
    "market.record_contract": frozenset({"contract_hash", "request_id"}),
    "market.rate": frozenset({"rating", "request_id"}),
    "market.cancel": frozenset({"request_id"}),
}
