"""The worker warns about a GPU layout that loads one Whisper copy per prefork child."""

from __future__ import annotations

from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.concurrency.thread import TaskPool as ThreadPool

from celery_app import gpu_pool_problem


def test_prefork_children_on_a_gpu_are_flagged_threads_are_not():
    assert "prefork" in (gpu_pool_problem(device="cuda", pool=PreforkPool, concurrency=4) or "")
    assert gpu_pool_problem(device="cuda", pool="prefork", concurrency=2) is not None
    assert gpu_pool_problem(device="cuda", pool=ThreadPool, concurrency=8) is None
    assert gpu_pool_problem(device="cuda", pool=PreforkPool, concurrency=1) is None
    assert gpu_pool_problem(device="cpu", pool=PreforkPool, concurrency=4) is None
