"""HTTP ``Range`` for the audio route: browsers seek in an ``<audio>`` element with byte ranges.

Pure so the edge cases (suffix ranges, open ends, past-the-end) are tested without a server. Only a single
range is honoured; for a multi-range request RFC 9110 lets a server send the whole file instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DIGITS = 18
_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class RangeNotSatisfiable(ValueError):
    """The range lies wholly beyond the file: answer 416 with ``Content-Range: bytes */size``."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to send, or None to send the whole file (no header, several ranges, or nonsense)."""
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    # Python refuses to read integers of more than 4300 digits (and anything past 18 digits is beyond any
    # file here): a huge first byte lies past the end (416); a huge last byte or suffix means "to the end".
    if len(first) > MAX_DIGITS:
        raise RangeNotSatisfiable(header[:100])
    if len(last) > MAX_DIGITS:
        last = str(size)
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(start=max(size - suffix, 0), end=size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignore the header
    if start >= size:
        raise RangeNotSatisfiable(header)
    end = int(last) if last else size - 1
    return ByteRange(start=start, end=min(end, size - 1))
