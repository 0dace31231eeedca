"""Attack: another local user reads a validator's key and its passphrase (review finding 8).

Before: a key file and a passphrase file with mode 0644 (a copy with ``cp``, a careless
umask, a config-management tool) were used without a word, so any account on the machine
could read both and sign as the validator. Now loading either refuses, naming the file
and the fix; after ``chmod 600`` both load.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger import keyfile
from ledger.crypto import ED25519_SHA256
from ledger.errors import InvalidInput


def test_world_readable_key_and_passphrase_files_are_refused(tmp_path: Path) -> None:
    made = tmp_path / "made"
    made.mkdir()
    keyfile.save_key(made / "node.key", ED25519_SHA256, bytes(range(32)), "s3cret", 1 << 10)
    (made / "passphrase").write_bytes(b"s3cret\n")
    (made / "passphrase").chmod(0o600)
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    for name in ("node.key", "passphrase"):  # copied as an operator might, then opened up
        shutil.copy(made / name, deployed / name)
        (deployed / name).chmod(0o644)

    with pytest.raises(InvalidInput, match=r"passphrase file .* run: chmod 600 .*passphrase$"):
        keyfile.read_passphrase_file(deployed / "passphrase")
    with pytest.raises(InvalidInput, match=r"key file .* run: chmod 600 .*node\.key$"):
        keyfile.load_key(deployed / "node.key", b"s3cret")

    for name in ("node.key", "passphrase"):
        (deployed / name).chmod(0o600)
    phrase = keyfile.read_passphrase_file(deployed / "passphrase")
    assert keyfile.load_key(deployed / "node.key", phrase).secret == bytes(range(32))
