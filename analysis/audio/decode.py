"""Decode an uploaded recording (WAV, MP3, M4A/MP4, WebM/Opus, Ogg/Opus, FLAC) to 16 kHz PCM16 WAV.

Pure: no Django. PyAV (FFmpeg, shipped with faster-whisper) demuxes and decodes; its resampler converts
to 16 kHz mono, or keeps two channels when the caller says the recording is one speaker per channel. The
output is streamed into a WAV file frame by frame, so a three-hour recording never sits in memory as floats.

Refusals are ``RecordingError`` with a stable ``code``; anything FFmpeg cannot open or decode end to end is
``corrupt``: a half-decodable file is refused rather than silently analysed up to the damage.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import av
import numpy as np

SR = 16000
Layout = Literal["mono", "two_channel"]

# Containers as FFmpeg names them (a demuxer may carry several names joined by commas).
CONTAINERS = {"wav", "mp3", "mov", "mp4", "m4a", "3gp", "matroska", "webm", "ogg", "flac"}
CODECS = {"mp3", "mp3float", "aac", "opus", "libopus", "flac", "vorbis", "alac"}
ACCEPTED = "WAV (PCM), MP3, M4A/MP4 (AAC, ALAC), WebM or Ogg (Opus, Vorbis), FLAC"


class RecordingError(ValueError):
    """A recording that cannot be accepted; ``code`` is stable for clients, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DecodedRecording:
    container: str
    codec: str
    source_sample_rate: int
    source_channels: int
    channels: int
    samples: int

    @property
    def duration_s(self) -> float:
        return self.samples / SR


def _codec_ok(name: str) -> bool:
    return name in CODECS or name.startswith("pcm_")


def decode_to_wav(source: str | Path | IO[bytes], dest: IO[bytes], *, layout: Layout = "mono",
                  max_duration_s: float = 4 * 3600.0, min_duration_s: float = 0.5) -> DecodedRecording:
    """Decode ``source`` into ``dest`` (a 16 kHz PCM16 WAV, one or two channels) or raise ``RecordingError``.

    ``layout="two_channel"`` keeps channel 0 and channel 1 apart (one speaker per channel) and refuses a
    recording that does not have exactly two channels.
    """
    try:
        container = av.open(source if isinstance(source, str) else (str(source) if isinstance(source, Path) else source),
                            mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise RecordingError("corrupt", f"not a readable audio file ({_reason(exc)}); accepted: {ACCEPTED}") from exc
    try:
        return _decode(container, dest, layout=layout, max_duration_s=max_duration_s, min_duration_s=min_duration_s)
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _decode(container: av.container.InputContainer, dest: IO[bytes], *, layout: Layout, max_duration_s: float,
            min_duration_s: float) -> DecodedRecording:
    format_names = set(container.format.name.split(","))
    if not format_names & CONTAINERS:
        raise RecordingError("unsupported_format", f"container {container.format.name!r} is not accepted; accepted: {ACCEPTED}")
    if not container.streams.audio:
        raise RecordingError("no_audio", "the file has no audio stream")
    stream = container.streams.audio[0]
    codec = stream.codec_context.name
    if not _codec_ok(codec):
        raise RecordingError("unsupported_codec", f"audio codec {codec!r} is not accepted; accepted: {ACCEPTED}")
    source_channels = stream.codec_context.channels or 0
    if layout == "two_channel" and source_channels != 2:
        raise RecordingError(
            "layout_mismatch", f"layout two_channel needs a two-channel recording, this one has {source_channels}"
        )
    channels = 2 if layout == "two_channel" else 1
    resampler = av.AudioResampler(format="s16", layout="stereo" if channels == 2 else "mono", rate=SR)
    limit = int(max_duration_s * SR)
    samples = 0
    out = wave.open(dest, "wb")  # noqa: SIM115 - closed below, after the last frame
    out.setnchannels(channels)
    out.setsampwidth(2)
    out.setframerate(SR)

    def write(frames: list[av.AudioFrame]) -> None:
        nonlocal samples
        for frame in frames:
            pcm = frame.to_ndarray()  # packed s16: shape (1, n * channels)
            samples += pcm.shape[-1] // channels
            if samples > limit:
                raise RecordingError("too_long", f"the recording is longer than {max_duration_s / 60:.0f} minutes")
            out.writeframes(np.ascontiguousarray(pcm).tobytes())

    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                write(resampler.resample(frame))
        write(resampler.resample(None))
    except RecordingError:
        raise
    except (av.error.FFmpegError, ValueError) as exc:
        raise RecordingError("corrupt", f"the audio could not be decoded ({_reason(exc)})") from exc
    finally:
        out.close()
    if samples < min_duration_s * SR:
        raise RecordingError("too_short", f"the recording holds {samples / SR:.2f} s of audio; at least {min_duration_s} s is needed")
    return DecodedRecording(
        container=container.format.name, codec=codec, source_sample_rate=stream.codec_context.sample_rate or 0,
        source_channels=source_channels, channels=channels, samples=samples,
    )
