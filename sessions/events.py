"""Server → client events: their shapes (TypedDicts) and the one publisher that sends them.

Workers publish to the session's channel-layer group; the consumer has one handler per event type and
forwards the payload unchanged. Only ids and small JSON travel; never audio.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal, NotRequired, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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


class FinalProgress(TypedDict):
    type: Literal["final_progress"]
    stage: str
    done: float  # 0..1


class SessionComplete(TypedDict):
    type: Literal["session_complete"]
    session_id: str
    duration_s: float
    segments: list[SegmentPayload]
    report_url: NotRequired[str]
    report: NotRequired[dict[str, Any]]


class RealTimeFeedback(TypedDict):
    type: Literal["real_time_feedback"]
    answer_id: int
    question: str
    items: list[dict[str, str]]
    metrics: dict[str, Any]


class ScoreUpdate(TypedDict):
    type: Literal["score_update"]
    scope: Literal["answer", "session"]
    answer_id: NotRequired[int]
    scores: dict[str, float]
    overall: float
    band: list[float]


class ErrorMessage(TypedDict):
    type: Literal["error_message"]
    code: str
    message: str
    fatal: bool
    seq: NotRequired[int]


Event = AudioProcessed | FinalProgress | SessionComplete | RealTimeFeedback | ScoreUpdate | ErrorMessage

# channel-layer message types: "interview.<event type>" → InterviewConsumer.interview_<event type>
EVENT_TYPES = (
    "audio_processed",
    "final_progress",
    "session_complete",
    "real_time_feedback",
    "score_update",
    "error_message",
)


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


def publish(session_id: str, event: Event) -> None:
    """Send ``event`` to every socket of the session (called from workers, synchronously)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = _message(event)
    group = group_name(session_id)
    loop = _server_loop
    if loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.result(timeout=10)
            return
    async_to_sync(layer.group_send)(group, message)


async def apublish(session_id: str, event: Event) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group_name(session_id), _message(event))
