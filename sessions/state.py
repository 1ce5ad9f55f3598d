"""The one home of live session state in Redis: key names, TTLs and the small records stored there.

Everything a second server process or worker needs lives here, never in a process-local dict. The embedded
default (no ``REDIS_URL``) uses fakeredis on one in-process server, so the same code and the same Redis
semantics (TTL, NX, pipelines) hold in both shapes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import weakref
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, NotRequired, TypedDict
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster
import redis.cluster
from django.conf import settings

PREFIX = "iv"


def _key(session_id: str, name: str) -> str:
    # The braces are a Redis Cluster hash tag: every key of one session lives in one slot, so its
    # transactions, pipelines and multi-key commands work on a cluster as on one server.
    return f"{PREFIX}:{{{session_id}}}:{name}"


def session_key(session_id: str, name: str) -> str:
    """A further key of the session (monitoring, ...), in the session's slot."""
    return _key(session_id, name)


def erased_key(session_id: str) -> str:
    """The erasure tombstone (``sessions.lifecycle``); outside the session's hash slot, so it outlives its keys."""
    return f"{PREFIX}:erased:{session_id}"


def is_erased(session_id: str) -> bool:
    return bool(sync_client().exists(erased_key(session_id)))


def session_keys_purge(session_id: str) -> int:
    """Delete every key of the session (named ones, stage locks, anything a late writer re-created)."""
    client = sync_client()
    keys = list(client.scan_iter(match=session_glob(session_id), count=500))
    for key in keys:  # one by one: on a cluster a multi-key DEL must stay in one slot (these all do)
        client.delete(key)
    return len(keys)


def session_glob(session_id: str) -> str:
    """SCAN pattern matching every key of the session (braces are literal in Redis glob patterns)."""
    return _key(session_id, "*")


class Keys:
    """Key names for one session."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.meta = _key(session_id, "meta")  # hash: SessionMeta fields
        self.raw = _key(session_id, "raw")  # hash: seq -> raw client PCM (deleted once no longer needed)
        self.recv = _key(session_id, "recv")  # hash: seq -> Arrival ("wall|offset")
        self.pcm = _key(session_id, "pcm")  # hash: seq -> 16 kHz mono int16 after preprocessing
        self.pcm_channels = _key(session_id, "pcmch")  # hash: seq -> 16 kHz int16, channels interleaved
        self.cursor = _key(session_id, "cursor")  # hash: stage -> last seq that stage finished (int)
        self.stt = _key(session_id, "stt")  # string: JSON streaming-transcriber state
        self.result = _key(session_id, "result")  # hash: seq -> ChunkResult (JSON)
        self.stage_state = _key(session_id, "stage")  # hash: stage -> JSON object, that stage's memory
        self.hints = _key(session_id, "hints")  # list: Hint (JSON) from notes, for the diarizer
        self.epoch = _key(session_id, "epoch")  # string: a new random value each time the live state is (re)built
        self.chain = _key(session_id, "chain")  # string: a chunk chain is queued whose transcribe has not begun

    def lock(self, stage: str) -> str:
        return _key(self.session_id, f"lock:{stage}")

    def all(self) -> list[str]:
        return [self.meta, self.raw, self.recv, self.pcm, self.pcm_channels, self.cursor, self.stt,
                self.result, self.stage_state, self.hints, self.epoch, self.chain]


def resume_key(token: str) -> str:
    return f"{PREFIX}:resume:{token}"


# --- value codecs: the format of every value stored under the keys above ------------------------------------
def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


@dataclass(frozen=True)
class Arrival:
    """When a chunk was accepted (``wall``, epoch seconds) and its first frame in the client's stream."""

    wall: float
    offset: int  # frames at the client's sample rate

    def encode(self) -> str:
        return f"{self.wall:.6f}|{self.offset}"

    @classmethod
    def decode(cls, raw: bytes | str) -> Arrival:
        wall, offset = _text(raw).split("|")
        return cls(wall=float(wall), offset=int(offset))


class ChunkResult(TypedDict):
    """What the chain stored for one chunk: written by transcribe, rewritten by the later stages."""

    segments: list[dict[str, Any]]
    partial: str
    timings_ms: dict[str, float]
    events: NotRequired[list[dict[str, Any]]]  # extra events (feedback, scores) published after the chunk
    degraded: NotRequired[list[str]]  # what an overloaded worker gave up for it (analysis/overload.py)


def empty_result() -> ChunkResult:
    return {"segments": [], "partial": "", "timings_ms": {}}


def encode_result(result: ChunkResult) -> str:
    return json.dumps(result, ensure_ascii=False)


def decode_result(raw: bytes | str) -> ChunkResult:
    data = json.loads(raw)
    data.setdefault("timings_ms", {})
    return data  # type: ignore[no-any-return]


class Hint(TypedDict):
    """Who-speaks-now evidence from a note, for the diarizer."""

    at: float
    speaker: str | None
    kind: str
    text: str


def encode_hint(hint: Hint) -> str:
    return json.dumps(hint, ensure_ascii=False)


def decode_hint(raw: bytes | str) -> Hint:
    return json.loads(raw)  # type: ignore[no-any-return]


def encode_stage_state(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


def decode_stage_state(raw: bytes | str | None) -> dict[str, Any]:
    return json.loads(raw) if raw else {}


def decode_cursor(raw: bytes | str | None) -> int:
    return int(raw) if raw is not None else -1


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


REQUIRED_META = ("session_id", "language", "sample_rate", "channels")


def meta_from_hash(raw: dict[bytes, bytes]) -> SessionMeta | None:
    """The session's meta, or None when the hash is missing or partial (Redis lost it; a late write
    re-created a few fields): a partial meta must read as "state lost", never as a session."""
    if not raw or any(name.encode() not in raw for name in REQUIRED_META):
        return None
    return SessionMeta.from_redis(raw)


# --- clients ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _fake_server() -> Any:
    import fakeredis

    return fakeredis.FakeServer()


class _SessionCluster(redis.RedisCluster):
    """A cluster client whose ``pipeline()`` is a MULTI/EXEC transaction by default, as on one Redis server.

    The code relies on that default for atomic stage steps; a session's keys share one slot, so it holds.
    Pipelines that touch several sessions or global keys say ``transaction=False``.
    """

    def pipeline(self, transaction: Any = True, shard_hint: Any = None) -> Any:
        return super().pipeline(transaction=transaction, shard_hint=shard_hint)


class _AsyncSessionCluster(aioredis.RedisCluster):
    def pipeline(self, transaction: Any = True, shard_hint: Any = None) -> Any:
        return super().pipeline(transaction=transaction, shard_hint=shard_hint)


def _retry(retries: int, *, asyncio: bool = False) -> Any:
    # Imported here, not at the top: the interview_project package loads Celery, whose signal handlers import
    # this module, so a process whose first import is this module (bench/soak.py) met a half-initialised one.
    from interview_project.redis_retry import redis_retry

    return redis_retry(retries, asyncio=asyncio)


@lru_cache(maxsize=1)
def sync_client() -> redis.Redis:
    if settings.EMBEDDED:
        import fakeredis

        return fakeredis.FakeRedis(server=_fake_server())
    if settings.STATE_REDIS_CLUSTER:
        return _SessionCluster(startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in _cluster_nodes()],
                                  socket_timeout=30, health_check_interval=30)
    return redis.Redis.from_url(settings.STATE_REDIS_URL, socket_timeout=30, health_check_interval=30,
                                retry=_retry(settings.REDIS_RETRIES))


@lru_cache(maxsize=1)
def probe_client() -> redis.Redis:
    """For readiness probes: no retries and short timeouts, so /readyz answers within ``READY_TIMEOUT_S`` when
    Redis is away instead of riding out the live clients' retry policy (about 6 s a command)."""
    if settings.EMBEDDED:
        return sync_client()
    timeout = settings.READY_TIMEOUT_S
    if settings.STATE_REDIS_CLUSTER:
        return _SessionCluster(startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in _cluster_nodes()],
                               socket_timeout=timeout, socket_connect_timeout=timeout, retry=_retry(0))
    return redis.Redis.from_url(settings.STATE_REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=_retry(0))


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
            client = _async_from_url(settings.STATE_REDIS_URL)
        _async_clients[loop] = client
    return client


def _cluster_nodes() -> list[tuple[str, int]]:
    """(host, port) of every configured cluster node: any one that answers gives the client the topology."""
    nodes = []
    for url in settings.REDIS_CLUSTER_URLS:
        parsed = urlsplit(url)
        nodes.append((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    return nodes


def _async_from_url(url: str) -> Any:
    if settings.STATE_REDIS_CLUSTER:
        return _AsyncSessionCluster(startup_nodes=[aioredis.cluster.ClusterNode(h, p) for h, p in _cluster_nodes()],
                                     socket_timeout=None, max_connections=200)
    # (a pool from a URL retries nothing unless told: after a Redis restart each pooled connection failed once)
    return aioredis.Redis.from_url(url, socket_timeout=None, max_connections=200, retry=_retry(settings.REDIS_RETRIES, asyncio=True))


def ttl() -> int:
    return settings.SESSION_TTL_S


# --- synchronous helpers used by the pipeline -----------------------------------------------------------------
def load_meta(session_id: str) -> SessionMeta | None:
    return meta_from_hash(sync_client().hgetall(Keys(session_id).meta))


def update_meta(session_id: str, **fields: Any) -> None:
    keys = Keys(session_id)
    pipe = sync_client().pipeline()
    pipe.hset(keys.meta, mapping={k: str(v) for k, v in fields.items()})
    pipe.expire(keys.meta, ttl())
    pipe.execute()


# --- chain coalescing: at most one queued chunk chain per session that has not begun transcribing ------------
CHAIN_PENDING_TTL_S = 10
"""How long a queued chain stands for the chunks that arrive after it. A chain lost before its transcribe
step (it should not be: tasks are acked late) costs at most this long before the next chunk queues another."""


def chain_claim(session_id: str) -> bool:
    """True when no queued chain of this session is still before its transcribe step: queue one."""
    return bool(sync_client().set(Keys(session_id).chain, "1", nx=True, ex=CHAIN_PENDING_TTL_S))


def chain_release(session_id: str) -> None:
    """A chain's transcribe step begins: chunks accepted from now on need a chain of their own."""
    sync_client().delete(Keys(session_id).chain)


def get_cursor(session_id: str, stage: str) -> int:
    return decode_cursor(sync_client().hget(Keys(session_id).cursor, stage))


# --- the live state's epoch ----------------------------------------------------------------------------------
# A stage step reads the cursors, works for seconds, then commits. If Redis lost the session meanwhile (restart,
# failover) and the consumer rebuilt it from the recording (``sessions.lifecycle.session_rebuild``: every stage
# cursor starts over), a step that began before the loss must not commit: it would write its cursor and its
# STT buffer, taken from the state that was lost, over the rebuilt ones (seen: a transcribe step that released
# its lock 63 ms after the rebuild, and the session's first sentence was never transcribed again). The epoch is
# set when the state is built and again when it is rebuilt; a step reads it before anything else and commits
# under WATCH only when it is unchanged.
class StateReplaced(Exception):
    """The session's live state was lost or rebuilt while a stage step ran: the step's writes are void."""


def queue_epoch_new(pipe: Any, session_id: str) -> None:
    pipe.set(Keys(session_id).epoch, secrets.token_hex(8), ex=ttl())


def epoch(session_id: str) -> bytes | None:
    return sync_client().get(Keys(session_id).epoch)


def execute_in_epoch(pipe: Any, session_id: str, expected: bytes | None) -> list[Any]:
    """Execute a MULTI/EXEC pipeline only if the session's epoch is still ``expected``; else StateReplaced."""
    key = Keys(session_id).epoch
    try:
        pipe.watch(key)
        current = pipe.get(key)
        if current != expected:
            raise StateReplaced(f"live state of {session_id} was replaced ({expected!r} -> {current!r})")
        return pipe.execute()
    except redis.WatchError as exc:
        raise StateReplaced(f"live state of {session_id} was replaced while committing") from exc
    finally:
        pipe.reset()


def queue_cursor(pipe: Any, session_id: str, stage: str, seq: int) -> None:
    keys = Keys(session_id)
    pipe.hset(keys.cursor, stage, seq)
    pipe.expire(keys.cursor, ttl())


def arrival(session_id: str, seq: int) -> Arrival | None:
    raw = sync_client().hget(Keys(session_id).recv, seq)
    return Arrival.decode(raw) if raw is not None else None


def arrivals(session_id: str) -> dict[int, Arrival]:
    return {int(k): Arrival.decode(v) for k, v in sync_client().hgetall(Keys(session_id).recv).items()}


def load_results(session_id: str, first: int, last: int) -> dict[int, ChunkResult]:
    seqs = list(range(first, last + 1))
    raw = sync_client().hmget(Keys(session_id).result, seqs) if seqs else []
    return {s: decode_result(r) for s, r in zip(seqs, raw) if r is not None}


def queue_results(pipe: Any, session_id: str, results: dict[int, ChunkResult]) -> None:
    keys = Keys(session_id)
    if results:
        pipe.hset(keys.result, mapping={s: encode_result(r) for s, r in results.items()})
        pipe.expire(keys.result, ttl())


def load_stage_state(session_id: str, stage: str) -> dict[str, Any]:
    return decode_stage_state(sync_client().hget(Keys(session_id).stage_state, stage))


def queue_stage_state(pipe: Any, session_id: str, stage: str, data: dict[str, Any]) -> None:
    keys = Keys(session_id)
    pipe.hset(keys.stage_state, stage, encode_stage_state(data))
    pipe.expire(keys.stage_state, ttl())


def take_hints(pipe: Any, session_id: str) -> list[Hint]:
    """The hints queued so far; their deletion is queued on ``pipe`` (committed with the stage's step)."""
    keys = Keys(session_id)
    hints = [decode_hint(h) for h in sync_client().lrange(keys.hints, 0, -1)]
    pipe.delete(keys.hints)
    return hints


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
    pipe.execute()
    if meta is not None:  # the token's key has its own slot on a cluster: outside the session's transaction
        client.expire(resume_key(meta.resume_token), keep_s)
