"""Shared fixtures: where the real data lives, and readers for its manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


def manifest(folder: str) -> list[dict[str, Any]]:
    path = DATA / folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA} (set SHARED_DATA_DIR)")
    return DATA
