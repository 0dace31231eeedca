"""The bidder's commands against a live one-validator node over real loopback HTTP:
``credchain bid enrol`` (the bidder secret kept 0600, its commitment on chain),
``credchain bid seal`` (seal with that secret, keep the key file 0600, submit),
``bid reveal`` in the decryption window (the contract decrypts the price), ``bid prove``
after the deadline (two bundles verified offline against the anchor), and the refusals a
bidder can meet."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from contracts.bid import enrolment_key
from contracts.bidder import enrol_args, new_bid_secret, seal_bid
from contracts.scenario import _Story, actor_secret, demo_uscc, scenario_roles
from contracts.sealing import secret_commitment
from ledger import keyfile
from ledger.crypto import ED25519_SHA256
from ledger.genesis import Anchor, GenesisDoc, default_state, genesis_block
from shell.client import NodeClient
from shell.demo import HttpScenarioClient
from tests.livenode import serve

SUITE = ED25519_SHA256
CHAIN = "bid-cli-test"
VALIDATOR = bytes(range(32))
DAY_MS = 100  # the demo "day": the 21-day bid period lasts 2.1 s
PASSPHRASE = b"test passphrase"


def _genesis() -> GenesisDoc:
    roles = {r: [k.hex() for k in ks] for r, ks in scenario_roles(SUITE).items()}
    return GenesisDoc.from_json(
        {
            "chain_id": CHAIN,
            "suite": SUITE.name,
            "time_ms": time.time_ns() // 1_000_000 - 60_000,
            "validators": [{"name": "v0", "pubkey": SUITE.public_key(VALIDATOR).hex()}],
            "committee": [SUITE.public_key(actor_secret(SUITE, "platform")).hex()],
            "roles": roles,
            "params": {"demo_day_ms": DAY_MS},
            "demo": True,  # demo days exist only on a chain whose genesis says so
        }
    )


@pytest.fixture
def live_node(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A one-validator node serving HTTP on a free loopback port from its own thread."""
    doc = _genesis()
    anchor = tmp_path / "anchor.json"
    Anchor.of(SUITE, genesis_block(doc, default_state(doc)).header, doc.validators).save(anchor)
    doc.save(tmp_path / "genesis.json")  # for the auditor's commands (tests/test_bid_safety.py)
    with serve(doc, VALIDATOR) as url:
        yield url, anchor


def test_seal_reveal_and_prove_a_bid_from_the_cli(
    live_node: tuple[str, Path], tmp_path: Path
) -> None:
    url, anchor = live_node
    client = HttpScenarioClient(url)
    story = _Story(client, lambda line: None, {})
    names = ("tenderer", "operator", "a", "b", "c")
    uscc = {n: demo_uscc(i + 1) for i, n in enumerate(names)}
    t0 = client.now_ms()
    for name in ("tenderer", "a", "b", "c"):
        story.send(
            "attestor",
            "identity.attest",
            {
                "uscc": uscc[name],
                "name": name,
                "entity_type": "company",
                "cert_issuer": "CA",
                "cert_serial": name,
                "valid_from_ms": t0 - 86_400_000,
                "valid_to_ms": t0 + 365 * 86_400_000,
                "keys": [story.actor(name).pubkey],
            },
        )
    tender = f"T-{t0}"
    # the issue start is never before the announcing block: leave the block time to come
    issue = client.now_ms() + 3_000
    deadline = issue + 21 * DAY_MS
    required = 1_000_000
    story.send(
        "platform",
        "tender.announce",
        {
            "tender_id": tender,
            "rules": "bidding-law",
            "kind": "works",
            "region": "441502",
            "tenderer": uscc["tenderer"],
            "agent": "",
            "platform_uscc": uscc["operator"],
            "related_parties": [],
            "doc_hash": SUITE.hash(b"docs"),
            "issue_start_ms": issue,
            "doc_sale_end_ms": issue + 5 * DAY_MS,
            "deadline_ms": deadline,
            "validity_days": 90,
            "qualifications": [],
            "lots": [
                {"name": "lot", "estimated_price_fen": 100_000_000, "guarantee_fen": required}
            ],
        },
    )
    for name in ("a", "b", "c"):
        story.send(
            "bank",
            "guarantee.issue",
            {
                "number": f"G-{name}",
                "principal": uscc[name],
                "beneficiary": uscc["tenderer"],
                "tender_id": tender,
                "lot": 1,
                "amount_fen": required,
                "valid_from_ms": t0 - 86_400_000,
                "valid_to_ms": deadline + 400 * 86_400_000,
                "file_hash": SUITE.hash(name.encode()),
            },
        )
    sealed = {}
    for name in ("b", "c"):  # two other bidders, through the Python helper
        secret = new_bid_secret()
        story.send(name, "bid.enrol", enrol_args(SUITE, secret))
        sealed[name] = seal_bid(SUITE, CHAIN, tender, 1, uscc[name], name.encode(), 90_000_000,
                                secret)
        story.send(name, "bid.submit", sealed[name].submit_args(f"G-{name}"))

    key_file = tmp_path / "a.key"
    keyfile.save_key(key_file, SUITE, actor_secret(SUITE, "a"), PASSPHRASE)
    (tmp_path / "pass").write_bytes(PASSPHRASE)
    (tmp_path / "pass").chmod(0o600)  # a passphrase file others can read is refused
    (tmp_path / "bid.pdf").write_bytes(b"A's encrypted bid file")
    common = ["--url", url, "--key", str(key_file), "--passphrase-file", str(tmp_path / "pass")]
    sealed_path = tmp_path / "a.sealed.json"
    secret_path = tmp_path / "a.secret.json"
    run = CliRunner().invoke

    # enrol: the secret in a new 0600 file, its commitment on chain (shown to A's keys only)
    result = run(main, ["bid", "enrol", *common, "--secret-file", str(secret_path)])
    assert result.exit_code == 0, result.output
    assert "enrolled in block" in result.output and "+08:00" in result.output
    assert stat.S_IMODE(os.stat(secret_path).st_mode) == 0o600
    kept = json.loads(secret_path.read_text())
    assert (kept["format"], kept["chain_id"], kept["uscc"]) == (
        "credchain-bidder-secret", CHAIN, uscc["a"])
    bid_secret = bytes.fromhex(kept["bid_secret"])
    as_a = NodeClient(url).as_key(SUITE, actor_secret(SUITE, "a"))
    enrolment = as_a.state(enrolment_key(uscc["a"]))
    assert [e["commitment"] for e in enrolment["secrets"]] == [
        {"$bin": secret_commitment(SUITE, bid_secret).hex()}]

    def prove_args(out: Path, *key: str) -> list[str]:
        return [
            "bid",
            "prove",
            *key,
            "--url",
            url,
            "--sealed",
            str(sealed_path),
            "--anchor",
            str(anchor),
            "--out",
            str(out),
        ]

    def seal_args(tender: str, uscc: str, price: str, out: Path, guarantee: str) -> list[str]:
        return [
            "bid",
            "seal",
            *common,
            "--tender",
            tender,
            "--uscc",
            uscc,
            "--file",
            str(tmp_path / "bid.pdf"),
            "--price-fen",
            price,
            "--guarantee",
            guarantee,
            "--secret-file",
            str(secret_path),
            "--out",
            str(out),
        ]

    result = run(main, seal_args(tender, uscc["a"], "88800000", sealed_path, "G-a"))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(sealed_path).st_mode) == 0o600
    record = json.loads(sealed_path.read_text())
    assert record["tx_id"] and len(bytes.fromhex(record["secret"]["content_key"])) == 32
    assert record["version"] == 3 and record["secret"]["bid_secret"] == kept["bid_secret"]

    again = run(main, seal_args(tender, uscc["a"], "1", tmp_path / "second.json", ""))
    assert again.exit_code != 0 and "bid refused" in again.output  # one bid per entity and lot

    early = run(main, prove_args(tmp_path / "early.json"))
    assert early.exit_code != 0 and "refused" in early.output  # sealed until the deadline

    client.wait_until(deadline)
    slots = sorted([bytes.fromhex(record["slot"]), sealed["b"].slot, sealed["c"].slot])
    story.send("platform", "bid.open", {"tender_id": tender, "slots": [slots]})
    result = run(main, ["bid", "reveal", *common, "--sealed", str(sealed_path)])
    assert result.exit_code == 0, result.output
    assert "88800000" in result.output  # the contract decrypted A's price on chain

    result = run(main, prove_args(tmp_path / "proof.json", *common))
    assert result.exit_code == 0, result.output
    assert result.output.count("[ok]") == 9  # two §7 bundles and the §8 inclusion
    verify = run(main, ["verify", str(tmp_path / "proof.json"), "--anchor", str(anchor),
                        "--expect", "present"])
    assert verify.exit_code == 0 and "YES: as expected" in verify.output
    # the third party the bidder shows its files to checks them as one proof, offline
    commitment = record["commitment"]
    check = run(main, ["bid", "check-proof", str(tmp_path / "proof.json"), "--anchor",
                       str(anchor), "--commitment", commitment])
    assert check.exit_code == 0 and check.output.count("[ok]") == 9, check.output
    assert "PROVED: bid/" in check.output and "the version of the bid that counted" \
        in check.output
    # the record proven at the bid transaction's own block, before the deadline, is no
    # proof that this version counted: a replace or withdrawal could follow (user walk: it
    # said PROVED for a withdrawn version)
    from contracts.tender_record import bid_key

    placed = NodeClient(url).tx_status(record["tx_id"])["height"]
    early_record = NodeClient(url).proof(bid_key(tender, 1, record["slot"]), placed)
    (tmp_path / "proof.json").rename(tmp_path / "final.json")
    (tmp_path / "proof.json").write_text(json.dumps(early_record))
    stale = run(main, ["bid", "check-proof", str(tmp_path / "proof.json"), "--anchor",
                       str(anchor), "--commitment", commitment])
    assert stale.exit_code == 1 and "prove it again after the deadline" in stale.output, \
        stale.output
    (tmp_path / "final.json").rename(tmp_path / "proof.json")
    # the deadline read before the bid record's block may have been extended since (user
    # walk: with a tender bundle from before an amendment, a replace between the two
    # deadlines passed for the version that counted)
    from contracts.tender_record import tender_key

    (tmp_path / "proof.tender.json").rename(tmp_path / "tender.final.json")
    (tmp_path / "proof.tender.json").write_text(
        json.dumps(NodeClient(url).proof(tender_key(tender), placed)))
    early_tender = run(main, ["bid", "check-proof", str(tmp_path / "proof.json"), "--anchor",
                              str(anchor), "--commitment", commitment])
    assert early_tender.exit_code == 1 and "prove the tender again" in early_tender.output, \
        early_tender.output
    (tmp_path / "tender.final.json").rename(tmp_path / "proof.tender.json")
    other = run(main, ["bid", "check-proof", str(tmp_path / "proof.json"), "--anchor",
                       str(anchor), "--commitment", "00" * 32])
    assert other.exit_code == 1 and "[FAILED]" in other.output and "not proved" in other.output
    (tmp_path / "proof.inclusion.json").unlink()  # the bidder keeps the inclusion to itself
    lean = run(main, ["bid", "check-proof", str(tmp_path / "proof.json"), "--anchor",
                      str(anchor), "--commitment", commitment])
    assert lean.exit_code == 0 and lean.output.count("[ok]") == 5, lean.output
    assert "[not checked] no inclusion bundle" in lean.output

    bad = run(main, ["bid", "reveal", *common, "--sealed", str(tmp_path / "bid.pdf")])
    assert bad.exit_code != 0 and "not a sealed bid" in bad.output
