"""Server → client events: their shapes (TypedDicts) and the one publisher that sends them.

Workers publish to the session's channel-layer group; the consumer has one handler per event type and
forwards the payload unchanged. Only ids and small JSON travel; never audio.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any, Literal, NotRequired, Protocol, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from interview_project import observability

logger = logging.getLogger(__name__)


class WordPayload(TypedDict):
    w: str
    start: float
    end: float
    p: float


class SegmentPayload(TypedDict):
    id: int
    start: float
    end: float
    text: str
    confidence: float
    words: list[WordPayload]
    language: NotRequired[str]
    speaker: NotRequired[str]
    role: NotRequired[str]
    role_confidence: NotRequired[float]


class AudioProcessed(TypedDict):
    type: Literal["audio_processed"]
    seq: int
    segments: list[SegmentPayload]
    partial: str
    lag_ms: int
    timings_ms: dict[str, float]
    degraded: list[Literal["partials", "feedback"]]  # what an overloaded worker gave up (analysis/overload.py)


class FinalProgress(TypedDict):
    type: Literal["final_progress"]
    stage: Literal["transcribe", "diarize", "analyze", "done"]
    done: float  # 0..1


class ReportSummary(TypedDict):
    stage: str
    overall: dict[str, Any]
    answers: list[dict[str, Any]]
    speakers: list[Any]


class SessionComplete(TypedDict):
    type: Literal["session_complete"]
    session_id: str
    duration_s: float | None
    segments: list[SegmentPayload]
    report_url: str
    report: NotRequired[ReportSummary]


class FeedbackItemPayload(TypedDict):
    kind: str
    severity: str
    message: str


class RealTimeFeedback(TypedDict):
    type: Literal["real_time_feedback"]
    answer_id: int
    question: str
    items: list[FeedbackItemPayload]
    metrics: dict[str, Any]
    final: bool
    source: NotRequired[Literal["llm"]]  # the LLM judgement, sent later from its own queue
    llm: NotRequired[dict[str, Any]]  # {strengths, improvements, evidence}


class ScoreUpdate(TypedDict):
    type: Literal["score_update"]
    scope: Literal["answer", "session"]
    answer_id: NotRequired[int]
    scores: dict[str, float]
    overall: float | None  # None: nothing to score yet
    band: list[float]
    n_answers: NotRequired[int]  # session scope
    provisional: NotRequired[bool]  # answer scope on evaluation_request: the answer is still going on


class Queued(TypedDict):
    """Before ``connection_ack``, to a client that asked to wait for a live slot (``queue=1``)."""

    type: Literal["queued"]
    position: int
    capacity: int


class EvaluationStatus(TypedDict):
    type: Literal["evaluation_status"]
    scope: str
    audio_s: float
    segments: int
    words: int
    transcribed_s: float


class SpeakerRole(TypedDict):
    speaker: str
    previous_role: str
    role: str
    role_confidence: float
    reason: str


class RoleCorrection(TypedDict):
    """Earlier segments of these speakers now have another role (docs/protocol.md)."""

    type: Literal["role_correction"]
    speakers: list[SpeakerRole]
    segment_ids: list[int]


class ErrorMessage(TypedDict):
    type: Literal["error_message"]
    code: str
    message: str
    fatal: bool
    seq: NotRequired[int]


Event = (AudioProcessed | FinalProgress | SessionComplete | RealTimeFeedback | ScoreUpdate | EvaluationStatus
         | RoleCorrection | ErrorMessage | Queued)


# --- builders: the one place each event's shape is written ----------------------------------------------------
def audio_processed(*, seq: int, segments: list[Any], partial: str, lag_ms: int,
                    timings_ms: dict[str, float], degraded: list[Any] | None = None) -> AudioProcessed:
    return {"type": "audio_processed", "seq": seq, "segments": segments, "partial": partial, "lag_ms": lag_ms,
            "timings_ms": timings_ms, "degraded": list(degraded or [])}


def final_progress(*, stage: Literal["transcribe", "diarize", "analyze", "done"], done: float) -> FinalProgress:
    return {"type": "final_progress", "stage": stage, "done": round(done, 2)}


def session_complete(*, session_id: str, duration_s: float | None, segments: list[Any], report_url: str,
                     report: ReportSummary | None) -> SessionComplete:
    event: SessionComplete = {"type": "session_complete", "session_id": session_id, "duration_s": duration_s,
                              "segments": segments, "report_url": report_url}
    if report is not None:
        event["report"] = report
    return event


def live_feedback(*, answer_id: int, question: str, items: list[Any], metrics: dict[str, Any],
                  final: bool = False) -> RealTimeFeedback:
    return {"type": "real_time_feedback", "answer_id": answer_id, "question": question, "items": items,
            "metrics": metrics, "final": final}


def llm_feedback(*, answer_id: int, question: str, items: list[Any], judgement: dict[str, Any]) -> RealTimeFeedback:
    return {"type": "real_time_feedback", "answer_id": answer_id, "question": question, "items": items,
            "metrics": {}, "final": True, "source": "llm", "llm": judgement}


def queued(*, position: int, capacity: int) -> Queued:
    return {"type": "queued", "position": position, "capacity": capacity}


class _AnswerScoreLike(Protocol):
    scores: dict[str, float]
    overall: float


class _SessionScoreLike(Protocol):
    scores: dict[str, float]
    overall: float | None
    band: tuple[float, float]
    n_answers: int


DELIVERY_METRICS = ("rate", "rate_unit", "pause_count", "longest_pause_s", "filler_count", "response_latency_s",
                    "duration_s")


def answer_score(*, answer_id: int, score: _AnswerScoreLike, provisional: bool | None = None) -> ScoreUpdate:
    event: ScoreUpdate = {"type": "score_update", "scope": "answer", "answer_id": answer_id, "scores": score.scores,
                          "overall": score.overall, "band": [score.overall, score.overall]}
    if provisional is not None:
        event["provisional"] = provisional
    return event


def answer_scored(*, answer_id: int, question: str, feedback: list[Any], delivery: dict[str, Any],
                  score: _AnswerScoreLike) -> list[Event]:
    """An answer that ended and was scored: its final feedback with the delivery metrics, then its score."""
    metrics: dict[str, Any] = {k: delivery.get(k) for k in DELIVERY_METRICS}
    metrics["overall"] = score.overall
    return [live_feedback(answer_id=answer_id, question=question, items=feedback, metrics=metrics, final=True),
            answer_score(answer_id=answer_id, score=score)]


def session_score(score: _SessionScoreLike) -> ScoreUpdate:
    return {"type": "score_update", "scope": "session", "scores": score.scores, "overall": score.overall,
            "band": [round(score.band[0], 1), round(score.band[1], 1)], "n_answers": score.n_answers}


def no_score(scope: Literal["answer", "session"]) -> ScoreUpdate:
    """A ``score_update`` before there is anything to score: no overall, the whole band."""
    event: ScoreUpdate = {"type": "score_update", "scope": scope, "scores": {}, "overall": None, "band": [0.0, 100.0]}
    if scope == "session":
        event["n_answers"] = 0
    return event


def evaluation_status(*, scope: str, audio_s: float, segments: int, words: int,
                      transcribed_s: float) -> EvaluationStatus:
    return {"type": "evaluation_status", "scope": scope, "audio_s": round(audio_s, 2), "segments": segments,
            "words": words, "transcribed_s": transcribed_s}


def role_correction(*, speakers: list[SpeakerRole], segment_ids: list[int]) -> RoleCorrection:
    return {"type": "role_correction", "speakers": speakers, "segment_ids": sorted(segment_ids)}


def error_message(*, code: str, message: str, fatal: bool, seq: int | None = None) -> ErrorMessage:
    event: ErrorMessage = {"type": "error_message", "code": code, "message": message, "fatal": fatal}
    if seq is not None:
        event["seq"] = seq
    return event


def group_name(session_id: str) -> str:
    return f"interview.{session_id}"


def _message(event: Event) -> dict[str, Any]:
    return {"type": f"interview.{event['type']}", "event": event}


# The embedded default runs its Celery worker in a thread of the server process; the in-memory channel
# layer is not thread-safe, so such threads hand their sends to the server's event loop.
_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    _server_loop = loop


class _PublisherLoop:
    """A worker process's one event loop for channel-layer sends, in a daemon thread.

    ``async_to_sync`` in a thread with no event loop runs each call on a new loop in a new thread, and
    channels-redis keeps its connections per loop: every event a worker published started a thread and opened
    (and closed) Redis connections (the publish stage cost 7 ms of CPU per chunk, py-spy: ``Thread.start``).
    One long-lived loop keeps the layer's connection pool.
    """

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self.guard:
            if self.loop is None or self.pid != os.getpid() or not self.loop.is_running():
                loop = asyncio.new_event_loop()
                running = threading.Event()
                loop.call_soon(running.set)
                threading.Thread(target=loop.run_forever, name="event-publisher", daemon=True).start()
                running.wait(10)
                self.loop, self.pid = loop, os.getpid()
            return self.loop


_publisher = _PublisherLoop()
os.register_at_fork(after_in_child=lambda: globals().update(_publisher=_PublisherLoop()))


def publish(session_id: str, event: Event) -> None:
    """Send ``event`` to every socket of the session (called from workers, synchronously)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = _message(event)
    group = group_name(session_id)
    observability.event_published(session_id, dict(event))
    loop = _server_loop
    if loop is not None and not loop.is_running() and isinstance(layer, InMemoryChannelLayer):
        # The loop that served this process's sockets has ended (a stopped server, a test's loop): nobody can
        # receive this. Sending anyway (async_to_sync: a new loop in a new thread) would touch the in-memory
        # layer's queues beside the next loop's consumers, which that layer does not survive (it is not
        # thread-safe): the likely cause of a full-suite hang, a late task of an ended test publishing this way
        # while the next test's socket waited.
        logger.debug("%s for %s dropped: the server loop has ended", event["type"], session_id)
        return
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.result(timeout=10)
            return
    if loop is None and not isinstance(layer, InMemoryChannelLayer):  # a worker process: its own loop
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _publisher.get()).result(timeout=10)
        return
    async_to_sync(layer.group_send)(group, message)
