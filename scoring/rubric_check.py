"""Is a stored rubric override usable? One answer for the API, the admin and the pipeline.

A question set's ``rubric`` is JSON typed by a person. It is checked when it is saved (API serializer,
admin form), so a typo is refused with its reason instead of silently changing scores; and a row that is
bad anyway (written before this check, or edited in the database) never stops a session: the pipeline
falls back to the default rubric and logs why (``analysis.answers_service.rubric_for``).

Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.rubric import Rubric

RUBRIC_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)
"""What ``Rubric.from_dict`` raises on malformed input (wrong types deep inside included)."""


def rubric_error(data: Any) -> str | None:
    """None when ``data`` is a usable override (an empty one means "the defaults"), else the reason."""
    if not isinstance(data, Mapping):
        return "the rubric must be a JSON object, e.g. {\"weights\": {\"relevance\": 0.3}}"
    if not data:
        return None
    try:
        Rubric.from_dict(data)
    except RUBRIC_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None
