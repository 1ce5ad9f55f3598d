"""Keep credentials off error pages and out of logs.

Django's ``SafeExceptionReporterFilter`` hides settings whose *name* looks secret (``SECRET_KEY``,
``*_PASSWORD``...), but ``REDIS_URL``, ``DATABASE_URL`` and ``CELERY_BROKER_URL`` carry their password inside
the value (``redis://:pw@host``), and so do the channel layer's hosts. Both classes here replace the user
info of any URL with ``***``, wherever it appears: in a setting (however deeply nested) or a log message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# scheme://[user][:password]@  ->  scheme://***@   (only when there is an "@", so plain URLs stay readable)
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/@\s'\"]*)@")


def redact_text(text: str) -> str:
    """The text with the user/password part of every URL in it replaced by ``***``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v) for v in value)
    return value


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """The default filter, plus URL credentials masked in settings, request data and local variables."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        return _redact_value(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [(name, _redact_value(value) if isinstance(value, str) else value)
                for name, value in super().get_traceback_frame_variables(request, tb_frame)]  # fmt: skip


class RedactFilter(logging.Filter):
    """A logging filter that masks URL credentials in the formatted message (and in its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if redact_text(text) != text:
                record.exc_text = redact_text(text)
                # the formatter prints exc_text when set; drop the live exception so it cannot print it again
                record.exc_info = None
        return True


class RedactingExceptionReporter(ExceptionReporter):
    """Django's error report (DEBUG page, admin mails) with URL credentials masked everywhere in it:
    exception messages and source lines can hold a URL too, not only settings and variables."""

    def get_traceback_html(self) -> str:
        return redact_text(super().get_traceback_html())

    def get_traceback_text(self) -> str:
        return redact_text(super().get_traceback_text())
