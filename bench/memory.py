"""Does one live stage's memory grow with session length? A stage alone, in this process, over a long stream.

Run:  .venv/bin/python -m bench.memory --stage stt --minutes 16
      .venv/bin/python -m bench.memory --stage diarize --minutes 30

The soaks (bench/soak.py) show a live worker's RSS growing over hours; this isolates the suspects. ``stt``
steps the streaming transcriber chunk by chunk (250 ms, partials on) over ``--file`` looped, its state
round-tripped through JSON each step as Redis does; ``diarize`` feeds the live diarizer the file's VAD
segments every 2 s, its memory round-tripped the same way. Every ``--every`` audio seconds it prints the
process's RSS and the Python heap that tracemalloc sees, and at the end the lines whose Python allocations grew
most since the first sample. RSS flat after warm-up: that stage is not the leak. RSS growing with a flat
Python heap: native memory (a library's allocator, fragmentation). Figures, never assertions.
"""

from __future__ import annotations

import argparse
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from analysis.audio.preprocess import file_to_16k_mono
from bench.common import shared_data_dir

SR = 16000


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def looped(audio: np.ndarray, seconds: float) -> np.ndarray:
    total = int(seconds * SR)
    return np.concatenate([audio] * -(-total // len(audio)))[:total]


def stt_steps(stream: np.ndarray, threads: int) -> Iterator[float]:
    """Session time after each 250 ms step of the streaming transcriber."""
    from analysis.stt.engine import StreamingTranscriber, StreamState, SttConfig

    config = SttConfig(models_dir=Path(__file__).resolve().parents[1] / ".models", cpu_threads=threads)
    transcriber = StreamingTranscriber(config)
    state = StreamState(language="en")
    chunk = SR // 4
    for i in range(len(stream) // chunk):
        end = (i + 1) * chunk
        result = transcriber.step(state, stream[state.buffer_start : end], final=False, allow_partial=True)
        state = StreamState.from_dict(json.loads(json.dumps(result.state.to_dict())))
        yield end / SR


def diarize_steps(audio: np.ndarray, seconds: float) -> Iterator[float]:
    """Session time after each 2-s call of the live diarizer on the looped file's VAD segments."""
    from dataclasses import replace

    from analysis.diarization.live import LiveDiarizer
    from analysis.diarization.simulate import vad_segments

    stream = looped(audio, seconds)
    base, length = vad_segments(audio), len(audio) / SR
    segments = [replace(s, start=s.start + k * length, end=s.end + k * length)
                for k in range(int(seconds // length) + 1) for s in base if s.end + k * length < seconds]
    memory, sent, t = None, 0, 0.0
    while sent < len(segments):
        t += 2.0
        diarizer = LiveDiarizer(memory, channels=1)
        batch = []
        while sent < len(segments) and segments[sent].end <= t:
            batch.append(segments[sent])
            sent += 1
        if batch:
            a, b = int(batch[0].start * SR), int(np.ceil(batch[-1].end * SR))
            diarizer.label(batch, stream[a:b], a / SR)
            diarizer.take_corrections()
        memory = json.loads(json.dumps(diarizer.to_state()))
        yield t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["stt", "diarize"], required=True)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=120.0, help="audio seconds between samples")
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 threads (stt)")
    parser.add_argument("--file", type=Path, default=shared_data_dir() / "interviews" / "mock_interview_en.wav")
    args = parser.parse_args()
    audio = file_to_16k_mono(str(args.file))
    seconds = args.minutes * 60
    steps = stt_steps(looped(audio, seconds), args.threads) if args.stage == "stt" else diarize_steps(audio, seconds)
    tracemalloc.start(10)
    first = None
    due = 0.0
    print(f"{args.stage}: {args.minutes:g} min of {args.file.name} looped", flush=True)
    print("audio_s  rss_mib  python_heap_mib", flush=True)
    for t in steps:
        if t >= due:
            print(f"{t:7.0f}  {rss_mib():7.0f}  {tracemalloc.get_traced_memory()[0] / 2**20:15.1f}", flush=True)
            if first is None and t >= args.every:
                first = tracemalloc.take_snapshot()  # after warm-up
            due += args.every
    if first is not None:
        print("largest Python heap growth since the first sample after warm-up:")
        for stat in tracemalloc.take_snapshot().compare_to(first, "lineno")[:8]:
            print(f"  {stat}")


if __name__ == "__main__":
    main()
