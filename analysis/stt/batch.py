"""Decode utterances from several sessions in one CTranslate2 call (the core of a cross-session batcher).

Why: one ``generate`` over a batch turns the decoder's per-token matrix-vector products into
matrix-matrix products, and one ``encode`` over a batch shares the weight reads; on a GPU that is most of
the throughput, on a CPU a measured part of it (``bench/batching.py``, docs/stt.md "Batching").

Same decoding as a commit (``engine.transcribe_clip``): language fixed, beam search, temperature 0,
no previous text, timestamps mode, the token cap, an encoder window of twice the longest clip (at least
10 s). Clips are grouped by language (the prompt differs). Word timestamps and the hallucination guard
stay per clip in the caller. Pure: numpy in, (text, avg_logprob, no_speech_prob) out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.stt import guard
from analysis.stt.engine import SR, window_frames


@dataclass(frozen=True)
class BatchItem:
    audio: np.ndarray  # 16 kHz mono float32, ≤ 30 s
    language: str


@dataclass(frozen=True)
class BatchText:
    text: str
    avg_logprob: float
    no_speech_prob: float
    tokens: list[int]


def decode_batch(model: Any, items: list[BatchItem], *, beam_size: int = 5) -> list[BatchText]:
    """Decode ``items`` (any languages) with one encode + one generate per language; results in input order."""
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

    out: list[BatchText | None] = [None] * len(items)
    by_language: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_language.setdefault(item.language, []).append(i)
    for language, indices in by_language.items():
        clips = [items[i].audio for i in indices]
        longest = max(len(c) for c in clips) / SR
        frames = window_frames(longest, short_window=True) or 3000
        # faster-whisper drops the extractor's last frame (transcribe: content_frames = frames - 1): the same here
        feats = np.stack([_fit(model.feature_extractor(c)[..., :-1], frames) for c in clips]).astype(np.float32)
        encoder_output = model.model.encode(get_ctranslate2_storage(feats))
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
        prompt = list(tokenizer.sot_sequence)
        max_new = max(guard.token_cap(len(c) / SR) for c in clips)
        results = model.model.generate(
            encoder_output,
            [prompt] * len(clips),
            beam_size=beam_size,
            max_length=len(prompt) + max_new,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=50,
        )
        for i, clip, result in zip(indices, clips, results):
            tokens = [t for t in result.sequences_ids[0][: guard.token_cap(len(clip) / SR)]]
            text_tokens = [t for t in tokens if t < tokenizer.eot]
            seq_len = max(1, len(result.sequences_ids[0]))
            out[i] = BatchText(
                text=tokenizer.decode(text_tokens).strip(),
                avg_logprob=float(result.scores[0]) / (seq_len + 1) if result.scores else -10.0,
                no_speech_prob=float(result.no_speech_prob),
                tokens=text_tokens,
            )
    return [o for o in out if o is not None]


def _fit(features: np.ndarray, frames: int) -> np.ndarray:
    if features.shape[-1] >= frames:
        return features[..., :frames]
    return np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
