"""Error kinds of the ledger core.

Two kinds, as in h11: ``InvalidInput`` is bad bytes or values from outside (a peer, a client,
a file) and always says what failed; ``CorruptStore`` is data of our own that fails its
check on load, which must stop the node rather than be served.
"""


class InvalidInput(ValueError):
    """Input from outside that is malformed, tampered or out of bounds."""


class EncodingError(InvalidInput):
    """Bytes or values that are not canonical encoding (PROTOCOL §1)."""


class UnknownSuite(InvalidInput):
    """A crypto suite name that is not one of PROTOCOL §2."""


class BadSignature(InvalidInput):
    """A signature that does not verify, or has the wrong length."""


class ProofError(InvalidInput):
    """A state proof, QC or proof bundle that does not verify."""


class CorruptStore(RuntimeError):
    """Stored data that fails its hash or consistency check: never served."""
