"""Audio preprocessing for the live path: pure functions over numpy arrays.

A chunk is preprocessed on its own, but with a little of the previous chunk as context, so filters and the
resampler see continuous audio and the output lands exactly on the session's 16 kHz sample grid (chunk
boundaries leave no clicks and times do not drift). Which optional steps run is configuration: the bench
(`bench/preprocess.py`) measures each one's effect on WER/CER, and a step that hurts stays off by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
from scipy import signal

TARGET_SR = 16000
CONTEXT_S = 0.1


class AudioFormatError(ValueError):
    """The bytes cannot be PCM of the announced format."""


def decode_pcm16(data: bytes, channels: int) -> np.ndarray:
    """Little-endian 16-bit PCM (interleaved when stereo) → float32 array of shape (frames, channels)."""
    frame_bytes = 2 * channels
    if len(data) % frame_bytes:
        raise AudioFormatError(
            f"{len(data)} bytes is not a whole number of {channels}-channel 16-bit frames ({frame_bytes} bytes each)"
        )
    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels)


def to_int16_bytes(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def from_int16_bytes(data: bytes, channels: int = 1) -> np.ndarray:
    audio = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    return audio if channels == 1 else audio.reshape(-1, channels)


def mix_down(frames: np.ndarray) -> np.ndarray:
    return frames.mean(axis=1) if frames.shape[1] > 1 else frames[:, 0]


@lru_cache(maxsize=16)
def resample_ratio(sr_in: int, sr_out: int) -> tuple[int, int]:
    g = gcd(sr_in, sr_out)
    return sr_out // g, sr_in // g  # up, down


@lru_cache(maxsize=8)
def _highpass_sos(sr: int, cutoff_hz: float) -> np.ndarray:
    return signal.butter(2, cutoff_hz, btype="highpass", fs=sr, output="sos")


def highpass(audio: np.ndarray, sr: int = TARGET_SR, cutoff_hz: float = 80.0) -> np.ndarray:
    """Remove DC and low rumble (handling noise, HVAC) below the voice band."""
    if len(audio) == 0:
        return audio
    sos = _highpass_sos(sr, cutoff_hz)
    zi = signal.sosfilt_zi(sos)
    zi = zi[:, :, None] * audio[0][None, None, :] if audio.ndim == 2 else zi * audio[0]
    out, _ = signal.sosfilt(sos, audio, zi=zi, axis=0)
    return out.astype(np.float32)


def normalize_loudness(audio: np.ndarray, target_dbfs: float = -20.0, max_gain_db: float = 30.0) -> np.ndarray:
    """Bring speech to a steady RMS level, measured on the louder frames so pauses do not inflate the gain."""
    if len(audio) < 160:
        return audio
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    active = rms[rms >= np.percentile(rms, 70)]
    level_db = 20 * np.log10(float(np.mean(active)) + 1e-9)
    gain_db = float(np.clip(target_dbfs - level_db, -max_gain_db, max_gain_db))
    out = audio * (10 ** (gain_db / 20))
    peak = float(np.max(np.abs(out)))
    if peak > 0.99:
        out = out * (0.99 / peak)
    return out.astype(np.float32)


def denoise(audio: np.ndarray, sr: int = TARGET_SR) -> np.ndarray:
    """Spectral gating (noisereduce, stationary noise estimated from the clip itself)."""
    import noisereduce

    if len(audio) < sr // 4:
        return audio
    return noisereduce.reduce_noise(y=audio, sr=sr, stationary=True, prop_decrease=0.8).astype(np.float32)


@dataclass(frozen=True)
class ChunkFormat:
    sample_rate: int
    channels: int


def resample_on_grid(frames: np.ndarray, sr_in: int, in_offset: int, context: np.ndarray | None) -> np.ndarray:
    """Resample ``frames`` (shape (n, ch)) whose first sample is input sample ``in_offset`` of the session.

    Output samples are exactly session samples ``ceil(in_offset*r) .. ceil((in_offset+n)*r) - 1`` at 16 kHz,
    so consecutive chunks tile the timeline with no gaps, overlaps or drift whatever their lengths.
    """
    up, down = resample_ratio(sr_in, TARGET_SR)
    if up == down:
        return frames.astype(np.float32)
    n = len(frames)
    out_start = -(-in_offset * up // down)
    out_end = -(-(in_offset + n) * up // down)
    # Start the local signal on an input sample that maps onto the output grid (a multiple of `down`).
    ctx = 0
    if context is not None and len(context):
        want = in_offset - max(0, in_offset - int(CONTEXT_S * sr_in))
        ctx = min(len(context), want)
    local_start = in_offset - ctx
    align = local_start % down
    if align:
        extra = min(align, len(context) - ctx) if context is not None else 0
        if extra == align:
            ctx += align
        else:  # not enough context to align backwards: drop samples forward instead
            ctx -= down - align
        local_start = in_offset - ctx
    if ctx > 0:
        assert context is not None
        local = np.concatenate([context[-ctx:], frames], axis=0)
    elif ctx < 0:
        local = frames[-ctx:]
    else:
        local = frames
    resampled = signal.resample_poly(local, up, down, axis=0)
    first = local_start * up // down
    lo = out_start - first
    out = resampled[lo : lo + (out_end - out_start)]
    if len(out) < out_end - out_start:  # the filter tail at the very end: pad with the last value
        pad = np.repeat(out[-1:] if len(out) else np.zeros((1, frames.shape[1])), out_end - out_start - len(out), axis=0)
        out = np.concatenate([out, pad], axis=0)
    return out.astype(np.float32)


@dataclass(frozen=True)
class PreprocessedChunk:
    mono: np.ndarray  # 16 kHz float32, the chunk's exact span of the session timeline
    channels: np.ndarray | None  # (n, ch) at 16 kHz when the stream has more than one channel
    start_sample: int  # first 16 kHz session sample of this chunk


def preprocess_chunk(
    raw: bytes,
    *,
    fmt: ChunkFormat,
    in_offset: int,
    previous_raw: bytes | None,
    steps: tuple[str, ...] = ("highpass",),
) -> PreprocessedChunk:
    """Decode, resample onto the 16 kHz session grid, mix down and apply the enabled per-chunk steps.

    ``in_offset`` is the index (at the client's sample rate) of the chunk's first frame in the session;
    ``previous_raw`` is the previous chunk, used only as filter context.
    """
    frames = decode_pcm16(raw, fmt.channels)
    context = decode_pcm16(previous_raw, fmt.channels) if previous_raw else None
    up, down = resample_ratio(fmt.sample_rate, TARGET_SR)
    start_sample = -(-in_offset * up // down)
    resampled = resample_on_grid(frames, fmt.sample_rate, in_offset, context)
    if "highpass" in steps:
        ctx16 = 0
        if context is not None:
            ctx_frames = context[-int(CONTEXT_S * fmt.sample_rate) :]
            prev_off = in_offset - len(ctx_frames)
            ctx_res = resample_on_grid(ctx_frames, fmt.sample_rate, prev_off, None) if up != down else ctx_frames
            ctx16 = len(ctx_res)
            joined = np.concatenate([ctx_res, resampled], axis=0)
        else:
            joined = resampled
        resampled = highpass(joined, TARGET_SR)[ctx16:]
    mono = mix_down(resampled)
    multi = resampled if fmt.channels > 1 else None
    return PreprocessedChunk(mono=mono.astype(np.float32), channels=multi, start_sample=start_sample)


def prepare_utterance(audio: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """Steps that need a whole utterance rather than a chunk: loudness normalisation and spectral gating."""
    if "denoise" in steps:
        audio = denoise(audio)
    if "loudness" in steps:
        audio = normalize_loudness(audio)
    return audio


def load_audio_file(path: str) -> tuple[np.ndarray, int]:
    """Read any WAV/FLAC as float32 (frames, channels) with its sample rate (for tests and benches)."""
    import soundfile as sf

    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return data, int(sr)


def file_to_16k_mono(path: str) -> np.ndarray:
    import librosa

    data, sr = load_audio_file(path)
    mono = data.mean(axis=1)
    if sr != TARGET_SR:
        mono = librosa.resample(mono, orig_sr=sr, target_sr=TARGET_SR, res_type="soxr_hq")
    return mono.astype(np.float32)
