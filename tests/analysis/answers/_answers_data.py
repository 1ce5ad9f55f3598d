"""Shared helpers for answer-analysis tests: where the real data lives and how it is loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


def read_manifest(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def load_audio_16k(path: Path) -> np.ndarray:
    """Mono float32 at 16 kHz, as the pipeline's preprocessing hands it over."""
    import soundfile as sf
    from scipy.signal import resample_poly

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if sr != 16_000:
        g = np.gcd(16_000, sr)
        mono = resample_poly(mono, 16_000 // g, sr // g)
    return mono.astype(np.float32)
