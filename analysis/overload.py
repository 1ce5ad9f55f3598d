"""Graceful degradation under a transient overload: what a behind worker gives up, in order.

A worker knows it is behind by a chunk's *lag*: wall time since the server accepted the chunk. Commits are
what the interview is scored on, so they are never given up; the partial refresh is the expensive,
disposable part, and live feedback can wait a few seconds. So, as the lag grows:

1. ``lag < partial_drop_s / 2``: everything as usual;
2. the partial interval is stretched (up to 3× at ``partial_drop_s``): ``load`` goes from 0 to 1;
3. ``lag ≥ partial_drop_s``: partials are dropped (the step commits only): ``degraded`` has ``"partials"``;
4. ``lag ≥ feedback_defer_s``: the live feedback/analysis step is deferred to a later chunk (nothing is
   lost: it works from the stored segments): ``degraded`` also has ``"feedback"``.

``audio_processed.degraded`` tells the client which of these applied to that chunk (docs/protocol.md).
Pure: numbers in, a small value out.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Overload:
    load: float  # 0 (idle) .. 1 (partials about to be dropped): stretches the partial interval
    partials: bool  # may the step refresh the partial?
    feedback: bool  # may the live feedback step run now?
    degraded: list[str] = field(default_factory=list)


def overload_for(lag_s: float, *, partial_drop_s: float, feedback_defer_s: float) -> Overload:
    lag = max(0.0, lag_s)
    half = partial_drop_s / 2
    load = 0.0 if lag <= half else min(1.0, (lag - half) / max(half, 1e-6))
    partials = lag < partial_drop_s
    feedback = lag < feedback_defer_s
    degraded = ([] if partials else ["partials"]) + ([] if feedback else ["feedback"])
    return Overload(load=load, partials=partials, feedback=feedback, degraded=degraded)
