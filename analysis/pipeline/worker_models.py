"""The worker's model cache: each model loads once per process, on first use or at worker start."""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import numpy as np
from django.conf import settings

from analysis.answers.text import kiwi
from analysis.diarization.embeddings import get_encoder
from analysis.stt.engine import SR, StreamingTranscriber, SttConfig, speech_regions

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def stt_config() -> SttConfig:
    steps = tuple(s for s in settings.PREPROCESS_STEPS if s in ("loudness", "denoise"))
    return SttConfig(
        model=settings.WHISPER_MODEL,
        models_dir=settings.MODELS_DIR,
        device=settings.WHISPER_DEVICE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        device_index=tuple(settings.WHISPER_DEVICE_INDEX),
        num_workers=settings.WHISPER_NUM_WORKERS,
        beam_size=settings.WHISPER_BEAM_SIZE,
        partial_interval_s=settings.STT_PARTIAL_INTERVAL_S,
        commit_context=settings.STT_COMMIT_WINDOW,
        utterance_steps=steps,
    )


@lru_cache(maxsize=1)
def transcriber() -> StreamingTranscriber:
    return StreamingTranscriber(stt_config())


def warm_up() -> None:
    """Load the models now rather than on the first chunk of the first interview."""
    started = time.monotonic()
    t = transcriber()
    speech_regions(np.zeros(SR, dtype=np.float32), t.config)  # one tiny decode compiles kernels, fills buffers
    get_encoder()
    kiwi()
    logger.info("models warm in %.1f s", time.monotonic() - started)
