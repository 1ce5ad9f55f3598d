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


def _warnings(**overrides):
    from celery_app import layout_warnings

    layout = dict(device="cuda", pool=ThreadPool, concurrency=8, device_index=[0], speaker_device="cuda",
                  stt_batch=True, num_workers=2)
    return layout_warnings(**{**layout, **overrides})


def test_the_documented_gpu_worker_layout_is_coherent():
    assert _warnings() == []
    assert _warnings(device="cpu", speaker_device="cpu") == []


def test_incoherent_stt_layouts_are_named():
    assert any("prefork" in w for w in _warnings(pool=PreforkPool))
    assert any("STT_BATCH=1 has no effect" in w for w in _warnings(pool=PreforkPool, device="cpu", concurrency=2))
    assert any("without STT_BATCH=1" in w for w in _warnings(stt_batch=False))
    assert any("WHISPER_NUM_WORKERS=16" in w for w in _warnings(num_workers=16))
    # the speaker encoder on another GPU than this worker's Whisper copy
    assert any("SPEAKER_DEVICE=cuda" in w for w in _warnings(device_index=[1]))
    assert _warnings(device_index=[1], speaker_device="cuda:1") == []


def test_only_prefork_forks_children():
    from celery.concurrency.solo import TaskPool as SoloPool

    from celery_app import forks_children

    assert forks_children(PreforkPool) and forks_children("prefork")
    assert not forks_children(ThreadPool) and not forks_children(SoloPool)


def test_compute_threads_share_the_cores_among_a_prefork_pools_children(monkeypatch, settings):
    import os

    from analysis.pipeline import worker_models

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    settings.WHISPER_CPU_THREADS = 0
    try:
        worker_models.pool_processes_set(2)
        assert worker_models.compute_threads() == 2  # 2 children on 4 cores: 2 threads each
        worker_models.pool_processes_set(8)
        assert worker_models.compute_threads() == 1  # never none
        worker_models.pool_processes_set(1)
        assert worker_models.compute_threads() == 4  # solo, threads or embedded: the cores
        settings.WHISPER_CPU_THREADS = 3
        assert worker_models.compute_threads() == 3  # an explicit setting wins
    finally:
        worker_models.pool_processes_set(1)


def test_a_prefork_worker_tells_its_children_how_many_share_the_cores(monkeypatch):
    from types import SimpleNamespace

    import celery_app
    from analysis.pipeline import worker_models

    seen: list[int] = []
    monkeypatch.setattr(worker_models, "pool_processes_set", seen.append)
    monkeypatch.setattr(celery_app, "_warm_models", lambda **_: None)
    celery_app._check_gpu_layout(sender=SimpleNamespace(pool_cls=PreforkPool, concurrency=3))
    celery_app._check_gpu_layout(sender=SimpleNamespace(pool_cls=ThreadPool, concurrency=8))
    assert seen == [3]  # a threads pool is one process: it keeps the cores
