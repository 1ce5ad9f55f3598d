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
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from analysis import tasks
from interview_project import logs, metrics
from sessions import admission, events, lifecycle, limits, monitor, security, services
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
    meta: SessionMeta | None = None  # None once a fatal error ended the socket: nothing more is accepted
    params: ConnectParams | None = None
    session_id: str = ""
    _watchdog: asyncio.Task[None] | None = None
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
                delivered = self.params.delivered
                resumed = await services.interview_resume(
                    token=self.params.resume_token, delivered=-1 if delivered is None else delivered
                )
                if resumed is None:
                    raise ProtocolError(
                        ErrorCode.UNKNOWN_SESSION, "unknown or expired resume token; start a new session", fatal=True
                    )
                security.check_resume_owner(session_owner_id=resumed.meta.owner_id, user_id=owner_id)
                self.meta = resumed.meta
                if delivered is not None:  # the client knows best what reached it (frames die in flight)
                    self.meta.delivered_seq = min(delivered, self.meta.last_seq)
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
        self.session_id = self.meta.session_id
        group = events.group_name(self.session_id)
        await self.channel_layer.group_add(group, self.channel_name)
        await self._opened(resumed=bool(self.params.resume_token))
        # One socket per session: an older one (a tab left open, a half-dead connection) is closed with 4409.
        await self.channel_layer.group_send(group, {"type": "interview.superseded", "channel": self.channel_name})
        self._last_frame = time.monotonic()
        self._watchdog = asyncio.create_task(self._heartbeat_watchdog())
        await self.send_json(self._ack())
        if await lifecycle.lost_notice_take(session_id=self.session_id):
            await self._state_lost_notice()
        if self.params.resume_token:
            for event in await services.undelivered_events(
                session_id=self.meta.session_id, after_seq=self.meta.delivered_seq
            ):
                await self.interview_audio_processed({"event": event})
            if self.meta.status == "complete":  # the client missed the end: tell it again, then close
                await sync_to_async(services.interview_republish_complete, thread_sensitive=False)(
                    session_id=self.meta.session_id
                )

    async def _heartbeat_watchdog(self) -> None:
        """Close a socket that sends nothing (no audio, no ping) for HEARTBEAT_TIMEOUT_S: a dead peer."""
        timeout = settings.HEARTBEAT_TIMEOUT_S
        while True:
            silent = time.monotonic() - self._last_frame
            if self.meta is None or self.meta.status != "live":
                return  # after session_end the client only waits (finalize may take a while): nothing is owed
            if silent >= timeout:
                await self._error(ProtocolError(
                    ErrorCode.HEARTBEAT_TIMEOUT,
                    f"nothing received for {timeout:g} s (send a ping every heartbeat_s); resume to continue",
                    fatal=True,
                ))
                return
            await asyncio.sleep(max(0.05, timeout - silent))

    async def disconnect(self, code: int) -> None:
        if self._admission is not None and not self._admission.done():
            self._admission.cancel()  # a client that stopped waiting leaves the line (slot_admit cleans up)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.session_id:
            await self.channel_layer.group_discard(events.group_name(self.session_id), self.channel_name)
            await services.session_touch(session_id=self.session_id)
        if self.meta is not None:
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
        self._last_frame = time.monotonic()
        await lifecycle.session_seen(session_id=self.meta.session_id, now=time.time())
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

    async def _recover_if_lost(self) -> None:
        """Redis lost this session (restart, eviction, failover): say so, then rebuild it from the database
        and the durable recording, or end the socket when it cannot be continued (erased or already ended)."""
        assert self.meta is not None
        if not await lifecycle.state_lost_async(self.meta.session_id):
            return
        if await lifecycle.is_erased_async(self.meta.session_id):
            raise ProtocolError(ErrorCode.SESSION_ENDED, "this interview was erased; audio is no longer accepted",
                                fatal=True)
        rebuilt = await database_sync_to_async(lifecycle.session_rebuild)(
            session_id=self.meta.session_id, resume_token=self.meta.resume_token, delivered_seq=self.meta.delivered_seq
        )
        if rebuilt is None:
            raise ProtocolError(ErrorCode.STATE_LOST, "the server lost this session's live state and it cannot be "
                                "continued (ended or erased); its stored audio is kept", fatal=True)
        self.meta = rebuilt
        # Redis lost the group membership with everything else.
        await self.channel_layer.group_add(events.group_name(self.session_id), self.channel_name)
        if await lifecycle.lost_notice_take(session_id=self.session_id):
            await self._state_lost_notice()

    async def _state_lost_notice(self) -> None:
        assert self.meta is not None
        await self.send_json({
            "type": "error_message", "code": ErrorCode.STATE_LOST, "fatal": False,
            "message": "the server lost this session's live state; it was rebuilt from the stored recording "
                       f"(chunks 0..{self.meta.last_seq}) and processing is catching up",
        })

    async def _dispatch(self, message: Any) -> None:
        assert self.meta is not None
        if isinstance(message, AudioChunk | SessionEnd):
            await self._recover_if_lost()
        if isinstance(message, AudioChunk):
            logs.bind(seq=message.seq)
            await services.chunk_accept(meta=self.meta, chunk=message, now=time.time())
            frames = message.frames if message.frames is not None else len(message.pcm) // (2 * self.meta.channels)
            metrics.chunk_accepted(audio_s=frames / self.meta.sample_rate)
            if time.monotonic() - self._slot_touched > SLOT_TOUCH_S:
                self._slot_touched = time.monotonic()
                await admission.slot_touch(session_id=self.meta.session_id)
            await sync_to_async(tasks.enqueue_chunk, thread_sensitive=False)(self.meta.session_id, message.seq)
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
                ErrorCode.SUPERSEDED: CloseCode.SUPERSEDED,
                ErrorCode.HEARTBEAT_TIMEOUT: CloseCode.HEARTBEAT_TIMEOUT,
                ErrorCode.SESSION_ENDED: CloseCode.NORMAL,
            }.get(error.code, CloseCode.INTERNAL)
            self.meta = None  # nothing more is accepted on this socket
            await self.close(code=close_code)

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, ensure_ascii=False))

    # --- server → client: one handler per event type ----------------------------------------------------------------
    async def interview_superseded(self, message: dict[str, Any]) -> None:
        if message["channel"] == self.channel_name or self.meta is None:
            return
        await self.channel_layer.group_discard(events.group_name(self.meta.session_id), self.channel_name)
        await self._error(ProtocolError(ErrorCode.SUPERSEDED, "another connection resumed this session", fatal=True))

    async def interview_audio_processed(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.meta is not None and event["seq"] <= self.meta.delivered_seq:
            return  # already sent (replayed at resume while the worker published it): once per client
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
