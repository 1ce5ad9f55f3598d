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


@pytest.fixture(autouse=True)
def _no_admission_limit(settings):
    """Admission control is tested on its own (tests/sessions/test_admission.py); elsewhere the sessions a
    test module opens (and abandons) in one process must not fill the live slots of the next test."""
    settings.LIVE_SESSION_CAPACITY = 0
