"""``credchain gov``: arguments checked before anything is signed; proposals, votes, list and
show against a live node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ledger import keyfile
from ledger.crypto import ED25519_SHA256 as SUITE
from ledger.genesis import GenesisDoc
from tests.livenode import serve

VALIDATOR = bytes(range(32))
COMMITTEE = [bytes([5]) * 32, bytes([6]) * 32]  # two members: a proposal needs both


@pytest.fixture
def gov_node(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    doc = GenesisDoc.from_json({
        "chain_id": "gov-test", "suite": SUITE.name, "time_ms": time.time_ns() // 10**6 - 60_000,
        "validators": [{"name": "v0", "pubkey": SUITE.public_key(VALIDATOR).hex()}],
        "committee": [SUITE.public_key(k).hex() for k in COMMITTEE], "roles": {}, "params": {}})
    (tmp_path / "pass").write_bytes(b"pw")
    (tmp_path / "pass").chmod(0o600)
    keys = []
    for i, secret in enumerate(COMMITTEE):
        keyfile.save_key(tmp_path / f"m{i}.key", SUITE, secret, b"pw")
        keys.append(str(tmp_path / f"m{i}.key"))
    with serve(doc, VALIDATOR) as url:
        yield url, [f"--url={url}", f"--passphrase-file={tmp_path / 'pass'}"] + keys


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_bad_arguments_are_refused_before_anything_is_signed(
        gov_node: tuple[str, list[str]]) -> None:
    url, (u, p, k0, _) = gov_node
    key = f"--key={k0}"
    code, text = run("gov", "propose", "add-validator", u, p, key, "--name", "x",
                     "--pubkey", "abcd")
    assert code == 1 and "--pubkey is not a ed25519-sha256 public key" in text
    code, text = run("gov", "propose", "set-param", u, p, key, "--name", "bid_min_count",
                     "--value", "three")
    assert code == 1 and "takes an integer" in text
    code, text = run("gov", "propose", "set-param", u, p, key, "--name", "no_such",
                     "--value", "1")
    assert code == 1 and "unknown chain parameter" in text
    code, text = run("gov", "propose", "freeze", u, p, key, "--subject", "91350100M000100Y44",
                     "--reason", "x")
    assert code == 1 and "a USCC or a public key" in text  # a bad check character
    code, text = run("gov", "propose", "remove-validator", u, p, key)
    assert code == 1 and "missing --pubkey" in text
    code, text = run("gov", "vote", "9", "--approve", u, p, key)
    assert code == 1 and "there is no proposal 9" in text
    code, text = run("gov", "list", u)
    assert code == 0 and "no proposal yet on this chain" in text
    code, text = run("gov", "propose", "rotate-validator", u, p, key, "--old", "zz",
                     "--new-pubkey", "00" * 32, "--new-sig", "00" * 64)
    assert code == 1 and "--old is not a ed25519-sha256 public key in hex" in text, text
    # a key outside the committee is told so (operator walk: a 401 "not bound to an entity,
    # a role, a validator or an expert", when network init's client3 proposed)
    outsider = Path(k0).with_name("outsider.key")
    keyfile.save_key(outsider, SUITE, bytes([9]) * 32, b"pw")
    code, text = run("gov", "propose", "set-param", u, p, f"--key={outsider}", "--name",
                     "bid_min_count", "--value", "4")
    assert code == 1 and "is not a committee member" in text and "2 committee keys" in text, text


def test_a_proposal_executes_when_the_committee_has_voted(
        gov_node: tuple[str, list[str]]) -> None:
    url, (u, p, k0, k1) = gov_node
    code, text = run("gov", "propose", "set-param", u, p, f"--key={k0}", "--name",
                     "bid_min_count", "--value", "4")
    assert code == 0 and "gov.proposed" in text, text
    code, text = run("gov", "show", "0", u)
    # how many yes votes it needs now (walk: the operator could not tell)
    assert code == 0 and "#0 open" in text and "yes 1 of 2 needed, no 0" in text, text
    assert "+08:00" in text
    code, text = run("gov", "vote", "0", "--reject", u, p, f"--key={k0}")  # the proposer
    assert code == 1 and "this key voted yes on proposal 0 already" in text, text
    code, text = run("gov", "show", "0", u)
    assert "yes 1 of 2 needed, no 0" in text  # nothing was sent
    code, text = run("gov", "vote", "0", "--approve", u, p, f"--key={k1}")
    assert code == 0 and "gov.decided" in text and '"executed"' in text, text
    code, text = run("gov", "list", u, "--status", "executed")
    assert code == 0 and "#0 executed set_param" in text
    assert "yes 2, no 0" in text  # decided: judged by its own votes, no "needed" now
    code, text = run("gov", "vote", "0", "--approve", u, p, f"--key={k1}")
    assert code == 1 and "proposal 0 is executed already" in text  # refused before sending


def test_list_and_show_print_a_proposed_key_in_full(gov_node: tuple[str, list[str]]) -> None:
    """A voter checks every digit of the key it is asked to admit (operator walk: list and
    show cut it to 16 hex digits)."""
    url, (u, p, k0, _) = gov_node
    new = SUITE.public_key(bytes([9]) * 32).hex()
    code, text = run("gov", "propose", "add-validator", u, p, f"--key={k0}", "--name", "city",
                     "--pubkey", new)
    assert code == 0, text
    for command in (("gov", "list", u), ("gov", "show", "0", u)):
        code, text = run(*command)
        assert code == 0 and new in text, text


def test_a_rotation_is_signed_where_the_new_key_is_kept(
        gov_node: tuple[str, list[str]], tmp_path: Path) -> None:
    """The city signs its consent with ``keys sign-rotation`` on its own machine; a committee
    member proposes with --new-pubkey/--new-sig and never holds the new key (operator walk:
    one process had to hold both keys under one passphrase). A key file read with the wrong
    passphrase is named."""
    url, (u, p, k0, k1) = gov_node
    new_secret = bytes([11]) * 32
    (tmp_path / "city.pass").write_bytes(b"city")
    (tmp_path / "city.pass").chmod(0o600)
    keyfile.save_key(tmp_path / "new.key", SUITE, new_secret, b"city")
    old = SUITE.public_key(VALIDATOR).hex()
    code, text = run("gov", "propose", "rotate-validator", u, p, f"--key={k0}", "--old", old,
                     "--new-key", str(tmp_path / "new.key"))
    assert code == 1 and f"{tmp_path / 'new.key'}: wrong passphrase" in text, text
    code, consent = run("keys", "sign-rotation", str(tmp_path / "new.key"), "--old", old,
                        "--url", url, "--passphrase-file", str(tmp_path / "city.pass"))
    assert code == 0 and f"--new-pubkey {SUITE.public_key(new_secret).hex()}" in consent
    code, text = run("gov", "propose", "rotate-validator", u, p, f"--key={k0}",
                     *consent.split())
    assert code == 0 and "gov.proposed" in text, text
    code, text = run("gov", "vote", "0", "--approve", u, p, f"--key={k1}")
    assert code == 0 and '"executed"' in text, text
    from shell.client import NodeClient

    vals = NodeClient(url).state("gov/validators")
    assert [v["pubkey"] for v in vals] == [{"$bin": SUITE.public_key(new_secret).hex()}]


def test_moot_validator_changes_are_refused_and_the_set_is_listed(
        gov_node: tuple[str, list[str]]) -> None:
    url, (u, p, k0, _) = gov_node
    v0 = SUITE.public_key(VALIDATOR).hex()
    other = SUITE.public_key(bytes([12]) * 32).hex()
    code, text = run("gov", "propose", "add-validator", u, p, f"--key={k0}", "--name", "x",
                     "--pubkey", v0)
    assert code == 1 and "is a validator already" in text
    code, text = run("gov", "propose", "remove-validator", u, p, f"--key={k0}", "--pubkey",
                     other)
    assert code == 1 and "is not a validator" in text
    code, text = run("gov", "validators", u)
    assert code == 0 and "1 validators of gov-test" in text and "0  v0" in text, text
    assert v0 in text and "no registered endpoint" in text
