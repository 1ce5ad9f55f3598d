"""Shared fixtures."""

from __future__ import annotations

import sys
import time
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


@pytest.fixture(autouse=True)
def _embedded_worker_idle_after_the_test():
    """The embedded worker thread lives as long as the test process: the chains a test left queued (a stream's
    later chunks, a finalize) would run on during the next tests, contending with them for the CPU, the
    in-process fakeredis and the in-memory database (in CI a 5-s receive of tests/sessions/test_limits.py
    timed out right after tests/sessions/test_durable.py). Each test ends with its queued tasks dropped and the
    worker idle. Set up after pytest-django's database fixture, so this runs before its flush."""
    yield
    embedded = sys.modules.get("analysis.embedded")
    if embedded is None or not embedded.worker_alive():
        return
    from celery.worker import state as worker_state

    from celery_app import app

    def purge() -> None:
        with app.connection_for_write() as connection:
            for queue in ("interviews", "interviews_final", "interviews_slow"):
                connection.default_channel.queue_purge(queue)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        purge()
        if not worker_state.active_requests and not worker_state.reserved_requests:
            purge()  # what the last task queued before it went idle
            return
        time.sleep(0.02)


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
