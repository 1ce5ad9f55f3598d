"""Speaker embeddings for timeline audio.

Why this module exists: every diarization path (live and final) needs the same thing, fixed-length voice
vectors for short windows of 16 kHz speech whose times stay on the session timeline. resemblyzer's own
``preprocess_wav`` trims silence and therefore shifts times, so it is never used here; windows are cut from
the caller's audio at exact sample offsets and fed to the encoder directly.

Backends:
- default: the GE2E LSTM encoder bundled inside the installed ``resemblyzer`` wheel (offline, ~5 ms per
  1.5 s window on one CPU core once warm);
- optional: SpeechBrain ECAPA-TDNN when ``SPEAKER_MODEL_DIR`` (alias ``SPEAKER_MODEL``) names a local model
  directory laid out like ``speechbrain/spkrec-ecapa-voxceleb``. speechbrain is installed without its
  torchaudio: no torchaudio on the index matches the CPU torch 2.13 (the newest, 2.11.1, is a CUDA build
  whose ``_torchaudio.so`` needs ``libc10_cuda.so``). The ECAPA path (Fbank, ECAPA_TDNN, EncoderClassifier)
  never calls torchaudio; only module-level ``import torchaudio`` lines stand in the way, so loading runs
  with a stand-in module for exactly that time (see ``speechbrain_without_torchaudio``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
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


class _TorchaudioStandIn(types.ModuleType):
    """Takes ``torchaudio``'s place in ``sys.modules`` while speechbrain's ECAPA modules are imported.

    Every attribute lookup fails with an ``AttributeError`` that names the missing piece, so a code path that
    really needs torchaudio (resampling, file loading, LEAF filters) fails loudly instead of misbehaving,
    and ``hasattr(torchaudio, "__version__")`` in speechbrain's backend check is simply False.
    """

    def __getattr__(self, name: str) -> object:
        raise AttributeError(
            f"torchaudio.{name} is not available: no torchaudio build matches the CPU torch in this "
            "environment, and the speaker-embedding path was not expected to need it"
        )


_SPEECHBRAIN_IMPORT_LOCK = threading.Lock()


def _drop_torchaudio_version_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to detect torchaudio major version")


@contextmanager
def speechbrain_without_torchaudio() -> Iterator[None]:
    """Let speechbrain's modules import while torchaudio is absent or broken, for this block only.

    A real, working torchaudio is used untouched. Otherwise a stand-in sits in ``sys.modules`` for the
    duration (hyperparams.yaml instantiation imports more speechbrain modules, so loading runs inside too)
    and is removed afterwards, so no other library sees a fake torchaudio. The modules imported meanwhile
    keep their reference to the stand-in, which is what makes a torchaudio call on the ECAPA path raise.
    """
    with _SPEECHBRAIN_IMPORT_LOCK:
        if "torchaudio" in sys.modules:
            yield
            return
        try:
            import torchaudio  # noqa: F401
        except (ImportError, OSError):
            sys.modules.pop("torchaudio", None)
        else:
            yield
            return
        stand_in = _TorchaudioStandIn("torchaudio")
        sys.modules["torchaudio"] = stand_in
        # speechbrain warns that it cannot read torchaudio's version; expected here, so that one message is
        # filtered (a filter, because speechbrain's get_logger resets the logger's level on import).
        sb_logger = logging.getLogger("speechbrain.utils.torch_audio_backend")
        sb_logger.addFilter(_drop_torchaudio_version_warning)
        try:
            yield
        finally:
            sb_logger.removeFilter(_drop_torchaudio_version_warning)
            if sys.modules.get("torchaudio") is stand_in:
                del sys.modules["torchaudio"]


def speaker_model_dir() -> str:
    """``SPEAKER_MODEL_DIR`` (or its older name ``SPEAKER_MODEL``): a local SpeechBrain ECAPA directory; empty
    selects resemblyzer. Setting both to different values is a configuration error."""
    new = os.environ.get("SPEAKER_MODEL_DIR", "").strip()
    old = os.environ.get("SPEAKER_MODEL", "").strip()
    if new and old and Path(new).resolve() != Path(old).resolve():
        raise SpeakerModelUnavailable(
            f"SPEAKER_MODEL_DIR={new!r} and SPEAKER_MODEL={old!r} disagree; set only SPEAKER_MODEL_DIR"
        )
    return new or old


class EcapaEncoder:
    """SpeechBrain ECAPA-TDNN from a local directory, loaded without network access.

    The directory holds ``hyperparams.yaml`` and the checkpoints its pretrainer names (for
    ``spkrec-ecapa-voxceleb``: ``embedding_model.ckpt``, ``mean_var_norm_emb.ckpt``, ``classifier.ckpt``,
    ``label_encoder.txt``). The yaml's ``pretrained_path`` points at the Hugging Face hub; it is overridden
    with the directory itself and files are used in place (``LocalStrategy.NO_LINK``), so nothing is fetched.
    """

    def __init__(self, model_dir: str) -> None:
        path = Path(model_dir).expanduser().resolve()
        hparams_file = path / "hyperparams.yaml"
        if not hparams_file.exists():
            raise SpeakerModelUnavailable(
                f"SPEAKER_MODEL_DIR={model_dir!r} is not a SpeechBrain model directory (no hyperparams.yaml)"
            )
        import torch

        with speechbrain_without_torchaudio():
            try:
                from speechbrain.inference.speaker import EncoderClassifier
                from speechbrain.utils.fetching import LocalStrategy
            except ImportError as exc:
                raise SpeakerModelUnavailable(
                    f"SPEAKER_MODEL_DIR is set but speechbrain cannot be imported ({exc}); "
                    "run `make install`, or unset it to use resemblyzer"
                ) from exc
            has_pretrained_path = any(
                line.startswith("pretrained_path:") for line in hparams_file.read_text(encoding="utf-8").splitlines()
            )
            overrides = {"pretrained_path": str(path)} if has_pretrained_path else {}
            try:
                self._model = EncoderClassifier.from_hparams(
                    source=str(path),
                    savedir=str(path),
                    overrides=overrides,
                    local_strategy=LocalStrategy.NO_LINK,
                    run_opts={"device": speaker_device()},
                )
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise SpeakerModelUnavailable(f"cannot load the ECAPA model in {str(path)!r}: {exc}") from exc
        self._torch = torch
        self._model.eval()
        self.dim = int(self._probe_dim())

    def _probe_dim(self) -> int:
        with self._torch.inference_mode():
            return int(self._model.encode_batch(self._torch.zeros(1, SAMPLE_RATE)).shape[-1])

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        if not waves:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Windows of equal length go through together and unpadded, so a window's vector never depends on
        # which other windows shared its batch (padding would change the Fbank normalisation and the convs).
        out = np.zeros((len(waves), self.dim), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            by_len.setdefault(len(w), []).append(i)
        with self._torch.inference_mode():
            for idxs in by_len.values():
                batch = self._torch.from_numpy(np.stack([waves[i].astype(np.float32) for i in idxs]))
                emb = self._model.encode_batch(batch)
                out[idxs] = emb.reshape(len(idxs), -1).cpu().numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def speaker_device() -> str:
    """``SPEAKER_DEVICE`` (``cpu`` default; ``cuda`` / ``cuda:1`` put the speaker encoder on a GPU, which needs
    a CUDA build of torch: the bundled CPU torch cannot, see docs/stt.md "GPU")."""
    return os.environ.get("SPEAKER_DEVICE", "").strip() or "cpu"


@lru_cache(maxsize=None)
def _encoder_for(model_dir: str) -> SpeakerEncoder:
    return EcapaEncoder(model_dir) if model_dir else ResemblyzerEncoder()


def get_encoder() -> SpeakerEncoder:
    """The process-wide encoder (loaded once per worker; ~1-4 s the first time)."""
    return _encoder_for(speaker_model_dir())


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
