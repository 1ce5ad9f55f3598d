"""ASGI entry point: HTTP through Django, WebSockets through Channels.

Django is set up before the routing imports (they import models), as the Channels docs require.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from sessions.routing import websocket_urlpatterns  # noqa: E402
from sessions.security import websocket_guard  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_guard(URLRouter(websocket_urlpatterns)),
    }
)

if settings.EMBEDDED:
    from analysis.embedded import start_embedded_worker

    start_embedded_worker()
