"""What guards the WebSocket: Origin validation and the user from the Django session.

Channels' ``AllowedHostsOriginValidator`` checks Origin against ALLOWED_HOSTS (plus WS_ALLOWED_ORIGINS);
a handshake without Origin is refused, so non-browser clients must send one.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator
from django.conf import settings


def allowed_origins() -> list[str]:
    return list(settings.ALLOWED_HOSTS) + list(settings.WS_ALLOWED_ORIGINS)


def websocket_guard(app: Any) -> Any:
    return OriginValidator(AuthMiddlewareStack(app), allowed_origins())
