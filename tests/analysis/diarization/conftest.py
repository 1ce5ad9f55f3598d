"""Fixtures for the diarization tests: real recordings read in place from SHARED_DATA_DIR."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[3]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "models: loads real ML models (speaker encoder, VAD)")


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "diarization" / "manifest.jsonl").exists():
        pytest.skip(f"shared data not found at {path} (set SHARED_DATA_DIR)")
    return path


def load(path: Path) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32")
    assert sr == 16000, f"{path} is {sr} Hz; these fixtures expect 16 kHz files"
    return audio


@pytest.fixture(scope="session")
def interviews(data_dir: Path) -> dict[str, tuple[np.ndarray, list[dict]]]:
    """Mock interviews: name -> (mono audio, reference turns with roles)."""
    out = {}
    for line in (data_dir / "interviews" / "manifest.jsonl").read_text().splitlines():
        item = json.loads(line)
        name = Path(item["path"]).stem
        turns = json.loads((data_dir / "interviews" / item["turns"]).read_text())
        out[name] = (load(data_dir / "interviews" / item["path"]), turns)
    return out


@pytest.fixture(scope="session")
def stereo(data_dir: Path) -> np.ndarray:
    """The two-channel file: (n, 2), one speaker per channel."""
    return load(data_dir / "diarization" / "faster_whisper_stereo" / "stereo_diarization.wav")


@pytest.fixture(scope="session")
def pyannote_sample(data_dir: Path) -> np.ndarray:
    return load(data_dir / "diarization" / "pyannote_sample" / "sample.wav")
