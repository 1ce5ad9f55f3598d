"""The one home of live session state in Redis: key names, TTLs and the small records stored there.

Everything a second server process or worker needs lives here, never in a process-local dict. The embedded
default (no ``REDIS_URL``) uses fakeredis on one in-process server, so the same code and the same Redis
semantics (TTL, NX, pipelines) hold in both shapes.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings

PREFIX = "iv"


def _key(session_id: str, name: str) -> str:
    return f"{PREFIX}:{session_id}:{name}"


class Keys:
    """Key names for one session."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.meta = _key(session_id, "meta")  # hash: SessionMeta fields
        self.raw = _key(session_id, "raw")  # hash: seq -> raw client PCM (deleted once no longer needed)
        self.recv = _key(session_id, "recv")  # hash: seq -> wall time the chunk was accepted
        self.pcm = _key(session_id, "pcm")  # hash: seq -> 16 kHz mono int16 after preprocessing
        self.pcm_channels = _key(session_id, "pcmch")  # hash: seq -> 16 kHz int16, channels interleaved
        self.cursor = _key(session_id, "cursor")  # hash: stage -> last seq that stage finished
        self.stt = _key(session_id, "stt")  # string: JSON streaming-transcriber state
        self.result = _key(session_id, "result")  # hash: seq -> JSON result of the chunk's chain
        self.stage_state = _key(session_id, "stage")  # hash: stage -> JSON state of later stages
        self.hints = _key(session_id, "hints")  # list: JSON speaker hints from notes, for the diarizer

    def lock(self, stage: str) -> str:
        return _key(self.session_id, f"lock:{stage}")

    def all(self) -> list[str]:
        return [self.meta, self.raw, self.recv, self.pcm, self.pcm_channels, self.cursor, self.stt,
                self.result, self.stage_state, self.hints]


def resume_key(token: str) -> str:
    return f"{PREFIX}:resume:{token}"


@dataclass
class SessionMeta:
    """What the consumer and the pipeline need to know about a live session."""

    session_id: str
    language: str
    sample_rate: int
    channels: int
    resume_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    status: str = "live"  # live | ending | complete | failed
    last_seq: int = -1  # highest accepted chunk
    end_seq: int = -1  # last chunk when the client ended the session
    audio_s: float = 0.0  # seconds of audio accepted
    started_wall: float = 0.0
    delivered_seq: int = -1  # highest audio_processed forwarded to a client
    detected_language: str = ""
    owner_id: int = 0
    options: str = "{}"  # JSON of per-session options used by later stages

    def to_redis(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_redis(cls, raw: dict[bytes, bytes]) -> SessionMeta:
        data = {k.decode(): v.decode() for k, v in raw.items()}
        kwargs: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in data:
                continue
            value = data[name]
            if f.type == "int":
                kwargs[name] = int(value)
            elif f.type == "float":
                kwargs[name] = float(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)


# --- clients ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _fake_server() -> Any:
    import fakeredis

    return fakeredis.FakeServer()


@lru_cache(maxsize=1)
def sync_client() -> redis.Redis:
    if settings.EMBEDDED:
        import fakeredis

        return fakeredis.FakeRedis(server=_fake_server())
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=30, health_check_interval=30)


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def async_client() -> aioredis.Redis:
    """One async client per event loop (test runners create a loop per test)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        if settings.EMBEDDED:
            import fakeredis

            client = fakeredis.FakeAsyncRedis(server=_fake_server())
        else:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=None, max_connections=200)
        _async_clients[loop] = client
    return client


def ttl() -> int:
    return settings.SESSION_TTL_S


# --- synchronous helpers used by the pipeline -----------------------------------------------------------------
def load_meta(session_id: str) -> SessionMeta | None:
    raw = sync_client().hgetall(Keys(session_id).meta)
    return SessionMeta.from_redis(raw) if raw else None


def update_meta(session_id: str, **fields: Any) -> None:
    keys = Keys(session_id)
    pipe = sync_client().pipeline()
    pipe.hset(keys.meta, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(keys.meta, ttl())
    pipe.execute()


def get_cursor(session_id: str, stage: str) -> int:
    value = sync_client().hget(Keys(session_id).cursor, stage)
    return int(value) if value is not None else -1


def touch(session_id: str) -> None:
    """Push back the expiry of every key of the session."""
    pipe = sync_client().pipeline()
    for key in Keys(session_id).all():
        pipe.expire(key, ttl())
    pipe.execute()


def delete_session(session_id: str) -> None:
    meta = load_meta(session_id)
    client = sync_client()
    keys = Keys(session_id).all()
    if meta is not None:
        keys.append(resume_key(meta.resume_token))
    client.delete(*keys)


def expire_completed(session_id: str, *, keep_s: int = 600) -> None:
    """Drop a finished session's audio and intermediate results; keep its meta briefly for late resumes."""
    keys = Keys(session_id)
    meta = load_meta(session_id)
    client = sync_client()
    pipe = client.pipeline()
    pipe.delete(keys.raw, keys.recv, keys.pcm, keys.pcm_channels, keys.stt, keys.result, keys.stage_state, keys.hints)
    pipe.expire(keys.cursor, keep_s)
    pipe.expire(keys.meta, keep_s)
    if meta is not None:
        pipe.expire(resume_key(meta.resume_token), keep_s)
    pipe.execute()
