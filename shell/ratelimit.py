"""Token buckets per source: requests, signature verifications and bytes, each per second.

A source is a client address (or a peer). ``TokenBuckets.take(source, n, now_s)`` spends
``n`` tokens if the source has them; each bucket refills at ``rate`` per second up to
``burst``. The table of sources is bounded: when it is full, the idlest half is forgotten
(a forgotten source starts again with a full bucket, which only ever favours it once).
Limits count *work*, not requests: a request of 5,000 badly signed transactions spends 5,000
verification tokens, so it can't cost the node more than the configured rate.
"""

from __future__ import annotations


class TokenBuckets:
    def __init__(self, rate_per_s: float, burst: float | None = None,
                 max_sources: int = 10_000) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate_per_s)
        self.burst = float(burst if burst is not None else rate_per_s)
        self.max_sources = max_sources
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, last_s)

    def available(self, source: str, now_s: float) -> float:
        tokens, last = self._buckets.get(source, (self.burst, now_s))
        return min(self.burst, tokens + max(0.0, now_s - last) * self.rate)

    def take(self, source: str, n: float, now_s: float) -> bool:
        """Spend ``n`` tokens of ``source`` if it has them all; True if spent."""
        tokens = self.available(source, now_s)
        if tokens < n:
            self._buckets[source] = (tokens, now_s)
            return False
        self._forget_if_full(source)
        self._buckets[source] = (tokens - n, now_s)
        return True

    def take_up_to(self, source: str, n: int, now_s: float) -> int:
        """Spend as many whole tokens as the source has, up to ``n``; returns how many."""
        tokens = self.available(source, now_s)
        got = min(n, int(tokens))
        self._forget_if_full(source)
        self._buckets[source] = (tokens - got, now_s)
        return got

    def _forget_if_full(self, source: str) -> None:
        if source in self._buckets or len(self._buckets) < self.max_sources:
            return
        by_age = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
        for old, _ in by_age[: len(by_age) // 2]:
            del self._buckets[old]
