"""What guards the WebSocket: Origin validation and the user from the Django session.

Channels' ``AllowedHostsOriginValidator`` checks Origin against ALLOWED_HOSTS (plus WS_ALLOWED_ORIGINS);
a handshake without Origin is refused, so non-browser clients must send one.
"""

from __future__ import annotations

from typing import Any

from sessions.protocol import ConnectParams

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator
from django.conf import settings


def allowed_origins() -> list[str]:
    return list(settings.ALLOWED_HOSTS) + list(settings.WS_ALLOWED_ORIGINS)


def websocket_guard(app: Any) -> Any:
    return OriginValidator(AuthMiddlewareStack(app), allowed_origins())


async def authorize_connect(*, scope: dict[str, Any], params: ConnectParams) -> int | None:
    """Who opens this interview socket: the owner's user id, or None for an anonymous DEBUG session.

    Raises ProtocolError(UNAUTHORIZED, fatal) when the connection may not proceed.
    """
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        return int(user.pk)
    return None
