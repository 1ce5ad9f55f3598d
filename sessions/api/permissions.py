"""Object permissions: an interview or question set is changed only by its owner or by staff.

Querysets already hide other users' rows (``selectors``), so a foreign id answers 404, not 403: the API
does not even confirm that someone else's interview exists. These checks are the second line.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _is_staff(request: Request) -> bool:
    return bool(request.user and request.user.is_staff)


class IsOwnerOrStaff(BasePermission):
    message = "Only the owner or staff may access this interview."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return _is_staff(request) or (obj.owner_id is not None and obj.owner_id == request.user.pk)


class QuestionSetAccess(BasePermission):
    """Shared sets (no owner) are readable by all users and writable by staff only."""

    message = "Shared question sets can only be changed by staff."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if _is_staff(request):
            return True
        if request.method in SAFE_METHODS:
            return obj.owner_id is None or obj.owner_id == request.user.pk
        return obj.owner_id is not None and obj.owner_id == request.user.pk
