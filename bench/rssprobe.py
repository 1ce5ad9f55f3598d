"""Which task grows a live worker's memory? Loaded into a solo worker by ``bench/soak.py --probe``.

``celery worker -P solo --include bench.rssprobe`` imports this module, which hooks Celery's task signals: the
process's RSS and CPU time are read before and after every task and the differences summed per task name (a
solo worker runs one task at a time, so the difference is that task's; the process's CPU outside every task
is the worker's own: fetching, acking and sending messages). Every ``RSS_PROBE_TRIM_EVERY`` tasks it calls glibc's
``malloc_trim(0)`` and records how much RSS that gave back: memory that a trim returns was free in the
allocator's heap (fragmentation, retained arenas), not leaked. The totals are written as JSON to
``RSS_PROBE_FILE`` every 100 tasks and when the worker stops. A bench aid, never imported by the service.
"""

from __future__ import annotations

import ctypes
import json
import os
import time
from collections import defaultdict
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_shutdown

PATH = os.environ.get("RSS_PROBE_FILE", "rssprobe.json")
TRIM_EVERY = int(os.environ.get("RSS_PROBE_TRIM_EVERY", "0"))

_libc = ctypes.CDLL("libc.so.6")
_before: dict[str, tuple[float, float]] = {}
_totals: dict[str, dict[str, float]] = defaultdict(
    lambda: {"count": 0, "grew_mib": 0.0, "max_step_mib": 0.0, "cpu_s": 0.0})
_trim = {"calls": 0, "returned_mib": 0.0}
_tasks = 0


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _dump() -> None:
    with open(PATH + ".tmp", "w") as out:
        json.dump({"rss_mib": rss_mib(), "cpu_s": time.process_time(), "tasks": _tasks, "trim": _trim,
                   "by_task": _totals}, out)
    os.replace(PATH + ".tmp", PATH)


@task_prerun.connect
def _prerun(task_id: str | None = None, **_: Any) -> None:
    _before[task_id or ""] = (rss_mib(), time.process_time())


@task_postrun.connect
def _postrun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    global _tasks
    started = _before.pop(task_id or "", None)
    if started is None:
        return
    before, cpu = started
    step = rss_mib() - before
    entry = _totals[getattr(task, "name", "?")]
    entry["count"] += 1
    entry["cpu_s"] += time.process_time() - cpu
    entry["grew_mib"] += step
    entry["max_step_mib"] = max(entry["max_step_mib"], step)
    _tasks += 1
    if TRIM_EVERY and _tasks % TRIM_EVERY == 0:
        untrimmed = rss_mib()
        _libc.malloc_trim(0)
        _trim["calls"] += 1
        _trim["returned_mib"] += untrimmed - rss_mib()
    if _tasks % 100 == 0:
        _dump()


@worker_shutdown.connect
def _shutdown(**_: Any) -> None:
    _dump()
