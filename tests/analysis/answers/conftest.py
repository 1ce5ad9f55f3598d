"""Fixtures for answer-analysis tests: real recordings from SHARED_DATA_DIR, resampled to 16 kHz mono."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _answers_data import load_audio_16k, read_manifest, shared_data_dir


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as (possibly) in tests/conftest.py: registering a marker twice is harmless.
    config.addinivalue_line("markers", "models: loads real ML models (slow; deselect with -m 'not models')")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "README.md").exists():
        pytest.skip(f"shared data not found at {path} (set SHARED_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def emotion_clips(data_dir: Path) -> list[dict[str, Any]]:
    folder = data_dir / "emotion_ko"
    return [{**m, "audio": load_audio_16k(folder / m["path"])} for m in read_manifest(folder)]


@pytest.fixture(scope="session")
def interview(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The two mock interviews: manifest entry, turns with roles and 16 kHz audio, by language."""
    folder = data_dir / "interviews"
    out = {}
    for m in read_manifest(folder):
        turns = json.loads((folder / m["turns"]).read_text(encoding="utf-8"))
        out[m["language"]] = {**m, "turns": turns, "audio": load_audio_16k(folder / m["path"])}
    return out
