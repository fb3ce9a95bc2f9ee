"""Activation-arena planner: liveness analysis plus greedy-by-size placement.

Algorithm
---------
1. **Buffers.** Every non-constant tensor of the graph is a buffer, except that an operator
   which only reinterprets its input (RESHAPE) makes its output an *alias* of its input: the two
   share one buffer (union-find), so no copy and no extra memory.
2. **Lifetimes.** Time is the operator index. The graph input is written at step 0 (copied in
   before the first operator) and each other buffer at the step of the operator producing it;
   a buffer is live until the last step that reads it; graph outputs stay live until the end
   (they are copied out after the last operator). ``first`` and ``last`` are inclusive, so an
   operator's inputs and outputs are live at the same step and never overlap in memory
   (no in-place kernels).
3. **Placement** (first fit): buffers are taken in a given order; each is placed at the lowest
   offset, a multiple of ``alignment``, where it does not overlap any already-placed buffer
   whose lifetime intersects its own: the candidates are 0 and the aligned ends of those
   conflicting buffers, scanned in increasing order.
4. **Orders tried**: greedy by size, largest first (ties: earlier ``first``, then lower id;
   the strategy of TFLite-Micro's GreedyMemoryPlanner), then by start step, by lifetime length,
   and by size x lifetime. The placement with the smallest arena wins (ties: the earlier order),
   and the search stops early when an order reaches the lower bound below.
5. The arena size is the largest ``offset + size``, rounded up to ``alignment``.

It is a heuristic: the optimum is NP-hard (it is dynamic storage allocation). By construction it
is never worse than greedy-by-size alone, and never below the largest sum of sizes live at one
step, which :func:`peak_live_bytes` reports as a lower bound (``ArenaPlan.lower_bound_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Buffer", "plan_arena", "peak_live_bytes", "ArenaPlan", "check_plan"]


@dataclass
class Buffer:
    """One arena buffer: ``size_bytes`` live from step ``first`` to step ``last`` inclusive."""

    id: int
    size_bytes: int
    first: int
    last: int
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class ArenaPlan:
    buffers: list[Buffer]
    arena_bytes: int
    lower_bound_bytes: int


def _align(x: int, alignment: int) -> int:
    return (x + alignment - 1) // alignment * alignment


def plan_arena(buffers: list[Buffer], *, alignment: int = 16) -> ArenaPlan:
    """Place ``buffers`` (sets their ``offset``) and return the plan.

    Examples
    --------
    >>> bufs = [Buffer(0, 100, 0, 1), Buffer(1, 50, 1, 2), Buffer(2, 100, 2, 3)]
    >>> plan = plan_arena(bufs)
    >>> [b.offset for b in bufs], plan.arena_bytes
    ([0, 112, 0], 176)
    """
    if alignment <= 0 or alignment & (alignment - 1):
        raise ValueError(f"alignment must be a positive power of two, got {alignment!r}.")
    for b in buffers:
        if b.size_bytes < 0 or b.first > b.last:
            raise ValueError(
                f"buffer {b.id}: invalid size {b.size_bytes} or lifetime [{b.first}, {b.last}]."
            )
    bound = peak_live_bytes(buffers)
    best: dict[int, int] | None = None
    best_arena = 0
    for key in _ORDERS:
        placed_offsets = _first_fit(sorted(buffers, key=key), alignment)
        arena = _align(max((placed_offsets[b.id] + b.size_bytes for b in buffers), default=0),
                       alignment)
        if best is None or arena < best_arena:
            best, best_arena = placed_offsets, arena
        if best_arena <= _align(bound, alignment):
            break
    for b in buffers:
        b.offset = best[b.id] if best else 0
    return ArenaPlan(buffers, best_arena, bound)


_ORDERS = (
    lambda b: (-b.size_bytes, b.first, b.id),                               # greedy by size
    lambda b: (b.first, -b.size_bytes, b.id),                               # by start step
    lambda b: (-(b.last - b.first), -b.size_bytes, b.id),                   # longest-lived first
    lambda b: (-b.size_bytes * (b.last - b.first + 1), b.first, b.id),      # by area
)


def _first_fit(order: list[Buffer], alignment: int) -> dict[int, int]:
    offsets: dict[int, int] = {}
    placed: list[Buffer] = []
    for buf in order:
        conflicts = [p for p in placed if p.overlaps_in_time(buf)]
        candidates = sorted({0} | {_align(offsets[p.id] + p.size_bytes, alignment)
                                   for p in conflicts})
        for cand in candidates:
            end = cand + buf.size_bytes
            if all(end <= offsets[p.id] or cand >= offsets[p.id] + p.size_bytes
                   for p in conflicts):
                offsets[buf.id] = cand
                break
        placed.append(buf)
    return offsets


def peak_live_bytes(buffers: list[Buffer]) -> int:
    """The largest total size of buffers live at one step (a lower bound on any plan)."""
    steps = {b.first for b in buffers} | {b.last for b in buffers}
    return max((sum(b.size_bytes for b in buffers if b.first <= s <= b.last) for s in steps),
               default=0)


def check_plan(buffers: list[Buffer]) -> None:
    """Raise ValueError if two buffers live at the same time overlap in memory."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.overlaps_in_time(b) and a.offset < b.offset + b.size_bytes and \
                    b.offset < a.offset + a.size_bytes and a.size_bytes and b.size_bytes:
                raise ValueError(
                    f"buffers {a.id} [{a.offset}, {a.offset + a.size_bytes}) and {b.id} "
                    f"[{b.offset}, {b.offset + b.size_bytes}) overlap while both are live."
                )
