"""Loudness and pitch of a stretch of speech, in plain numpy.

Why not ``librosa.yin``/``librosa.pyin``: both run through numba-compiled kernels whose on-disk cache
segfaulted in this environment on the second process that loaded it, and a crash in a Celery worker is
worse than a slightly slower estimate. The YIN difference function below is computed with one batched
FFT per call, which is fast enough for a whole answer (see the figures in docs/analysis.md) and gives
a per-frame aperiodicity that doubles as the voicing decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SAMPLE_RATE = 16_000
_FRAME_S = 0.025
_HOP_S = 0.010
_PITCH_HOP_S = 0.010
_FMIN = 60.0
_FMAX = 500.0
_YIN_THRESHOLD = 0.15  # cumulative-mean-normalised difference below this: the frame is periodic (voiced)
_ACTIVE_RANGE_DB = 30.0  # frames within this many dB of the loud end of the answer count as speech


@dataclass(frozen=True)
class VocalFeatures:
    """Prosodic summary of one stretch of speech; ``None`` fields mean "not enough voiced audio"."""

    loudness_db_mean: float | None
    loudness_db_std: float | None
    pitch_hz_median: float | None
    pitch_std_semitones: float | None
    pitch_range_semitones: float | None
    voiced_ratio: float
    speech_s: float
    # Spectral balance (eGeMAPS "alpha ratio"): energy 1-5 kHz over 50 Hz-1 kHz in dB, over voiced speech
    # frames. Higher (flatter spectrum) with more vocal effort; depends on voice and microphone, so it is
    # only meaningful against the same speaker's baseline.
    alpha_ratio_db: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)


def _frames(audio: np.ndarray, frame: int, hop: int) -> np.ndarray:
    if audio.size < frame:
        audio = np.pad(audio, (0, frame - audio.size))
    count = 1 + (audio.size - frame) // hop
    return np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop][:count]


def frame_db(audio: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """RMS level of 25 ms frames every 10 ms, in dBFS (full-scale sine = -3 dB)."""
    frame = int(_FRAME_S * sample_rate)
    hop = int(_HOP_S * sample_rate)
    frames = _frames(np.asarray(audio, dtype=np.float64), frame, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def active_mask(db: np.ndarray) -> np.ndarray:
    """Frames loud enough to be speech: within 30 dB of the 95th percentile, and above -60 dBFS.

    Relative to the answer's own loud end so that microphone gain does not decide what counts as speech.
    """
    if db.size == 0:
        return np.zeros(0, dtype=bool)
    top = float(np.percentile(db, 95))
    return (db > top - _ACTIVE_RANGE_DB) & (db > -60.0)


def yin_pitch(
    audio: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = _FMIN,
    fmax: float = _FMAX,
    hop_s: float = _PITCH_HOP_S,
    threshold: float = _YIN_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """YIN (de Cheveigné & Kawahara 2002): per-frame f0 in Hz and a voiced flag.

    Frames whose best normalised difference stays above ``threshold`` are unvoiced (f0 = nan): noise and
    fricatives have no clear period, so they never pollute the median or the spread.
    """
    x = np.asarray(audio, dtype=np.float64)
    max_lag = int(np.ceil(sample_rate / fmin))
    min_lag = int(np.floor(sample_rate / fmax))
    window = max_lag  # integration window: one longest period
    frame = window + max_lag + 1
    hop = int(hop_s * sample_rate)
    frames = _frames(x, frame, hop)
    frames = frames - frames.mean(axis=1, keepdims=True)
    n_fft = 1 << int(np.ceil(np.log2(2 * frame)))
    spec_full = np.fft.rfft(frames, n_fft, axis=1)
    spec_head = np.fft.rfft(frames[:, :window], n_fft, axis=1)
    # r[tau] = sum_{j<window} x[j] x[j+tau]
    corr = np.fft.irfft(np.conj(spec_head) * spec_full, n_fft, axis=1)[:, : max_lag + 1]
    sq = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    energy_shift = sq[:, lags + window] - sq[:, lags]  # sum_{j<window} x[j+tau]^2
    diff = energy_shift[:, :1] + energy_shift - 2.0 * corr
    diff = np.maximum(diff, 0.0)
    diff[:, 0] = 0.0
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmnd[:, 1:] = np.where(cum > 0, diff[:, 1:] * lags[1:] / cum, 1.0)
    search = cmnd[:, min_lag : max_lag + 1]
    below = search < threshold
    # First dip below the threshold, then walk to the bottom of that dip (avoids octave-down errors).
    first = np.where(below.any(axis=1), below.argmax(axis=1), -1)
    voiced = first >= 0
    n_lags = search.shape[1]
    # Bottom of the dip: the first lag at/after the first crossing whose next value is not lower.
    rising = np.concatenate([search[:, :-1] <= search[:, 1:], np.ones((search.shape[0], 1), dtype=bool)], axis=1)
    rising &= np.arange(n_lags)[None, :] >= first[:, None]
    k = rising.argmax(axis=1)
    rows = np.arange(search.shape[0])
    # Parabolic interpolation around the bottom for sub-sample period precision.
    km, kp = np.clip(k - 1, 0, n_lags - 1), np.clip(k + 1, 0, n_lags - 1)
    a, b, c = search[rows, km], search[rows, k], search[rows, kp]
    denom = a - 2 * b + c
    inner = (k > 0) & (k < n_lags - 1) & (denom > 0)
    shift = np.where(inner, 0.5 * (a - c) / np.where(denom > 0, denom, 1.0), 0.0)
    tau = k + min_lag + shift
    f0 = np.where(voiced, sample_rate / tau, np.nan)
    return f0, voiced


def _stable(f0: np.ndarray) -> np.ndarray:
    """Drop octave jumps: keep voiced frames within 2 semitones of the median of their 7-frame neighbourhood."""
    semis = 12.0 * np.log2(np.where(np.isnan(f0), 1.0, f0) / 100.0)
    semis[np.isnan(f0)] = np.nan
    padded = np.pad(semis, 3, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 7)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            local = np.nanmedian(windows, axis=1)
    return ~np.isnan(semis) & (np.abs(semis - local) < 2.0)


def alpha_ratio_db(audio: np.ndarray, frames: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> float | None:
    """Energy 1-5 kHz over 50 Hz-1 kHz (dB) pooled over the selected 25 ms frames (``frames``: bool per 10 ms hop)."""
    frame = int(_FRAME_S * sample_rate)
    hop = int(_HOP_S * sample_rate)
    windows = _frames(np.asarray(audio, dtype=np.float64), frame, hop)
    n = min(windows.shape[0], frames.size)
    picked = windows[:n][frames[:n]]
    if picked.shape[0] < 10:
        return None
    power = np.abs(np.fft.rfft(picked * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    low = float(power[:, (freqs >= 50) & (freqs < 1000)].sum())
    high = float(power[:, (freqs >= 1000) & (freqs < min(5000, sample_rate / 2))].sum())
    if low <= 0 or high <= 0:
        return None
    return 10.0 * float(np.log10(high / low))


def vocal_features(audio: np.ndarray | None, *, sample_rate: int = SAMPLE_RATE) -> VocalFeatures:
    """Loudness (dB mean/std over speech frames) and pitch (median Hz, spread in semitones) of a clip."""
    if audio is None or np.asarray(audio).size < int(0.2 * sample_rate):
        return VocalFeatures(None, None, None, None, None, 0.0, 0.0)
    audio = np.asarray(audio, dtype=np.float32)
    db = frame_db(audio, sample_rate=sample_rate)
    active = active_mask(db)
    speech_s = float(active.sum()) * _HOP_S
    if active.sum() < 10:
        return VocalFeatures(None, None, None, None, None, 0.0, speech_s)
    loud = db[active]
    f0, voiced = yin_pitch(audio, sample_rate=sample_rate)
    n = min(f0.size, active.size)
    keep = voiced[:n] & active[:n] & _stable(f0[:n])
    voiced_ratio = float(keep.sum() / max(1, active[:n].sum()))
    if keep.sum() < 10:
        return VocalFeatures(float(loud.mean()), float(loud.std()), None, None, None, voiced_ratio, speech_s)
    fv = f0[:n][keep]
    median = float(np.median(fv))
    semis = 12.0 * np.log2(fv / median)
    return VocalFeatures(
        loudness_db_mean=float(loud.mean()),
        loudness_db_std=float(loud.std()),
        pitch_hz_median=median,
        pitch_std_semitones=float(semis.std()),
        pitch_range_semitones=float(np.percentile(semis, 95) - np.percentile(semis, 5)),
        voiced_ratio=voiced_ratio,
        speech_s=speech_s,
        alpha_ratio_db=alpha_ratio_db(audio, keep, sample_rate=sample_rate),
    )
