"""Failure policies, the same for every executor: retries, isolation of bad items, thresholds.

A mini-batch is first tried whole, ``1 + max_retries`` times. When it keeps failing with an exception
and holds several items, it is split in halves that get one try each; a half that fails is halved
again, down to single items, which get the normal ``1 + max_retries`` tries. Good items then succeed
and each bad item fails with its own error. The cost is bounded: a mini-batch of n items with b bad
ones costs at most about ``2 * b * log2(n)`` extra piece runs plus the single-item retries.
Worker deaths are split like exceptions (an item that kills its worker fails alone); timeouts are
retried but not split (a hang would cost a timeout per piece). ``isolate_failures: false`` fails the
whole mini-batch, as Azure does.

A worker killed from outside and one killed by the item it runs look the same (SIGKILL, maybe from
the OOM killer), so a death counts against a piece's tries only once the piece's attempts have
killed workers on 2 different worker slots; until then, and for at most ``MAX_FREE_RERUNS`` deaths,
the piece is rerun for free. A storm of kills on the workers therefore loses no item, while an item
that kills every worker it touches still fails: after one free death where there are several slots,
after ``MAX_FREE_RERUNS`` on a single slot. Halves of a piece inherit what their parent has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thresher.store import FailedItem

FailureKind = Literal["exception", "timeout", "lost"]
MAX_FREE_RERUNS = 10  # worker deaths a piece may see without using up a try
SUSPECT_SLOTS = 2  # deaths count once a piece's attempts have killed workers on this many slots


@dataclass(frozen=True)
class Deaths:
    """The worker deaths a piece (and the pieces it was split from) has seen."""

    slots: frozenset[str] = frozenset()  # worker slots whose worker died running it
    free_reruns: int = 0  # deaths that did not use up a try

    def after(self, slot: str) -> tuple[Deaths, bool]:
        """These deaths plus one on ``slot``, and whether that death counts against the piece's tries."""
        slots = self.slots | {slot}
        free = len(slots) < SUSPECT_SLOTS and self.free_reruns < MAX_FREE_RERUNS
        return Deaths(slots, self.free_reruns + (1 if free else 0)), not free


@dataclass(frozen=True)
class Piece:
    """A contiguous run of a mini-batch's items, ``items[start:stop]``."""

    mini_batch: int
    start: int
    stop: int
    max_tries: int
    deaths: Deaths = Deaths()

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass
class MiniBatchState:
    """What happened so far to one mini-batch, piece by piece."""

    index: int
    items: list[Any]
    partition: dict[str, Any] | None = None
    open_pieces: int = 0
    tasks: int = 0  # task attempts sent, over all pieces
    item_count: int = 0  # items covered by finished pieces (rows for tabular)
    succeeded: int = 0
    failed: int = 0
    seconds: float = 0.0
    worker: str | None = None
    parts: dict[int, str] = field(default_factory=dict)  # piece start -> part file
    errors: list[FailedItem] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.open_pieces == 0

    def ordered_parts(self) -> list[str]:
        """Part files in item order."""
        return [self.parts[start] for start in sorted(self.parts)]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed piece continues."""

    max_retries: int
    isolate: bool

    def whole(self, state: MiniBatchState) -> Piece:
        """The first piece of a mini-batch: all of it."""
        return Piece(state.index, 0, len(state.items), self.max_retries + 1)

    def after_failure(self, piece: Piece, tries: int, kind: FailureKind) -> list[Piece]:
        """Pieces to run next after ``piece`` failed on its ``tries``-th try; [] means it failed for good."""
        if tries < piece.max_tries:
            return [piece]
        if kind in ("exception", "lost") and self.isolate and piece.size > 1:
            middle = piece.start + piece.size // 2
            return [self._split(piece, piece.start, middle), self._split(piece, middle, piece.stop)]
        return []

    def _split(self, piece: Piece, start: int, stop: int) -> Piece:
        # Halves get one try each; single items get the normal tries.
        tries = self.max_retries + 1 if stop - start == 1 else 1
        return Piece(piece.mini_batch, start, stop, tries, piece.deaths)


@dataclass(frozen=True)
class Thresholds:
    """When a job stops early. -1 switches a threshold off."""

    error_threshold: int  # failed items over the whole job
    allowed_failed_count: int  # failed mini-batches (a mini-batch with any failed item)
    allowed_failed_percent: float  # failed mini-batches, as a percentage of all mini-batches

    def exceeded(self, failed_items: int, failed_batches: int, total_batches: int | None) -> str | None:
        """The reason the job must stop now, or None."""
        if self.error_threshold >= 0 and failed_items > self.error_threshold:
            return f"{failed_items:,} items failed, over error_threshold {self.error_threshold}"
        if self.allowed_failed_count >= 0 and failed_batches > self.allowed_failed_count:
            return f"{failed_batches:,} mini-batches failed, over allowed_failed_count {self.allowed_failed_count}"
        if total_batches and self.allowed_failed_percent < 100:
            percent = 100.0 * failed_batches / total_batches
            if percent > self.allowed_failed_percent:
                return (
                    f"{failed_batches:,} of {total_batches:,} mini-batches failed ({percent:.1f}%), over "
                    f"allowed_failed_percent {self.allowed_failed_percent:g}"
                )
        return None
