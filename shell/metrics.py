"""The node's metrics, rendered in the Prometheus text format at ``GET /metrics``.

``Metrics`` holds counters, gauges and histograms, each with HELP text and optional labels;
the shell updates them where the thing happens (admission, commit, links) and the API
renders them. Gauges read at render time are registered as functions (``gauge_fn``), so a
value is never stale. Label values are escaped; the set of label values per metric is
bounded (``MAX_LABEL_SETS``) so a stream of distinct reasons cannot grow memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LATENCY_BUCKETS_S = (0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0,
                     3.0, 5.0, 10.0)
MAX_LABEL_SETS = 256
Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += value
        self.n += 1

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding quantile ``q`` (None when empty)."""
        if not self.n:
            return None
        rank, acc = q * self.n, 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            acc += c
            if acc >= rank:
                return b
        return float("inf")


@dataclass
class _Family:
    kind: str  # "counter" | "gauge" | "histogram"
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, Histogram] = field(default_factory=dict)
    read: Callable[[], Sequence[tuple[Labels, float]]] | None = None


class Metrics:
    def __init__(self, prefix: str = "credchain_") -> None:
        self.prefix = prefix
        self._families: dict[str, _Family] = {}

    def _family(self, name: str, kind: str, help_text: str) -> _Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = _Family(kind, help_text)
        elif fam.kind != kind:
            raise ValueError(f"metric {name} is a {fam.kind}, not a {kind}")
        return fam

    def counter(self, name: str, help_text: str) -> None:
        self._family(name, "counter", help_text)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        fam = self._families[name]
        key = tuple(sorted(labels.items()))
        if key not in fam.values and len(fam.values) >= MAX_LABEL_SETS:
            key = (("overflow", "true"),)
        fam.values[key] = fam.values.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        return self._families[name].values.get(tuple(sorted(labels.items())), 0.0)

    def gauge_fn(self, name: str, help_text: str,
                 read: Callable[[], Sequence[tuple[Labels, float]]]) -> None:
        """A gauge whose values are read when metrics are rendered."""
        self._family(name, "gauge", help_text).read = read

    def histogram(self, name: str, help_text: str,
                  buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> Histogram:
        fam = self._family(name, "histogram", help_text)
        return fam.histograms.setdefault((), Histogram(buckets))

    def render(self) -> str:
        out: list[str] = []
        for name, fam in sorted(self._families.items()):
            full = self.prefix + name
            out.append(f"# HELP {full} {fam.help}")
            out.append(f"# TYPE {full} {fam.kind}")
            if fam.kind == "histogram":
                for labels, h in fam.histograms.items():
                    acc = 0
                    for b, c in zip(h.buckets, h.counts, strict=False):
                        acc += c
                        le = _labels(labels, 'le="' + str(b) + '"')
                        out.append(f"{full}_bucket{le} {acc}")
                    le = _labels(labels, 'le="+Inf"')
                    out.append(f"{full}_bucket{le} {h.n}")
                    out.append(f"{full}_sum{_labels(labels)} {h.total:.6f}")
                    out.append(f"{full}_count{_labels(labels)} {h.n}")
                continue
            items = list(fam.read()) if fam.read is not None else list(fam.values.items())
            if not items and fam.kind == "counter":
                items = [((), 0.0)]
            for labels, v in items:
                out.append(f"{full}{_labels(labels)} {_number(v)}")
        return "\n".join(out) + "\n"


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}"
