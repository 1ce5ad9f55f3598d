"""Live monitoring state in Redis: which sessions are live, where their socket is, how far behind they run.

Writers are cheap one-round-trip calls from the transports (consumer connect/close on daphne, the Celery task
signals and the event publisher on workers); readers are the staff monitoring page, ``/metrics`` and the
bench. Nothing here holds transcript text or names: ids, numbers, host names.

Keys: ``iv:live`` (sorted set: session id → last seen, one key for the deployment) and ``iv:{<session>}:mon``
(hash per session, in the session's hash slot, expiring with the session).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions import state
from sessions.state import Keys, SessionMeta

LIVE_INDEX = f"{state.PREFIX}:live"
LIVE_STATUSES = ("live", "ending")
# kombu's Redis transport keeps a queue's prioritised messages in extra lists: name, name\x06\x163, ...
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def mon_key(session_id: str) -> str:
    return state.session_key(session_id, "mon")


def node_name() -> str:
    """This process, as the monitoring page shows it: NODE_NAME (set per container/daphne) or host:pid."""
    return os.environ.get("NODE_NAME") or f"{socket.gethostname()}:{os.getpid()}"


# --- writers -----------------------------------------------------------------------------------------------------
async def socket_opened(*, session_id: str, resumed: bool) -> None:
    client = state.async_client()
    now = time.time()
    async with client.pipeline(transaction=False) as pipe:
        pipe.zadd(LIVE_INDEX, {session_id: now})
        pipe.hset(mon_key(session_id), mapping={"node": node_name(), "connected": 1, "connected_at": now})
        if resumed:
            pipe.hincrby(mon_key(session_id), "resumes", 1)
        pipe.expire(mon_key(session_id), state.ttl())
        await pipe.execute()


# An erased interview leaves no key behind, and a socket closing or a stage task finishing after the erasure
# would write its monitoring hash again: each write also asks for the tombstone (same round trip) and, when
# it is there, removes what it wrote.
async def socket_closed(*, session_id: str, code: int | None) -> None:
    client = state.async_client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.zadd(LIVE_INDEX, {session_id: time.time()})
        pipe.hset(mon_key(session_id), mapping={"connected": 0, "close_code": str(code), "closed_at": time.time()})
        pipe.expire(mon_key(session_id), state.ttl())
        pipe.exists(state.erased_key(session_id))
        erased = (await pipe.execute())[-1]
    if erased:
        await client.delete(mon_key(session_id))
        await client.zrem(LIVE_INDEX, session_id)


def _drop_if_erased(session_id: str, erased: int) -> None:
    if erased:
        client = state.sync_client()
        client.delete(mon_key(session_id))
        client.zrem(LIVE_INDEX, session_id)


def stage_done(*, session_id: str, stage: str, seconds: float, worker: str) -> None:
    """A worker finished a stage task of the session (called from the Celery task signal)."""
    key = mon_key(session_id)
    pipe = state.sync_client().pipeline(transaction=False)
    pipe.hset(key, mapping={f"ms:{stage}": round(seconds * 1000, 1), "worker": worker, "worker_at": time.time()})
    pipe.hincrby(key, f"worker:{worker}", 1)
    pipe.expire(key, state.ttl())
    pipe.zadd(LIVE_INDEX, {session_id: time.time()}, xx=True)
    pipe.exists(state.erased_key(session_id))
    _drop_if_erased(session_id, pipe.execute()[-1])


def event_sent(*, session_id: str, event: dict[str, Any]) -> None:
    if event.get("type") != "audio_processed":
        return
    key = mon_key(session_id)
    pipe = state.sync_client().pipeline(transaction=False)
    pipe.hset(key, mapping={"lag_ms": int(event.get("lag_ms", 0)), "published_seq": int(event["seq"]),
                            "timings": json.dumps(event.get("timings_ms", {}))})
    pipe.expire(key, state.ttl())
    pipe.exists(state.erased_key(session_id))
    _drop_if_erased(session_id, pipe.execute()[-1])


# --- readers ------------------------------------------------------------------------------------------------------
@dataclass
class LiveSession:
    session_id: str
    status: str
    language: str
    node: str
    connected: bool
    resumes: int
    last_seq: int
    published_seq: int
    audio_s: float
    lag_ms: int | None
    last_chunk_age_s: float | None
    worker: str
    workers: dict[str, int] = field(default_factory=dict)
    stage_ms: dict[str, float] = field(default_factory=dict)
    step_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def live_session_ids(*, prune: bool = True) -> list[str]:
    """Ids of the sessions that are live or ending; finished or expired ones leave the index."""
    client = state.sync_client()
    horizon = time.time() - state.ttl()
    if prune:
        client.zremrangebyscore(LIVE_INDEX, "-inf", horizon)
    ids = [m.decode() for m in client.zrange(LIVE_INDEX, 0, -1)]
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for session_id in ids:
        pipe.hget(Keys(session_id).meta, "status")
    statuses = pipe.execute()
    gone = [sid for sid, status in zip(ids, statuses) if status is None or status.decode() not in LIVE_STATUSES]
    if prune and gone:
        client.zrem(LIVE_INDEX, *gone)
    return [sid for sid in ids if sid not in gone]


def live_count() -> int:
    return len(live_session_ids())


def session_view(session_id: str, *, now: float | None = None) -> LiveSession | None:
    now = time.time() if now is None else now
    client = state.sync_client()
    keys = Keys(session_id)
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.meta)
    pipe.hgetall(mon_key(session_id))
    raw_meta, raw_mon = pipe.execute()
    if not raw_meta:
        return None
    meta = SessionMeta.from_redis(raw_meta)
    mon = _decode(raw_mon)
    last_chunk_age = None
    if meta.last_seq >= 0:
        received = client.hget(keys.recv, meta.last_seq)
        if received is not None:
            last_chunk_age = round(now - float(received.decode().split("|")[0]), 2)
    return LiveSession(
        session_id=session_id,
        status=meta.status,
        language=meta.language,
        node=mon.get("node", ""),
        connected=mon.get("connected") == "1",
        resumes=int(mon.get("resumes", 0)),
        last_seq=meta.last_seq,
        published_seq=int(mon.get("published_seq", -1)),
        audio_s=round(meta.audio_s, 2),
        lag_ms=int(mon["lag_ms"]) if "lag_ms" in mon else None,
        last_chunk_age_s=last_chunk_age,
        worker=mon.get("worker", ""),
        workers={k.split(":", 1)[1]: int(v) for k, v in mon.items() if k.startswith("worker:")},
        stage_ms={k.split(":", 1)[1]: float(v) for k, v in mon.items() if k.startswith("ms:")},
        step_ms=json.loads(mon.get("timings", "{}")),
    )


def live_sessions() -> list[LiveSession]:
    now = time.time()
    views = (session_view(sid, now=now) for sid in live_session_ids())
    return sorted((v for v in views if v is not None), key=lambda v: -(v.lag_ms or 0))


def queue_depths(app: Any, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each Celery queue, read through ``app``'s broker connection (Redis or in-memory)."""
    depths: dict[str, int] = {}
    with app.connection_for_read() as connection:
        client = getattr(connection.default_channel, "client", None)
        for queue in queues:
            if client is not None and connection.transport.driver_type == "redis":
                pipe = client.pipeline()
                for suffix in PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
                depths[queue] = int(sum(pipe.execute()))
            else:
                try:
                    depths[queue] = int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
                except Exception:  # an in-memory queue nobody declared yet holds nothing
                    depths[queue] = 0
    return depths
