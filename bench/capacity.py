"""Capacity: N concurrent real-time interviews through the production shape, per N.

Spawns daphne (``interview_project.serve``) + a live Celery worker pool (``-Q interviews``, prefork,
``--live-concurrency`` processes) + a background worker (``-Q interviews_final,interviews_slow``, one
process, ``nice`` 10) on Redis (db ``--redis-db``, 14 by default: the bench's own, flushed at start) and
MariaDB (database ``--mysql-db``, created if missing; ``--sqlite`` for a temp SQLite instead). Then, for
each N in ``--sessions``, streams N sessions at once in real time (250 ms PCM16 chunks, starts staggered by
``--stagger`` s): English and Korean alternately, each a ``--seconds``-long stream built as in
``bench/stt_cost.py`` (interviews/mock_interview_* followed by the en/, ko/ and emotion_ko/ files, 0.8 s
apart). Between two N the bench waits until every process is idle (final passes included).

Printed per N (definitions as in ``bench/stream.py``: commit latency = arrival of the ``audio_processed``
announcing a segment − send time of the chunk holding its end; partial latency per word; final lag =
``session_end`` sent → ``session_complete`` received):

- admitted / refused (``server_busy``) sessions;
- commit p50 / p95 and partial p50, pooled over the admitted sessions, and the worst session's commit p95;
- final lag: the worst session's;
- WER (en) / CER (ko) of the committed transcripts, pooled, and the ratio to N=1;
- CPU-s per audio-s of all server and worker processes (``/proc``, children included) from the first
  connect to the last ``session_complete``; "+bg" the background worker's share after that;
- peak RSS (VmHWM) of the server and of each worker process;
- the share of ``audio_processed`` events that report ``degraded``.

Latencies measure the machine: on a shared box they measure the neighbours too. Print-only, no assertion.

    .venv/bin/python -m bench.capacity --sessions 1 2 --seconds 40          # a quick proof that it works
    .venv/bin/python -m bench.capacity                                      # the sweep: 1 2 4 6 8, 120 s each
    .venv/bin/python -m bench.capacity --capacity 4 --sessions 5            # the fifth gets server_busy
    .venv/bin/python -m bench.capacity --pool threads --live-concurrency 8 --stt-batch   # one process, batched

``--pool threads --live-concurrency K`` runs the live pool as one process with K threads and one model copy
(the GPU layout, docs/stt.md "GPU"); ``--stt-batch`` turns the cross-session micro-batcher on there. Other
worker settings (``WHISPER_DEVICE``, ``WHISPER_NUM_WORKERS``, ``STT_BATCH_WINDOW_MS`` …) come from the
environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ErrorCounts, error_counts, fmt, percentile, print_table
from bench.harness import (
    WS_PATH,
    Server,
    _tree,
    _wait_for_port,
    cpu_seconds,
    free_port,
    latencies,
    peak_rss_mb,
    settle,
)
from bench.stt_cost import Stream, build_stream
from clients.python.interview_client import stream_audio

REPO = Path(__file__).resolve().parents[1]


def spawn(args: argparse.Namespace) -> Server:
    workdir = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    port = free_port()
    redis_url = f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "MEDIA_ROOT": str(workdir / "media"),
           "REDIS_URL": redis_url, "DEBUG": "1", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
           "LIVE_SESSION_CAPACITY": str(args.capacity), "PYTHONUNBUFFERED": "1",
           "STT_BATCH": "1" if args.stt_batch else "0"}
    if args.sqlite:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(workdir / "db.sqlite3")
    else:
        import MySQLdb

        conn = MySQLdb.connect(host="127.0.0.1", user="root")
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{args.mysql_db}` CHARACTER SET utf8mb4")
        conn.close()
        env["DATABASE_URL"] = f"mysql://root@127.0.0.1:3306/{args.mysql_db}"
    py = str(REPO / ".venv" / "bin" / "python")
    celery = str(REPO / ".venv" / "bin" / "celery")
    subprocess.run([py, "manage.py", "migrate", "-v0", "--noinput"], cwd=REPO, env=env, check=True)
    roles = {
        "server": [py, "-m", "interview_project.serve"],
        "live": [celery, "-A", "celery_app", "worker", "-Q", "interviews", "-n", "live@%h", "-P", args.pool,
                 f"--concurrency={args.live_concurrency}", "--loglevel=WARNING"],
        "background": ["nice", "-n", "10", celery, "-A", "celery_app", "worker", "-Q",
                       "interviews_final,interviews_slow", "-n", "background@%h", "--concurrency=1",
                       "--loglevel=WARNING"],
    }
    procs = []
    for role, cmd in roles.items():
        log = (workdir / f"{role}.log").open("wb")
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=log))
    server = Server(url=f"ws://127.0.0.1:{port}{WS_PATH}", pids={r: p.pid for r, p in zip(roles, procs)},
                    procs=procs, workdir=workdir)
    try:
        _wait_for_port(port, procs)
    except Exception:
        server.exited()
        server.stop()
        raise
    return server


@dataclass
class SessionRun:
    language: str
    admitted: bool
    commit_s: list[float] = field(default_factory=list)
    word_s: list[float] = field(default_factory=list)
    final_lag_s: float = float("nan")
    errors: ErrorCounts | None = None
    degraded: int = 0
    events: int = 0
    error_codes: list[str] = field(default_factory=list)


async def one_session(url: str, stream: Stream, delay_s: float) -> SessionRun:
    await asyncio.sleep(delay_s)
    try:
        log = await stream_audio(url, stream.audio, sample_rate=16000, channels=1,
                                 params={"language": stream.language}, timeout_s=stream.seconds * 3 + 120)
    except RuntimeError as exc:  # the first frame was not connection_ack
        if "server_busy" in str(exc):
            return SessionRun(language=stream.language, admitted=False, error_codes=["server_busy"])
        raise
    codes = [e.get("code", "") for e in log.of_type("error_message")]
    lat = latencies(log)
    processed = log.of_type("audio_processed")
    return SessionRun(
        language=stream.language, admitted=True, commit_s=lat.commit_s, word_s=lat.word_s,
        final_lag_s=lat.final_lag_s, errors=error_counts(stream.reference, log.transcript(), stream.language),
        degraded=sum(1 for e in processed if e.get("degraded")), events=len(processed), error_codes=codes,
    )


async def run_n(server: Server, streams: list[Stream], n: int, stagger_s: float) -> dict[str, Any]:
    pids = list(server.pids.values())
    chosen = [streams[i % len(streams)] for i in range(n)]
    cpu0 = cpu_seconds(pids)
    role0 = {role: cpu_seconds([pid]) for role, pid in server.pids.items()}
    started = time.monotonic()
    runs = await asyncio.gather(*(one_session(server.url, s, i * stagger_s) for i, s in enumerate(chosen)))
    wall = time.monotonic() - started
    cpu = cpu_seconds(pids) - cpu0
    by_role = {role: cpu_seconds([pid]) - role0[role] for role, pid in server.pids.items()}
    waited, after_cpu = await settle(pids)
    admitted = [r for r in runs if r.admitted]
    audio_s = sum(s.seconds for s, r in zip(chosen, runs) if r.admitted)
    by_lang: dict[str, ErrorCounts] = {}
    for r in admitted:
        if r.errors is not None:
            by_lang[r.language] = by_lang.get(r.language, ErrorCounts(0, 0)) + r.errors
    return {
        "n": n, "admitted": len(admitted), "refused": len(runs) - len(admitted),
        "commit_p50": percentile([c for r in admitted for c in r.commit_s], 50),
        "commit_p95": percentile([c for r in admitted for c in r.commit_s], 95),
        "worst_commit_p95": max((percentile(r.commit_s, 95) for r in admitted if r.commit_s), default=float("nan")),
        "partial_p50": percentile([w for r in admitted for w in r.word_s], 50),
        "final_lag_max": max((r.final_lag_s for r in admitted), default=float("nan")),
        "accuracy": {lang: e.rate for lang, e in by_lang.items()},
        "cpu_per_audio_s": cpu / audio_s if audio_s else float("nan"),
        "cpu_per_audio_s_by_role": {r: round(c / audio_s, 3) for r, c in by_role.items()} if audio_s else {},
        "after_cpu_per_audio_s": after_cpu / audio_s if audio_s else float("nan"),
        "degraded_share": sum(r.degraded for r in admitted) / max(1, sum(r.events for r in admitted)),
        "wall_s": wall, "settle_s": waited,
        "errors": sorted({c for r in runs for c in r.error_codes}),
    }


def peak_rss(server: Server) -> dict[str, float]:
    out: dict[str, float] = {}
    for role, pid in server.pids.items():
        for i, p in enumerate(_tree(pid)):
            out[f"{role}{'' if i == 0 else f'.{i}'}"] = peak_rss_mb(p)
    return out


async def main_async(args: argparse.Namespace) -> None:
    streams = [build_stream(lang, args.seconds) for lang in args.languages]
    server = spawn(args)
    results = []
    try:
        await stream_audio(server.url, streams[0].audio[: 16000 * 5], params={"language": streams[0].language},
                           speed=4.0)  # warm-up, not measured
        await settle(list(server.pids.values()))
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; live worker -P {args.pool}"
              f" x{args.live_concurrency}{' STT_BATCH=1' if args.stt_batch else ''},"
              f" capacity {args.capacity or 'unlimited'}, streams "
              + ", ".join(f"{s.language} {s.seconds:.0f}s" for s in streams), flush=True)
        for n in args.sessions:
            result = await run_n(server, streams, n, args.stagger)
            results.append(result)
            print(f"  N={n} done: {json.dumps(result, default=str)}", flush=True)
        rss = peak_rss(server)
    finally:
        server.stop()
    base = results[0]["accuracy"] if results else {}
    rows = []
    for r in results:
        acc = "  ".join(
            f"{'CER' if lang == 'ko' else 'WER'} {100 * rate:.1f}%"
            + (f" ({rate / base[lang]:.2f}x)" if base.get(lang) else "")
            for lang, rate in sorted(r["accuracy"].items())
        )
        rows.append([
            str(r["n"]), f"{r['admitted']}/{r['refused']}", f"{fmt(r['commit_p50'])} / {fmt(r['commit_p95'])}",
            fmt(r["worst_commit_p95"]), fmt(r["partial_p50"]), fmt(r["final_lag_max"]), acc,
            f"{fmt(r['cpu_per_audio_s'], '.3f')} +{fmt(r['after_cpu_per_audio_s'], '.3f')}",
            f"{100 * r['degraded_share']:.0f}%",
        ])
    print_table(["N", "admitted/refused", "commit p50/p95 s", "worst p95", "partial p50 s", "final lag max s",
                 "accuracy (vs N=1)", "CPU s/s (+bg)", "degraded"], rows)
    print("peak RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
    for r in results:
        print(f"N={r['n']} CPU-s per audio-s by process: {r['cpu_per_audio_s_by_role']}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "peak_rss_mb": rss}, indent=1, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 6, 8])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each session's stream")
    parser.add_argument("--languages", nargs="+", default=["en", "ko"])
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between session starts")
    parser.add_argument("--live-concurrency", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork",
                        help="live worker pool: threads = one process, one model copy (the GPU layout)")
    parser.add_argument("--stt-batch", action="store_true", help="STT_BATCH=1 on the live worker (threads pool)")
    parser.add_argument("--capacity", type=int, default=0, help="LIVE_SESSION_CAPACITY of the server (0: none)")
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--redis-port", type=int, default=6379, help="a private redis-server elsewhere (gpu_check.sh)")
    parser.add_argument("--mysql-db", default="it_capacity_bench")
    parser.add_argument("--sqlite", action="store_true", help="a temp SQLite database instead of MariaDB")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
