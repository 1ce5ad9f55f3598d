"""Structured logs: a context (session_id, seq, task_id, stage) on every line, JSON out, optional Sentry.

The context lives in ``contextvars``: a Channels consumer runs as its own asyncio task, so what its
``connect`` binds stays with that socket's lines; a Celery task binds it in ``task_prerun`` and clears it in
``task_postrun`` (``interview_project.observability``). Formatting is python-json-logger's.

What is never logged: transcript text, notes, candidate names. The formatter drops any extra field whose
name says it would carry such data, as a net under code review.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CONTEXT_FIELDS = ("session_id", "seq", "task_id", "stage", "node")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039
# extra= fields that would carry personal data are dropped from JSON lines whatever the caller passes
FORBIDDEN_FIELDS = frozenset({"text", "transcript", "partial", "segments", "words", "candidate_name", "name", "note"})


def bind(**fields: Any) -> contextvars.Token[dict[str, Any]]:
    """Add fields to this task's/coroutine's log context; returns a token for :func:`reset`."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    return _context.set(merged)


def reset(token: contextvars.Token[dict[str, Any]]) -> None:
    _context.set(token.old_value if token.old_value is not contextvars.Token.MISSING else {})


def clear() -> None:
    _context.set({})


def current() -> dict[str, Any]:
    return dict(_context.get())


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


class ContextFilter(logging.Filter):
    """Copies the log context onto each record (and a compact ``context`` string for the plain format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, ctx.get(name))
        shown = " ".join(f"{k}={ctx[k]}" for k in CONTEXT_FIELDS if ctx.get(k) is not None)
        record.context = f" [{shown}]" if shown else ""
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context fields, and safe extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "ts")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        ctx = _context.get()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = ctx.get(name)
            log_record[name] = value
        log_record.pop("context", None)
        for name in FORBIDDEN_FIELDS & log_record.keys():
            log_record.pop(name)


class AccessLog:
    """daphne's access log as log records (``daphne.access``), so LOG_FORMAT=json covers it too.

    Plugged in by ``interview_project.serve`` in place of daphne's NCSA stream writer; the path only,
    never the query string (resume tokens and tickets travel there).
    """

    logger = logging.getLogger("daphne.access")

    def __init__(self, _stream: Any = None) -> None:
        pass

    def __call__(self, protocol: str, action: str, details: dict[str, Any]) -> None:
        if protocol == "http" and action == "complete":
            request = f"{details.get('method', '')} {details.get('path', '')}"
            extra = {"status": details.get("status"), "bytes": details.get("size")}
        elif protocol == "websocket" and action in ("connecting", "rejected", "connected", "disconnected"):
            request = f"WS{action.upper()} {details.get('path', '')}"
            extra = {}
        else:
            return
        client = details.get("client")
        extra["client"] = f"{client[0]}:{client[1]}" if isinstance(client, list | tuple) else str(client)
        self.logger.info(request.split("?", 1)[0], extra=extra)


def _scrub(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any] | None:
    """Sentry ``before_send``: no request bodies (audio, notes), no local variables (transcripts)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
    for exception in (event.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    tags = event.setdefault("tags", {})
    for name in ("session_id", "seq", "stage", "task_id"):
        if _context.get().get(name) is not None:
            tags[name] = str(_context.get()[name])
    return event


def sentry_init(dsn: str, *, environment: str, traces_sample_rate: float) -> None:
    """Errors to Sentry (switched on by SENTRY_DSN): Django, Celery and logging integrations, no PII."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
        before_send=_scrub,
    )
