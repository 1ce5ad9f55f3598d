"""Speaker embeddings for timeline audio.

Why this module exists: every diarization path (live and final) needs the same thing, fixed-length voice
vectors for short windows of 16 kHz speech whose times stay on the session timeline. resemblyzer's own
``preprocess_wav`` trims silence and therefore shifts times, so it is never used here; windows are cut from
the caller's audio at exact sample offsets and fed to the encoder directly.

Backends:
- default: the GE2E LSTM encoder bundled inside the installed ``resemblyzer`` wheel (offline, ~5 ms per
  1.5 s window on one CPU core once warm);
- optional: SpeechBrain ECAPA when ``SPEAKER_MODEL`` names a local model directory. SpeechBrain is not a
  dependency (its install pulls a CUDA torchaudio), so it is imported lazily and a missing install raises a
  clear error instead of silently falling back.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000
WINDOW_S = 1.5
HOP_S = 0.75
MIN_WINDOW_S = 0.4
# resemblyzer normalises utterances to -30 dBFS before embedding; doing the same per window keeps the
# encoder in the loudness range it was trained on and stops loudness alone from separating speakers.
TARGET_DBFS = -30.0


class SpeakerModelUnavailable(RuntimeError):
    """The configured speaker-embedding backend cannot be loaded (missing package or model files)."""


@dataclass(frozen=True)
class WindowEmbeddings:
    """Window embeddings with their session times; ``vectors`` rows are L2-normalised."""

    starts: np.ndarray  # (n,) seconds
    ends: np.ndarray  # (n,) seconds
    vectors: np.ndarray  # (n, d) float32

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def centers(self) -> np.ndarray:
        return (self.starts + self.ends) / 2.0

    @staticmethod
    def empty(dim: int = 256) -> WindowEmbeddings:
        return WindowEmbeddings(np.zeros(0), np.zeros(0), np.zeros((0, dim), dtype=np.float32))


class SpeakerEncoder(Protocol):
    """Anything that turns a batch of equal-rate waveforms into L2-normalised vectors."""

    dim: int

    def embed(self, waves: list[np.ndarray]) -> np.ndarray: ...


def _import_resemblyzer_encoder() -> type:
    """Import ``resemblyzer.VoiceEncoder`` even when setuptools no longer ships ``pkg_resources``.

    resemblyzer imports webrtcvad, whose wrapper calls ``pkg_resources.get_distribution`` only to read its
    own version string. setuptools >= 81 removed ``pkg_resources``; rather than leave a fake module behind
    for the whole process, a minimal shim is visible only for the duration of this import.
    """
    try:
        from resemblyzer import VoiceEncoder
    except ModuleNotFoundError as exc:
        if exc.name != "pkg_resources":
            raise
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(  # type: ignore[attr-defined]
            version=importlib.metadata.version(name)
        )
        sys.modules["pkg_resources"] = shim
        try:
            for mod in [m for m in sys.modules if m == "resemblyzer" or m.startswith("resemblyzer.")]:
                del sys.modules[mod]
            from resemblyzer import VoiceEncoder
        finally:
            if sys.modules.get("pkg_resources") is shim:
                del sys.modules["pkg_resources"]
    return VoiceEncoder


class ResemblyzerEncoder:
    """GE2E encoder from resemblyzer, fed with mel frames computed here in numpy.

    The mel spectrogram matches ``resemblyzer.audio.wav_to_mel_spectrogram`` (25 ms Hann window, 10 ms hop,
    40 mel bands, power spectrum, centred frames) but avoids librosa's STFT, whose first call spends seconds
    compiling with numba inside a worker that has a latency budget.
    """

    dim = 256

    def __init__(self) -> None:
        import librosa
        import torch

        voice_encoder = _import_resemblyzer_encoder()
        self._torch = torch
        self._device = speaker_device()
        self._model = voice_encoder(self._device, verbose=False)
        self._model.eval()
        self._n_fft = 400
        self._hop = 160
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self._n_fft) / self._n_fft)).astype(np.float32)
        self._mel = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=self._n_fft, n_mels=40).astype(np.float32)

    def _mel_frames(self, wave: np.ndarray) -> np.ndarray:
        pad = self._n_fft // 2
        padded = np.pad(wave.astype(np.float32), (pad, pad))
        n_frames = 1 + (len(padded) - self._n_fft) // self._hop
        idx = np.arange(self._n_fft)[None, :] + self._hop * np.arange(n_frames)[:, None]
        spec = np.abs(np.fft.rfft(padded[idx] * self._window, axis=1)) ** 2
        return (spec.astype(np.float32) @ self._mel.T).astype(np.float32)

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        if not waves:
            return np.zeros((0, self.dim), dtype=np.float32)
        mels = [self._mel_frames(w) for w in waves]
        out = np.zeros((len(mels), self.dim), dtype=np.float32)
        # Batch windows of equal length together (the LSTM takes a dense batch).
        by_len: dict[int, list[int]] = {}
        for i, m in enumerate(mels):
            by_len.setdefault(m.shape[0], []).append(i)
        with self._torch.inference_mode():
            for idxs in by_len.values():
                batch = self._torch.from_numpy(np.stack([mels[i] for i in idxs])).to(self._device)
                out[idxs] = self._model(batch).cpu().numpy()
        return out


class EcapaEncoder:
    """SpeechBrain ECAPA-TDNN from a local directory (``SPEAKER_MODEL``), loaded without network access."""

    dim = 192

    def __init__(self, model_dir: str) -> None:
        path = Path(model_dir)
        if not (path / "hyperparams.yaml").exists():
            raise SpeakerModelUnavailable(
                f"SPEAKER_MODEL={model_dir!r} is not a SpeechBrain model directory (no hyperparams.yaml)"
            )
        try:
            import torch
            from speechbrain.inference.speaker import EncoderClassifier
        except ImportError as exc:  # pragma: no cover - depends on an optional install
            raise SpeakerModelUnavailable(
                "SPEAKER_MODEL is set but speechbrain is not importable; install speechbrain with a "
                "torchaudio matching the CPU torch, or unset SPEAKER_MODEL to use resemblyzer"
            ) from exc
        self._torch = torch
        self._model = EncoderClassifier.from_hparams(
            source=str(path), savedir=str(path), run_opts={"device": speaker_device()}
        )

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:  # pragma: no cover - optional backend
        if not waves:
            return np.zeros((0, self.dim), dtype=np.float32)
        longest = max(len(w) for w in waves)
        batch = np.zeros((len(waves), longest), dtype=np.float32)
        lens = np.zeros(len(waves), dtype=np.float32)
        for i, w in enumerate(waves):
            batch[i, : len(w)] = w
            lens[i] = len(w) / longest
        with self._torch.inference_mode():
            emb = self._model.encode_batch(self._torch.from_numpy(batch), self._torch.from_numpy(lens))
        vec = emb.squeeze(1).cpu().numpy().astype(np.float32)
        return vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)


def speaker_device() -> str:
    """``SPEAKER_DEVICE`` (``cpu`` default; ``cuda`` / ``cuda:1`` put the speaker encoder on a GPU, which needs
    a CUDA build of torch: the bundled CPU torch cannot, see docs/stt.md "GPU")."""
    return os.environ.get("SPEAKER_DEVICE", "").strip() or "cpu"


@lru_cache(maxsize=None)
def _encoder_for(model_dir: str) -> SpeakerEncoder:
    return EcapaEncoder(model_dir) if model_dir else ResemblyzerEncoder()


def get_encoder() -> SpeakerEncoder:
    """The process-wide encoder (loaded once per worker; ~1-4 s the first time)."""
    return _encoder_for(os.environ.get("SPEAKER_MODEL", "").strip())


@lru_cache(maxsize=1)
def _vad_defaults() -> object:
    from faster_whisper.vad import VadOptions

    return VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=200)


def speech_regions(audio: np.ndarray, sr: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """Speech regions (seconds from ``audio[0]``) from faster-whisper's bundled ONNX Silero VAD.

    The ONNX model is used instead of the ``silero_vad`` package because importing the latter sets torch
    to a single thread for the whole process.
    """
    from faster_whisper.vad import get_speech_timestamps

    if sr != SAMPLE_RATE:
        raise ValueError(f"speech_regions expects {SAMPLE_RATE} Hz audio, got {sr}")
    wave = np.ascontiguousarray(audio, dtype=np.float32)
    if wave.size < sr // 10:
        return []
    stamps = get_speech_timestamps(wave, _vad_defaults())
    return [(s["start"] / sr, s["end"] / sr) for s in stamps]


def sliding_windows(
    regions: list[tuple[float, float]], *, window: float = WINDOW_S, hop: float = HOP_S, min_len: float = MIN_WINDOW_S
) -> list[tuple[float, float]]:
    """Windows of ``window`` seconds every ``hop`` inside each region; a short region yields one window.

    The last window of a region is aligned to the region end so every speech second is covered.
    """
    out: list[tuple[float, float]] = []
    for start, end in regions:
        length = end - start
        if length < min_len:
            continue
        if length <= window:
            out.append((start, end))
            continue
        n = int(np.ceil((length - window) / hop)) + 1
        for i in range(n):
            s = min(start + i * hop, end - window)
            out.append((s, s + window))
    return out


def _normalise(wave: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))
    if rms < 1e-5:
        return wave.astype(np.float32)
    gain = 10 ** (TARGET_DBFS / 20) / rms
    return (wave * gain).astype(np.float32)


def embed_windows(
    audio: np.ndarray,
    windows: list[tuple[float, float]],
    *,
    audio_start: float = 0.0,
    encoder: SpeakerEncoder | None = None,
) -> WindowEmbeddings:
    """Embed ``windows`` (session seconds) cut from ``audio`` whose first sample is at ``audio_start``."""
    enc = encoder or get_encoder()
    waves: list[np.ndarray] = []
    starts: list[float] = []
    ends: list[float] = []
    for s, e in windows:
        a = max(0, int(round((s - audio_start) * SAMPLE_RATE)))
        b = min(len(audio), int(round((e - audio_start) * SAMPLE_RATE)))
        if b - a < int(MIN_WINDOW_S * SAMPLE_RATE * 0.5):
            continue
        waves.append(_normalise(audio[a:b]))
        starts.append(audio_start + a / SAMPLE_RATE)
        ends.append(audio_start + b / SAMPLE_RATE)
    if not waves:
        return WindowEmbeddings.empty(enc.dim)
    vectors = enc.embed(waves)
    return WindowEmbeddings(np.asarray(starts), np.asarray(ends), vectors.astype(np.float32))
