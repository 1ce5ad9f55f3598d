"""Soak: one long session (a recording looped) through the production shape; is memory flat with length?

Run:  .venv/bin/python -m bench.soak --minutes 120 --speed 1           (the 2-hour soak of issue 11)
      .venv/bin/python -m bench.soak --minutes 5 --speed 2 --every 20  (a quick look)
      .venv/bin/python -m bench.soak --finalize-only 2                 (finalize's WAV write for 2 h of audio)

Stream mode runs in production mode (``DEBUG=0``, an interviewer account, a one-time ticket, consent) and
spawns its own redis-server (free port, no persistence), daphne and a solo Celery worker
(FINAL_PASS=0, MariaDB database ``--mysql-db`` or ``--sqlite`` for a temp SQLite, temp MEDIA_ROOT), streams ``--file`` (default the English mock interview) looped
for ``--minutes`` of audio at ``--speed`` × real time, and prints every ``--every`` seconds:

* ``audio_s``: session audio sent so far; ``answered``: highest seq answered by ``audio_processed``;
* ``redis_session_kb``: ``MEMORY USAGE`` summed over the session's keys (what Redis holds for this session);
* ``redis_used_mb``: Redis ``used_memory`` (the whole instance: broker queues and channel layer included);
* ``daphne_rss_mb``, ``worker_rss_mb``: resident memory (VmRSS) of daphne and of the worker's process tree;
* ``recording_mb``: size of the durable recording on disk.

At the end it sends ``session_end`` and prints the time to ``session_complete`` (finalize: flush, last stages,
WAV streamed from the recording, live report), the worker's peak RSS (VmHWM) and CPU seconds.

``--finalize-only HOURS`` builds a recording of that length in a temp MEDIA_ROOT from the looped file and times
``Recording.write_wav`` (what finalize does with the audio) with the process's peak RSS before and after, so
the "no giant read" claim is checked for any length without streaming for hours. No timed assertions: figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import shared_data_dir
from bench.harness import _tree, cpu_seconds, free_port, peak_rss_mb

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interview_project.settings")


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def load(path: Path) -> np.ndarray:
    from analysis.audio.preprocess import file_to_16k_mono

    return file_to_16k_mono(str(path))


# --- finalize only ---------------------------------------------------------------------------------------------
def finalize_only(hours: float, path: Path) -> None:
    import django

    media = Path(tempfile.mkdtemp(prefix="soak-media-"))
    os.environ["MEDIA_ROOT"] = str(media)
    django.setup()
    from clients.python.interview_client import pcm16
    from sessions.recording import Recording

    audio = load(path)
    chunk = 4000  # 250 ms
    rec = Recording("soak", sample_rate=16000, channels=1)
    total = int(hours * 3600 * 16000)
    started = time.perf_counter()
    seq = 0
    for start in range(0, total, chunk):
        offset = start % len(audio)
        piece = audio[offset : offset + chunk]
        rec.append(seq, pcm16(piece))
        seq += 1
    append_s = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0 = time.process_time()
    started = time.perf_counter()
    with open(media / "out.wav", "wb") as out:
        duration = rec.write_wav(out, steps=("highpass",), keep_channels=False)
    wav_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"recording: {seq} chunks, {rec.duration_s() / 3600:.2f} h, {rec.data_path.stat().st_size / 2**20:.0f} MiB "
          f"(appends with fsync: {append_s:.1f} s, {append_s / seq * 1000:.2f} ms each)")
    print(f"WAV streamed from the recording: {duration / 3600:.2f} h in {wav_s:.1f} s wall, "
          f"{time.process_time() - cpu0:.1f} CPU s; peak RSS {before:.0f} MiB before, {after:.0f} MiB after "
          f"(growth {after - before:.0f} MiB)")
    shutil.rmtree(media, ignore_errors=True)


# --- stream mode -----------------------------------------------------------------------------------------------
def soak(args: argparse.Namespace) -> None:
    import redis

    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    redis_port, port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL))
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "SQLITE_PATH": str(workdir / "db.sqlite3"),
           "MEDIA_ROOT": str(workdir / "media"), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "FINAL_PASS": "0",
           "AUDIO_MAX_SPEED": str(max(4.0, args.speed * 1.5)), "WHISPER_CPU_THREADS": "2", "LOG_LEVEL": "WARNING",
           "SESSION_TTL_S": "3600", "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(48),
           "DJANGO_SETTINGS_MODULE": "interview_project.settings"}
    env.pop("DATABASE_URL", None)
    if not args.sqlite:
        import MySQLdb

        conn = MySQLdb.connect(host="127.0.0.1", user="root")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{args.mysql_db}`")
        conn.cursor().execute(f"CREATE DATABASE `{args.mysql_db}` CHARACTER SET utf8mb4")
        conn.close()
        env["DATABASE_URL"] = f"mysql://root@127.0.0.1:3306/{args.mysql_db}"
    py = str(REPO / ".venv" / "bin" / "python")
    try:
        time.sleep(0.5)
        subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
        # Production mode: an interviewer account, a one-time ticket for the socket, consent.
        user_id = subprocess.run(
            [py, "manage.py", "shell", "-c", "from django.contrib.auth.models import Group, User; "
             "u = User.objects.create_user('soak'); u.groups.add(Group.objects.get(name='interviewer')); print(u.pk)"],
            cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout.split()[-1]
        procs.append(subprocess.Popen([py, "-m", "interview_project.serve"], cwd=REPO, env=env,
                                      stdout=open(workdir / "daphne.log", "wb"), stderr=subprocess.STDOUT))
        probe = ["--include", "bench.rssprobe"] if args.probe else []
        env["RSS_PROBE_FILE"], env["RSS_PROBE_TRIM_EVERY"] = str(workdir / "rssprobe.json"), str(args.trim_every)
        procs.append(subprocess.Popen([py, "-m", "celery", "-A", "celery_app", "worker", "-Q", "interviews", "-P", "solo",
                                       "--loglevel=WARNING", *probe], cwd=REPO, env=env,
                                      stdout=open(workdir / "worker.log", "wb"), stderr=subprocess.STDOUT))
        daphne, worker = procs[1].pid, procs[2].pid
        client = redis.Redis(port=redis_port)
        for _ in range(600):
            try:
                import socket

                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        from sessions.tickets import ticket_key

        ticket = secrets.token_urlsafe(24)
        client.set(ticket_key(ticket), user_id, ex=600)
        asyncio.run(stream(args, workdir, port, daphne, worker, client, ticket))
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.probe:
            print_probe(workdir / "rssprobe.json")
        shutil.rmtree(workdir, ignore_errors=True)


def print_probe(path: Path) -> None:
    """The worker's RSS growth summed per task (bench/rssprobe.py) and what malloc_trim gave back."""
    import json

    if not path.exists():
        print("rssprobe: no figures written (the worker ran fewer than 100 tasks and did not stop cleanly)")
        return
    probe = json.loads(path.read_text())
    in_tasks = sum(entry["cpu_s"] for entry in probe["by_task"].values())
    print(f"worker RSS {probe['rss_mib']:.0f} MiB after {probe['tasks']} tasks; malloc_trim(0) called "
          f"{probe['trim']['calls']} times gave back {probe['trim']['returned_mib']:.0f} MiB in all; worker CPU "
          f"{probe['cpu_s']:.1f} s, {in_tasks:.1f} s of it in tasks")
    print("task                          count  RSS growth summed (MiB)  largest step (MiB)  CPU s  CPU ms/task")
    for name, entry in sorted(probe["by_task"].items(), key=lambda item: -item[1]["grew_mib"]):
        print(f"{name:28}  {entry['count']:5.0f}  {entry['grew_mib']:23.1f}  {entry['max_step_mib']:18.1f}  "
              f"{entry['cpu_s']:5.1f}  {1000 * entry['cpu_s'] / max(1, entry['count']):11.1f}")


async def stream(args: argparse.Namespace, workdir: Path, port: int, daphne: int, worker: int, client: Any,
                 ticket: str) -> None:
    from clients.python.interview_client import stream_audio
    from sessions.state import PREFIX

    if True:
        audio = load(args.file)
        total = int(args.minutes * 60 * 16000)
        looped = np.resize(audio, total)
        print(f"soak: {args.minutes:.0f} min of {args.file.name} looped at {args.speed:g}x; pids daphne {daphne}, "
              f"worker {worker}", flush=True)
        print("t_s  audio_s  answered  redis_session_kb  redis_used_mb  daphne_rss_mb  worker_rss_mb  recording_mb")
        state: dict[str, object] = {"sid": None, "answered": -1, "sent": 0}

        async def sample() -> None:
            t0 = time.monotonic()
            while True:
                await asyncio.sleep(args.every)
                sid = state["sid"]
                kb = 0.0
                if sid:
                    for key in client.scan_iter(match=f"{PREFIX}:{{{sid}}}:*", count=1000):
                        kb += (client.memory_usage(key) or 0) / 1024
                rec = workdir / "media" / "recordings" / str(sid) / "audio.pcm"
                rec_mb = rec.stat().st_size / 2**20 if rec.exists() else 0.0
                print(f"{time.monotonic() - t0:5.0f}  {state['sent']:7.0f}  {state['answered']:8}  {kb:16.0f}  "
                      f"{client.info('memory')['used_memory'] / 2**20:13.1f}  {rss_mb([daphne]):13.0f}  "
                      f"{rss_mb(_tree(worker)):13.0f}  {rec_mb:12.1f}", flush=True)

        async def on_chunk(seq: int) -> None:
            state["sent"] = (seq + 1) * 0.25

        sampler = asyncio.create_task(sample())
        cpu0 = cpu_seconds([worker])

        # The sid and the answered seq come from the log as it grows.
        from clients.python import interview_client as client_module

        original = client_module.StreamLog.__init__

        async def watch(log_holder: list[object]) -> None:
            while True:
                await asyncio.sleep(1)
                for log in log_holder:
                    if getattr(log, "ack", None):
                        state["sid"] = log.ack["session_id"]  # type: ignore[attr-defined]
                    seqs = [e["seq"] for e in log.of_type("audio_processed")]  # type: ignore[attr-defined]
                    state["answered"] = max(seqs, default=-1)

        logs: list[object] = []

        def init(self: object, *a: object, **k: object) -> None:
            original(self, *a, **k)  # type: ignore[arg-type]
            logs.append(self)

        client_module.StreamLog.__init__ = init  # type: ignore[method-assign]
        watcher = asyncio.create_task(watch(logs))
        log = await stream_audio(f"ws://127.0.0.1:{port}/ws/interviews/", looped, params={"language": args.language, "consent": "1", "ticket": ticket},
                                 chunk_ms=250, speed=args.speed,
                                 timeout_s=len(looped) / 16000 / args.speed + 1800, on_chunk=on_chunk)
        end_to_complete = (log.events[-1][0] - log.end_sent_at) if log.end_sent_at else float("nan")
        sampler.cancel()
        watcher.cancel()
        print(f"session_end → session_complete: {end_to_complete:.1f} s (finalize: flush, last stages, WAV streamed "
              f"from the recording, live report); worker peak RSS {max(peak_rss_mb(p) for p in _tree(worker)):.0f} MiB, "
              f"daphne peak RSS {peak_rss_mb(daphne):.0f} MiB; worker CPU {cpu_seconds([worker]) - cpu0:.0f} s")
        complete = log.complete or {}
        print(f"stored duration {complete.get('duration_s')} s for {len(looped) / 16000:.1f} s sent; "
              f"{len(complete.get('segments', []))} segments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--file", type=Path, default=shared_data_dir() / "interviews" / "mock_interview_en.wav")
    parser.add_argument("--language", default="en")
    parser.add_argument("--mysql-db", default="bench_soak", help="MariaDB database (dropped and created)")
    parser.add_argument("--sqlite", action="store_true", help="a temp SQLite database instead of MariaDB")
    parser.add_argument("--finalize-only", type=float, metavar="HOURS")
    parser.add_argument("--probe", action="store_true",
                        help="attribute the worker's RSS growth to its tasks (bench/rssprobe.py)")
    parser.add_argument("--trim-every", type=int, default=0, metavar="N",
                        help="with --probe, call malloc_trim(0) every N tasks and count what it gives back")
    args = parser.parse_args()
    if args.finalize_only:
        finalize_only(args.finalize_only, args.file)
    else:
        soak(args)


if __name__ == "__main__":
    main()
