"""Key generation and key files encrypted at rest.

A key file is JSON::

    {"version": 1, "suite": "sm2-sm3", "public_key": "<hex>",
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<hex, 16 bytes>"},
     "cipher": {"name": "chacha20-poly1305", "nonce": "<hex, 12 bytes>"},
     "ciphertext": "<hex: 32-byte secret + 16-byte tag>"}

The passphrase is stretched with scrypt (memory-hard: n=2^15, r=8, p=1 takes ~32 MiB and
~0.1 s, which is what makes guessing offline expensive) into a 32-byte key for
ChaCha20-Poly1305. The AEAD's associated data is the canonical encoding of every other
field (version, suite, public key, kdf parameters and salt, nonce), so editing any of them
makes decryption fail; after decryption the public key is recomputed from the secret and
must match. A wrong passphrase and a tampered file are indistinguishable by design and both
give ``InvalidInput("wrong passphrase or corrupted key file")``.

Files are created with mode 0600 through ``os.open`` (never readable by others, not even
for an instant), and never overwritten. A key file or passphrase file that group or others
may access (``mode & 0o077``) is refused when it is read, with a one-line error naming the
file and the fix (``chmod 600 FILE``): an encrypted key whose passphrase sits in a
world-readable file is a key anyone on the machine holds. ``read_passphrase_file`` is the
one reader of passphrase files, for the node and the CLI alike.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ledger import encoding
from ledger.crypto import SECRET_LEN, Suite, get_suite
from ledger.errors import InvalidInput
from ledger.jsonform import hex_to_bytes

VERSION = 1
SCRYPT_N = 1 << 15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LEN = 16
NONCE_LEN = 12
KEY_LEN = 32
# Bounds on what a file may ask for, so a hostile file cannot make us allocate gigabytes.
MAX_SCRYPT_N = 1 << 20
MAX_FILE_BYTES = 64 * 1024
MAX_PASSPHRASE_FILE_BYTES = 4096
WRONG = "wrong passphrase or corrupted key file"


@dataclass(frozen=True)
class KeyPair:
    suite: Suite
    secret: bytes
    public_key: bytes


def generate_key(suite: Suite) -> KeyPair:
    secret = suite.generate_secret()
    return KeyPair(suite, secret, suite.public_key(secret))


def _passphrase_bytes(passphrase: bytes | str) -> bytes:
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    if not isinstance(passphrase, bytes) or not passphrase:
        raise InvalidInput("the passphrase must not be empty")
    return passphrase


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_LEN, n=n, r=r, p=p).derive(passphrase)


def _associated_data(meta: dict[str, Any]) -> bytes:
    return encoding.encode(meta)


def encrypt_key(
    suite: Suite,
    secret: bytes,
    passphrase: bytes | str,
    scrypt_n: int = SCRYPT_N,
) -> dict[str, Any]:
    """The key-file document (JSON-ready) for ``secret`` under ``passphrase``."""
    phrase = _passphrase_bytes(passphrase)
    public = suite.public_key(secret)
    salt = os.urandom(SALT_LEN)
    nonce = os.urandom(NONCE_LEN)
    meta = _meta(suite.name, public, scrypt_n, SCRYPT_R, SCRYPT_P, salt, nonce)
    key = _derive(phrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    ciphertext = ChaCha20Poly1305(key).encrypt(nonce, secret, _associated_data(meta))
    return {
        "version": VERSION,
        "suite": suite.name,
        "public_key": public.hex(),
        "kdf": {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
        "cipher": {"name": "chacha20-poly1305", "nonce": nonce.hex()},
        "ciphertext": ciphertext.hex(),
    }


def scrypt_params_in_bounds(n: Any, r: Any, p: Any) -> bool:
    """Whether scrypt parameters read from a file are ones this code would accept: integers,
    ``n`` a power of two up to ``MAX_SCRYPT_N`` (a file can't make us spend unbounded memory),
    small ``r`` and ``p``. Key files and protected sealed-bid files both ask."""
    return all(type(x) is int for x in (n, r, p)) and (
        2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16)


def _meta(suite: str, public: bytes, n: int, r: int, p: int, salt: bytes,
          nonce: bytes) -> dict[str, Any]:
    return {
        "version": VERSION,
        "suite": suite,
        "public_key": public,
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": salt},
        "cipher": {"name": "chacha20-poly1305", "nonce": nonce},
    }


def decrypt_key(doc: Any, passphrase: bytes | str) -> KeyPair:
    """The key pair in a key-file document; InvalidInput if the passphrase is wrong or the
    document was altered."""
    phrase = _passphrase_bytes(passphrase)
    try:
        if not isinstance(doc, dict) or set(doc) != {
            "version", "suite", "public_key", "kdf", "cipher", "ciphertext"
        }:
            raise InvalidInput("not a key file")
        if doc["version"] != VERSION:
            raise InvalidInput(f"key file version {doc['version']!r} is not supported")
        suite = get_suite(doc["suite"])
        public = hex_to_bytes(doc["public_key"], "public_key")
        kdf, cipher = doc["kdf"], doc["cipher"]
        if not isinstance(kdf, dict) or set(kdf) != {"name", "n", "r", "p", "salt"}:
            raise InvalidInput("key file kdf is malformed")
        if not isinstance(cipher, dict) or set(cipher) != {"name", "nonce"}:
            raise InvalidInput("key file cipher is malformed")
        n, r, p = kdf["n"], kdf["r"], kdf["p"]
        if kdf["name"] != "scrypt" or cipher["name"] != "chacha20-poly1305":
            raise InvalidInput("key file names an unknown kdf or cipher")
        if not scrypt_params_in_bounds(n, r, p):
            raise InvalidInput("key file scrypt parameters are out of bounds")
        salt = hex_to_bytes(kdf["salt"], "kdf.salt")
        nonce = hex_to_bytes(cipher["nonce"], "cipher.nonce")
        ciphertext = hex_to_bytes(doc["ciphertext"], "ciphertext")
        if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
            raise InvalidInput("key file salt or nonce has the wrong length")
    except (InvalidInput, KeyError, TypeError) as exc:
        raise InvalidInput(f"{WRONG} ({exc})") from None
    meta = _meta(suite.name, public, n, r, p, salt, nonce)
    key = _derive(phrase, salt, n, r, p)
    try:
        secret = ChaCha20Poly1305(key).decrypt(nonce, ciphertext, _associated_data(meta))
    except InvalidTag:
        raise InvalidInput(WRONG) from None
    if len(secret) != SECRET_LEN or suite.public_key(secret) != public:
        raise InvalidInput(WRONG)
    return KeyPair(suite, secret, public)


def save_key(
    path: str | Path,
    suite: Suite,
    secret: bytes,
    passphrase: bytes | str,
    scrypt_n: int = SCRYPT_N,
) -> KeyPair:
    """Write an encrypted key file at ``path`` (mode 0600, refusing to overwrite)."""
    doc = encrypt_key(suite, secret, passphrase, scrypt_n)
    write_new_private(path, (json.dumps(doc, indent=2) + "\n").encode(), "key file",
                      f"key file {path} exists already; refusing to overwrite it")
    return KeyPair(suite, secret, suite.public_key(secret))


def write_new_private(path: str | Path, data: bytes, what: str, exists: str) -> None:
    """Create ``path`` (mode 0600, never over an existing file: ``exists`` is the refusal)
    and write ``data`` durably. Key files, sealed-bid files and bidder-secret files."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(exists) from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_private(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of ``path`` (at most ``max_bytes`` + 1 read), refusing a file that is not
    a regular file or that group or others may access. The mode is checked on the open
    file (``fstat``), so it is the mode of exactly what is read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"{what} {path} is not a regular file")
        if os.name == "posix" and st.st_mode & 0o077:
            raise InvalidInput(
                f"{what} {path} is accessible by group or others (mode "
                f"{stat.S_IMODE(st.st_mode):04o}): a {what} must be private; if this is "
                f"one, run: chmod 600 {path}")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:  # a read may return less than asked for
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def load_key(path: str | Path, passphrase: bytes | str) -> KeyPair:
    """Read and decrypt a key file; every failure is an InvalidInput with a clear message
    (a file group or others may access is refused before it is parsed)."""
    return decrypt_key(_read_doc(path, WRONG), passphrase)


def read_public(path: str | Path) -> tuple[str, bytes]:
    """``(suite name, public key)`` as a key file states them, without its passphrase. Not
    authenticated: ``load_key`` checks them (they are the cipher's associated data)."""
    doc = _read_doc(path, f"{path} is not a key file")
    if not isinstance(doc, dict) or doc.get("version") != VERSION or not isinstance(
            doc.get("suite"), str) or not isinstance(doc.get("public_key"), str):
        raise InvalidInput(f"{path} is not a key file of version {VERSION}")
    suite = get_suite(doc["suite"])
    return suite.name, hex_to_bytes(doc["public_key"], "public_key")


def _read_doc(path: str | Path, not_json: str) -> Any:
    """A key file's JSON document, read as a private file (``read_private``)."""
    raw = read_private(path, "key file", MAX_FILE_BYTES)
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInput(f"key file {path} is too large to be a key file")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(f"{not_json} (not JSON, or nested too deeply)") from None


def load_chain_key(path: str | Path, passphrase: bytes | str, chain_suite: str) -> KeyPair:
    """``load_key`` for a node of a chain whose genesis names ``chain_suite``: a key of
    another suite is refused here, with the command that makes a right one (it could never
    sign anything the chain accepts)."""
    pair = load_key(path, passphrase)
    if pair.suite.name != chain_suite:
        raise InvalidInput(f"key file {path} holds an {pair.suite.name} key; this chain's "
                           f"genesis uses {chain_suite}: make a key with `credchain keys new "
                           f"FILE --suite {chain_suite}`")
    return pair


def read_passphrase_file(path: str | Path, what: str = "passphrase file") -> bytes:
    """The passphrase in ``path``: its bytes without the trailing line break. Refuses a
    file group or others may access, an empty one and one too large to be a passphrase.
    ``what`` names the file in the refusals (a webhook's secret is read the same way)."""
    raw = read_private(path, what, MAX_PASSPHRASE_FILE_BYTES)
    if len(raw) > MAX_PASSPHRASE_FILE_BYTES:
        raise InvalidInput(f"{what} {path} is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes")
    phrase = raw.rstrip(b"\r\n")
    if not phrase:
        raise InvalidInput(f"{what} {path} is empty")
    return phrase
