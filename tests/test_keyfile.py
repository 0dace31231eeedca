"""Encrypted key files: round trip per suite, wrong passphrase, tampering, mode 0600; key
and passphrase files that group or others may access are refused with the fix."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ledger import keyfile
from ledger.crypto import ED25519_SHA256, SM2_SM3, Suite
from ledger.errors import InvalidInput

FAST_N = 1 << 10  # tampering tests need no real cost; one test uses the default


def write_private(path: Path, text: str | bytes) -> Path:
    """Write ``path`` with mode 0600, as every file the project writes is."""
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("suite", [ED25519_SHA256, SM2_SM3], ids=lambda s: s.name)
def test_round_trip_with_default_cost(tmp_path: Path, suite: Suite) -> None:
    pair = keyfile.generate_key(suite)
    path = tmp_path / "node.key"
    keyfile.save_key(path, suite, pair.secret, "correct horse")
    loaded = keyfile.load_key(path, b"correct horse")
    assert loaded == pair
    doc = json.loads(path.read_text())
    assert doc["kdf"]["n"] == keyfile.SCRYPT_N and doc["public_key"] == pair.public_key.hex()
    assert pair.secret.hex() not in path.read_text()
    sig = loaded.suite.sign(loaded.secret, b"msg")
    assert suite.verify(pair.public_key, b"msg", sig)


def test_file_mode_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        keyfile.save_key(path, ED25519_SHA256, bytes(range(32)), "pw", FAST_N)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        keyfile.save_key(path, ED25519_SHA256, bytes(32), "pw", FAST_N)
    assert path.read_bytes() == before


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keyfile.save_key(path, SM2_SM3, keyfile.generate_key(SM2_SM3).secret, "right", FAST_N)
    with pytest.raises(InvalidInput, match="^wrong passphrase or corrupted key file$"):
        keyfile.load_key(path, "wrong")
    with pytest.raises(InvalidInput, match="must not be empty"):
        keyfile.load_key(path, "")


def _flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


@pytest.mark.parametrize(
    "field",
    ["ciphertext", "public_key", "salt", "nonce", "n", "suite", "version", "garbage", "extra"],
)
def test_tampered_file_fails_with_the_same_message(tmp_path: Path, field: str) -> None:
    path = tmp_path / "k.key"
    keyfile.save_key(path, ED25519_SHA256, keyfile.generate_key(ED25519_SHA256).secret, "pw",
                     FAST_N)
    doc = json.loads(path.read_text())
    if field in ("ciphertext", "public_key"):
        doc[field] = _flip_hex(doc[field])
    elif field == "salt":
        doc["kdf"]["salt"] = _flip_hex(doc["kdf"]["salt"])
    elif field == "nonce":
        doc["cipher"]["nonce"] = _flip_hex(doc["cipher"]["nonce"])
    elif field == "n":
        doc["kdf"]["n"] = FAST_N * 2
    elif field == "suite":
        doc["suite"] = "sm2-sm3"
    elif field == "version":
        doc["version"] = 2
    elif field == "extra":
        doc["note"] = "x"
    tampered = tmp_path / "t.key"
    text = "{not json" if field == "garbage" else json.dumps(doc)
    write_private(tampered, text)
    with pytest.raises(InvalidInput, match="^wrong passphrase or corrupted key file"):
        keyfile.load_key(tampered, "pw")


def test_hostile_scrypt_cost_is_refused_before_deriving(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keyfile.save_key(path, ED25519_SHA256, bytes(range(32)), "pw", FAST_N)
    doc = json.loads(path.read_text())
    doc["kdf"]["n"] = 1 << 30
    path2 = write_private(tmp_path / "hostile.key", json.dumps(doc))
    with pytest.raises(InvalidInput, match="out of bounds"):
        keyfile.load_key(path2, "pw")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read key file"):
        keyfile.load_key(tmp_path / "absent.key", "pw")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601, 0o620])
def test_a_key_file_others_may_access_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.key"
    keyfile.save_key(path, ED25519_SHA256, bytes(range(32)), "pw", FAST_N)
    path.chmod(mode)
    with pytest.raises(InvalidInput) as err:
        keyfile.load_key(path, "pw")
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert message.endswith(f"run: chmod 600 {path}") and f"{mode:04o}" in message
    path.chmod(0o600)  # the fix works
    assert keyfile.load_key(path, "pw").secret == bytes(range(32))
    path.chmod(0o400)  # owner-only, read-only is fine too
    assert keyfile.load_key(path, "pw").secret == bytes(range(32))


def test_passphrase_files_are_read_once_checked(tmp_path: Path) -> None:
    path = write_private(tmp_path / "pass", b"correct horse\r\n")
    assert keyfile.read_passphrase_file(path) == b"correct horse"
    path.chmod(0o644)
    with pytest.raises(InvalidInput, match=f"passphrase file {path} .*, run: chmod 600 {path}$"):
        keyfile.read_passphrase_file(path)
    empty = write_private(tmp_path / "empty", b"\n")
    with pytest.raises(InvalidInput, match="is empty"):
        keyfile.read_passphrase_file(empty)
    big = write_private(tmp_path / "big", b"x" * (keyfile.MAX_PASSPHRASE_FILE_BYTES + 1))
    with pytest.raises(InvalidInput, match="larger than"):
        keyfile.read_passphrase_file(big)
    with pytest.raises(InvalidInput, match="cannot read passphrase file"):
        keyfile.read_passphrase_file(tmp_path / "absent")
    with pytest.raises(InvalidInput, match="not a regular file"):
        keyfile.read_passphrase_file(tmp_path)


def test_network_init_writes_files_that_load(tmp_path: Path) -> None:
    from shell.localnet import NETWORK_PASSPHRASE_FILE, init_network

    out = tmp_path / "net"
    old_umask = os.umask(0o022)  # the usual umask: new files would be 0644 by default
    try:
        manifest = init_network(out, 2, "ed25519-sha256", "chain", clients=1)
    finally:
        os.umask(old_umask)
    phrase = keyfile.read_passphrase_file(out / NETWORK_PASSPHRASE_FILE)
    for name in ("node0.key", "node1.key", manifest["clients"][0]["key_file"]):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
        keyfile.load_key(out / name, phrase)
