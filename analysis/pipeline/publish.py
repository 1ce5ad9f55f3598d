"""Stage ``publish``: send ``audio_processed`` (then the events the stages attached) for each chunk, in order.

Sending leaves the process, so the cursor advances chunk by chunk: a crash re-sends at most one chunk's
events (the protocol's delivery is at least once; clients ignore repeats by ``seq``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from analysis.pipeline.runner import StageRun
from sessions import events, state
from sessions.state import Keys, SessionMeta


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
        _trim_window(run.pipe, meta, s)
        run.commit(s)
        reached = s
    return reached


def _trim_window(pipe: Any, meta: SessionMeta, published: int) -> None:
    """Keep Redis to a bounded working window: drop the chunk that just fell ``LIVE_WINDOW_S`` behind.

    Its audio stays in the durable recording (``audio_between`` and the STT buffer read it from there if a
    late stage still needs it); its result goes only once a client has received it (resume replays the rest).
    """
    if meta.last_seq < 0 or meta.audio_s <= 0:
        return
    chunk_s = meta.audio_s / (meta.last_seq + 1)
    old = published - max(1, int(settings.LIVE_WINDOW_S / chunk_s))
    if old < 0:
        return
    keys = Keys(meta.session_id)
    pipe.hdel(keys.pcm, old)
    pipe.hdel(keys.pcm_channels, old)
    pipe.hdel(keys.recv, old)
    pipe.hdel(keys.raw, old)
    client = state.sync_client()
    delivered = client.hget(keys.meta, "delivered_seq")  # fresh: the consumer moves it meanwhile
    if delivered is None:
        return
    # Every result behind both the window and the client's delivery goes, not only this step's chunk: one
    # that was still undelivered when its own turn came is dropped by a later step (the hash stays small).
    upto = min(old, int(delivered))
    stale = [seq for seq in client.hkeys(keys.result) if int(seq) <= upto]
    if stale:
        pipe.hdel(keys.result, *stale)
