"""Several nodes: sessions spread over two daphne processes behind HAProxy and N Celery workers.

Run:  .venv/bin/python -m bench.nodes                          (4 sessions, 2 workers, live only)
      .venv/bin/python -m bench.nodes --sessions 6 --workers 3 --concurrency 1 [--final-pass] [--cluster]
Options: --file SUBSTR (a recording of shared/data/interviews, default the English mock interview),
--stagger S (seconds between session starts), --json PATH. Data from $SHARED_DATA_DIR.

It starts everything itself in a temporary directory (bench/topology.py): its own redis-server (or
a three-master Redis Cluster for live state and the channel layer with --cluster, the broker on a plain
Redis), two daphne nodes, HAProxy (round robin, readiness checks), N workers with the given concurrency, and
a MariaDB database `<IT_DB_NAME>_bench` (SQLite in the temporary directory when MariaDB is absent). Sessions
stream the same recording in real time through the balancer, so they alternate between the nodes.

Printed per session: the daphne node that held it, commit latency p50/p95 (see bench/stream.py), the
server's lag_ms p95 over the first and last third (a bounded lag does not grow), and the final lag; then the
pooled figures, how many tasks each worker ran, and CPU seconds per audio second of the daphne nodes and of
the workers (/proc). Never assertions: figures for docs/operations.md. Wall-clock figures depend on the
machine's load; CPU seconds per audio second are the portable ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from analysis.audio.preprocess import load_audio_file
from bench.common import percentile, shared_data_dir
from bench.harness import cpu_seconds, latencies
from bench.topology import (
    Deployment,
    RedisServer,
    base_env,
    create_database,
    drop_database,
    mariadb_available,
    start_cluster,
    wait_for,
)
from clients.python.interview_client import StreamLog, stream_audio


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--file", default="mock_interview_en")
    parser.add_argument("--stagger", type=float, default=0.5)
    parser.add_argument("--final-pass", action="store_true", help="run final passes too (a worker on interviews_final)")
    parser.add_argument("--cluster", action="store_true", help="live state and channel layer on a Redis Cluster")
    parser.add_argument("--json", type=Path)
    return parser.parse_args()


def third_p95(lags: list[tuple[int, int]], which: int) -> float:
    if not lags:
        return float("nan")
    n = len(lags)
    part = lags[: max(1, n // 3)] if which == 0 else lags[-max(1, n // 3):]
    return percentile([lag for _, lag in part], 95)


def main() -> None:
    args = parse_args()
    data = shared_data_dir() / "interviews"
    manifest = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines() if line.strip()]
    entry = next(e for e in manifest if args.file in e["path"])
    audio, sr = load_audio_file(str(data / entry["path"]))
    mono = audio[:, 0] if audio.ndim == 2 else audio

    workdir = Path(tempfile.mkdtemp(prefix="bench-nodes-"))
    servers: list[RedisServer] = []
    broker = RedisServer(workdir).start()
    servers.append(broker)
    extra: dict[str, str] = {"DEBUG": "1", "FINAL_PASS": "1" if args.final_pass else "0",
                             "READY_QUEUES": "interviews,interviews_final" if args.final_pass else "interviews",
                             "ACCESS_LOG_LEVEL": "WARNING"}
    if args.cluster:
        nodes = start_cluster(workdir)
        servers += nodes
        extra["REDIS_CLUSTER_URLS"] = ",".join(n.url for n in nodes)
    db = f"{os.environ.get('IT_DB_NAME', 'interview_it')}_bench"
    if mariadb_available():
        database_url = create_database(db)
    else:
        database_url = ""
        extra["SQLITE_PATH"] = str(workdir / "db.sqlite3")
    env = base_env(workdir, redis_url=f"{broker.url}/0", database_url=database_url, **extra)
    deployment = Deployment(workdir, env)
    queues = "interviews,interviews_final" if args.final_pass else "interviews"
    try:
        deployment.migrate()
        for name in ("daphne-a", "daphne-b"):
            deployment.add_daphne(name)
        for i in range(args.workers):
            deployment.add_worker(f"w{i + 1}", queues=queues, concurrency=args.concurrency)
        deployment.wait_ready("daphne-a", timeout_s=600)
        wait_for(lambda: len(deployment.readyz("daphne-a")[1].get("checks", {}).get("models", {})
                             .get("workers_with_models", [])) == args.workers, timeout_s=600, what="every worker's models")
        deployment.add_balancer()
        print(f"# {args.sessions} sessions of {entry['path']} ({entry['duration_s']:.1f} s) over 2 daphne nodes, "
              f"{args.workers} workers × concurrency {args.concurrency}"
              f"{', Redis Cluster' if args.cluster else ''}{', final pass on' if args.final_pass else ''}")
        pids = {name: proc.process.pid for name, (proc, _) in deployment.daphnes.items()}
        pids.update({name: proc.process.pid for name, (proc, _) in deployment.workers.items()})
        cpu_before = {name: cpu_seconds([pid]) for name, pid in pids.items()}

        async def all_sessions() -> list[StreamLog | BaseException]:
            async def one(i: int) -> StreamLog:
                await asyncio.sleep(i * args.stagger)
                return await stream_audio(deployment.ws_url(), mono, sample_rate=sr, params={"language": entry["language"]},
                                          timeout_s=900)

            return await asyncio.gather(*(one(i) for i in range(args.sessions)), return_exceptions=True)

        started = time.monotonic()
        logs = asyncio.run(all_sessions())
        wall = time.monotonic() - started
        cpu = {name: cpu_seconds([pid]) - cpu_before[name] for name, pid in pids.items()}
        report = summarise(deployment, broker, logs, entry, args, cpu, wall)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        deployment.stop()
        for server in servers:
            server.stop()
        if database_url:
            drop_database(db)


def node_of(deployment: Deployment, session_id: str) -> str:
    for name, (proc, _) in deployment.daphnes.items():
        if any(line.get("session_id") == session_id and line.get("message") == "websocket opened"
               for line in proc.json_lines()):
            return name
    return "?"


def summarise(deployment: Deployment, broker: RedisServer, logs: list[Any], entry: dict[str, Any],
              args: argparse.Namespace, cpu: dict[str, float], wall: float) -> dict[str, Any]:
    rows = []
    commits: list[float] = []
    lags: list[float] = []
    for i, log in enumerate(logs):
        if isinstance(log, BaseException):
            print(f"session {i}: failed: {type(log).__name__}: {log}")
            continue
        lat = latencies(log)
        commits += lat.commit_s
        lags += [lag for _, lag in lat.lag_ms]
        row = {"session": i, "node": node_of(deployment, log.ack["session_id"]),
               "commit_p50_s": percentile(lat.commit_s, 50), "commit_p95_s": percentile(lat.commit_s, 95),
               "lag_p95_first_ms": third_p95(lat.lag_ms, 0), "lag_p95_last_ms": third_p95(lat.lag_ms, 2),
               "final_lag_s": lat.final_lag_s, "complete": log.complete is not None,
               "errors": [e["code"] for e in log.of_type("error_message")]}
        rows.append(row)
    print(f"{'session':>7} {'node':>9} {'commit p50':>10} {'p95':>6} {'lag p95 first/last third (ms)':>30} "
          f"{'final lag':>9}  complete")
    for r in rows:
        print(f"{r['session']:>7} {r['node']:>9} {r['commit_p50_s']:>9.2f}s {r['commit_p95_s']:>5.2f}s "
              f"{r['lag_p95_first_ms']:>14.0f} / {r['lag_p95_last_ms']:<13.0f} {r['final_lag_s']:>8.1f}s  "
              f"{r['complete']}{'  errors: ' + ','.join(r['errors']) if r['errors'] else ''}")
    audio_s = entry["duration_s"] * len(rows)
    tasks: dict[str, int] = {}
    if not args.cluster:
        client = redis.Redis.from_url(f"{broker.url}/0")
        for key in client.scan_iter(match="iv:*:mon"):
            for field, value in client.hgetall(key).items():
                if field.startswith(b"worker:"):
                    name = field.decode().split(":", 1)[1].split("@")[0]
                    tasks[name] = tasks.get(name, 0) + int(value)
    daphne_cpu = sum(v for k, v in cpu.items() if k.startswith("daphne"))
    worker_cpu = sum(v for k, v in cpu.items() if not k.startswith("daphne"))
    summary = {
        "sessions": len(rows), "workers": args.workers, "concurrency": args.concurrency, "cluster": args.cluster,
        "commit_p50_s": percentile(commits, 50), "commit_p95_s": percentile(commits, 95),
        "lag_p50_ms": percentile(lags, 50), "lag_p95_ms": percentile(lags, 95),
        "sessions_per_node": {n: sum(1 for r in rows if r["node"] == n) for n in deployment.daphnes},
        "tasks_per_worker": tasks, "wall_s": wall,
        "daphne_cpu_s_per_audio_s": daphne_cpu / audio_s if audio_s else float("nan"),
        "worker_cpu_s_per_audio_s": worker_cpu / audio_s if audio_s else float("nan"),
        "cpu_s": cpu,
    }
    print(f"pooled: commit p50 {summary['commit_p50_s']:.2f} s, p95 {summary['commit_p95_s']:.2f} s; "
          f"lag_ms p50 {summary['lag_p50_ms']:.0f}, p95 {summary['lag_p95_ms']:.0f} (measured under shared load)")
    print(f"sessions per node: {summary['sessions_per_node']}; tasks per worker: {tasks or 'n/a (cluster)'}")
    print(f"CPU s per audio s: daphne nodes {summary['daphne_cpu_s_per_audio_s']:.3f}, "
          f"workers {summary['worker_cpu_s_per_audio_s']:.3f} (cores one live session keeps busy)")
    return {"rows": rows, "summary": summary}


if __name__ == "__main__":
    main()
