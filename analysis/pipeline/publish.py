"""Stage ``publish``: send ``audio_processed`` (then the events the stages attached) for each chunk, in order.

Sending leaves the process, so the cursor advances chunk by chunk: a crash re-sends at most one chunk's
events (the protocol's delivery is at least once; clients ignore repeats by ``seq``).
"""

from __future__ import annotations

import time

from analysis.pipeline.runner import StageRun
from sessions import events, state


def work(run: StageRun) -> int:
    meta, session_id = run.meta, run.session_id
    upto = run.last if meta.status == "live" else min(run.last, meta.end_seq)  # end_seq + 1: session_complete
    results = state.load_results(session_id, run.first, upto)
    reached = run.first - 1
    for s in range(run.first, upto + 1):
        result = results.get(s)
        if result is None:
            break
        arrival = state.arrival(session_id, s)
        received = arrival.wall if arrival is not None else time.time()
        events.publish(session_id, events.audio_processed(
            seq=s, segments=result["segments"], partial=result["partial"],
            lag_ms=int((time.time() - received) * 1000), timings_ms=result["timings_ms"],
            degraded=result.get("degraded", []),
        ))
        for extra in result.get("events", []):
            events.publish(session_id, extra)  # type: ignore[arg-type]
        run.commit(s)
        reached = s
    return reached
