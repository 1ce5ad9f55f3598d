"""Fixtures of the API tests: three users and two interviews (helpers in ``_api_fixtures``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _api_fixtures import MOCK_EN, make_interview
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> None:
    """Files land in a temporary MEDIA_ROOT; throttle counts start empty; rates high unless a test lowers them."""
    settings.MEDIA_ROOT = tmp_path / "media"
    rf = dict(settings.REST_FRAMEWORK)
    rf["DEFAULT_THROTTLE_RATES"] = {"anon": "10000/min", "user": "10000/min", "ws_ticket": "10000/min"}
    settings.REST_FRAMEWORK = rf
    cache.clear()


@pytest.fixture
def users(django_user_model: Any, grant: Any) -> dict[str, Any]:
    """Two interviewers, an interview admin ("staff": is_staff for the admin, the admin role for the data),
    a reviewer, and a staff account without any role (staff alone grants nothing)."""
    return {
        "owner": grant(django_user_model.objects.create_user("owner"), "interviewer"),
        "other": grant(django_user_model.objects.create_user("other"), "interviewer"),
        "staff": grant(django_user_model.objects.create_user("staff", is_staff=True), "interview admin"),
        "reviewer": grant(django_user_model.objects.create_user("reviewer"), "reviewer"),
        "bare_staff": django_user_model.objects.create_user("bare_staff", is_staff=True),
    }


@pytest.fixture
def interviews(users: dict[str, Any]) -> dict[str, Any]:
    """One interview per non-staff user (the staff user owns none)."""
    if not MOCK_EN.exists():
        pytest.skip("shared data not available")
    return {"owner": make_interview(users["owner"]), "other": make_interview(users["other"], with_audio=False)}
