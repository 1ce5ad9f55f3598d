"""Offline replay of the streaming transcriber: CPU cost per audio second, partials and accuracy.

Why offline: the live benches (``stream.py``, ``capacity.py``) measure latency, which on a shared machine
measures the neighbours as much as the service. This script replays a recording through
``analysis.stt.engine.StreamingTranscriber`` exactly as ``analysis/pipeline.py`` does (250 ms chunks, one
step per chunk, the buffer rebuilt from ``state.buffer_start``) as fast as the CPU allows, and counts
*process CPU time* (``time.process_time``: every thread of this process, CTranslate2's included), which the
neighbours' load barely changes. Figures, all per stream and pooled:

- ``CPU s/s``: CPU seconds per audio second of the whole transcriber (VAD + commits + partials), and the
  parts: ``commit``, ``partial``, ``vad+rest``.
- ``partials``: partial decodes run, and per minute of audio.
- ``WER/CER``: the committed transcript against the references (pooled, ``bench/common.py`` scoring).
- ``commit delay`` p50/p95: audio time from a segment's last word end to the end of the chunk whose step
  committed it (the algorithm's share of commit latency, no compute time included).
- ``partial delay`` p50: for every committed word, audio time from its end to the end of the first chunk
  whose partial (or commit) contained it.
- ``in partial``: share of committed words first seen in a partial.

Streams: ``en`` = interviews/mock_interview_en followed by the en/ files, ``ko`` = interviews/mock_interview_ko
followed by the ko/ and emotion_ko/ files, each joined with 0.8 s of silence and cut at ``--seconds``
(a file is included whole or not at all). Also ``--concurrency 1 2 4 8`` compares sequential decoding with
the cross-session batcher (``analysis/stt/batch.py``): see ``--help``.

    .venv/bin/python -m bench.stt_cost                       # default policy, both streams, 120 s each
    .venv/bin/python -m bench.stt_cost --policy legacy       # the policy before issue 14, for comparison
    .venv/bin/python -m bench.stt_cost --threads 1 --json /tmp/cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from analysis.audio.preprocess import file_to_16k_mono, highpass
from analysis.stt.engine import SR, StreamingTranscriber, StreamState, SttConfig, model_for
from bench.common import ErrorCounts, error_counts, fmt, percentile, print_table, read_manifest, shared_data_dir

CHUNK_S = 0.25
GAP_S = 0.8
POLICIES = ("default", "legacy", "nopartial")


@dataclass
class Stream:
    name: str
    language: str
    audio: np.ndarray
    reference: str

    @property
    def seconds(self) -> float:
        return len(self.audio) / SR


def build_stream(language: str, seconds: float) -> Stream:
    data = shared_data_dir()
    sets = ["interviews", "en"] if language == "en" else ["interviews", "ko", "emotion_ko"]
    parts: list[np.ndarray] = []
    refs: list[str] = []
    total = 0.0
    gap = np.zeros(int(GAP_S * SR), dtype=np.float32)
    for set_name in sets:
        for item in read_manifest(data / set_name):
            if item.language != language or not item.text:
                continue
            if total + item.duration_s > seconds and parts:
                continue
            audio = file_to_16k_mono(str(item.path))
            parts += [audio, gap]
            refs.append(item.text)
            total += len(audio) / SR + GAP_S
    # the server high-passes every chunk on the session grid; once over the whole signal is the same filter
    return Stream(name=language, language=language, audio=highpass(np.concatenate(parts)), reference=" ".join(refs))


class CostMeter:
    """Wraps the model: process CPU time of every transcribe call, split into commits (beam > 1) and partials."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.commit_cpu = 0.0
        self.partial_cpu = 0.0
        self.partials = 0
        self.commits = 0

    def transcribe(self, audio: np.ndarray, **kwargs: Any) -> Any:
        started = time.process_time()
        segments, info = self.model.transcribe(audio, **kwargs)
        segments = list(segments)
        spent = time.process_time() - started
        if kwargs.get("beam_size", 5) > 1:
            self.commit_cpu += spent
            self.commits += 1
        else:
            self.partial_cpu += spent
            self.partials += 1
        return segments, info

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def _tokens(text: str, language: str) -> list[str]:
    if language == "ko":
        return [w for w in re.sub(r"[^\w]", " ", text).split() if w]
    return [w for w in re.sub(r"[^\w']", " ", text.lower()).split() if w]


@dataclass
class Replay:
    name: str
    seconds: float
    cpu_s: float
    commit_cpu: float
    partial_cpu: float
    partials: int
    commits: int
    errors: ErrorCounts
    commit_delays: list[float] = field(default_factory=list)
    partial_delays: list[float] = field(default_factory=list)
    in_partial: float = 0.0
    text: str = ""


def replay(stream: Stream, config: SttConfig, *, policy_kwargs: dict[str, Any]) -> Replay:
    meter = CostMeter(model_for(config))
    transcriber = StreamingTranscriber(config, model=meter)
    state = StreamState(language=stream.language)
    audio = stream.audio
    chunk = int(CHUNK_S * SR)
    partial_log: list[tuple[float, str]] = []  # (chunk end s, partial text)
    segments: list[tuple[float, Any]] = []  # (chunk end s, segment)
    started = time.process_time()
    n_chunks = -(-len(audio) // chunk)
    for i in range(n_chunks + 1):
        final = i == n_chunks
        end = min(len(audio), (i + 1) * chunk)
        result = transcriber.step(state, audio[state.buffer_start : end], final=final, **policy_kwargs)
        state = result.state
        t = end / SR
        for seg in result.segments:
            segments.append((t, seg))
        if result.ran and result.partial and (not partial_log or partial_log[-1][1] != result.partial):
            partial_log.append((t, result.partial))
    cpu = time.process_time() - started
    text = " ".join(seg.text for _, seg in segments)
    commit_delays = [max(0.0, t - seg.end) for t, seg in segments if seg.words]
    partial_delays: list[float] = []
    seen_in_partial = 0
    total_words = 0
    for t_commit, seg in segments:
        for word in seg.words:
            token = _tokens(word.w, stream.language)
            if not token:
                continue
            total_words += 1
            first = t_commit
            for t_partial, text_partial in partial_log:
                if word.end <= t_partial < t_commit and all(tok in _tokens(text_partial, stream.language) for tok in token):
                    first = t_partial
                    seen_in_partial += 1
                    break
            partial_delays.append(max(0.0, first - word.end))
    return Replay(
        name=stream.name,
        seconds=stream.seconds,
        cpu_s=cpu,
        commit_cpu=meter.commit_cpu,
        partial_cpu=meter.partial_cpu,
        partials=meter.partials,
        commits=meter.commits,
        errors=error_counts(stream.reference, text, stream.language),
        commit_delays=commit_delays,
        partial_delays=partial_delays,
        in_partial=seen_in_partial / total_words if total_words else 0.0,
        text=text,
    )


def policy_config(base: SttConfig, policy: str) -> tuple[SttConfig, dict[str, Any]]:
    if policy == "legacy":
        return replace(base, partial_policy="legacy", partial_interval_s=1.0), {}
    if policy == "nopartial":
        return base, {"allow_partial": False}
    return base, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--languages", nargs="+", default=["en", "ko"])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each stream")
    parser.add_argument("--policy", nargs="+", default=["default"], choices=POLICIES)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WHISPER_CPU_THREADS", "2")))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="override SttConfig fields, e.g. partial_interval_s=1.5 partial_growth=0.25")
    args = parser.parse_args()

    overrides = {k: type(getattr(SttConfig, k))(v) for k, v in (item.split("=", 1) for item in args.set)}
    base = SttConfig(models_dir=Path(__file__).resolve().parents[1] / ".models", cpu_threads=args.threads, **overrides)
    if overrides:
        print("overrides:", overrides)
    streams = [build_stream(lang, args.seconds) for lang in args.languages]
    # warm-up: first decode allocates buffers and is not representative
    warm = StreamingTranscriber(base)
    warm.step(StreamState(language="en"), streams[0].audio[: 3 * SR], final=True)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; threads={args.threads}")
    rows = []
    report: dict[str, Any] = {}
    for policy in args.policy:
        config, kwargs = policy_config(base, policy)
        for stream in streams:
            r = replay(stream, config, policy_kwargs=kwargs)
            rest = r.cpu_s - r.commit_cpu - r.partial_cpu
            metric = "CER" if stream.language == "ko" else "WER"
            rows.append([
                policy, f"{stream.name} {r.seconds:.0f}s", f"{metric} {100 * r.errors.rate:.1f}%",
                fmt(r.cpu_s / r.seconds, ".3f"), fmt(r.commit_cpu / r.seconds, ".3f"),
                fmt(r.partial_cpu / r.seconds, ".3f"), fmt(rest / r.seconds, ".3f"),
                f"{r.partials} ({60 * r.partials / r.seconds:.0f}/min)",
                f"{percentile(r.commit_delays, 50):.2f} / {percentile(r.commit_delays, 95):.2f}",
                f"{percentile(r.partial_delays, 50):.2f}", f"{100 * r.in_partial:.0f}%",
            ])
            report[f"{policy}/{stream.name}"] = {**asdict(r), "errors": asdict(r.errors)}
            print("  done", policy, stream.name, flush=True)
    print_table(
        ["policy", "stream", "accuracy", "CPU s/s", "commit", "partial", "vad+rest", "partials",
         "commit delay p50/p95 s", "partial delay p50 s", "in partial"],
        rows,
    )
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
