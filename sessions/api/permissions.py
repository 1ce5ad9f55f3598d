"""Object and model permissions of the API (roles in ``sessions.access.roles``, docs/api.md).

Querysets already hide other users' rows (``selectors``), so a foreign id answers 404, not 403: the API
does not even confirm that someone else's interview exists. These checks are the second line, and they
read model permissions, never ``is_staff``: staff only means "may open the admin".
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from sessions.access.roles import (
    PERM_ADD_QUESTION_SET, PERM_CHANGE_ANY_QUESTION_SET, PERM_DELETE_ANY_QUESTION_SET, PERM_ERASE_ANY_INTERVIEW,
    PERM_READ_ALL_INTERVIEWS, PERM_READ_ALL_QUESTION_SETS, PERM_RUN_INTERVIEWS,
)  # fmt: skip


def _owns(request: Request, obj: Any) -> bool:
    return obj.owner_id is not None and obj.owner_id == request.user.pk


def _may(request: Request, permission: str) -> bool:
    return bool(request.user and request.user.is_active and request.user.has_perm(permission))


class InterviewAccess(BasePermission):
    """Read: the owner or a reviewer (``view_interview``). Erase: the owner or an admin (``delete_interview``)."""

    message = "Only the owner, a reviewer (read) or an interview admin may access this interview."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if _owns(request, obj):
            return True
        permission = PERM_READ_ALL_INTERVIEWS if request.method in SAFE_METHODS else PERM_ERASE_ANY_INTERVIEW
        return _may(request, permission)


class CanRunInterviews(BasePermission):
    """The interviewer role (``add_interview``): starting a live interview, and so getting a WebSocket ticket."""

    message = "Your account may not run interviews; ask an administrator for the interviewer role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return _may(request, PERM_RUN_INTERVIEWS)


class QuestionSetAccess(BasePermission):
    """Create: ``add_questionset``. Read: shared sets and the caller's own (all with ``view_questionset``).
    Change or delete: the owner, or an admin (``change_questionset`` / ``delete_questionset``)."""

    message = "Only the owner or an interview admin may change this question set."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method == "POST":
            return _may(request, PERM_ADD_QUESTION_SET)
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return obj.owner_id is None or _owns(request, obj) or _may(request, PERM_READ_ALL_QUESTION_SETS)
        if _owns(request, obj):
            return True
        return _may(request, PERM_DELETE_ANY_QUESTION_SET if request.method == "DELETE" else PERM_CHANGE_ANY_QUESTION_SET)
