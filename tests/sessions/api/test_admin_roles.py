"""The admin follows the roles' model permissions: staff status alone shows nothing, a reviewer reads but
cannot change or erase, an interview admin can do everything."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sessions.models import Interview

pytestmark = pytest.mark.django_db


def admin_as(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_a_role_sees_no_interviews(users, interviews):
    client = admin_as(users["bare_staff"])
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/interview_sessions/interview/").status_code == 403
    assert client.get(f"/admin/interview_sessions/interview/{interviews['owner'].pk}/change/").status_code in (302, 403)


def test_reviewer_reads_but_cannot_change_or_erase(users, interviews):
    reviewer = users["reviewer"]
    reviewer.is_staff = True
    reviewer.save()
    client = admin_as(reviewer)
    listing = client.get("/admin/interview_sessions/interview/")
    assert listing.status_code == 200 and "candidate of owner" in listing.content.decode()
    page = client.get(f"/admin/interview_sessions/interview/{interviews['owner'].pk}/change/")
    assert page.status_code == 200 and "Delete" not in page.content.decode().split("submit-row")[-1][:400]
    assert client.post(f"/admin/interview_sessions/interview/{interviews['owner'].pk}/delete/",
                       {"post": "yes"}).status_code == 403  # fmt: skip
    actions = client.get("/admin/interview_sessions/interview/").context["action_form"].fields["action"].choices
    names = {name for name, _ in actions}
    assert "export_json" in names and "rerun_final_pass" not in names and "delete_selected" not in names


def test_interview_admin_can_erase(users, interviews):
    client = admin_as(users["staff"])
    target = interviews["owner"]
    response = client.post(f"/admin/interview_sessions/interview/{target.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Interview.objects.filter(pk=target.pk).exists()
