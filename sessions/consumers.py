"""The interview WebSocket (protocol v1, docs/protocol.md).

Thin by design: parse a frame, call one service, reply. Audio arrives as binary frames, which is why this
is an ``AsyncWebsocketConsumer`` (the JSON consumer rejects binary frames).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from analysis.tasks import enqueue_chunk
from interview_project import logs, metrics
from sessions import admission, events, limits, monitor, security, services
from sessions.protocol import (
    PROTOCOL_VERSION,
    AudioChunk,
    CloseCode,
    ConnectParams,
    ErrorCode,
    EvaluationRequest,
    Ping,
    ProtocolError,
    SessionEnd,
    SessionInfo,
    SpeakerNote,
    parse_binary,
    parse_connect,
    parse_text,
)
from sessions.state import SessionMeta

logger = logging.getLogger(__name__)


SLOT_TOUCH_S = 5.0  # how often a streaming session refreshes its live slot (admission.py)


class InterviewConsumer(AsyncWebsocketConsumer):
    meta: SessionMeta | None = None
    params: ConnectParams | None = None
    _slot_touched: float = -1e9
    _admission: asyncio.Task[None] | None = None
    slot_refreshed: float = 0.0

    # --- lifecycle -------------------------------------------------------------------------------------------------
    async def connect(self) -> None:
        events.remember_server_loop(asyncio.get_running_loop())
        await self.accept()
        try:
            self.params = parse_connect(self.scope.get("query_string", b""))
            owner_id = await security.authorize_connect(scope=self.scope, params=self.params)
            if self.params.resume_token:
                self.meta = await services.interview_resume(token=self.params.resume_token)
                if self.meta is None:
                    raise ProtocolError(
                        ErrorCode.UNKNOWN_SESSION, "unknown or expired resume token; start a new session", fatal=True
                    )
                if self.meta.status == "live":
                    await admission.slot_touch(session_id=self.meta.session_id)  # an admitted interview keeps its slot
                await self._refresh_slot()
            else:
                await limits.sessions_check(user_id=owner_id, now=time.time())
                if self.params.queue:
                    # Waiting for a slot must not block this consumer: a client that gives up is seen
                    # (disconnect) and leaves the line at once.
                    self._admission = asyncio.create_task(self._start_admitted(owner_id))
                else:
                    await self._start_admitted(owner_id)
                return
        except ProtocolError as error:
            await self._error(error)
            return
        await self._joined()

    async def _start_admitted(self, owner_id: int | None) -> None:
        """Take a live slot (or wait for one with ``queue=1``), then create the session and acknowledge."""
        assert self.params is not None
        try:
            slot = await admission.slot_admit(queue=self.params.queue, notify=self.send_json)
            try:
                self.meta = await services.interview_start(params=self.params, owner_id=owner_id)
            except BaseException:
                await admission.slot_drop(token=slot)
                raise
            await admission.slot_bind(token=slot, session_id=self.meta.session_id)
            await self._refresh_slot()
        except ProtocolError as error:
            await self._error(error)
            return
        await self._joined()

    async def _joined(self) -> None:
        assert self.meta is not None and self.params is not None
        await self.channel_layer.group_add(events.group_name(self.meta.session_id), self.channel_name)
        await self._opened(resumed=bool(self.params.resume_token))
        await self.send_json(self._ack())
        if self.params.resume_token:
            for event in await services.undelivered_events(
                session_id=self.meta.session_id, after_seq=self.meta.delivered_seq
            ):
                await self.interview_audio_processed({"event": event})

    async def disconnect(self, code: int) -> None:
        if self._admission is not None and not self._admission.done():
            self._admission.cancel()  # a client that stopped waiting leaves the line (slot_admit cleans up)
        if self.meta is not None:
            await self.channel_layer.group_discard(events.group_name(self.meta.session_id), self.channel_name)
            await services.session_touch(session_id=self.meta.session_id)
            if self.meta.status == "live":
                await self._refresh_slot(force=True)
            await self._closed(code)

    async def _refresh_slot(self, *, force: bool = False) -> None:
        """Keep counting this session among its owner's live ones (sessions.limits), at most once a minute."""
        assert self.meta is not None
        now = time.time()
        if force or now - self.slot_refreshed >= limits.SESSION_SLOT_REFRESH_S:
            self.slot_refreshed = now
            await limits.session_slot_refresh(user_id=self.meta.owner_id, session_id=self.meta.session_id, now=now)

    # --- observability: log context, metrics, the monitoring record (ids and numbers only) ------------------------
    async def _opened(self, *, resumed: bool) -> None:
        assert self.meta is not None
        logs.bind(session_id=self.meta.session_id, node=monitor.node_name())
        metrics.ws_connected(resumed=resumed)
        self._counted = True
        logger.info("websocket %s", "resumed" if resumed else "opened", extra={"resumed": resumed})
        try:
            await monitor.socket_opened(session_id=self.meta.session_id, resumed=resumed)
        except Exception as exc:  # monitoring never breaks a session
            logger.warning("monitoring update failed: %s", type(exc).__name__)

    async def _closed(self, code: int | None) -> None:
        if not getattr(self, "_counted", False) or self.meta is None:
            return
        self._counted = False
        metrics.ws_closed(code)
        logger.info("websocket closed", extra={"close_code": code})
        try:
            await monitor.socket_closed(session_id=self.meta.session_id, code=code)
        except Exception as exc:
            logger.warning("monitoring update failed: %s", type(exc).__name__)

    def _ack(self) -> dict[str, Any]:
        assert self.meta is not None
        return {
            "type": "connection_ack",
            "session_id": self.meta.session_id,
            "resume_token": self.meta.resume_token,
            "protocol": PROTOCOL_VERSION,
            "audio": {
                "encoding": services.session_encoding(self.meta),
                "sample_rate": self.meta.sample_rate,
                "channels": self.meta.channels,
                "max_chunk_ms": settings.AUDIO_MAX_CHUNK_MS,
            },
            "heartbeat_s": settings.HEARTBEAT_S,
            "last_seq": self.meta.last_seq,
            "status": self.meta.status,
            "language": self.meta.language,
        }

    # --- client → server ---------------------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.meta is None:
            return
        audio = {
            "sample_rate": self.meta.sample_rate,
            "channels": self.meta.channels,
            "max_chunk_ms": settings.AUDIO_MAX_CHUNK_MS,
            "encoding": services.session_encoding(self.meta),
        }
        try:
            if bytes_data is not None:
                message = parse_binary(bytes_data, **audio)
            else:
                self.text_frames.take()
                message = parse_text(text_data or "", **audio)
            await self._dispatch(message)
        except ProtocolError as error:
            await self._error(error)
        except Exception:  # a bug must cost one frame, never the socket (1011) and its session
            logger.exception("interview %s: frame handling failed", self.meta.session_id)
            await self._error(ProtocolError(ErrorCode.INTERNAL, "this message could not be handled; the session goes on"))

    @property
    def text_frames(self) -> limits.TextFrameBucket:
        bucket = self.__dict__.get("_text_frames")
        if bucket is None:
            bucket = self.__dict__["_text_frames"] = limits.text_bucket()
        return bucket

    async def _dispatch(self, message: Any) -> None:
        assert self.meta is not None
        if isinstance(message, AudioChunk):
            logs.bind(seq=message.seq)
            await services.chunk_accept(meta=self.meta, chunk=message, now=time.time())
            metrics.chunk_accepted(audio_s=len(message.pcm) / (2 * self.meta.channels * self.meta.sample_rate))
            if time.monotonic() - self._slot_touched > SLOT_TOUCH_S:
                self._slot_touched = time.monotonic()
                await admission.slot_touch(session_id=self.meta.session_id)
            await sync_to_async(enqueue_chunk, thread_sensitive=False)(self.meta.session_id, message.seq)
            await self._refresh_slot()
        elif isinstance(message, SpeakerNote):
            note = await services.note_add(meta=self.meta, note=message)
            await self.send_json({"type": "note_ack", "id": note.pk, "at": note.at, "kind": note.kind})
        elif isinstance(message, EvaluationRequest):
            await limits.evaluation_claim(session_id=self.meta.session_id)
            await self.send_json(await services.evaluation_status(meta=self.meta, scope=message.scope))
            await services.evaluation_enqueue(meta=self.meta, scope=message.scope)
        elif isinstance(message, SessionEnd):
            if not await services.session_end_request(meta=self.meta):
                raise ProtocolError(ErrorCode.SESSION_ENDED, "session_end was already received")
            await limits.session_slot_release(user_id=self.meta.owner_id, session_id=self.meta.session_id)
        elif isinstance(message, SessionInfo):
            await services.interview_candidate_set(meta=self.meta, name=message.candidate_name)
            await self.send_json({"type": "session_info_ack", "candidate_name": message.candidate_name})
        elif isinstance(message, Ping):
            await self.send_json({"type": "pong", "ts": message.ts})

    async def _error(self, error: ProtocolError) -> None:
        metrics.error_sent(error.code)
        payload: dict[str, Any] = {"type": "error_message", "code": error.code, "message": error.message, "fatal": error.fatal}
        if error.seq is not None:
            payload["seq"] = error.seq
        await self.send_json(payload)
        if error.fatal:
            close_code = {
                ErrorCode.BAD_PARAMETERS: CloseCode.BAD_PARAMETERS,
                ErrorCode.UNKNOWN_SESSION: CloseCode.UNKNOWN_SESSION,
                ErrorCode.UNAUTHORIZED: CloseCode.UNAUTHORIZED,
                ErrorCode.SERVER_BUSY: CloseCode.SERVER_BUSY,
                ErrorCode.FORBIDDEN: CloseCode.FORBIDDEN,
                ErrorCode.TOO_MANY_SESSIONS: CloseCode.TOO_MANY_SESSIONS,
            }.get(error.code, CloseCode.INTERNAL)
            await self.close(code=close_code)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))

    # --- server → client: one handler per event type ----------------------------------------------------------------
    async def interview_audio_processed(self, message: dict[str, Any]) -> None:
        event = message["event"]
        await self.send_json(event)
        if self.meta is not None and event["seq"] > self.meta.delivered_seq:
            self.meta.delivered_seq = event["seq"]
            await services.delivered_mark(session_id=self.meta.session_id, seq=event["seq"])

    async def interview_final_progress(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def interview_real_time_feedback(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def interview_score_update(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def interview_role_correction(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def interview_error_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])

    async def interview_session_complete(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
        if self.meta is not None:
            self.meta.status = "complete"
        await self.close(code=CloseCode.NORMAL)
