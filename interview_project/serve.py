"""Start daphne with permessage-deflate enabled and clean 1009 closes (``python -m interview_project.serve``).

daphne builds its autobahn ``WebSocketServerFactory`` without a compression policy, so it never negotiates
permessage-deflate. Transcripts are repetitive JSON, so we accept the client's deflate offer; binary audio
frames barely compress, which the client decides per message (browsers compress all frames, that's fine).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept

from interview_project.logs import AccessLog


def accept_deflate(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def enable_deflate() -> None:
    import daphne.server
    from daphne.ws_protocol import WebSocketFactory

    class DeflateWebSocketFactory(WebSocketFactory):  # type: ignore[misc]
        def setProtocolOptions(self, **options: Any) -> None:  # noqa: N802 (autobahn's name)
            options.setdefault("perMessageCompressionAccept", accept_deflate)
            # A frame over daphne's 1 MiB limit: answer with close 1009 ("message too big") and its reason,
            # as docs/protocol.md says, instead of autobahn's default of dropping the TCP connection (1006).
            options.setdefault("failByDrop", False)
            super().setProtocolOptions(**options)

    daphne.server.WebSocketFactory = DeflateWebSocketFactory


def log_access_as_records() -> None:
    """With LOG_FORMAT=json, daphne's access lines go through logging (JSON) instead of raw NCSA text."""
    import daphne.cli

    daphne.cli.AccessLogGenerator = AccessLog


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_project.settings")
    enable_deflate()
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        log_access_as_records()
    from daphne.cli import CommandLineInterface

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    args = argv if argv is not None else sys.argv[1:]
    CommandLineInterface().run([*daphne_args(host, port, os.environ), *args, "interview_project.asgi:application"])


def daphne_args(host: str, port: str, environ: Mapping[str, str]) -> list[str]:
    """Bind address, and ``--proxy-headers`` only when PROXY_HEADERS says a trusted proxy is in front.

    With the flag, daphne takes the client address from X-Forwarded-For: behind no proxy, anyone could
    then pick their own address (and throttle key) with a header.
    """
    args = ["-b", host, "-p", port]
    if environ.get("PROXY_HEADERS", "").strip().lower() in {"1", "true", "yes", "on"}:
        args.append("--proxy-headers")
    return args


if __name__ == "__main__":
    main()
