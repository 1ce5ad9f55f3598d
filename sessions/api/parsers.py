"""The API's JSON parser: malformed input of any shape is a 400 with ``code: "parse_error"``, never a 500.

DRF's ``JSONParser`` turns syntax errors and over-long integers (``ValueError``) into 400 already, but a
deeply nested body raises ``RecursionError`` (a 500), and a lone UTF-16 surrogate (``"\\ud800"``) parses
fine and then fails deep inside the database driver. Both are refused here, at the edge.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from sessions.protocol import has_lone_surrogate


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if has_lone_surrogate(data):
            raise ParseError("JSON parse error - a string holds a lone UTF-16 surrogate")
        return data
