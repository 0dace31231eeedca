"""The ``credchain`` CLI: keys, network init, offline verify, and clear errors for bad input."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from ledger import encoding
from ledger.bundle import build_bundle, to_json
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput
from ledger.genesis import Anchor, GenesisDoc, export_anchor
from ledger.keyfile import load_key
from tests.chainkit import Chain


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of a message: {result.exception!r}"
    )
    return result.exit_code, result.output


def test_keys_new_writes_an_encrypted_key_file(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    code, text = invoke("keys", "new", str(out), "--suite", "sm2-sm3",
                        "--passphrase-env", "PW", env={"PW": "secret words"})
    assert code == 0, text
    pub = json.loads(text)["pubkey"]
    assert load_key(out, b"secret words").public_key.hex() == pub
    assert (out.stat().st_mode & 0o777) == 0o600
    code, text = invoke("keys", "new", str(out), "--passphrase-env", "PW", env={"PW": "x"})
    assert code != 0 and "exists" in text


def test_keys_show_prints_the_public_key_again_and_check_proves_it(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    code, text = invoke("keys", "new", str(out), "--passphrase-env", "PW", env={"PW": "pw"})
    pub = json.loads(text)["pubkey"]
    code, text = invoke("keys", "show", str(out))  # no passphrase: as the file states it
    assert code == 0 and json.loads(text) == {"file": str(out), "suite": "ed25519-sha256",
                                              "pubkey": pub, "checked": False}, text
    code, text = invoke("keys", "show", str(out), "--check", "--passphrase-env", "PW",
                        env={"PW": "pw"})
    assert code == 0 and json.loads(text)["checked"] is True and json.loads(text)["pubkey"] == pub
    code, text = invoke("keys", "show", str(out), "--check", "--passphrase-env", "PW",
                        env={"PW": "wrong"})
    assert code != 0 and "passphrase" in text, text
    # a public key altered in the file: shown as stated, refused by --check
    doc = json.loads(out.read_text())
    doc["public_key"] = "00" * 32
    out.write_text(json.dumps(doc))
    assert json.loads(invoke("keys", "show", str(out))[1])["pubkey"] == "00" * 32
    code, text = invoke("keys", "show", str(out), "--check", "--passphrase-env", "PW",
                        env={"PW": "pw"})
    assert code != 0, text
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    other.chmod(0o600)
    code, text = invoke("keys", "show", str(other))
    assert code != 0 and "not a key file" in text, text
    other.chmod(0o644)
    code, text = invoke("keys", "show", str(other))
    assert code != 0 and "chmod 600" in text, text


def test_keys_new_missing_passphrase_env_is_a_message(tmp_path: Path) -> None:
    code, text = invoke("keys", "new", str(tmp_path / "k"), "--passphrase-env", "NOPE_PW")
    assert code != 0 and "NOPE_PW" in text


@pytest.mark.parametrize("suite", ["ed25519-sha256", "sm2-sm3"])
def test_network_init_writes_a_consistent_network(tmp_path: Path, suite: str) -> None:
    out = tmp_path / "net"
    code, text = invoke("network", "init", "--nodes", "4", "--suite", suite, "--out", str(out),
                        "--clients", "2")
    assert code == 0, text
    doc = GenesisDoc.load(out / "genesis.json")
    assert doc.suite == suite and len(doc.validators) == 4
    anchor = Anchor.load(out / "anchor.json")
    assert anchor.validators == doc.validators
    phrase = (out / "passphrase").read_bytes().strip()
    ports = set()
    for i in range(4):
        cfg = tomllib.loads((out / f"node{i}.toml").read_text())
        assert cfg["index"] == i and len(cfg["peers"]) == 3
        ports |= {cfg["peer_port"], cfg["http_port"]}
        key = load_key(out / cfg["key_file"], phrase)
        assert key.public_key == doc.validators[i].pubkey
    assert len(ports) == 8
    manifest = json.loads((out / "network.json").read_text())
    assert len(manifest["clients"]) == 2
    code, text = invoke("network", "init", "--out", str(out))
    assert code != 0 and "not empty" in text


def _bundle_files(tmp_path: Path, suite: Suite) -> tuple[Path, Path, dict[str, object]]:
    chain = Chain.new(suite, 4)
    chain.extend({"cred/a": encoding.encode({"level": 1})})
    bundle = to_json(build_bundle(chain.store, chain.store.tree, "cred/a"))
    bundle_path, anchor_path = tmp_path / "b.json", tmp_path / "anchor.json"
    bundle_path.write_text(json.dumps(bundle))
    export_anchor(chain.store).save(anchor_path)
    return bundle_path, anchor_path, bundle


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_verify_says_what_a_valid_bundle_proves(tmp_path: Path, suite: Suite) -> None:
    bundle_path, anchor_path, _ = _bundle_files(tmp_path, suite)
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path))
    assert code == 0, text
    assert text.startswith("VALID: state bundle (PROTOCOL §7)")
    assert "PRESENT cred/a" in text and '{"level": 1}' in text and "+08:00" in text
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path), "--json")
    out = json.loads(text)
    assert out["valid"] is True and out["block"]["height"] == 1
    assert out["entries"] == [{"key": "cred/a", "present": True, "record": {"level": 1},
                               "value": encoding.encode({"level": 1}).hex(),
                               "value_hash": out["entries"][0]["value_hash"]}]
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path),
                        "--expect", "present")
    assert code == 0 and "YES: as expected, cred/a is present" in text
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path),
                        "--expect", "absent")
    assert code == 1 and "NO: expected absent, but cred/a is present" in text


def test_verify_says_absent_plainly_and_expect_answers_the_question(tmp_path: Path) -> None:
    chain = Chain.new(ED25519_SHA256, 4)
    chain.extend({"cred/a": encoding.encode({"level": 1})})
    bundle = to_json(build_bundle(chain.store, chain.store.tree, "guarantee/G-MADE-UP"))
    bundle_path, anchor_path = tmp_path / "b.json", tmp_path / "anchor.json"
    bundle_path.write_text(json.dumps(bundle))
    export_anchor(chain.store).save(anchor_path)
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path))
    assert code == 0 and "ABSENT  guarantee/G-MADE-UP" in text  # a valid proof of absence
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path),
                        "--expect", "present")
    assert code == 1 and "NO: expected present, but guarantee/G-MADE-UP is absent" in text


def test_verify_refuses_tampered_bundles_with_a_reason(tmp_path: Path) -> None:
    bundle_path, anchor_path, bundle = _bundle_files(tmp_path, ED25519_SHA256)
    forged = dict(bundle)
    forged["value"] = encoding.encode({"level": 9}).hex()
    bundle_path.write_text(json.dumps(forged))
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path))
    assert code == 1 and "NOT VALID" in text and "Traceback" not in text
    assert "Nothing in this bundle is proven" in text and "level" not in text
    bundle_path.write_text("{not json")
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path))
    assert code == 1 and "NOT VALID" in text
    other = Chain.new(ED25519_SHA256, 4, chain_id="other-chain")
    export_anchor(other.store).save(anchor_path)
    bundle_path.write_text(json.dumps(bundle))
    code, text = invoke("verify", str(bundle_path), "--anchor", str(anchor_path))
    assert code == 1 and "NOT VALID" in text
    # a bundle given where the anchor goes: named as not an anchor file
    code, text = invoke("verify", str(bundle_path), "--anchor", str(bundle_path))
    assert code != 0 and f"{bundle_path} is not an anchor file" in text, text


def test_proof_of_an_empty_key_says_what_a_key_is() -> None:
    code, text = invoke("proof", "", "--url", "http://127.0.0.1:9", "--out", "unused.json")
    assert code != 0 and "KEY is a state key, e.g. id/entity/<USCC>" in text, text


def test_node_start_with_bad_config_is_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "node.toml"
    bad.write_text("index = 0\n")
    code, text = invoke("node", "start", "--config", str(bad))
    assert code == 2 and "cannot start: setting 'name' is missing" in text


def test_status_of_an_unreachable_node_is_a_message() -> None:
    code, text = invoke("status", "--url", "http://127.0.0.1:9")
    assert code != 0 and "cannot reach" in text


@pytest.mark.parametrize("args,reason", [
    (("status", "--url", "notaurl"), "is not an http:// or https:// address"),
    (("status", "--url", "http://[::1"), "is not a URL: Invalid IPv6 URL"),
    (("status", "--url", ""), "is not an http:// or https:// address"),
    (("status", "--url", "ftp://127.0.0.1:21"), "is not an http:// or https:// address"),
    (("gov", "list", "--url", "http://127.0.0.1:70000"), "Port out of range"),
    (("watch", "--url", "notaurl", "--count", "1"), "is not an http:// or https:// address"),
    (("watch", "--post", "hook", "--secret-file", __file__), "is not an http:// or https://"),
    (("audit", "replay", "--url", "x"), "is not an http:// or https:// address"),
    (("proof", "id/entity/x", "--out", "/nonexistent/x.json"), "no directory '/nonexistent'"),
    (("eligibility", "91441500MA0000011C", "--tender", "T", "--out", "/nonexistent/e.json"),
     "no directory '/nonexistent'"),
])
def test_a_bad_url_or_out_path_is_refused_at_once_with_the_reason(
        args: tuple[str, ...], reason: str) -> None:
    """Before anything is fetched: no traceback, no retrying an address that can't work."""
    code, text = invoke(*args)
    assert code == 2 and reason in text and "Traceback" not in text, text


def test_network_init_demo_grants_the_story_roles_and_params(tmp_path: Path) -> None:
    from contracts.scenario import SCENARIO_PARAMS, scenario_roles

    out = tmp_path / "net"
    code, text = invoke("network", "init", "--nodes", "4", "--out", str(out), "--demo",
                        "--clients", "0")
    assert code == 0, text
    doc = GenesisDoc.load(out / "genesis.json")
    want = scenario_roles(ED25519_SHA256)
    assert {r: sorted(m) for r, m in doc.roles.items()} == {r: sorted(m) for r, m in want.items()}
    # a demo chain's heartbeat is a second: its "days" are 2 s, and the story waits for its
    # clock (user walks: `demo --url` on such a chain stalled five minutes at each wait)
    assert doc.params == {**SCENARIO_PARAMS, "heartbeat_ms": 1_000}
    # each granted role's key is handed out, readable with the network's passphrase (user
    # walk: the roles were granted to keys nobody was given), the supermarket's too
    from ledger.keyfile import load_key, read_passphrase_file

    phrase = read_passphrase_file(out / "passphrase")
    handed: dict[str, list[str]] = {}
    for line in text.splitlines()[2:]:
        path, role = line.split()
        handed.setdefault(role, []).append(load_key(out / path, phrase).public_key.hex())
    assert handed == {r: [k.hex() for k in m] for r, m in want.items()}
    assert "supermarket_admin" in handed
    assert oct((out / "roles").stat().st_mode & 0o777) == "0o700"


def test_text_from_the_chain_never_commands_the_terminal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An attestor's name holding a terminal title escape, a carriage return and a
    right-to-left override (user walk: `credchain verify` printed them raw): every command's
    output escapes them, JSON stays valid and means the same, line breaks and tabs stay."""
    from shell.client import NodeClient
    from shell.terminal import safe_text

    name = "A\x1b]0;pwned\x07\r\u202eevil\x9b\tok 中"
    monkeypatch.setattr(NodeClient, "state_answer",
                        lambda self, key: {"key": key, "value": {"name": name}, "height": 3})
    result = CliRunner().invoke(main, ["state", "id/entity/X", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert not set("\x1b\x07\r\u202e\x9b") & set(result.output), repr(result.output)
    value_json = result.output[:result.output.index("\n}") + 2]
    assert json.loads(value_json) == {"name": name}  # the escapes say the same in JSON
    assert safe_text("line\n\tnext") == "line\n\tnext"
    assert safe_text("\x1b[31m\u2066") == "\\u001b[31m\\u2066"


def test_two_networks_initialised_alike_do_not_share_a_chain_id(tmp_path: Path) -> None:
    """A signature covers the chain id, not the genesis (PROTOCOL §3): with one default id a
    transaction signed for one network was taken by another (user walk)."""
    ids = []
    for name in ("a", "b"):
        code, text = invoke("network", "init", "--nodes", "1", "--out", str(tmp_path / name),
                            "--clients", "0")
        assert code == 0, text
        ids.append(GenesisDoc.load(tmp_path / name / "genesis.json").chain_id)
        assert f"chain id {ids[-1]}" in text
    assert ids[0] != ids[1] and all(i.startswith("credchain-local-") for i in ids)
    code, text = invoke("network", "init", "--nodes", "1", "--out", str(tmp_path / "c"),
                        "--clients", "0", "--chain-id", "shanwei-2026")
    assert code == 0 and GenesisDoc.load(tmp_path / "c" / "genesis.json").chain_id == \
        "shanwei-2026"


def test_the_demo_story_refuses_a_chain_whose_clock_it_would_wait_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``demo --url`` on a chain with the 5-minute default heartbeat: one line that says
    why and what to do, at once, not a stall and a traceback."""
    from shell.client import NodeClient

    monkeypatch.setattr(NodeClient, "status", lambda self: {
        "chain_id": "c", "suite": "ed25519-sha256", "heartbeat_ms": 300_000})
    code, text = invoke("demo", "--url", "http://127.0.0.1:9", "--anchor", __file__)
    assert code == 1 and "Traceback" not in text, text
    assert "idle block every 300 s" in text and "network init --demo" in text, text


def test_network_init_for_separate_machines(tmp_path: Path) -> None:
    out = tmp_path / "net"
    code, text = invoke("network", "init", "--nodes", "4", "--out", str(out), "--clients", "0",
                        "--hosts", "10.0.0.1,10.0.0.2,shanwei.example,10.0.0.4")
    assert code == 0, text
    cfg = tomllib.loads((out / "node2.toml").read_text())
    assert cfg["host"] == "0.0.0.0" and (cfg["peer_port"], cfg["http_port"]) == (26650, 26651)
    assert [(p["index"], p["host"], p["port"]) for p in cfg["peers"]] == [
        (0, "10.0.0.1", 26650), (1, "10.0.0.2", 26650), (3, "10.0.0.4", 26650)]
    manifest = json.loads((out / "network.json").read_text())
    assert manifest["nodes"][2]["http"] == "http://shanwei.example:26651"
    code, text = invoke("network", "init", "--nodes", "3", "--out", str(tmp_path / "n2"),
                        "--hosts", "a,b")
    assert code != 0 and "names 2 hosts for 3 nodes" in text


def test_node_init_writes_a_joining_nodes_config_and_refuses_bad_peers(tmp_path: Path) -> None:
    from shell.config import NodeConfig

    net = tmp_path / "net"
    assert invoke("network", "init", "--nodes", "4", "--out", str(net), "--clients", "0")[0] == 0
    city = tmp_path / "city"
    city.mkdir()
    (city / "phrase").write_text("city passphrase\n")
    (city / "phrase").chmod(0o600)
    code, text = invoke("keys", "new", str(city / "city.key"), "--passphrase-file",
                        str(city / "phrase"))
    assert code == 0, text
    base = ["node", "init", "--genesis", str(net / "genesis.json"), "--key",
            str(city / "city.key"), "--passphrase-file", str(city / "phrase"), "--name", "city",
            "--peer-port", "27000", "--http-port", "27001"]
    code, text = invoke(*base, "--out", str(city / "city.toml"), "--peer", "node1@10.0.0.2:26650",
                        "--peer", "3@10.0.0.4:26650")
    assert code == 0 and "an observer until voted in" in text, text
    cfg = NodeConfig.load(city / "city.toml")
    # no index guessed: a second city voted in first would make a guessed 4 wrong, and the
    # node refused to restart once seated at 5 (operator walk); it learns its place
    assert cfg.index is None and cfg.data_dir == (city / "data" / "city").resolve()
    assert "learns its place from the chain" in (city / "city.toml").read_text()
    assert [(p.index, p.host, p.port) for p in cfg.peers] == [(1, "10.0.0.2", 26650),
                                                               (3, "10.0.0.4", 26650)]
    assert cfg.key_file == (city / "city.key").resolve()
    for bad, why in (("nobody@h:1", "neither a validator's name"), ("node1@h", "HOST:PORT"),
                     ("node1@h:99999", "HOST:PORT")):
        code, text = invoke(*base, "--out", str(city / "x.toml"), "--peer", bad)
        assert code != 0 and why in text, text
    code, text = invoke(*base, "--out", str(city / "city.toml"))
    assert code != 0 and "not overwriting" in text


def test_a_key_of_another_suite_than_the_chains_is_refused_by_init_and_start(
        tmp_path: Path) -> None:
    """A city following the runbook with the default key on an sm2-sm3 chain hears it from
    node init (and from node start, for a config written by hand), not at its first vote."""
    import dataclasses

    from shell.config import NodeConfig
    from shell.server import Node

    net = tmp_path / "net"
    assert invoke("network", "init", "--nodes", "4", "--out", str(net), "--clients", "0",
                  "--suite", "sm2-sm3")[0] == 0
    (tmp_path / "phrase").write_text("city passphrase\n")
    (tmp_path / "phrase").chmod(0o600)
    for name, suite in (("ed.key", "ed25519-sha256"), ("sm2.key", "sm2-sm3")):
        code, text = invoke("keys", "new", str(tmp_path / name), "--suite", suite,
                            "--passphrase-file", str(tmp_path / "phrase"))
        assert code == 0, text
    base = ["node", "init", "--genesis", str(net / "genesis.json"), "--passphrase-file",
            str(tmp_path / "phrase"), "--name", "city", "--peer-port", "27000",
            "--http-port", "27001", "--out", str(tmp_path / "city.toml")]
    code, text = invoke(*base, "--key", str(tmp_path / "ed.key"))
    assert code != 0 and "holds an ed25519-sha256 key; this chain's genesis uses sm2-sm3" in text
    assert "credchain keys new FILE --suite sm2-sm3" in text
    assert not (tmp_path / "city.toml").exists()
    code, text = invoke(*base, "--key", str(tmp_path / "sm2.key"))
    assert code == 0, text
    config = NodeConfig.load(tmp_path / "city.toml")
    wrong = dataclasses.replace(config, key_file=(tmp_path / "ed.key").resolve())
    with pytest.raises(InvalidInput, match="this chain's genesis uses sm2-sm3"):
        Node.open(wrong)
    assert not (config.data_dir / "db").exists()  # refused before any store is made


def test_state_sync_over_a_store_of_genesis_only_says_how_to_get_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An earlier start left a store holding genesis: --state-sync cannot fill it, and says
    which command sets it aside (keeping the vote records) instead of 'not needed'."""
    from shell.config import NodeConfig
    from shell.server import Node

    net = tmp_path / "net"
    assert invoke("network", "init", "--nodes", "4", "--out", str(net), "--clients", "0")[0] == 0
    config = NodeConfig.load(net / "node3.toml")
    for state_sync in (False, True):  # the earlier start (genesis only), then the sync
        with caplog.at_level("INFO", logger="credchain"):
            node = Node.open(config, state_sync=state_sync)
        node.admission.close()
        node.chain.close()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "holds genesis only" in said and "credchain node resync --config" in said, said
    assert "--state-sync" in said and "not needed" not in said


def test_proof_and_eligibility_refuse_an_answer_to_another_question(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node (wrong or dishonest) that answers with another key's bundle, another height, or
    another eligibility question: nothing is written, so nothing verifies "as expected" for
    the key asked (verifier walk: a fake node's bundle for guarantee -d passed as -a)."""
    from shell.client import NodeClient

    def other_bundle(self: NodeClient, key: str, height: int | None = None) -> Any:
        return {"key": "guarantee/BG-d", "header": {"height": 40}}

    monkeypatch.setattr(NodeClient, "proof", other_bundle)
    out = tmp_path / "f.json"
    code, text = invoke("proof", "guarantee/BG-a", "--url", "http://127.0.0.1:9", "--out",
                        str(out))
    assert code == 1 and "for 'guarantee/BG-d' at height 40, not for 'guarantee/BG-a'" in text
    code, text = invoke("proof", "guarantee/BG-d", "--height", "400", "--url",
                        "http://127.0.0.1:9", "--out", str(out))
    assert code == 1 and "not for 'guarantee/BG-d' at height 400" in text
    assert not out.exists()

    def other_question(self: NodeClient, path: str) -> Any:
        return {"question": {"uscc": "91441500MA0000011C", "tender_id": "T", "lot": 1},
                "answer": {"eligible": True, "at_ms": 0, "reasons": []}}

    monkeypatch.setattr(NodeClient, "get", other_question)
    code, text = invoke("eligibility", "91441500MA0000015Q", "--tender", "T", "--url",
                        "http://127.0.0.1:9", "--out", str(out))
    assert code == 1 and "answered another question" in text and not out.exists()


def test_a_url_that_answers_no_http_is_one_line_not_a_traceback() -> None:
    """An operator's --url at a node's peer port (operator walk: ~40 lines of traceback
    ending in BadStatusLine)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_garbage() -> None:
        for _ in range(2):  # bounded: the CLI asks once
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"CCSL\x00\x01\x02 not http\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        code, text = invoke("status", "--url", f"http://127.0.0.1:{port}")
    finally:
        server.close()
    assert code == 1 and "does not answer HTTP" in text and "peer port" in text, text
    assert "Traceback" not in text


def test_network_init_says_which_client_keys_are_the_committee(tmp_path: Path) -> None:
    """Operator walk: nothing in network.json said client3 is no committee member."""
    import json

    out = tmp_path / "net"
    code, text = invoke("network", "init", "--nodes", "1", "--out", str(out), "--clients", "4")
    assert code == 0, text
    assert "the committee (gov proposals and votes): client0.key, client1.key, client2.key" \
        in text, text
    clients = json.loads((out / "network.json").read_text())["clients"]
    assert [c["committee"] for c in clients] == [True, True, True, False]
