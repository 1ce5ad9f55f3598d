"""The streaming benchmark's harness: spawn or attach to a server, stream files through a byte-counting relay,
measure latencies, CPU and memory, and score transcripts. ``bench/stream.py`` is its command line.

Run from the repository root as a module (``python -m bench.stream``): no ``sys.path`` edits.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from analysis.audio.preprocess import file_to_16k_mono, highpass, load_audio_file
from analysis.stt.engine import transcribe_offline
from bench.common import ErrorCounts, Item, error_counts, metric_name, normalize_en, percentile
from bench.preprocess import server_stt_config
from clients.python.interview_client import StreamLog, stream_audio

REPO = Path(__file__).resolve().parents[1]

REALTIME_P95_S = 3.0
WS_PATH = "/ws/interviews/"


# --- processes: spawn, measure ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime (all threads) of ``pids`` and their live descendants, from /proc (psutil isn't installed)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for root in pids:
        for pid in _tree(root):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
    return total


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's resident-set high-water mark since it started (MiB)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def settle(
    pids: list[int], *, idle_cores: float = 0.15, quiet_s: float = 2.0, timeout_s: float = 900.0
) -> tuple[float, float]:
    """Wait until the measured processes are idle (the final pass of the last session is done).

    A solo worker runs a session's final pass (whole-recording re-transcription) after ``session_complete``;
    starting the next measurement before it ends would bill that work to the next file. Returns (seconds
    waited, CPU seconds spent meanwhile). Idle = under ``idle_cores`` for ``quiet_s`` in a row.
    """
    if not pids:
        return 0.0, 0.0
    started, cpu0 = time.monotonic(), cpu_seconds(pids)
    quiet_since = None
    last_t, last_cpu = started, cpu0
    while time.monotonic() - started < timeout_s:
        await asyncio.sleep(0.5)
        now, cpu = time.monotonic(), cpu_seconds(pids)
        busy = (cpu - last_cpu) / (now - last_t) >= idle_cores
        last_t, last_cpu = now, cpu
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_s:
            return (quiet_since - started), cpu_seconds(pids) - cpu0
    return time.monotonic() - started, cpu_seconds(pids) - cpu0


@dataclass
class Server:
    url: str
    pids: dict[str, int]  # role -> pid, measured for CPU and RSS
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: Path | None = None

    def exited(self) -> dict[str, int]:
        """Spawned processes that have already exited (role → return code), with their log tails printed."""
        out: dict[str, int] = {}
        for (role, _), proc in zip(self.pids.items(), self.procs):
            if proc.poll() is not None:
                out[role] = proc.returncode
                log = (self.workdir / f"{role}.log") if self.workdir else None
                if log is not None and log.exists():
                    print(f"{role} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}",
                          file=sys.stderr)
        return out

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_for_port(port: int, procs: list[subprocess.Popen[bytes]], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"spawned process {proc.args} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s:.0f} s")


def spawn_server(mode: str, redis_url: str) -> Server:
    """An embedded server (worker thread in-process) or daphne + a solo Celery worker on Redis, temp DB."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "SQLITE_PATH": str(workdir / "db.sqlite3"),
           "MEDIA_ROOT": str(workdir / "media"), "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    # The bench measures streaming, not logins: anonymous sockets, as under `make run` (DEBUG defaults to off).
    env.setdefault("DEBUG", "1")
    if mode == "redis":
        env["REDIS_URL"] = redis_url
    py = str(REPO / ".venv" / "bin" / "python")
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    logs = (workdir / "server.log").open("wb")
    procs = [subprocess.Popen([py, "-m", "interview_project.serve"], cwd=REPO, env=env, stdout=logs, stderr=logs)]
    pids = {"server": procs[0].pid}
    if mode == "redis":
        wlog = (workdir / "worker.log").open("wb")
        procs.append(subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "celery"), "-A", "celery_app", "worker", "-Q", "interviews,interviews_final",
             "--concurrency=1", "-P", "solo", "--loglevel=WARNING"], cwd=REPO, env=env, stdout=wlog, stderr=wlog))
        pids["worker"] = procs[1].pid
    server = Server(url=f"ws://127.0.0.1:{port}{WS_PATH}", pids=pids, procs=procs, workdir=workdir)
    try:
        _wait_for_port(port, procs)
    except Exception:
        print((workdir / "server.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        server.stop()
        raise
    return server


# --- a byte-counting relay -----------------------------------------------------------------------------------------
@dataclass
class Wire:
    down: int = 0  # server → client bytes on the TCP stream (after permessage-deflate, framing included)
    up: int = 0


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: Wire, attr: str) -> None:
    try:
        while data := await reader.read(65536):
            setattr(wire, attr, getattr(wire, attr) + len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def relay(url: str) -> tuple[asyncio.base_events.Server, str, Wire]:
    """A local TCP relay to ``url``'s host:port counting bytes both ways; returns (server, relayed url, counts)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    wire = Wire()

    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(_pump(c_reader, s_writer, wire, "up"), _pump(s_reader, c_writer, wire, "down"))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    local_port = server.sockets[0].getsockname()[1]
    return server, urlunsplit((parts.scheme, f"127.0.0.1:{local_port}", parts.path, parts.query, "")), wire


# --- measuring one stream ------------------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    return normalize_en(text).split()


def _seq_at(log: StreamLog, t_s: float) -> int:
    """The first chunk whose last sample is at or after session time ``t_s`` (the last chunk if none)."""
    seqs = sorted(log.chunk_end_s)
    ends = [log.chunk_end_s[s] for s in seqs]
    i = bisect.bisect_left(ends, t_s - 1e-6)
    return seqs[min(i, len(seqs) - 1)]


@dataclass
class Latencies:
    commit_s: list[float]
    word_s: list[float]
    words_in_partial: int
    tail_segments: int
    lag_ms: list[tuple[int, int]]  # (seq, server lag_ms)
    final_lag_s: float


def latencies(log: StreamLog) -> Latencies:
    """Commit, partial (per word) and final latencies from one stream's log; see the module docstring."""
    processed = [(t, e) for t, e in log.events if e.get("type") == "audio_processed"]
    commit_s: list[float] = []
    word_s: list[float] = []
    in_partial = 0
    live_ids: set[int] = set()
    for index, (t_commit, event) in enumerate(processed):
        for seg in event["segments"]:
            live_ids.add(seg["id"])
            seg_seq = min(_seq_at(log, seg["end"]), event["seq"])
            commit_s.append(t_commit - log.sent_at[seg_seq])
            seen: Counter[str] = Counter()
            for word in seg["words"]:
                for token in _tokens(word["w"]):
                    seen[token] += 1
                    w_seq = min(_seq_at(log, word["end"]), event["seq"])
                    shown = t_commit
                    for t_e, e in processed[:index]:
                        if e["seq"] >= w_seq and Counter(_tokens(e["partial"]))[token] >= seen[token]:
                            shown = t_e
                            in_partial += 1
                            break
                    word_s.append(shown - log.sent_at[w_seq])
    complete = log.complete
    tail = [s for s in (complete or {}).get("segments", []) if s["id"] not in live_ids]
    done_at = next((t for t, e in log.events if e.get("type") == "session_complete"), None)
    final_lag = done_at - log.end_sent_at if done_at is not None and log.end_sent_at is not None else float("nan")
    return Latencies(commit_s, word_s, in_partial, len(tail), [(e["seq"], e["lag_ms"]) for _, e in processed],
                     final_lag)


@dataclass
class FileResult:
    file: str
    language: str
    audio_s: float
    metric: str
    errors: int
    ref_units: int
    errors_num: int
    errors_words: int  # the same segments' words joined with spaces (isolates text-assembly bugs from STT)
    offline_errors: int | None
    offline_errors_num: int | None
    commit_p50_s: float
    commit_p95_s: float
    partial_p50_s: float
    partial_p95_s: float
    words: int
    words_in_partial: int
    segments_live: int
    segments_tail: int
    lag_ms_p95: float
    final_lag_s: float
    cpu_s_per_audio_s: float
    after_s: float  # worker busy after session_complete (final pass), seconds
    after_cpu_s_per_audio_s: float
    bytes_down: int
    bytes_up: int
    app_bytes_down: int
    stage_ms_mean: dict[str, float]  # mean of each timings_ms key over the events that report it
    errors_seen: list[str]
    transcript: str
    offline_transcript: str | None


def load_native(item: Item) -> tuple[np.ndarray, int]:
    """The file as stored (own rate, own channels): resampling and mixing are the server's job."""
    data, sr = load_audio_file(str(item.path))
    return (data[:, 0] if data.shape[1] == 1 else data), sr


async def stream_one(url: str, item: Item, *, speed: float, compression: str | None) -> tuple[StreamLog, Wire]:
    audio, sr = load_native(item)
    server, relayed, wire = await relay(url)
    try:
        log = await stream_audio(relayed, audio, sample_rate=sr, channels=1 if audio.ndim == 1 else audio.shape[1],
                                 params={"language": item.language}, speed=speed, compression=compression)
    finally:
        server.close()
    return log, wire


def score(item: Item, hypothesis: str) -> tuple[ErrorCounts, ErrorCounts]:
    assert item.text is not None
    return (error_counts(item.text, hypothesis, item.language),
            error_counts(item.text, hypothesis, item.language, ko_numbers=True))


def stage_means(log: StreamLog) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for event in log.of_type("audio_processed"):
        for key, ms in event.get("timings_ms", {}).items():
            sums.setdefault(key, []).append(float(ms))
    return {key: round(sum(v) / len(v), 1) for key, v in sums.items()}


def file_result(item: Item, log: StreamLog, wire: Wire, cpu_s: float, after: tuple[float, float]) -> FileResult:
    lat = latencies(log)
    plain, num = score(item, log.transcript())
    segments = (log.complete or {}).get("segments") or log.segments
    from_words = " ".join(w["w"] for seg in sorted(segments, key=lambda s: s["id"]) for w in seg["words"])
    words_num = score(item, from_words)[1]
    lags = [ms for _, ms in lat.lag_ms]
    return FileResult(
        file=item.name, language=item.language, audio_s=item.duration_s, metric=metric_name(item.language),
        errors=plain.errors, ref_units=plain.ref_units, errors_num=num.errors,
        errors_words=words_num.errors, offline_errors=None, offline_errors_num=None,
        commit_p50_s=percentile(lat.commit_s, 50), commit_p95_s=percentile(lat.commit_s, 95),
        partial_p50_s=percentile(lat.word_s, 50), partial_p95_s=percentile(lat.word_s, 95),
        words=len(lat.word_s), words_in_partial=lat.words_in_partial,
        segments_live=len(lat.commit_s), segments_tail=lat.tail_segments,
        lag_ms_p95=percentile(lags, 95), final_lag_s=lat.final_lag_s,
        cpu_s_per_audio_s=cpu_s / item.duration_s, after_s=after[0], after_cpu_s_per_audio_s=after[1] / item.duration_s,
        bytes_down=wire.down, bytes_up=wire.up,
        app_bytes_down=log.bytes_received,
        stage_ms_mean=stage_means(log),
        errors_seen=[f"{e['code']}: {e['message']}" for e in log.of_type("error_message")],
        transcript=log.transcript(), offline_transcript=None,
    )


# --- offline reference ----------------------------------------------------------------------------------------------
def offline_transcript(item: Item) -> str:
    """The same model over the whole file, with the server's settings and preprocessing steps."""
    steps = [s.strip() for s in os.environ.get("PREPROCESS_STEPS", "highpass").split(",") if s.strip()]
    audio = file_to_16k_mono(str(item.path))
    if "highpass" in steps:
        audio = highpass(audio)
    config = server_stt_config(tuple(s for s in steps if s in ("loudness", "denoise")))
    return " ".join(s.text for s in transcribe_offline(config, audio, language=item.language))


# --- concurrent sessions --------------------------------------------------------------------------------------------
@dataclass
class ConcurrencyResult:
    sessions: int
    commit_p95_s: float
    lag_ms_p95_first_third: float
    lag_ms_p95_last_third: float
    final_lag_max_s: float
    cpu_s_per_audio_s: float
    errors_seen: int
    realtime: bool


async def run_sessions(url: str, item: Item, n: int, speed: float, pids: list[int]) -> ConcurrencyResult:
    before = cpu_seconds(pids)
    outcomes = await asyncio.gather(
        *(stream_one(url, item, speed=speed, compression="deflate") for _ in range(n)), return_exceptions=True
    )
    cpu = cpu_seconds(pids) - before
    runs = [o for o in outcomes if not isinstance(o, BaseException)]
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    for exc in failed:
        print(f"  a session of {n} failed: {exc!r}", file=sys.stderr)
    commits: list[float] = []
    first: list[float] = []
    last: list[float] = []
    finals: list[float] = []
    n_errors = len(failed)
    for log, _ in runs:
        lat = latencies(log)
        commits += lat.commit_s
        last_seq = max(log.chunk_end_s) if log.chunk_end_s else 0
        first += [ms for seq, ms in lat.lag_ms if seq < last_seq / 3]
        last += [ms for seq, ms in lat.lag_ms if seq >= 2 * last_seq / 3]
        finals.append(lat.final_lag_s)
        n_errors += len(log.of_type("error_message")) + (log.complete is None)
    p95 = percentile(commits, 95)
    return ConcurrencyResult(
        sessions=n, commit_p95_s=p95, lag_ms_p95_first_third=percentile(first, 95),
        lag_ms_p95_last_third=percentile(last, 95), final_lag_max_s=max(finals, default=float("nan")),
        cpu_s_per_audio_s=cpu / (n * item.duration_s) if pids else float("nan"), errors_seen=n_errors,
        realtime=bool(p95 <= REALTIME_P95_S) and n_errors == 0,
    )
