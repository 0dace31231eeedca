"""Error kinds of the ledger core.

Two kinds, as in h11: ``InvalidInput`` is bad bytes or values from outside (a peer, a client,
a file) and always says what failed; ``CorruptStore`` is data of our own that fails its
check on load, which must stop the node rather than be served. ``HistoryPruned`` is a
lookup below the oldest height a node keeps: neither bad input nor damage.
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


class HistoryPruned(LookupError):
    """A height below the oldest one this node holds or serves: not absent from the chain,
    only from here (a store started from a snapshot, or a node keeping recent heights only).
    ``oldest`` is the oldest height held; the HTTP API answers 410 Gone with the message."""

    def __init__(self, height: int, oldest: int, what: str = "height") -> None:
        super().__init__(
            f"{what} {height} is below the oldest height this node keeps ({oldest}): "
            f"ask an archive node")
        self.height = height
        self.oldest = oldest
