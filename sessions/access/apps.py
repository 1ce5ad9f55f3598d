from __future__ import annotations

from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Roles (Django groups), the console login, and the permission checks the transports share."""

    name = "sessions.access"
    label = "access"
    verbose_name = "Access"
