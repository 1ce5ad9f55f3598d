"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from shareddata import DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA} (set SHARED_DATA_DIR)")
    return DATA
