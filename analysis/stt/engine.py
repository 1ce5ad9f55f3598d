"""Streaming speech-to-text: Silero VAD utterances, each transcribed once by Whisper and committed.

Why this policy (measured on this project's data, see docs/stt.md): transcribing fixed chunks cold cuts
words and loses context, and re-decoding a growing buffer on every chunk (LocalAgreement) costs a core per
session. So the session's uncommitted audio is cut into utterances by VAD; an utterance that has ended
(0.5 s of silence, or a forced cut at ~15 s on the quietest point) is transcribed once with the language
fixed, beam search on, temperature fallback off and a token cap, passed through the hallucination guard and
committed. Committed text never changes. While an utterance is still going on, a cheap greedy decode with a
shortened encoder window (CTranslate2 accepts fewer than 3000 mel frames) refreshes the unstable `partial`
about once a second. The buffer is trimmed at every commit point, so cost does not grow with the session.

Pure module: numpy in, dataclasses out, no Django.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from analysis.audio.preprocess import prepare_utterance
from analysis.stt import guard, vad
from analysis.stt import hotwords as hotword_guard
from analysis.stt.models import resolve_model

logger = logging.getLogger(__name__)

SR = 16000
FRAMES_PER_SECOND = 100  # Whisper mel frames


@dataclass(frozen=True)
class SttConfig:
    model: str = "base"
    models_dir: Path = Path(".models")
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0
    device_index: tuple[int, ...] = (0,)  # GPUs this process uses (CTranslate2 spreads parallel calls over them)
    num_workers: int = 1  # parallel CTranslate2 calls on one model copy (threads pool / micro-batcher)
    beam_size: int = 5
    min_silence_s: float = 0.5
    max_utterance_s: float = 15.0
    speech_pad_s: float = 0.2
    vad_threshold: float = 0.5
    partial_interval_s: float = 1.75  # with the growth below: 0.24 CPU-s/s on en (1.0 and 0.1: 0.36; docs/stt.md)
    # "adaptive" (default): no partial before the utterance has lasted ``partial_min_utterance_s``, an
    # encoder window sized to the clip, an interval stretched by the caller's ``load``; "legacy": the
    # policy before issue 14 (first partial at 1 s, window ≥ 10 s, fixed interval), kept for the bench.
    partial_policy: str = "adaptive"
    partial_min_utterance_s: float = 1.5
    partial_growth: float = 0.2  # the interval is at least this share of the utterance so far (a decode's
    # cost grows with the clip, and a long utterance's partial changes little per second)
    partial_window_pad_s: float = 1.0  # partial window = clip + pad (legacy: twice the clip, ≥ 10 s)
    min_step_s: float = 0.1
    commit_context: str = "short"  # "short": a window of twice the clip (≥ 10 s); "full": Whisper's 30 s
    utterance_steps: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("ko", "en")  # candidates when the session language is "auto"


@dataclass
class Word:
    w: str
    start: float
    end: float
    p: float


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    confidence: float
    words: list[Word]
    language: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = round(self.start, 3)
        data["end"] = round(self.end, 3)
        data["confidence"] = round(self.confidence, 3)
        data["words"] = [
            {"w": w.w, "start": round(w.start, 3), "end": round(w.end, 3), "p": round(w.p, 3)} for w in self.words
        ]
        return data


@dataclass
class StreamState:
    """Everything the transcriber remembers between steps; JSON-serialisable so any worker can continue."""

    buffer_start: int = 0  # session sample where the uncommitted audio begins
    next_id: int = 0
    language: str = ""  # fixed session language; "" until detected
    last_vad_end: int = 0
    last_partial_end: int = 0
    partial: str = ""
    suppressed: int = 0
    partials: int = 0  # partial decodes run (cost accounting: bench and the live `timings_ms`)
    # Silero's probabilities for the buffer's complete windows and its state after them (``vad.VadCache``):
    # each step scores only the new audio instead of the whole buffer.
    vad: dict[str, Any] = field(default_factory=dict)
    hotwords: str = ""  # domain terms for committed decodes (analysis.stt.hotwords), "" for none
    hotwords_dropped: int = 0  # committed decodes whose hotword output was refused as a prompt copy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StreamState:
        return cls(**data) if data else cls()


@dataclass
class StepResult:
    segments: list[Segment]
    partial: str
    state: StreamState
    timings_ms: dict[str, float] = field(default_factory=dict)
    suppressed: list[str] = field(default_factory=list)
    ran: bool = True  # False when the step was skipped (too little new audio)


# --- model access ------------------------------------------------------------------------------------------
_short_window = threading.local()


def _install_short_window_patch() -> None:
    """Let a transcribe call use an encoder window shorter than 30 s (set per thread).

    faster-whisper always pads features to 3000 frames before encoding; CTranslate2 itself accepts shorter
    inputs, and the encoder's cost is proportional to the window. Partials use it; commits use it only when
    ``commit_context == "short"``.
    """
    import faster_whisper.transcribe as fwt

    if getattr(fwt.pad_or_trim, "_short_window", False):
        return
    original = fwt.pad_or_trim

    def pad_or_trim(array: np.ndarray, length: int = 3000, *, axis: int = -1) -> np.ndarray:
        frames = getattr(_short_window, "frames", None)
        return original(array, frames or length, axis=axis)

    pad_or_trim._short_window = True  # type: ignore[attr-defined]
    fwt.pad_or_trim = pad_or_trim


ONEDNN_CACHE_DEFAULT = "64"


def _bound_onednn_cache() -> None:
    """Bound oneDNN's primitive cache (CTranslate2's CPU convolutions) before its first use in this process.

    oneDNN compiles a primitive per input shape and keeps 1024 of them, about 0.7 MiB each for Whisper base's
    encoder. A live worker sees a new encoder length on nearly every call (a partial's window is its clip + 1 s,
    a long commit's twice the clip), so that cache was the worker's RSS growth over a long session (bench/README.md,
    "soak.py"). 64 keeps the common shapes (every commit of a clip under 5 s has the same 10 s window); a miss
    costs a few percent of one encode. An explicit ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` is left as it is. oneDNN
    reads the variable when it first builds a primitive, so setting it here, before any decode, is in time.
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", ONEDNN_CACHE_DEFAULT)


@lru_cache(maxsize=4)
def load_whisper(
    model: str,
    models_dir: str,
    device: str,
    compute_type: str,
    cpu_threads: int,
    device_index: tuple[int, ...] = (0,),
    num_workers: int = 1,
) -> Any:
    """One model copy per process (cached): on a GPU, run one worker process per GPU (or one process with
    several ``device_index`` values and a threads pool), never a prefork child per copy (docs/stt.md, "GPU")."""
    from faster_whisper import WhisperModel

    _install_short_window_patch()
    _bound_onednn_cache()
    path = resolve_model(model, Path(models_dir))
    started = time.monotonic()
    index: int | list[int] = list(device_index) if len(device_index) > 1 else device_index[0]
    whisper = WhisperModel(
        path, device=device, device_index=index, compute_type=compute_type, cpu_threads=cpu_threads,
        num_workers=num_workers,
    )
    logger.info("loaded Whisper %s (%s %s, %s) in %.1f s", model, device, index, compute_type, time.monotonic() - started)
    return whisper


def model_for(config: SttConfig) -> Any:
    return load_whisper(
        config.model, str(config.models_dir), config.device, config.compute_type, config.cpu_threads,
        tuple(config.device_index), config.num_workers,
    )


def speech_regions(audio: np.ndarray, config: SttConfig) -> list[tuple[int, int]]:
    """Silero VAD (faster-whisper's ONNX copy: no torch in the STT path) → [(start, end)] sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) < SR // 10:
        return []
    options = VadOptions(
        threshold=config.vad_threshold,
        min_speech_duration_ms=200,
        min_silence_duration_ms=int(config.min_silence_s * 1000),
        speech_pad_ms=int(config.speech_pad_s * 1000),
    )
    return [(int(r["start"]), int(r["end"])) for r in get_speech_timestamps(audio, options)]


def speech_regions_cached(audio: np.ndarray, state: StreamState, config: SttConfig) -> list[tuple[int, int]]:
    """``speech_regions`` of the buffer, scoring only the windows the state has not scored (updates it)."""
    cache = vad.VadCache.from_dict(state.vad)
    probs, first, cache = vad.window_probs(audio, state.buffer_start, cache)
    state.vad = cache.to_dict()
    if len(audio) < SR // 10:
        return []
    return vad.regions(
        probs, first, len(audio), threshold=config.vad_threshold, min_silence_s=config.min_silence_s,
        min_speech_s=0.2, pad_s=config.speech_pad_s,
    )


# --- transcription of one clip ----------------------------------------------------------------------------------
@dataclass
class ClipText:
    text: str
    words: list[Word]
    avg_logprob: float
    no_speech_prob: float
    language: str
    hotwords_refused: bool = False


def window_frames(duration_s: float, *, short_window: bool, pad_s: float | None = None) -> int | None:
    """Encoder window in mel frames: None = Whisper's 30 s; ``pad_s`` = the clip plus that much (partials);
    else twice the clip, at least 10 s (commits: tighter windows made base repeat itself or drop the last
    word). Even, because the encoder's convolution halves it."""
    if not short_window:
        return None
    if pad_s is not None:
        frames = int(min(3000, max(200, (duration_s + pad_s) * FRAMES_PER_SECOND)))
    else:
        frames = int(min(3000, max(1000, 2 * duration_s * FRAMES_PER_SECOND)))
    return frames + frames % 2


def transcribe_clip(
    model: Any,
    audio: np.ndarray,
    *,
    language: str | None,
    beam_size: int,
    word_timestamps: bool,
    short_window: bool,
    window_pad_s: float | None = None,
    hotwords: str = "",
) -> ClipText:
    """One Whisper decode of a clip (≤ 30 s) as a single segment, no temperature fallback, token-capped.

    With ``hotwords`` the decode is biased towards those terms; output that copies them, or that the
    hallucination guard would suppress, is refused and the clip decoded again without them
    (``ClipText.hotwords_refused`` says so).
    """
    common: dict[str, Any] = dict(language=language, beam_size=beam_size, word_timestamps=word_timestamps,
                                  short_window=short_window, window_pad_s=window_pad_s)
    if hotwords:
        biased = _transcribe_clip(model, audio, hotwords=hotwords, **common)
        # The prompt can also push base into a loop or onto silence: output the guard would suppress is
        # decoded again without it, so hotwords never cost a segment that plain decoding keeps.
        rejected = guard.rejection_reason(biased.text, duration_s=len(audio) / SR, language=language or biased.language,
                                          avg_logprob=biased.avg_logprob, no_speech_prob=biased.no_speech_prob)
        if not rejected and not hotword_guard.copied_prompt(biased.text, hotwords):
            return biased
        logger.info("hotword output refused (%s, %d chars); decoding without", rejected or "prompt copy",
                    len(biased.text))
        plain = _transcribe_clip(model, audio, hotwords="", **common)
        plain.hotwords_refused = True
        return plain
    return _transcribe_clip(model, audio, hotwords="", **common)


def _transcribe_clip(model: Any, audio: np.ndarray, *, language: str | None, beam_size: int, word_timestamps: bool,
                     short_window: bool, window_pad_s: float | None, hotwords: str) -> ClipText:
    duration = len(audio) / SR
    frames = window_frames(duration, short_window=short_window, pad_s=window_pad_s)
    _short_window.frames = frames
    try:
        segments, info = model.transcribe(
            audio,
            language=language,
            beam_size=beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            compression_ratio_threshold=None,
            log_prob_threshold=None,
            no_speech_threshold=None,
            without_timestamps=False,
            word_timestamps=word_timestamps,
            vad_filter=False,
            max_new_tokens=guard.token_cap(duration),
            hotwords=hotwords or None,
        )
        segments = list(segments)
    finally:
        _short_window.frames = None
    words: list[Word] = []
    texts: list[str] = []
    logprobs: list[float] = []
    no_speech = 0.0
    for seg in segments:
        texts.append(seg.text.strip())
        logprobs.append(seg.avg_logprob)
        no_speech = max(no_speech, seg.no_speech_prob)
        for w in seg.words or []:
            words.append(Word(w=w.word.strip(), start=float(w.start), end=float(w.end), p=float(w.probability)))
    return ClipText(
        text=" ".join(t for t in texts if t),
        words=[w for w in words if w.w],
        avg_logprob=float(np.mean(logprobs)) if logprobs else -10.0,
        no_speech_prob=no_speech,
        language=info.language,
    )


def detect_language(model: Any, audio: np.ndarray, candidates: Iterable[str]) -> tuple[str, float]:
    """Most likely language among ``candidates`` (restricting the choice avoids wild guesses on short clips)."""
    _lang, _prob, all_probs = model.detect_language(audio=audio)
    allowed = set(candidates)
    ranked = [(lang, p) for lang, p in all_probs if not allowed or lang in allowed]
    if not ranked:
        return _lang, _prob
    total = sum(p for _, p in ranked) or 1.0
    lang, p = max(ranked, key=lambda item: item[1])
    return lang, p / total


# --- the streaming transcriber ----------------------------------------------------------------------------------
ClipDecoder = Callable[..., ClipText]  # ``transcribe_clip``'s signature: (model, audio, *, language, beam_size, …)


class StreamingTranscriber:
    """``decode`` replaces ``transcribe_clip`` for commits and partials (the worker's cross-session
    micro-batcher, ``analysis.stt.microbatch``); it must return what ``transcribe_clip`` would."""

    def __init__(self, config: SttConfig, model: Any | None = None, decode: ClipDecoder | None = None) -> None:
        self.config = config
        self.model = model if model is not None else model_for(config)
        self.decode: ClipDecoder = decode or transcribe_clip

    def step(
        self,
        state: StreamState,
        audio: np.ndarray,
        *,
        final: bool = False,
        allow_partial: bool = True,
        load: float = 0.0,
    ) -> StepResult:
        """Advance over ``audio`` = session samples [state.buffer_start, state.buffer_start + len(audio)).

        ``allow_partial=False`` skips the partial refresh: a worker that is behind spends its time on commits.
        ``load`` (0 = idle, 1 = at capacity) stretches the partial interval (adaptive policy): a busy worker
        refreshes partials less often before it has to drop them.
        """
        cfg = self.config
        state = StreamState(**state.to_dict())
        n = len(audio)
        end_sample = state.buffer_start + n
        if not final and end_sample - state.last_vad_end < int(cfg.min_step_s * SR):
            return StepResult(segments=[], partial=state.partial, state=state, ran=False)
        state.last_vad_end = end_sample
        timings: dict[str, float] = {}
        started = time.perf_counter()
        regions = speech_regions_cached(audio, state, cfg)
        timings["vad"] = (time.perf_counter() - started) * 1000

        closed_margin = int(0.05 * SR)
        finished = [(s, e) for s, e in regions if final or e < n - closed_margin]
        ongoing = None if final else next(((s, e) for s, e in regions if e >= n - closed_margin), None)

        clips: list[tuple[int, int]] = list(finished)
        consumed = finished[-1][1] if finished else 0
        if ongoing is not None and (ongoing[1] - ongoing[0]) > cfg.max_utterance_s * SR:
            cut = self._quiet_point(audio, ongoing[0])
            clips.append((ongoing[0], cut))
            consumed = cut
            ongoing = (cut, ongoing[1])

        segments: list[Segment] = []
        suppressed: list[str] = []
        stt_started = time.perf_counter()
        for s, e in clips:
            seg, reason = self._commit_clip(state, audio[s:e], (state.buffer_start + s) / SR)
            if seg is not None:
                segments.append(seg)
            elif reason:
                suppressed.append(reason)
        timings["stt"] = (time.perf_counter() - stt_started) * 1000

        # Trim the buffer: keep the ongoing utterance, or a short tail so the next onset is not clipped.
        if final:
            new_start = n
        elif ongoing is not None:
            new_start = max(consumed, ongoing[0])
        else:
            new_start = max(consumed, n - int(0.5 * SR))
        state.buffer_start += max(0, new_start)
        if state.last_partial_end < state.buffer_start:
            state.last_partial_end = state.buffer_start

        if ongoing is None:
            state.partial = ""
        elif allow_partial and self._partial_due(state, audio, ongoing[0], end_sample, load=load):
            partial_started = time.perf_counter()
            state.partial = self._partial(state, audio[ongoing[0] :])
            state.last_partial_end = end_sample
            state.partials += 1
            timings["partial"] = (time.perf_counter() - partial_started) * 1000
        state.suppressed += len(suppressed)
        return StepResult(segments=segments, partial=state.partial, state=state, timings_ms=timings, suppressed=suppressed)

    def _partial_due(
        self, state: StreamState, audio: np.ndarray, start: int, end_sample: int, *, load: float = 0.0
    ) -> bool:
        """Refresh the partial about once a second, less often for long utterances (a decode costs in
        proportion to the clip) and on a busy worker, and not when the speaker seems to have just stopped:
        the commit is near and the worker's time is better spent on it.

        Adaptive policy: no partial before the utterance has lasted ``partial_min_utterance_s`` (most short
        utterances are committed before a partial would be useful: the commit follows 0.5 s of silence),
        and the interval counts from the previous partial or the utterance's start (``last_partial_end`` never
        lags the buffer), so silence between utterances never triggers one."""
        cfg = self.config
        ongoing_s = (len(audio) - start) / SR
        if cfg.partial_policy == "legacy":
            interval = max(cfg.partial_interval_s, 0.1 * ongoing_s)
        else:
            if ongoing_s < cfg.partial_min_utterance_s:
                return False
            interval = max(cfg.partial_interval_s, cfg.partial_growth * ongoing_s)
            interval *= 1.0 + 2.0 * min(1.0, max(0.0, load))
        if end_sample - state.last_partial_end < int(interval * SR):
            return False
        tail = audio[-int(0.3 * SR) :]
        body = audio[start:]
        if len(body) > len(tail) * 2:
            tail_rms = float(np.sqrt(np.mean(tail**2)))
            body_rms = float(np.sqrt(np.mean(body**2)))
            if tail_rms < 0.15 * body_rms:
                return False
        return True

    def _quiet_point(self, audio: np.ndarray, start: int) -> int:
        """The lowest-energy 50 ms frame in the last third of the allowed utterance length."""
        cfg = self.config
        lo = start + int(cfg.max_utterance_s * SR * 0.6)
        hi = min(len(audio), start + int(cfg.max_utterance_s * SR))
        hop = SR // 20
        window = audio[lo:hi]
        if len(window) < hop * 2:
            return hi
        frames = window[: len(window) // hop * hop].reshape(-1, hop)
        quietest = int(np.argmin(np.mean(frames**2, axis=1)))
        return lo + quietest * hop + hop // 2

    def _language_for(self, state: StreamState, clip: np.ndarray) -> str:
        if state.language:
            return state.language
        lang, prob = detect_language(self.model, clip, self.config.languages)
        if prob >= 0.5 and len(clip) >= SR:
            state.language = lang  # fixed from now on: auto-detection on short clips is unreliable
        return lang

    def _commit_clip(self, state: StreamState, clip: np.ndarray, offset_s: float) -> tuple[Segment | None, str | None]:
        cfg = self.config
        duration = len(clip) / SR
        if duration < 0.2:
            return None, "too_short"
        clip = prepare_utterance(clip, cfg.utterance_steps)
        language = self._language_for(state, clip)
        result = self.decode(
            self.model,
            clip,
            language=language,
            beam_size=cfg.beam_size,
            word_timestamps=True,
            short_window=cfg.commit_context == "short",
            hotwords=state.hotwords,
        )
        state.hotwords_dropped += result.hotwords_refused
        reason = guard.rejection_reason(
            result.text,
            duration_s=duration,
            language=language,
            avg_logprob=result.avg_logprob,
            no_speech_prob=result.no_speech_prob,
        )
        if reason is not None:
            logger.info("suppressed a %.1f s clip: %s (%d chars)", duration, reason, len(result.text))
            return None, reason
        words = [Word(w=w.w, start=offset_s + w.start, end=offset_s + w.end, p=w.p) for w in result.words]
        confidence = float(np.mean([w.p for w in words])) if words else float(np.exp(result.avg_logprob))
        start = words[0].start if words else offset_s
        end = words[-1].end if words else offset_s + duration
        segment = Segment(
            id=state.next_id, start=start, end=end, text=result.text, confidence=confidence, words=words,
            language=language,
        )
        state.next_id += 1
        return segment, None

    def _partial(self, state: StreamState, clip: np.ndarray) -> str:
        if len(clip) < int(0.3 * SR):
            return state.partial
        clip = clip[-int(min(len(clip) / SR, 28.0) * SR) :]
        language = state.language or None
        pad = None if self.config.partial_policy == "legacy" else self.config.partial_window_pad_s
        result = self.decode(
            self.model, clip, language=language, beam_size=1, word_timestamps=False, short_window=True,
            window_pad_s=pad,
        )
        reason = guard.rejection_reason(
            result.text,
            duration_s=len(clip) / SR,
            language=language or result.language,
            avg_logprob=result.avg_logprob,
            no_speech_prob=result.no_speech_prob,
        )
        return "" if reason else result.text


def transcribe_offline(config: SttConfig, audio: np.ndarray, *, language: str | None,
                       hotwords: str = "") -> list[Segment]:
    """The whole recording at once through the same VAD + utterance policy (the offline reference)."""
    transcriber = StreamingTranscriber(config)
    state = StreamState(language=language or "", hotwords=hotwords)
    result = transcriber.step(state, audio, final=True)
    return result.segments
