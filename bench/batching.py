"""Cross-session batching on CPU: K utterances from K sessions decoded one by one vs in one CTranslate2 call.

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

    .venv/bin/python -m bench.batching --threads 2 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from analysis.audio.preprocess import file_to_16k_mono
from analysis.stt.batch import BatchItem, decode_batch
from analysis.stt.engine import SR, SttConfig, model_for, speech_regions
from bench.common import fmt, print_table, read_manifest, shared_data_dir


def utterances(config: SttConfig, limit: int) -> list[BatchItem]:
    per_lang: dict[str, list[BatchItem]] = {"en": [], "ko": []}
    for lang in per_lang:
        for item in read_manifest(shared_data_dir() / lang):
            audio = file_to_16k_mono(str(item.path))
            for s, e in speech_regions(audio, config):
                if 0.5 * SR <= e - s <= 15 * SR:
                    per_lang[lang].append(BatchItem(audio=audio[s:e], language=lang))
    mixed = [x for pair in zip(per_lang["en"], per_lang["ko"]) for x in pair]
    return mixed[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    config = SttConfig(models_dir=Path(__file__).resolve().parents[1] / ".models", cpu_threads=args.threads)
    model = model_for(config)
    pool = utterances(config, max(args.sessions) * args.rounds)
    decode_batch(model, pool[:2], beam_size=args.beam)  # warm-up
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
            one_by_one = [decode_batch(model, [u], beam_size=args.beam)[0] for u in batch]
            seq_cpu += time.process_time() - c0
            seq_wall += time.perf_counter() - w0
            c0, w0 = time.process_time(), time.perf_counter()
            together = decode_batch(model, batch, beam_size=args.beam)
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
