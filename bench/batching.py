"""Cross-session batching on CPU, two ways (``--mode``).

``--mode streams`` (default): the worker's real STT path. K sessions, each a thread stepping its own stream
chunk by chunk (250 ms, one ``StreamingTranscriber.step`` per chunk, commits and partials, as
``analysis/pipeline/transcribe.py`` runs them in a ``-P threads`` worker) on one model copy, as fast as the
CPU allows (the worker saturated: where throughput is the question), once without the batcher and once
through ``analysis.stt.microbatch.BatchedDecoder`` (``STT_BATCH=1``: window ``--window-ms``, each step a
participant). Streams as ``bench/stt_cost.py`` builds them (``--seconds`` long), languages alternating, the
k-th session of a language rotated by k × 7 s so that sessions do not commit in step. Printed per K: CPU
seconds (``time.process_time``, every thread) and wall seconds per audio second unbatched and batched, the
gain in each, wall time of the steps that committed (p50 / p95: the decode plus any wait in the batcher or
behind other sessions' calls), the mean batch size, and the share of sessions whose committed text is
identical both ways, and the real-time sessions the process keeps up with (audio s per wall s: its STT-only
capacity at saturation, sessions per GPU with ``--device cuda``). Not measured here: Redis, Celery and the other stages (``bench/capacity.py --pool
threads --stt-batch`` runs the whole service).

    .venv/bin/python -m bench.batching --sessions 1 2 4 8 --seconds 30

``--mode clips``: K utterances from K sessions decoded one by one vs in one CTranslate2 call.

Utterances: the VAD utterances of the shared en/ and ko/ files (``transcribe_offline``'s cut), taken in
turn from the two languages, so a batch mixes them the way concurrent sessions would (the batcher groups by
language: one encode + one generate per language). For K = 1, 2, 4, 8 concurrent sessions, ``--rounds``
batches of K utterances each are decoded

- sequentially: ``decode_batch`` with one item at a time (the per-chunk chains' shape today);
- batched: ``decode_batch`` with all K at once.

Printed per K: CPU seconds (``time.process_time``, every thread of this process) and wall seconds per
second of audio for both, the throughput gain (sequential / batched), and the share of utterances whose
text is identical both ways (padding to the batch's longest clip changes the encoder window of the others).
Wall time is measured in this process alone; on a shared machine it includes the neighbours' contention
(CPU seconds do not). Decoder + encoder only: word timestamps and the guard are per clip either way.

    .venv/bin/python -m bench.batching --mode clips --threads 2 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from analysis.audio.preprocess import file_to_16k_mono
from analysis.stt.batch import BatchItem, decode_batch
from analysis.stt.engine import SR, StreamingTranscriber, StreamState, SttConfig, model_for, speech_regions
from analysis.stt.microbatch import BatchedDecoder
from bench.common import fmt, percentile, print_table, read_manifest, shared_data_dir
from bench.stt_cost import build_stream

CHUNK = SR // 4


def utterances(config: SttConfig, limit: int) -> list[BatchItem]:
    per_lang: dict[str, list[BatchItem]] = {"en": [], "ko": []}
    for lang in per_lang:
        for item in read_manifest(shared_data_dir() / lang):
            audio = file_to_16k_mono(str(item.path))
            for s, e in speech_regions(audio, config):
                if 0.5 * SR <= e - s <= 15 * SR:
                    per_lang[lang].append(BatchItem(audio=audio[s:e], language=lang, exact_window=False))
    mixed = [x for pair in zip(per_lang["en"], per_lang["ko"]) for x in pair]
    return mixed[:limit]


@dataclass
class StreamsRun:
    cpu_s: float
    wall_s: float
    audio_s: float
    commit_step_s: list[float] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)


def session_streams(k: int, seconds: float) -> list[tuple[np.ndarray, str]]:
    base = {lang: build_stream(lang, seconds).audio for lang in ("en", "ko")}
    out = []
    for i in range(k):
        lang = ("en", "ko")[i % 2]
        out.append((np.roll(base[lang], (i // 2) * 7 * SR), lang))
    return out


def run_streams(transcriber: StreamingTranscriber, streams: list[tuple[np.ndarray, str]],
                participant: Callable[[], AbstractContextManager[Any]]) -> StreamsRun:
    """Each session a thread, stepping its stream chunk by chunk as fast as it can (commits and partials)."""
    texts: list[list[str]] = [[] for _ in streams]
    commit_steps: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def session(k: int) -> None:
        audio, language = streams[k]
        state = StreamState(language=language)
        n = -(-len(audio) // CHUNK)
        try:
            for i in range(n + 1):
                end = min(len(audio), (i + 1) * CHUNK)
                started = time.perf_counter()
                with participant():
                    result = transcriber.step(state, audio[state.buffer_start : end], final=i == n)
                spent = time.perf_counter() - started
                state = result.state
                if result.segments:
                    texts[k] += [seg.text for seg in result.segments]
                    with lock:
                        commit_steps.append(spent)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(k,)) for k in range(len(streams))]
    c0, w0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return StreamsRun(cpu_s=time.process_time() - c0, wall_s=time.perf_counter() - w0,
                      audio_s=sum(len(a) for a, _ in streams) / SR, commit_step_s=commit_steps, texts=texts)


def main_streams(args: argparse.Namespace) -> None:
    config = SttConfig(models_dir=Path(__file__).resolve().parents[1] / ".models", cpu_threads=args.threads,
                       num_workers=args.num_workers, beam_size=args.beam, device=args.device,
                       compute_type="int8" if args.device == "cpu" else "float16")
    alone = StreamingTranscriber(config)
    streams_all = session_streams(max(args.sessions), args.seconds)
    run_streams(alone, [(a[: 3 * SR], lang) for a, lang in streams_all[:2]], nullcontext)  # warm-up
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; CTranslate2 threads={args.threads}, "
          f"num_workers={args.num_workers}; window {args.window_ms} ms; streams {args.seconds:.0f} s", flush=True)
    rows = []
    for k in args.sessions:
        streams = streams_all[:k]
        plain = run_streams(alone, streams, nullcontext)
        decoder = BatchedDecoder(alone.model, window_s=args.window_ms / 1000, max_batch=args.max_batch)
        batched_t = StreamingTranscriber(config, model=alone.model, decode=decoder)
        batched = run_streams(batched_t, streams, decoder.participant)
        stats = decoder.batcher.stats
        same = sum(a == b for a, b in zip(plain.texts, batched.texts))
        rows.append([
            str(k), f"{plain.audio_s:.0f}",
            fmt(plain.cpu_s / plain.audio_s, ".3f"), fmt(batched.cpu_s / batched.audio_s, ".3f"),
            f"{plain.cpu_s / batched.cpu_s:.2f}x",
            fmt(plain.wall_s / plain.audio_s, ".3f"), fmt(batched.wall_s / batched.audio_s, ".3f"),
            f"{plain.wall_s / batched.wall_s:.2f}x",
            f"{percentile(plain.commit_step_s, 50):.2f} / {percentile(plain.commit_step_s, 95):.2f}",
            f"{percentile(batched.commit_step_s, 50):.2f} / {percentile(batched.commit_step_s, 95):.2f}",
            f"{stats.items / max(1, stats.batches):.2f}", f"{same}/{k}",
            f"{plain.audio_s / plain.wall_s:.1f} / {batched.audio_s / batched.wall_s:.1f}",
        ])
        print(f"  K={k} done (load average {os.getloadavg()[0]:.2f}; batch sizes {dict(sorted(stats.sizes.items()))})",
              flush=True)
    print_table(["sessions K", "audio s", "CPU s/s plain", "CPU s/s batched", "CPU gain", "wall s/s plain",
                 "wall s/s batched", "wall gain", "commit step p50/p95 s plain", "batched", "mean batch",
                 "same commits", "real-time sessions plain / batched"], rows)
    print("real-time sessions = audio seconds transcribed per wall second at saturation: how many live sessions "
          "this process's STT alone keeps up with (no other stage, no headroom for latency)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["streams", "clips"], default="streams")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=30.0, help="streams: each session's stream length")
    parser.add_argument("--window-ms", type=float, default=10.0, help="streams: STT_BATCH_WINDOW_MS")
    parser.add_argument("--max-batch", type=int, default=16, help="streams: STT_BATCH_MAX")
    parser.add_argument("--num-workers", type=int, default=1, help="streams: WHISPER_NUM_WORKERS")
    parser.add_argument("--device", default="cpu", help="WHISPER_DEVICE (cuda: float16)")
    parser.add_argument("--rounds", type=int, default=2, help="clips: batches of K per K")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "streams":
        main_streams(args)
        return
    config = SttConfig(models_dir=Path(__file__).resolve().parents[1] / ".models", cpu_threads=args.threads,
                       device=args.device, compute_type="int8" if args.device == "cpu" else "float16")
    model = model_for(config)
    pool = utterances(config, max(args.sessions) * args.rounds)
    decode_batch(model, pool[:2])  # warm-up
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; threads={args.threads}; "
          f"{len(pool)} utterances, mean {np.mean([len(u.audio) for u in pool]) / SR:.1f} s")
    rows = []
    for k in args.sessions:
        audio_s = 0.0
        seq_cpu = seq_wall = bat_cpu = bat_wall = 0.0
        same = total = 0
        for r in range(args.rounds):
            batch = pool[r * k : (r + 1) * k]
            if len(batch) < k:
                break
            audio_s += sum(len(u.audio) for u in batch) / SR
            c0, w0 = time.process_time(), time.perf_counter()
            one_by_one = [decode_batch(model, [u])[0] for u in batch]
            seq_cpu += time.process_time() - c0
            seq_wall += time.perf_counter() - w0
            c0, w0 = time.process_time(), time.perf_counter()
            together = decode_batch(model, batch)
            bat_cpu += time.process_time() - c0
            bat_wall += time.perf_counter() - w0
            same += sum(a.text == b.text for a, b in zip(one_by_one, together))
            total += len(batch)
        if not audio_s:
            continue
        rows.append([
            str(k), f"{audio_s:.0f}", fmt(seq_cpu / audio_s, ".3f"), fmt(bat_cpu / audio_s, ".3f"),
            f"{seq_cpu / bat_cpu:.2f}x", fmt(seq_wall / audio_s, ".3f"), fmt(bat_wall / audio_s, ".3f"),
            f"{seq_wall / bat_wall:.2f}x", f"{100 * same / total:.0f}%",
        ])
        print(f"  K={k} done", flush=True)
    print_table(["sessions K", "audio s", "CPU s/s one by one", "CPU s/s batched", "CPU gain", "wall s/s one by one",
                 "wall s/s batched", "wall gain", "same text"], rows)


if __name__ == "__main__":
    main()
