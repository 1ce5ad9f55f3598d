"""Admission control: at most ``LIVE_SESSION_CAPACITY`` live interviews, refused (or queued) beyond it.

Why: every live session costs the worker pool a steady share of CPU (docs/stt.md, "Capacity"); one session
too many makes *every* session lag. So a new session takes a slot at connect or is refused with
``server_busy`` (close 4503), or, when the client asked with ``queue=1``, waits in line (``queued`` frames
with its position) until a slot frees or ``ADMISSION_QUEUE_TIMEOUT_S`` passes.

Slots live in Redis (sorted set ``iv:live_slots``: member = session id, score = last activity), so every
server process sees the same count. A slot is freed when the session completes, or when it has had no
audio for ``ADMISSION_IDLE_S`` (an abandoned socket). A resumed session always gets its slot back: an
interview that was admitted is never refused halfway through.

Claims use WATCH/MULTI (no Lua, so the embedded fakeredis needs nothing more).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from django.conf import settings

from sessions import events, state
from sessions.protocol import ErrorCode, ProtocolError

logger = logging.getLogger(__name__)

# One hash tag for the three: their WATCH/MULTI transactions stay in one slot on a Redis Cluster.
SLOTS = f"{state.PREFIX}:{{admission}}:live_slots"  # zset: session id (or a reservation token) -> last activity (epoch s)
WAITING = f"{state.PREFIX}:{{admission}}:live_waiting"  # zset: waiter token -> first wait time; members refresh WAITING_SEEN
WAITING_SEEN = f"{state.PREFIX}:{{admission}}:live_waiting_seen"  # zset: waiter token -> last poll (stale waiters leave)
POLL_S = 1.0


def capacity() -> int:
    """Sessions the worker pool holds in real time (0: no limit)."""
    return int(settings.LIVE_SESSION_CAPACITY)


def _prune(pipe: Any, now: float) -> None:
    pipe.zremrangebyscore(SLOTS, "-inf", now - settings.ADMISSION_IDLE_S)
    pipe.zremrangebyscore(WAITING_SEEN, "-inf", now - 5 * POLL_S)


async def _try_claim(token: str, *, now: float, waiting: bool) -> tuple[bool, int]:
    """(claimed, position in line): a waiter claims only when fewer waiters are ahead than free slots."""
    client = state.async_client()
    limit = capacity()
    async with client.pipeline(transaction=False) as pipe:
        _prune(pipe, now)
        await pipe.execute()
    # waiters that stopped polling leave the line
    stale = set(await client.zrange(WAITING, 0, -1)) - set(await client.zrange(WAITING_SEEN, 0, -1))
    if stale:
        await client.zrem(WAITING, *stale)
    for _ in range(20):
        async with client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(SLOTS, WAITING)
                used = await pipe.zcard(SLOTS)
                ahead = 0
                if waiting:
                    rank = await pipe.zrank(WAITING, token)
                    ahead = rank if rank is not None else await pipe.zcard(WAITING)
                else:
                    ahead = await pipe.zcard(WAITING)  # a newcomer does not jump the line
                if limit and used + ahead >= limit:
                    return False, ahead + 1
                pipe.multi()
                pipe.zadd(SLOTS, {token: now})
                if waiting:
                    pipe.zrem(WAITING, token)
                    pipe.zrem(WAITING_SEEN, token)
                await pipe.execute()
                return True, 0
            except redis.WatchError:
                continue
    return False, 1


async def slot_admit(*, queue: bool, notify: Callable[[dict[str, Any]], Awaitable[None]]) -> str:
    """Take a slot for a new session; returns its reservation token (bind it with :func:`slot_bind`).

    Raises ``ProtocolError(server_busy)`` when full and the client did not ask to wait, or waited
    ``ADMISSION_QUEUE_TIMEOUT_S`` in vain. A waiting client gets ``{"type": "queued", "position": n}``
    whenever its position changes.
    """
    token = f"pending:{uuid.uuid4().hex}"
    now = time.time()
    claimed, position = await _try_claim(token, now=now, waiting=False)
    if claimed:
        return token
    if not queue:
        raise ProtocolError(
            ErrorCode.SERVER_BUSY,
            f"the service is at capacity ({capacity()} live interviews); try again later or connect with queue=1",
            fatal=True,
        )
    client = state.async_client()
    await client.zadd(WAITING, {token: now})
    deadline = now + settings.ADMISSION_QUEUE_TIMEOUT_S
    last_position = -1
    try:
        while True:
            now = time.time()
            await client.zadd(WAITING_SEEN, {token: now})
            claimed, position = await _try_claim(token, now=now, waiting=True)
            if claimed:
                return token
            if now >= deadline:
                raise ProtocolError(
                    ErrorCode.SERVER_BUSY,
                    f"no live slot freed within {settings.ADMISSION_QUEUE_TIMEOUT_S:g} s; try again later",
                    fatal=True,
                )
            if position != last_position:
                await notify(dict(events.queued(position=position, capacity=capacity())))
                last_position = position
            await asyncio.sleep(POLL_S)
    finally:
        async with client.pipeline(transaction=False) as pipe:
            pipe.zrem(WAITING, token)
            pipe.zrem(WAITING_SEEN, token)
            await pipe.execute()


async def slot_bind(*, token: str, session_id: str) -> None:
    """The reservation becomes the session's slot (released by :func:`slot_release`)."""
    client = state.async_client()
    async with client.pipeline(transaction=True) as pipe:
        pipe.zrem(SLOTS, token)
        pipe.zadd(SLOTS, {session_id: time.time()})
        await pipe.execute()


async def slot_touch(*, session_id: str) -> None:
    """Audio arrived: the slot is in use (also gives a resumed session its slot back)."""
    await state.async_client().zadd(SLOTS, {session_id: time.time()})


async def slot_drop(*, token: str) -> None:
    await state.async_client().zrem(SLOTS, token)


def slot_release(*, session_id: str) -> None:
    """The session completed: its slot is free (sync: called from the worker's finalisation)."""
    state.sync_client().zrem(SLOTS, session_id)


def live_sessions() -> int:
    """Slots in use now (stale ones excluded): the load figure the pipeline scales its partials by."""
    now = time.time()
    client = state.sync_client()
    return int(client.zcount(SLOTS, now - settings.ADMISSION_IDLE_S, "+inf"))
