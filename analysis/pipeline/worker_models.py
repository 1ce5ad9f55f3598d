"""The worker's model cache: each model loads once per process, on first use or at worker start."""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache

import numpy as np
from django.conf import settings

from analysis.answers.text import kiwi
from analysis.diarization.embeddings import get_encoder, speaker_device
from analysis.stt.engine import SR, StreamingTranscriber, SttConfig, model_for, speech_regions
from analysis.stt.microbatch import BatchedDecoder
import interview_project.metrics as metrics

logger = logging.getLogger(__name__)

_pool_processes = 1  # processes of this worker's pool sharing the cores (celery_app sets it before forking)


def pool_processes_set(processes: int) -> None:
    global _pool_processes
    _pool_processes = max(1, processes)


def compute_threads() -> int:
    """Threads for CTranslate2 and torch in this process: ``WHISPER_CPU_THREADS``, or the cores shared out."""
    if settings.WHISPER_CPU_THREADS > 0:
        return settings.WHISPER_CPU_THREADS
    return max(1, min(4, (os.cpu_count() or 1) // _pool_processes))


@lru_cache(maxsize=1)
def stt_config() -> SttConfig:
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s in ("loudness", "denoise"))
    return SttConfig(
        model=settings.WHISPER_MODEL,
        models_dir=settings.MODELS_DIR,
        device=settings.WHISPER_DEVICE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=compute_threads(),
        device_index=tuple(settings.WHISPER_DEVICE_INDEX),
        num_workers=settings.WHISPER_NUM_WORKERS,
        beam_size=settings.WHISPER_BEAM_SIZE,
        partial_interval_s=settings.STT_PARTIAL_INTERVAL_S,
        commit_context=settings.STT_COMMIT_WINDOW,
        utterance_steps=steps,
    )


@lru_cache(maxsize=1)
def batched_decoder() -> BatchedDecoder | None:
    """The process's cross-session micro-batcher (``STT_BATCH``), or None."""
    if not settings.STT_BATCH:
        return None
    model = model_for(stt_config())
    return BatchedDecoder(model, window_s=settings.STT_BATCH_WINDOW_MS / 1000, max_batch=settings.STT_BATCH_MAX,
                          max_inflight=settings.WHISPER_NUM_WORKERS, partials=settings.STT_BATCH_PARTIALS,
                          on_batch=metrics.stt_batch)


@lru_cache(maxsize=1)
def transcriber() -> StreamingTranscriber:
    decoder = batched_decoder()
    return StreamingTranscriber(stt_config(), model=decoder.model if decoder else None, decode=decoder)


def stt_participant() -> AbstractContextManager[None]:
    """Around a transcribe step: its thread may hand clips to the batcher (a batch stops waiting once every
    such thread has)."""
    decoder = batched_decoder()
    return decoder.participant() if decoder else nullcontext()


def warm_up() -> None:
    """Load the models now rather than on the first chunk of the first interview."""
    started = time.monotonic()
    if speaker_device() == "cpu":
        import torch  # the speaker encoder's threads: as many as CTranslate2's, not one per core in every child

        torch.set_num_threads(compute_threads())
    t = transcriber()
    speech_regions(np.zeros(SR, dtype=np.float32), t.config)  # one tiny decode compiles kernels, fills buffers
    get_encoder()
    kiwi()
    logger.info("models warm in %.1f s", time.monotonic() - started)
