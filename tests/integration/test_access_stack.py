"""Access and limits on the production shape (DEBUG=0, daphne + Celery worker, Redis, MariaDB): what a
deployment does to a client without a ticket, a flood of text frames and malformed JSON, and whether the
static files and the login page are served by the application itself."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets

pytestmark = [pytest.mark.integration]


def get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def test_static_files_and_logins_are_served_by_the_application(live_stack):
    http = live_stack["http"]
    assert get(f"{http}/static/admin/css/base.css")[0] == 200
    assert get(f"{http}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")[0] == 200
    assert get(f"{http}/accounts/login/")[0] == 200
    status, location = get(f"{http}/")
    assert status == 302 and location.startswith("/accounts/login/")


def test_sockets_need_a_ticket_and_answer_floods_and_bad_json_with_errors(live_stack):
    async def scenario() -> None:
        origin = live_stack["http"]
        async with websockets.connect(f"{live_stack['url']}?language=en&consent=1", origin=origin) as ws:
            refused = json.loads(await ws.recv())
            assert refused["code"] == "unauthorized" and refused["fatal"]
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4401
        ticket = await live_stack["get_ticket"]()
        async with websockets.connect(f"{live_stack['url']}?language=en&consent=1&ticket={ticket}", origin=origin) as ws:
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send("[" * 40_000)
            assert json.loads(await ws.recv())["code"] == "bad_json"
            for n in range(40):
                await ws.send(json.dumps({"type": "ping", "ts": n}))
            replies = [json.loads(await ws.recv()) for _ in range(40)]
            codes = {r.get("code", r["type"]) for r in replies}
            assert codes == {"pong", "rate_limited"}, codes
            await asyncio.sleep(1.0)  # the bucket refills (5 frames/s), so session_end is not dropped
            await ws.send(json.dumps({"type": "session_end"}))

    asyncio.run(scenario())
