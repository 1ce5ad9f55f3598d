"""One error shape for the API: DRF's ``{"detail": ...}`` plus a stable ``code``.

Clients (and the review UI) branch on ``code`` (``not_found``, ``report_not_ready``, ``throttled``...),
never on the English ``detail`` text.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        if detail is not None and "code" not in response.data:
            fallback = exc.default_code if isinstance(exc, APIException) else "error"
            response.data["code"] = getattr(detail, "code", None) or fallback
    return response
