"""Limits on one client of the interview socket (docs/protocol.md "Limits"), each with its own error code.

Why: every text frame costs work (a note scans the transcript, an evaluation request enqueues a task on the
live queue), and audio costs far more, so one client must not be able to take a worker's time from every
other interview. The limits and their codes:

==========================  ==========================================  =======================  ======
limit                       setting (default)                           code                     fatal
==========================  ==========================================  =======================  ======
text frames per socket      ``WS_TEXT_FRAMES_PER_S`` (5/s, burst 20)     ``rate_limited``         no
pending evaluations         one per session until the task finishes     ``evaluation_pending``   no
concurrent live sessions    ``MAX_SESSIONS_PER_USER`` (3)                ``too_many_sessions``    yes
length of one session       ``MAX_SESSION_S`` (3 h of audio)             ``session_too_long``     no
audio speed                 ``AUDIO_MAX_SPEED`` × ``AUDIO_RATE_WINDOW_S`` ``too_fast``             no
                            in any sliding window of that length
==========================  ==========================================  =======================  ======

The speed limit is a sliding window, not "real time since the start plus a burst": idling never banks
credit, so after 14 idle minutes a client still gets only one window's worth of audio at once.

State that must survive a resume on another server process (pending evaluation, live sessions per user,
the speed window) lives in Redis under ``iv:`` keys with TTLs; the text-frame bucket belongs to one socket
and so to one process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings

from sessions import state
from sessions.protocol import ErrorCode, ProtocolError

EVALUATION_PENDING_TTL_S = 120
"""A lost evaluation task (worker killed) frees the slot after this long at the latest."""
SESSION_SLOT_REFRESH_S = 60.0


def evaluation_key(session_id: str) -> str:
    return state.session_key(session_id, "eval_pending")  # in the session's slot, erased with it


def live_sessions_key(user_id: int) -> str:
    return f"{state.PREFIX}:user:{user_id}:live"


def speed_window_key(session_id: str) -> str:
    return state.session_key(session_id, "speed")


# --- text frames: a token bucket per socket ---------------------------------------------------------------
@dataclass
class TextFrameBucket:
    """``rate`` frames per second on average, ``burst`` at once; one per socket (lives in the consumer)."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def take(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {self.rate:g} text messages per second; this one was dropped, slow down",
            )
        self.tokens -= 1.0


def text_bucket() -> TextFrameBucket:
    return TextFrameBucket(rate=settings.WS_TEXT_FRAMES_PER_S, burst=settings.WS_TEXT_FRAMES_BURST)


# --- one pending evaluation per session -------------------------------------------------------------------
async def evaluation_claim(*, session_id: str) -> None:
    """Take the session's evaluation slot, or refuse while the previous request is still being worked on."""
    claimed = await state.async_client().set(evaluation_key(session_id), "1", nx=True, ex=EVALUATION_PENDING_TTL_S)
    if not claimed:
        raise ProtocolError(
            ErrorCode.EVALUATION_PENDING,
            "an evaluation of this session is still running; its score_update will come, ask again after it",
        )


def evaluation_release(*, session_id: str) -> None:
    """Called by the evaluation task when it is done (or failed)."""
    state.sync_client().delete(evaluation_key(session_id))


# --- live sessions per user -------------------------------------------------------------------------------
async def sessions_check(*, user_id: int | None, now: float) -> None:
    """Refuse a new session when the user already has ``MAX_SESSIONS_PER_USER`` live ones.

    A session counts from its start until its ``session_end`` or until its live state would expire
    (``SESSION_TTL_S`` after its last traffic), so an abandoned tab frees its slot by itself.
    """
    if not user_id:
        return
    key = live_sessions_key(user_id)
    client = state.async_client()
    async with client.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zcard(key)
        _, live = await pipe.execute()
    limit = settings.MAX_SESSIONS_PER_USER
    if live >= limit:
        raise ProtocolError(
            ErrorCode.TOO_MANY_SESSIONS,
            f"you already have {live} live interview(s) (at most {limit}); end one or wait until it expires",
            fatal=True,
        )


async def session_slot_refresh(*, user_id: int | None, session_id: str, now: float) -> None:
    """Count the session as live for another ``SESSION_TTL_S`` seconds."""
    if not user_id:
        return
    key = live_sessions_key(user_id)
    client = state.async_client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.zadd(key, {session_id: now + state.ttl()})
        pipe.expire(key, state.ttl() + 60)
        await pipe.execute()


async def session_slot_release(*, user_id: int | None, session_id: str) -> None:
    if user_id:
        await state.async_client().zrem(live_sessions_key(user_id), session_id)


# --- session length ----------------------------------------------------------------------------------------
def session_length_check(*, audio_s: float, duration: float, seq: int) -> None:
    limit = settings.MAX_SESSION_S
    if audio_s + duration > limit:
        raise ProtocolError(
            ErrorCode.SESSION_TOO_LONG,
            f"the session reached its maximum length of {limit:g} s of audio; send session_end",
            seq=seq,
        )


# --- audio speed: a sliding window ---------------------------------------------------------------------------
async def speed_check(*, session_id: str, seq: int, duration: float, now: float) -> None:
    """Refuse the chunk if, with it, more than ``AUDIO_MAX_SPEED × AUDIO_RATE_WINDOW_S`` seconds of audio
    would have arrived within the last ``AUDIO_RATE_WINDOW_S`` seconds of wall time."""
    window = settings.AUDIO_RATE_WINDOW_S
    budget = settings.AUDIO_MAX_SPEED * window
    key = speed_window_key(session_id)
    client = state.async_client()
    async with client.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now - window)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
    recent = sum(float(m.split(b":", 1)[1]) for m in members)
    if recent + duration > budget + 1e-9:
        raise ProtocolError(
            ErrorCode.TOO_FAST,
            f"audio arrives faster than {settings.AUDIO_MAX_SPEED:g}x real time "
            f"({recent:.1f} s in the last {window:g} s); chunk {seq} refused, resend it later",
            seq=seq,
        )


def speed_record(pipe: object, *, session_id: str, seq: int, duration: float, now: float) -> None:
    """Add the accepted chunk to the window (inside the accept pipeline, so it counts only if stored)."""
    key = speed_window_key(session_id)
    pipe.zadd(key, {f"{seq}:{duration:.6f}": now})  # type: ignore[attr-defined]
    pipe.expire(key, int(settings.AUDIO_RATE_WINDOW_S) + 60)  # type: ignore[attr-defined]
