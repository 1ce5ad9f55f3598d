"""One speaker per channel: transcribe each channel on its own.

Why: a two-channel call recording (interviewer on channel 0, candidate on channel 1) often has both
people talking at once; a mix-down loses the quieter voice under the louder one, and there is nothing to
diarize when the channel already says who speaks. Pure: arrays in, segments with their channel out.
"""

from __future__ import annotations

import numpy as np

from analysis.stt.engine import Segment, SttConfig, transcribe_offline


def transcribe_channels(config: SttConfig, recording: np.ndarray, *, language: str | None,
                        hotwords: str = "") -> list[tuple[Segment, int]]:
    """Segments of every channel of ``recording`` (shape (n, channels), 16 kHz) in time order, with their channel."""
    out: list[tuple[Segment, int]] = []
    for channel in range(recording.shape[1]):
        out += [(segment, channel) for segment in transcribe_offline(config, recording[:, channel], language=language,
                                                                       hotwords=hotwords)]
    return sorted(out, key=lambda item: (item[0].start, item[1]))
