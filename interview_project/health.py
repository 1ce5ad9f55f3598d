"""Probes and the scrape: ``/healthz`` (the process answers), ``/readyz`` (it can serve an interview now) and
``/metrics`` (Prometheus).

They are answered by :class:`ProbeMiddleware`, first in the chain, so they work whatever the Host header:
load balancers, kubelets and Prometheus address pods by IP, which ``ALLOWED_HOSTS`` rightly refuses for
every other URL. ``/readyz`` runs every check and answers 200 only when all pass, else 503; the JSON names
each check with ``ok``, its time and a short reason (docs/operations.md).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from analysis import embedded
from celery_app import app as celery_app
from interview_project import metrics, observability
from sessions import monitor, state

logger = logging.getLogger(__name__)


@dataclass
class Check:
    ok: bool
    ms: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.detail:
            out.update(self.detail)
        if self.error:
            out["error"] = self.error
        return out


def _reason(exc: BaseException) -> str:
    """A short, host-free reason: the exception type and the first line of its message."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}".rstrip(": ")


def check_database() -> Check:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return Check(ok=True, detail={"vendor": connection.vendor})
    except Exception as exc:
        return Check(ok=False, error=_reason(exc))
    finally:
        try:
            connection.close()  # a probe thread must not keep a connection open
        except Exception:
            pass


def check_redis() -> Check:
    try:
        state.probe_client().ping()
        return Check(ok=True, detail={"cluster": settings.STATE_REDIS_CLUSTER, "embedded": settings.EMBEDDED})
    except Exception as exc:
        return Check(ok=False, error=_reason(exc))


def check_broker() -> Check:
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.READY_TIMEOUT_S)
            depths = monitor.queue_depths(celery_app, settings.READY_QUEUES)
        return Check(ok=True, detail={"transport": connection.transport.driver_type, "queue_depth": depths})
    except Exception as exc:
        return Check(ok=False, error=_reason(exc))


def check_workers() -> Check:
    """At least one worker answers on each queue in READY_QUEUES, and has its models loaded."""
    if settings.EMBEDDED:
        alive = embedded.worker_alive()
        return Check(ok=alive, detail={"workers": {"embedded": list(settings.READY_QUEUES)} if alive else {}},
                     error="" if alive else "the embedded worker thread is not running")
    try:
        replies = celery_app.control.inspect(timeout=settings.READY_TIMEOUT_S).active_queues() or {}
    except Exception as exc:
        return Check(ok=False, error=_reason(exc))
    workers = {name: sorted(q["name"] for q in queues) for name, queues in replies.items()}
    missing = [q for q in settings.READY_QUEUES if not any(q in qs for qs in workers.values())]
    return Check(ok=not missing, detail={"workers": workers, "missing_queues": missing},
                 error=f"no worker answers on {', '.join(missing)}" if missing else "")


def check_models(workers: Check) -> Check:
    """Models are loaded where they run: in the worker processes (or in this process when embedded)."""
    if settings.EMBEDDED:
        loaded = embedded.models_loaded()
        return Check(ok=loaded, detail={"where": "embedded"}, error="" if loaded else "models are still loading")
    answering = set(workers.detail.get("workers", {}))
    try:
        ready = observability.models_ready_nodes() & answering
    except Exception as exc:
        return Check(ok=False, error=_reason(exc))
    needed = [q for q in ("interviews",) if q in settings.READY_QUEUES]
    ok_queues = [q for q in needed if any(q in workers.detail["workers"][w] for w in ready)]
    ok = bool(answering) and len(ok_queues) == len(needed)
    return Check(ok=ok, detail={"workers_with_models": sorted(ready)},
                 error="" if ok else "no worker on the live queue has finished loading its models")


def _timed(fn: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    result = fn()
    result.ms = (time.perf_counter() - started) * 1000
    return result


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def readiness() -> tuple[bool, dict[str, Any]]:
    """Run every check (the independent ones at once) and say whether this node is ready."""
    futures = {name: _pool.submit(_timed, fn) for name, fn in
               (("database", check_database), ("redis", check_redis), ("broker", check_broker))}
    checks = {name: future.result() for name, future in futures.items()}
    # the worker census goes through the broker and the models' heartbeats through Redis: asking them while
    # those are down would only add their clients' connection retries to the probe's answer time
    if checks["broker"].ok or settings.EMBEDDED:
        checks["workers"] = _timed(check_workers)
    else:
        checks["workers"] = Check(ok=False, error="the broker is unreachable")
    if checks["redis"].ok or settings.EMBEDDED:
        checks["models"] = _timed(lambda: check_models(checks["workers"]))
    else:
        checks["models"] = Check(ok=False, error="Redis is unreachable")
    ready = all(c.ok for c in checks.values())
    return ready, {"status": "ready" if ready else "not_ready", "node": monitor.node_name(),
                   "checks": {name: c.as_dict() for name, c in checks.items()}}


# --- scrape ---------------------------------------------------------------------------------------------------
class DeploymentCollector(Collector):
    """Deployment-wide gauges read when scraped: live sessions (Redis) and queue depths (the broker)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        live = GaugeMetricFamily("interview_live_sessions", "Sessions live now, on any node")
        depth = GaugeMetricFamily("interview_queue_depth", "Tasks waiting in a Celery queue", labels=["queue"])
        up = GaugeMetricFamily("interview_scrape_backends_up", "Whether this scrape could read Redis and the broker")
        try:
            live.add_metric([], monitor.live_count())
            for queue, length in monitor.queue_depths(celery_app, metrics.QUEUES).items():
                depth.add_metric([queue], length)
            up.add_metric([], 1)
        except Exception as exc:  # a scrape answers even when Redis is down, and says so
            logger.warning("metrics: backends unreadable: %s", type(exc).__name__)
            up.add_metric([], 0)
        yield live
        yield depth
        yield up


# --- HTTP -----------------------------------------------------------------------------------------------------
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "node": monitor.node_name()})


def readyz(request: HttpRequest) -> JsonResponse:
    ready, body = readiness()
    if not ready:
        failed = [name for name, c in body["checks"].items() if not c["ok"]]
        logger.warning("not ready: %s", ", ".join(failed))
    return JsonResponse(body, status=200 if ready else 503)


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain",
                                headers={"WWW-Authenticate": "Bearer"})
    body, content_type = metrics.render(DeploymentCollector())
    return HttpResponse(body, content_type=content_type)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_view,
}


class ProbeMiddleware:
    """Answers the probes before host validation, sessions or CSRF (GET/HEAD only; never cached).

    Async under daphne: a check waits up to READY_TIMEOUT_S for worker replies, and Django runs sync views on
    one shared thread (the one ``database_sync_to_async`` uses for the consumers too), so the probes run in a
    thread of their own instead of stalling every socket's database calls behind a balancer's health check.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _probe(self, request: HttpRequest) -> Callable[[HttpRequest], HttpResponse] | None:
        if request.method not in ("GET", "HEAD"):
            return None
        return PROBES.get(request.path_info.rstrip("/") or "/")

    @staticmethod
    def _finish(response: HttpResponse) -> HttpResponse:
        response["Cache-Control"] = "no-store"
        response._has_been_logged = True  # type: ignore[attr-defined]  # a 503 probe is news, not an ERROR line
        return response

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        view = self._probe(request)
        if view is None:
            return self.get_response(request)
        return self._finish(view(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        view = self._probe(request)
        if view is None:
            return await self.get_response(request)
        return self._finish(await sync_to_async(view, thread_sensitive=False)(request))
