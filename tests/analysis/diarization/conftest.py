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


@pytest.fixture(scope="session")
def emotion_ko(data_dir: Path) -> dict[str, tuple[np.ndarray, list[float]]]:
    """Each speaker's four moods (neutral, happy, sad, angry) at 16 kHz, 2 s apart: speaker -> (audio, starts)."""
    from scipy.signal import resample_poly

    out = {}
    for speaker in ("ema", "emf"):
        parts, starts, t = [], [], 1.0
        parts.append(np.zeros(16000, np.float32))
        for n in ("00001", "00101", "00201", "00301"):
            audio, sr = sf.read(data_dir / "emotion_ko" / f"{speaker}{n}.wav", dtype="float32")
            audio = resample_poly(audio, 16000 // np.gcd(sr, 16000), sr // np.gcd(sr, 16000)).astype(np.float32)
            starts.append(t)
            parts += [audio, np.zeros(2 * 16000, np.float32)]
            t += len(audio) / 16000 + 2.0
        out[speaker] = (np.concatenate(parts), starts)
    return out
