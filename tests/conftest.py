"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


@pytest.fixture(autouse=True)
def _no_background_final_pass(settings):
    """In-process tests run the embedded worker thread in the test process: a final pass it starts after a test
    has ended (a late finalize, the sweeper) would hold the shared in-memory database while the next test
    flushes it. Tests of the final pass call it directly or turn it back on."""
    settings.FINAL_PASS = False


@pytest.fixture
def grant(db: None) -> Any:
    """``grant(user, "interviewer")``: put a user in a role's group (groups re-created if a flush removed them)."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    from sessions.access.roles import roles_sync

    if Group.objects.count() < 3:
        roles_sync(apps)

    def add(user: Any, *roles: str) -> Any:
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        # has_perm caches per user object; a fresh copy sees the new groups
        return type(user).objects.get(pk=user.pk)

    return add
