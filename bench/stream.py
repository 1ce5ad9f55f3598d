"""Streaming benchmark: real files through a running server, measured from the client's side.

Run:  .venv/bin/python -m bench.stream --all                      (spawns an embedded server itself)
      .venv/bin/python -m bench.stream --url ws://127.0.0.1:8000/ws/interviews/ --pid <server> [--pid <worker>]
      .venv/bin/python -m bench.stream --spawn redis --sessions 4 --sweep --files mock_interview_en
Options: --files SUBSTR... | --all, --speed X (the server refuses more than AUDIO_MAX_SPEED=4), --sessions N
[--sweep], --no-deflate-check, --no-offline, --json PATH. Data from $SHARED_DATA_DIR (default ../shared/data).

Each file is sent as the browser would send it (its own sample rate and channel count, 250 ms PCM16 chunks,
paced in real time or --speed times faster) by ``clients.python.interview_client.stream_audio``, through a byte-counting TCP
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
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_SETS, fmt, print_table, select_items, shared_data_dir
from bench.harness import (
    REALTIME_P95_S,
    WS_PATH,
    ConcurrencyResult,
    FileResult,
    cpu_seconds,
    file_result,
    offline_transcript,
    peak_rss_mb,
    run_sessions,
    score,
    settle,
    spawn_server,
    stream_one,
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
