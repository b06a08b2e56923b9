"""The shadow diff: a mirrored request's answer compared with the live one's.

Azure's mirror only yields the shadow's metrics and logs; here each mirrored response is compared
with the response the caller got. Two answers agree when they have the same shape and every value is
equal, numbers within ``TOLERANCE`` of each other (relative to their size). ``online-endpoint show``
reports, for the mirror deployment: how many were compared, the share that disagreed, the largest
numeric difference seen, and the median of (mirror latency - live latency).
"""

from __future__ import annotations

import collections
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 1e-9
_WINDOW = 1000  # latency deltas kept for the median


def leaves(value: Any) -> list[Any]:
    """The scalars of a JSON document in order (dict values by sorted key)."""
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in leaves(value[key])]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def difference(live: bytes, mirror: bytes) -> tuple[bool, float | None]:
    """(whether the answers disagree, the largest numeric difference between them or None)."""
    if live == mirror:
        return False, 0.0
    try:
        left, right = leaves(json.loads(live)), leaves(json.loads(mirror))
    except ValueError:
        return True, None
    if len(left) != len(right):
        return True, None
    largest, disagree = 0.0, False
    for a, b in zip(left, right, strict=True):
        if _number(a) and _number(b):
            gap = abs(float(a) - float(b))
            if math.isnan(gap):
                gap = 0.0 if math.isnan(float(a)) and math.isnan(float(b)) else math.inf
            largest = max(largest, gap)
            disagree = disagree or gap > TOLERANCE * max(1.0, abs(float(a)), abs(float(b)))
        elif a != b:
            disagree = True
    return disagree, largest


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class MirrorStats:
    """The comparison so far, for one endpoint's mirror deployment."""

    deployment: str
    compared: int = 0
    disagreed: int = 0
    failed: int = 0  # the mirror answered an error where the live one did not
    dropped: int = 0  # not sent: the mirror was overloaded or not ready
    largest: float | None = None
    deltas: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=_WINDOW))

    def add(self, live: bytes, mirror: bytes, live_ms: float, mirror_ms: float) -> None:
        disagree, gap = difference(live, mirror)
        self.compared += 1
        self.disagreed += disagree
        if gap is not None:
            self.largest = gap if self.largest is None else max(self.largest, gap)
        self.deltas.append(mirror_ms - live_ms)

    def report(self) -> dict[str, Any]:
        """What ``online-endpoint show`` gives under ``mirror``."""
        return {
            "deployment": self.deployment,
            "requests_compared": self.compared,
            "disagreement_rate": round(self.disagreed / self.compared, 4) if self.compared else None,
            "max_abs_difference": self.largest,
            "latency_delta_ms_p50": round(statistics.median(self.deltas), 3) if self.deltas else None,
            "mirror_errors": self.failed,
            "dropped": self.dropped,
        }
