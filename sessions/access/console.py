"""Who may use the console pages: a login outside DEBUG, and the permission the page needs.

In DEBUG (the laptop demo of ``make run``) the pages stay open to anonymous visitors. Everywhere else an
anonymous visitor is sent to the login page (and back afterwards), and a logged-in person without the
needed permission gets a 403 page that says which role to ask for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sessions.access.roles import INTERVIEWER


def console_access(permission: str | None = None) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorator: login required outside DEBUG; ``permission`` (if any) required of logged-in users."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                if settings.DEBUG:
                    return view(request, *args, **kwargs)
                return redirect_to_login(request.get_full_path())
            if permission and not user.has_perm(permission):
                return render(request, "console/forbidden.html", {"role": INTERVIEWER}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
