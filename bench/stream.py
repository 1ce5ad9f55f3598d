"""Streaming benchmark: real files through a running server, measured from the client's side.

Run:  .venv/bin/python bench/stream.py --all                      (spawns an embedded server itself)
      .venv/bin/python bench/stream.py --url ws://127.0.0.1:8000/ws/interviews/ --pid <server> [--pid <worker>]
      .venv/bin/python bench/stream.py --spawn redis --sessions 4 --sweep --files mock_interview_en
Options: --files SUBSTR... | --all, --speed X (the server refuses more than AUDIO_MAX_SPEED=4), --sessions N
[--sweep], --no-deflate-check, --no-offline, --json PATH. Data from $SHARED_DATA_DIR (default ../shared/data).

Each file is sent as the browser would send it (its own sample rate and channel count, 250 ms PCM16 chunks,
paced in real time or --speed times faster) by ``clients/python/interview_client.py``, through a byte-counting TCP
relay in this process so the bytes on the wire are known. Per file:

- WER/CER of the committed transcript (``session_complete``'s segments) and of the same model run offline on
  the whole file (``transcribe_offline`` with the server's settings: WHISPER_* and PREPROCESS_STEPS env vars,
  highpass over the whole signal when enabled), scored as in ``bench/common.py``; Korean twice: as is, and
  "num" = the hypothesis's digits read as Sino-Korean numbers.
- commit latency p50/p95: for each segment announced in ``audio_processed``, arrival time minus the time the
  chunk holding the segment's end (the first chunk whose last sample is at or after ``segment.end``; never a
  later chunk than the event's own seq) was sent. Segments that only come with the final flush are counted
  ("tail") but have no commit latency.
- partial latency p50/p95: for each word of those segments, arrival time of the first ``audio_processed``
  (with seq at or after the word's chunk, up to the segment's commit) whose partial contains the word, minus
  the time the chunk holding the word's end was sent. Matching is on normalised tokens (lower case,
  punctuation removed, split on spaces); the k-th occurrence of a token in a segment needs k occurrences in
  the partial. A word never shown in a partial counts at its commit; "in partial" is the share first seen in
  a partial.
- lag: the server's own ``lag_ms`` (chunk received → its event published) p95, and final lag (session_end
  sent → session_complete received).
- cost: CPU seconds of the measured processes (server, worker and their children; /proc utime+stime) per
  audio second, and their peak RSS (VmHWM, the process's lifetime high-water mark, printed once at the end).
- after: how long the measured processes stay busy after ``session_complete`` (the final pass); the bench
  waits for them to go idle (under 0.15 core for 2 s) before the next stream, so no file pays for the last.
- "words %": the same error rate with the text rebuilt from the segments' words joined by spaces, so a
  text-assembly bug on the server shows as a gap between the two columns.
- bytes received on the wire, compared with and without permessage-deflate on one file (the first).

``--sessions N`` streams N copies of one file (the first selected) at once and reports pooled commit p95,
lag_ms p95 over the first and last third of the session (a bounded lag does not grow), final lag, and whether
commit p95 stays ≤ 3 s; ``--sweep`` tries 1..N and reports the largest N that does.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "clients" / "python"))

from bench.common import (  # noqa: E402
    DEFAULT_SETS,
    ErrorCounts,
    Item,
    error_counts,
    fmt,
    metric_name,
    normalize_en,
    percentile,
    print_table,
    select_items,
    shared_data_dir,
)
from interview_client import StreamLog, stream_audio  # noqa: E402

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
            [str(REPO / ".venv" / "bin" / "celery"), "-A", "celery_app", "worker", "-Q", "interviews",
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
    from analysis.audio.preprocess import load_audio_file  # scipy: imported only when streaming

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
    from analysis.audio.preprocess import file_to_16k_mono, highpass
    from analysis.stt.engine import transcribe_offline
    from bench.preprocess import server_stt_config

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


# --- main -------------------------------------------------------------------------------------------------------------
def print_files(results: list[FileResult]) -> None:
    rows = []
    for r in results:
        rate = 100 * r.errors / r.ref_units
        num = f" ({100 * r.errors_num / r.ref_units:.1f})" if r.language == "ko" else ""
        off = "-"
        if r.offline_errors is not None:
            off = f"{100 * r.offline_errors / r.ref_units:.1f}"
            if r.language == "ko":
                off += f" ({100 * (r.offline_errors_num or 0) / r.ref_units:.1f})"
        words = f"{100 * r.errors_words / r.ref_units:.1f}"
        rows.append([r.file, f"{r.metric} {rate:.1f}{num}", words, off, fmt(r.commit_p50_s), fmt(r.commit_p95_s),
                     fmt(r.partial_p50_s), fmt(r.partial_p95_s), f"{r.words_in_partial}/{r.words}",
                     f"{r.segments_live}+{r.segments_tail}", fmt(r.lag_ms_p95, ".0f"), fmt(r.final_lag_s),
                     fmt(r.cpu_s_per_audio_s, ".3f"), fmt(r.after_s, ".1f"), str(r.bytes_down)])
    print_table(["file", "stream %", "words %", "offline %", "commit p50", "p95", "partial p50", "p95", "in partial",
                 "segs live+tail", "lag_ms p95", "final s", "CPU s/s", "after s", "bytes down"], rows)
    print("  % = WER (en) / CER (ko); (num) = Korean CER after the digit→Sino-Korean normalisation of the hypothesis;"
          " words % = the committed segments' words joined with spaces (num-normalised for Korean)")


def pooled(results: list[FileResult]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for r in results:
        group = f"{r.file.split('/')[0]}/{r.language}" if r.file.startswith("interviews") else r.file.split("/")[0]
        g = out.setdefault(group, {"errors": 0, "errors_num": 0, "ref_units": 0, "offline_errors": 0,
                                   "offline_errors_num": 0})
        g["errors"] += r.errors
        g["errors_num"] += r.errors_num
        g["ref_units"] += r.ref_units
        g["offline_errors"] += r.offline_errors or 0
        g["offline_errors_num"] += r.offline_errors_num or 0
    return out


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    if not args.all and not args.files:
        sys.exit("choose files with --files SUBSTR ... or --all")
    items = select_items(shared_data_dir(), DEFAULT_SETS, [] if args.all else args.files)
    if not items:
        sys.exit(f"no files matched under {shared_data_dir()}")
    server = None
    if args.url is None:
        server = spawn_server(args.spawn, args.redis_url)
        url, pids = server.url, server.pids
        print(f"spawned {args.spawn} server at {url} (pids {pids})", file=sys.stderr)
    else:
        url, pids = args.url, {f"pid{i}": p for i, p in enumerate(args.pid)}
    pid_list = list(pids.values())
    report: dict[str, Any] = {"url": url, "speed": args.speed, "measured_pids": pids,
                              "loadavg_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    try:
        # Warm-up, not measured: the first session pays for model loading and kernel set-up.
        await stream_one(url, items[0], speed=max(args.speed, 2.0), compression="deflate")
        await settle(pid_list)
        results: list[FileResult] = []
        if not args.sessions_only:
            for item in items:
                before = cpu_seconds(pid_list)
                log, wire = await stream_one(url, item, speed=args.speed, compression="deflate")
                cpu = cpu_seconds(pid_list) - before
                result = file_result(item, log, wire, cpu, await settle(pid_list))
                if not pid_list:
                    result.cpu_s_per_audio_s = result.after_cpu_s_per_audio_s = float("nan")
                results.append(result)
                print(f"  streamed {item.name}: {result.metric} {result.errors}/{result.ref_units}, "
                      f"commit p95 {fmt(result.commit_p95_s)} s", file=sys.stderr)
            if args.deflate_check:
                log, wire = await stream_one(url, items[0], speed=args.speed, compression=None)
                await settle(pid_list)
                report["deflate"] = {"file": items[0].name, "bytes_down_deflate": results[0].bytes_down,
                                     "bytes_down_plain": wire.down, "app_bytes_down": log.bytes_received,
                                     "bytes_up_deflate": results[0].bytes_up, "bytes_up_plain": wire.up}
        if args.sessions:
            chosen = [i for i in items if args.sessions_file in i.name] if args.sessions_file else items
            if not chosen:
                sys.exit(f"--sessions-file {args.sessions_file!r} matches none of the selected files")
            levels = range(1, args.sessions + 1) if args.sweep else [args.sessions]
            conc: list[ConcurrencyResult] = []
            for n in levels:
                c = await run_sessions(url, chosen[0], n, args.speed, pid_list)
                await settle(pid_list)
                conc.append(c)
                print(f"  {n} sessions: commit p95 {fmt(c.commit_p95_s)} s", file=sys.stderr)
                if args.sweep and not c.realtime:
                    break
            report["sessions"] = {"file": chosen[0].name, "runs": [asdict(c) for c in conc],
                                  "max_realtime_sessions": max((c.sessions for c in conc if c.realtime), default=0)}
        report["loadavg_end"] = os.getloadavg()[0]
        report["peak_rss_mb"] = {role: peak_rss_mb(pid) for role, pid in pids.items()}
        if server is not None:
            report["exited"] = server.exited()
    finally:
        if server is not None:
            server.stop()
    if results and args.offline:
        for r, item in zip(results, items):
            text = offline_transcript(item)
            plain, num = score(item, text)
            r.offline_errors, r.offline_errors_num, r.offline_transcript = plain.errors, num.errors, text
    report["files"] = [asdict(r) for r in results]
    report["pooled"] = pooled(results)
    return report


def print_report(report: dict[str, Any]) -> None:
    files = [FileResult(**f) for f in report["files"]]
    if files:
        print(f"\nStreaming at {report['speed']:g}x through {report['url']} (load average "
              f"{report['loadavg_start']:.1f} → {report['loadavg_end']:.1f} on {report['cpus']} CPUs)")
        print_files(files)
        print("\nPooled error rates (errors / reference units):")
        rows = []
        for group, g in report["pooled"].items():
            ko = group.endswith("ko")
            cell = lambda e, n: f"{100 * g[e] / g['ref_units']:.1f}" + (  # noqa: E731
                f" (num {100 * g[n] / g['ref_units']:.1f})" if ko else "")
            rows.append([group, "CER" if ko else "WER", cell("errors", "errors_num"),
                         cell("offline_errors", "offline_errors_num"), str(int(g["ref_units"]))])
        print_table(["group", "metric", "streamed %", "offline %", "ref units"], rows)
        commits = [f.commit_p95_s for f in files]
        audio = sum(f.audio_s for f in files)
        live_cpu = sum(f.cpu_s_per_audio_s * f.audio_s for f in files) / audio
        after_cpu = sum(f.after_cpu_s_per_audio_s * f.audio_s for f in files) / audio
        print(f"\nAll files: commit p95 (max over files) {fmt(max(commits))} s; final lag max "
              f"{fmt(max(f.final_lag_s for f in files))} s; CPU s per audio s "
              f"{fmt(live_cpu, '.3f')} live + {fmt(after_cpu, '.3f')}"
              " after session_complete (final pass)")
        errors = sorted({e for f in files for e in f.errors_seen})
        if errors:
            print("error_message events seen: " + "; ".join(errors[:5]))
    if "deflate" in report:
        d = report["deflate"]
        print(f"\nBytes received for {d['file']}: {d['bytes_down_deflate']} with permessage-deflate, "
              f"{d['bytes_down_plain']} without ({d['app_bytes_down']} bytes of JSON payload); "
              f"sent {d['bytes_up_deflate']} / {d['bytes_up_plain']}")
    if "sessions" in report:
        s = report["sessions"]
        print(f"\nConcurrent sessions of {s['file']} on one worker:")
        print_table(["sessions", "commit p95 s", "lag_ms p95 1st third", "last third", "final lag max s",
                     "CPU s/audio s", "errors", "real time"],
                    [[str(c["sessions"]), fmt(c["commit_p95_s"]), fmt(c["lag_ms_p95_first_third"], ".0f"),
                      fmt(c["lag_ms_p95_last_third"], ".0f"), fmt(c["final_lag_max_s"]),
                      fmt(c["cpu_s_per_audio_s"], ".3f"), str(c["errors_seen"]), "yes" if c["realtime"] else "no"]
                     for c in s["runs"]])
        print(f"largest N with commit p95 <= {REALTIME_P95_S:g} s: {s['max_realtime_sessions']}")
    rss = ", ".join(f"{role} {fmt(mb, '.0f')} MiB" for role, mb in report.get("peak_rss_mb", {}).items())
    if rss:
        print(f"\nPeak RSS (VmHWM): {rss}")
    if report.get("exited"):
        print(f"spawned processes that exited before the end (return codes): {report['exited']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help=f"a running server, e.g. ws://127.0.0.1:8000{WS_PATH} (default: --spawn)")
    parser.add_argument("--spawn", choices=["embedded", "redis"], default="embedded",
                        help="without --url: start this kind of server on a free port with a temp DB, stop it after")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="for --spawn redis")
    parser.add_argument("--pid", type=int, action="append", default=[],
                        help="with --url: server/worker pids to measure for CPU and RSS (repeatable)")
    parser.add_argument("--files", nargs="+", default=[], help="substrings of file names (en/, ko/, interviews/)")
    parser.add_argument("--all", action="store_true", help="every file of en/, ko/ and interviews/")
    parser.add_argument("--speed", type=float, default=1.0, help="pace at this multiple of real time (≤ 4)")
    parser.add_argument("--sessions", type=int, default=0, help="also stream N concurrent copies of the first file")
    parser.add_argument("--sessions-file", help="substring of the file for --sessions (default: the first selected)")
    parser.add_argument("--sweep", action="store_true", help="with --sessions N: try 1..N, stop at the first miss")
    parser.add_argument("--sessions-only", action="store_true", help="skip the per-file runs")
    parser.add_argument("--no-deflate-check", dest="deflate_check", action="store_false")
    parser.add_argument("--no-offline", dest="offline", action="store_false")
    parser.add_argument("--json", type=Path, help="also write the full report (transcripts included) here")
    args = parser.parse_args()
    report = asyncio.run(amain(args))
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=float))


if __name__ == "__main__":
    main()
