"""A guarantee's claim names only the guarantee's number, not its tender. The disclosure
policy once judged it as the tenderer's private act: the public stream, §8 inclusion and the
portal never showed a claim, nor told the bidder whose guarantee was claimed, though the
public guarantee record said "claimed" (verifier walk). It is judged by the tender the
guarantee names: after the deadline, public; a guarantee's issue before the deadline stays
with its principal."""

from __future__ import annotations

from tests.test_contracts_guarantee import claim, decryption_failure
from tests.test_objection_privacy import ask
from tests.test_privacy import node_of, replay


def test_a_claim_after_the_deadline_reaches_every_reader_and_the_bidder() -> None:
    t, bidders, number = decryption_failure()
    receipt = t.h.expect_ok(t.tenderer, "guarantee.claim", claim(number, "decrypt_failed"))
    principal = t.uscc_of[bidders[2].name]
    node = node_of(replay(t), t)
    try:
        [(status, page), (istatus, inclusion), (fstatus, theirs)] = ask(node, t, [
            "/events?from_height=1&limit=1000&type=guarantee.*",
            f"/txs/{receipt.tx_id.hex()}/inclusion",
            f"/events?from_height=1&limit=1000&type=guarantee.claimed&entity={principal}"])
        assert status == 200 and istatus == 200, (page, inclusion)
        claimed = [i for i in page["items"] if i["type"] == "guarantee.claimed"]
        assert [i["event"]["number"] for i in claimed] == [number]
        assert principal in claimed[0]["entities"] and claimed[0]["tender_id"] == "T1"
        assert fstatus == 200 and [i["tx_id"] for i in theirs["items"]] == [
            receipt.tx_id.hex()]
        issued = [i for i in page["items"] if i["type"] == "guarantee.issued"]
        assert issued == []  # issued before the deadline: each stays with its principal
    finally:
        node.admission.close()
