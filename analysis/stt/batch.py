"""Decode utterances from several sessions in one CTranslate2 call (the core of the cross-session batcher).

Why: one ``generate`` over a batch turns the decoder's per-token matrix-vector products into
matrix-matrix products, and one ``encode`` over a batch shares the weight reads; on a GPU that is most of
the throughput, on a CPU a measured part of it (``bench/batching.py``, docs/stt.md "Batching").

Each item is decoded as ``engine.transcribe_clip`` decodes it alone: language fixed, temperature 0, no
previous text, timestamps mode, the item's token cap, its encoder window, word timestamps when asked
(CTranslate2's ``align`` over the batch, then faster-whisper's own word post-processing per item). Items
are grouped by (beam, word timestamps, window): one encode + generate per group, each row with its own
language's prompt (rows are independent in CTranslate2's batched search), and one align per language. A
group shares one window (CTranslate2 needs one input shape), so ``exact_window=False`` items (partials,
disposable) take the group's longest window, while exact items (commits) are grouped by their own window
so that a commit's text never depends on which other sessions' clips were in its batch. An item that
faster-whisper would have decoded in a second window (its output ends mid-segment before the clip's end)
or that reached the batch's token limit is decoded again alone with ``transcribe_clip``, so batched output
equals one-by-one output up to the numerics of batched kernels. Pure: numpy in, ``ClipText`` out.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from analysis.stt import guard
from analysis.stt.engine import SR, ClipText, Word, transcribe_clip, window_frames


@dataclass(frozen=True)
class BatchItem:
    audio: np.ndarray  # 16 kHz mono float32, ≤ 30 s
    language: str
    beam_size: int = 5
    word_timestamps: bool = False
    window_pad_s: float | None = None  # None: the commit window (twice the clip, ≥ 10 s); else clip + pad
    exact_window: bool = True  # False: may share the group's longest window (partials)

    def frames(self) -> int:
        return window_frames(len(self.audio) / SR, short_window=True, pad_s=self.window_pad_s) or 3000

    def group(self) -> tuple[Any, ...]:
        """Items with the same group can share one encode + generate."""
        window = self.frames() if self.exact_window else None
        return (self.beam_size, self.word_timestamps, self.window_pad_s, window)


def decode_batch(model: Any, items: list[BatchItem]) -> list[ClipText]:
    """Decode ``items`` with one encode + generate (+ align per language) per group; results in input order."""
    out: list[ClipText | None] = [None] * len(items)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.group(), []).append(i)
    for indices in groups.values():
        for i, result in zip(indices, _decode_group(model, [items[i] for i in indices])):
            out[i] = result
    return [o for o in out if o is not None]


def _alone(model: Any, item: BatchItem) -> ClipText:
    return transcribe_clip(model, item.audio, language=item.language, beam_size=item.beam_size,
                           word_timestamps=item.word_timestamps, short_window=True, window_pad_s=item.window_pad_s)


def _decode_group(model: Any, items: list[BatchItem]) -> list[ClipText]:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

    first = items[0]
    frames = max(item.frames() for item in items)
    feats, contents = [], []
    for item in items:
        # as transcribe(): the extractor's last frame dropped (content_frames = frames - 1), padded to the window
        f = model.feature_extractor(item.audio)[..., :-1]
        contents.append(min(f.shape[-1], 3000))
        feats.append(_fit(f, frames))
    storage = get_ctranslate2_storage(np.stack(feats).astype(np.float32))
    to_cpu = model.model.device == "cuda" and len(model.model.device_index) > 1  # as WhisperModel.encode
    encoder_output = model.model.encode(storage, to_cpu=to_cpu)
    tokenizers = {
        item.language: Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=item.language)
        for item in items
    }
    tokenizer = tokenizers[first.language]  # for what does not depend on the language (timestamps, decoding)
    # one prompt per item (its language): generation is independent per batch row, so languages can share a call
    prompts = [list(tokenizers[item.language].sot_sequence) for item in items]
    caps = [guard.token_cap(len(item.audio) / SR) for item in items]
    results = model.model.generate(
        encoder_output,
        prompts,
        beam_size=first.beam_size,
        patience=1,
        length_penalty=1,
        repetition_penalty=1,
        no_repeat_ngram_size=0,
        max_length=len(prompts[0]) + max(caps),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        max_initial_timestamp_index=50,
    )
    time_per_frame = model.feature_extractor.time_per_frame
    split: list[list[dict[str, Any]] | None] = []
    seeks: list[int] = []
    for result, cap, content in zip(results, caps, contents):
        tokens = list(result.sequences_ids[0])
        segments, seek, single_ending = model._split_segments_by_timestamps(
            tokenizer=tokenizer, tokens=tokens, time_offset=0.0, segment_size=content,
            segment_duration=content * time_per_frame, seek=0,
        )
        # alone, generation would have stopped at the clip's own cap: redo it alone
        split.append(None if len(tokens) >= cap else segments)
        seeks.append(-1 if single_ending else seek)  # -1: done with this window whatever the words say
    if first.word_timestamps:
        _add_words(model, tokenizers, [item.language for item in items], encoder_output, contents, split)
    out = []
    for item, result, segments, content, seek in zip(items, results, split, contents, seeks):
        if segments is not None and seek >= 0:
            if first.word_timestamps:
                last_word_end = _last_word_end(segments)
                if last_word_end is not None and last_word_end > 0:
                    seek = round(last_word_end * model.frames_per_second)
            if seek < content:
                segments = None  # transcribe() would decode the rest of the clip in a second window
        if segments is None:
            out.append(_alone(model, item))
            continue
        seq_len = len(result.sequences_ids[0])
        avg_logprob = result.scores[0] * seq_len / (seq_len + 1)  # as generate_with_fallback (length_penalty 1)
        kept = []
        for segment in segments:
            text = tokenizer.decode(segment["tokens"])
            if segment["start"] == segment["end"] or not text.strip():
                continue
            kept.append((text, segment))
        words = [
            Word(w=w["word"].strip(), start=float(w["start"]), end=float(w["end"]), p=float(w["probability"]))
            for _, segment in kept for w in segment.get("words") or []
        ]
        out.append(ClipText(
            text=" ".join(t.strip() for t, _ in kept if t.strip()),
            words=[w for w in words if w.w],
            avg_logprob=float(avg_logprob) if kept else -10.0,
            no_speech_prob=float(result.no_speech_prob) if kept else 0.0,
            language=item.language,
        ))
    return out


def _last_word_end(segments: list[dict[str, Any]]) -> float | None:
    return next((w["end"] for s in reversed(segments) for w in reversed(s.get("words") or [])), None)


def _punctuations() -> tuple[str, str]:
    from faster_whisper import WhisperModel

    params = inspect.signature(WhisperModel.transcribe).parameters
    return params["prepend_punctuations"].default, params["append_punctuations"].default


def _add_words(model: Any, tokenizers: dict[str, Any], languages: list[str], encoder_output: Any,
               contents: list[int], split: list[list[dict[str, Any]] | None]) -> None:
    """Word timestamps: one ``align`` over the batch per language, then faster-whisper's per-clip post-processing.

    ``align`` takes one start sequence (it names the language), so each language aligns its rows and passes
    the others with no tokens, as faster-whisper does for a clip without text; so are rows redone alone.
    ``WhisperModel.add_word_timestamps`` carries its last-speech time from one batch item to the next, which
    a clip decoded alone never sees; so it runs per item on that item's precomputed alignment.
    """
    from faster_whisper import WhisperModel

    prepend, append = _punctuations()
    for language, tokenizer in tokenizers.items():
        text_tokens = [
            [t for s in segments for t in s["tokens"] if t < tokenizer.eot]
            if segments is not None and row_language == language else []
            for segments, row_language in zip(split, languages)
        ]
        alignments = model.find_alignment(tokenizer, text_tokens, encoder_output, contents)
        for segments, row_language, alignment, content in zip(split, languages, alignments, contents):
            if segments is None or row_language != language:
                continue
            proxy = SimpleNamespace(frames_per_second=model.frames_per_second,
                                    find_alignment=lambda *_a, _al=alignment, **_k: [_al])
            WhisperModel.add_word_timestamps(proxy, [segments], tokenizer, None, content, prepend, append, 0.0)


def _fit(features: np.ndarray, frames: int) -> np.ndarray:
    if features.shape[-1] >= frames:
        return features[..., :frames]
    return np.pad(features, ((0, 0), (0, frames - features.shape[-1])))
