"""Encode real shared speech into the accepted upload formats, in the test itself (PyAV, no ffmpeg binary).

``FORMATS`` maps a file suffix to (container, codec, sample rate): each is a format a recorder or a video
call produces (MediaRecorder's WebM/Opus, a phone's M4A/AAC, a meeting's MP4, an MP3, a plain WAV).
"""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

FORMATS: dict[str, tuple[str, str, int]] = {
    "wav": ("wav", "pcm_s16le", 44100),
    "mp3": ("mp3", "libmp3lame", 44100),
    "m4a": ("ipod", "aac", 44100),
    "webm": ("webm", "libopus", 48000),
    "mp4": ("mp4", "aac", 48000),
}


def encode(audio: np.ndarray, sr: int, suffix: str) -> bytes:
    """``audio`` float32 of shape (n,) or (n, 2) at ``sr`` Hz, encoded as ``suffix`` (a key of FORMATS)."""
    container_name, codec, rate = FORMATS[suffix]
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    layout = "stereo" if x.shape[1] == 2 else "mono"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
        hop = sr // 10
        pts = 0
        for i in range(0, len(pcm), hop):
            block = np.ascontiguousarray(pcm[i:i + hop].reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = sr
            frame.pts = pts
            frame.time_base = Fraction(1, sr)
            pts += block.shape[1] // x.shape[1]
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    container.mux(packet)
        for out in resampler.resample(None):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
