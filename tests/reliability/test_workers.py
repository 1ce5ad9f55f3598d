"""Worker guarantees without processes: broker visibility above every task limit, renewed locks that expire with
their owner, finalize retried through a database outage, the sweeper's give-up path."""

from __future__ import annotations

import os
import runpy
import time
from unittest import mock

import pytest
from django.db import OperationalError

from analysis import tasks
from sessions import lifecycle, locks, state
from sessions.models import Interview


def test_visibility_timeout_is_above_every_task_time_limit(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("CELERY_VISIBILITY_TIMEOUT", raising=False)
    production = runpy.run_path(os.path.join(os.path.dirname(tasks.__file__), "..", "interview_project", "settings.py"))
    visibility = production["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"]
    limits = {name: t.time_limit for name, t in tasks.finalize.app.tasks.items() if getattr(t, "time_limit", None)}
    assert limits["interview.final_pass"] == max(limits.values())
    assert visibility > max(limits.values()), (visibility, limits)


def test_a_held_lock_is_renewed_and_a_dead_owners_lock_expires(monkeypatch):
    monkeypatch.setattr(locks, "LOCK_TTL_S", 0.3)
    name = f"{state.PREFIX}:test:lock:renew"
    with locks.held(name, ttl_s=0.3) as token:
        time.sleep(0.8)  # well past the TTL: the renewer kept it
        assert locks.owns(name, token)
        with pytest.raises(locks.LockBusy):
            with locks.held(name, ttl_s=0.3):
                pass
    assert not state.sync_client().exists(name)
    # an owner that died (no renewer) loses it within the TTL
    state.sync_client().set(name, "dead-owner", px=300)
    time.sleep(0.4)
    with locks.held(name, wait_s=0.1, ttl_s=0.3):
        pass


def test_a_renewal_landing_inside_release_does_not_leave_the_lock_behind(monkeypatch):
    """The renewer's PEXPIRE between the owner's WATCH and EXEC made release give up and leave the lock held
    for its whole TTL (every other task of the stage then found it busy, and finalize failed)."""
    name = f"{state.PREFIX}:test:lock:race"
    real_watch = type(state.sync_client().pipeline()).watch
    renewed: list[bool] = []

    def watch_then_renew(pipe, *names):
        result = real_watch(pipe, *names)
        if not renewed:  # the renewer's extend, right after the owner's WATCH
            renewed.append(True)
            state.sync_client().pexpire(name, 5000)
        return result

    with locks.held(name, ttl_s=5) as token:
        monkeypatch.setattr(type(state.sync_client().pipeline()), "watch", watch_then_renew)
    monkeypatch.undo()
    assert renewed and not state.sync_client().exists(name), "the released lock is gone"
    assert not locks.owns(name, token)


def test_finalize_is_retried_through_a_database_outage():
    calls = mock.Mock(side_effect=[OperationalError("gone"), OperationalError("gone"), None])
    with mock.patch.object(tasks, "session_finalize", calls):
        result = tasks.finalize.apply(args=["00000000-0000-0000-0000-000000000000"])
    assert result.successful() and calls.call_count == 3


@pytest.mark.django_db
def test_a_finalize_that_never_finishes_ends_failed_with_its_reason(settings):
    settings.SESSION_IDLE_FINALIZE_S = 0
    settings.FINALIZE_STUCK_S = 0
    settings.FINALIZE_MAX_ATTEMPTS = 2
    interview = Interview.objects.create(status=Interview.Status.FINALIZING)
    session_id = str(interview.pk)
    try:
        actions = [d.action for d in lifecycle.idle_sessions_sweep(now=time.time() + 10)]
        actions += [d.action for d in lifecycle.idle_sessions_sweep(now=time.time() + 20)]
        actions += [d.action for d in lifecycle.idle_sessions_sweep(now=time.time() + 30)]
        assert actions == ["refinalize", "refinalize", "failed"]
        interview.refresh_from_db()
        assert interview.status == Interview.Status.FAILED and "after 2 attempts" in interview.end_reason
    finally:
        state.sync_client().delete(state.session_key(session_id, "finalize_attempts"), state.Keys(session_id).meta)
