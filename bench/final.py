"""Final-pass benchmark: time per audio minute, and live vs final WER/CER on the shared interviews.

Spawns an embedded server on a temporary SQLite database, streams each file (with question notes from
its turns, at ``--speed``), waits for ``session_complete`` and then for the final pass's stored report.

    .venv/bin/python -m bench.final [--speed 3] [--files interviews/mock_interview_en ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import time
from pathlib import Path

from bench.common import error_counts, metric_name, print_table, read_manifest, shared_data_dir
from bench.harness import load_native, spawn_server
from clients.python.interview_client import stream_audio


def notes_for(item) -> list[tuple[float, dict]]:
    turns_name = item.extra.get("turns")
    if not turns_name:
        return []
    turns = json.loads((item.path.parent / turns_name).read_text(encoding="utf-8"))
    return [(t["start"] + 0.2, {"type": "speaker_note", "text": t["text"], "kind": "question"})
            for t in turns if t.get("role") == "interviewer"]


def wait_for_final(db: Path, session_id: str, timeout_s: float) -> tuple[dict, list[dict]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT r.live_vs_final, i.final_segments FROM scoring_interviewreport r "
                "JOIN interview_sessions_interview i ON i.id = r.interview_id WHERE r.interview_id = ?",
                (session_id.replace("-", ""),),
            ).fetchone()
        if row and row[0] and json.loads(row[0]):
            return json.loads(row[0]), json.loads(row[1])
        time.sleep(1.0)
    raise TimeoutError(f"no final report for {session_id} after {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=3.0)
    parser.add_argument("--files", nargs="*", default=None, help="set/name filters, e.g. interviews/mock_interview_ko")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    items = [i for i in read_manifest(shared_data_dir() / "interviews") if i.text]
    if args.files:
        items = [i for i in items if any(f in i.name for f in args.files)]
    server = spawn_server("embedded", "")
    rows, total_audio, total_final = [], 0.0, 0.0
    try:
        for item in items:
            audio, sr = load_native(item)
            log = asyncio.run(stream_audio(server.url, audio, sample_rate=sr, params={"language": item.language},
                                           speed=args.speed, notes=notes_for(item), timeout_s=args.timeout))
            session_id = log.complete["session_id"]
            diff, final_segments = wait_for_final(server.workdir / "db.sqlite3", session_id, args.timeout)
            live = error_counts(item.text or "", log.transcript(), item.language)
            final = error_counts(item.text or "", " ".join(s["text"] for s in final_segments), item.language)
            per_min = diff["final_pass_s"] / (item.duration_s / 60)
            total_audio += item.duration_s
            total_final += diff["final_pass_s"]
            rows.append([item.name, f"{item.duration_s:.1f}", metric_name(item.language), f"{live.rate:.1%}",
                         f"{final.rate:.1%}", f"{diff['final_pass_s']:.1f}", f"{per_min:.1f}",
                         str(diff["labels_changed"]), f"{diff['words_changed']['value']:.1%}",
                         f"{diff['scores_moved']['session']['live']} → {diff['scores_moved']['session']['final']}"])
    finally:
        server.stop()
    print_table(["file", "audio s", "metric", "live", "final", "final pass s", "s per audio min",
                 "labels changed", "live↔final diff", "session score live → final"], rows)
    if total_audio:
        print(f"\nfinal pass: {total_final / (total_audio / 60):.1f} s per audio minute over {total_audio:.0f} s of audio")


if __name__ == "__main__":
    main()
