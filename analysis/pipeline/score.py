"""Stage ``score``: score every answer analysed but not scored yet, and the session; cache the latest scores.

The cache (stage state ``score``: the latest ``score_update`` of every answer and of the session) answers
``evaluation_request`` without recomputing.
"""

from __future__ import annotations

from functools import partial

from analysis import services
from analysis.pipeline.analyze import ANALYSED, attach_events
from analysis.pipeline.audio import audio_between
from analysis.pipeline.runner import StageRun
from sessions import events, state

STAGE = "score"


def cached_session_score(session_id: str) -> events.ScoreUpdate | None:
    return state.load_stage_state(session_id, STAGE).get("session")


def work(run: StageRun) -> None:
    # Only when analyze stored answers since this stage last looked: the count is committed with analyze's
    # cursor, which bounds this stage, so no unscored answer is missed; the other chunks cost no query.
    analysed = int(state.load_stage_state(run.session_id, ANALYSED).get("count", 0))
    cache = state.load_stage_state(run.session_id, STAGE)
    if analysed == cache.get("analysed", 0):
        return
    cache["analysed"] = analysed
    state.queue_stage_state(run.pipe, run.session_id, STAGE, cache)
    extra = services.answers_score_pending(meta=run.meta)
    if not extra:
        return
    for event in extra:
        if event["type"] == "score_update":
            key = "session" if event["scope"] == "session" else f"answer:{event['answer_id']}"
            cache[key] = event
    state.queue_stage_state(run.pipe, run.session_id, STAGE, cache)
    attach_events(run, extra)


def session_evaluate(session_id: str, scope: str) -> list[events.Event]:
    """Answer an ``evaluation_request`` from the cached live scores, or score the answer going on."""
    meta = state.load_meta(session_id)
    return services.evaluate(
        session_id=session_id, scope=scope, cached_session=cached_session_score(session_id),
        audio_source=partial(audio_between, meta) if meta is not None else None,
    )
