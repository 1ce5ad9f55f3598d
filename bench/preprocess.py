"""Does each preprocessing step help recognition? Offline WER/CER with every step on and off.

Run: .venv/bin/python -m bench.preprocess [--sets en ko interviews] [--files NAME ...] [--conditions clean noisy]
     [--snr-db 10] [--seed 0] [--json out.json]      (reads $SHARED_DATA_DIR, default ../shared/data)

Every file is read, mixed down and resampled to 16 kHz (``file_to_16k_mono``: the baseline every
configuration shares) and transcribed with the engine's own VAD-utterance policy (``transcribe_offline``),
language fixed from the manifest, the same model and decoding settings as the server (``WHISPER_*`` env vars).
Configurations:

  baseline   resample + mix only
  +highpass  ``highpass`` (80 Hz) over the whole signal, as the server's per-chunk step does
  +loudness  ``SttConfig(utterance_steps=("loudness",))``: each VAD utterance normalised before Whisper
  +denoise   ``SttConfig(utterance_steps=("denoise",))``: spectral gating of each utterance
  all        highpass + denoise + loudness

Conditions: ``clean`` (the recordings as they are) and ``noisy`` (white Gaussian noise added to the 16 kHz
signal at ``--snr-db`` below the *active speech* level, i.e. the mean power of the 20 ms frames within 40 dB
of the loudest one, so silences in the interviews do not make the noise weaker; seeded per file).

Verdict per step and condition, against the baseline of the same condition, group by group (en, ko,
interviews/en, interviews/ko): a group changes when its error count moves by at least max(3, 1 % of the
reference units); "helps" = some group improves and none worsens, "hurts" = the reverse, "mixed" = both,
"neutral" = no group changes that much. Korean verdicts use the digit→Hangul normalised CER (the digit
spelling difference is not a preprocessing effect); the table shows both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


from analysis.audio.preprocess import file_to_16k_mono, highpass
from analysis.stt.engine import SttConfig, transcribe_offline
from bench.common import (
    DEFAULT_SETS,
    ErrorCounts,
    Item,
    error_counts,
    fmt,
    print_table,
    select_items,
    shared_data_dir,
)

REPO = Path(__file__).resolve().parents[1]

CONFIGS: dict[str, tuple[bool, tuple[str, ...]]] = {  # name -> (whole-signal highpass, utterance steps)
    "baseline": (False, ()),
    "+highpass": (True, ()),
    "+loudness": (False, ("loudness",)),
    "+denoise": (False, ("denoise",)),
    "all": (True, ("denoise", "loudness")),
}


def server_stt_config(utterance_steps: tuple[str, ...] = ()) -> SttConfig:
    """The decoding settings the server reads from the same environment variables (interview_project.settings)."""
    device = os.environ.get("WHISPER_DEVICE", "cpu")
    return SttConfig(
        model=os.environ.get("WHISPER_MODEL", "base"),
        models_dir=Path(os.environ.get("MODELS_DIR", str(REPO / ".models"))),
        device=device,
        compute_type=os.environ.get("WHISPER_COMPUTE_TYPE", "int8" if device == "cpu" else "float16"),
        cpu_threads=int(os.environ.get("WHISPER_CPU_THREADS", "0") or 0),
        beam_size=int(os.environ.get("WHISPER_BEAM_SIZE", "5") or 5),
        utterance_steps=utterance_steps,
    )


def active_power(audio: np.ndarray, frame: int = 320) -> float:
    """Mean power of the 20 ms frames within 40 dB of the loudest: the speech level, pauses excluded."""
    n = len(audio) // frame * frame
    if n == 0:
        return float(np.mean(audio**2)) if len(audio) else 0.0
    power = np.mean(audio[:n].reshape(-1, frame) ** 2, axis=1)
    active = power[power >= power.max() * 1e-4]
    return float(np.mean(active))


def add_white_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White Gaussian noise ``snr_db`` below the active speech level (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    noise_power = active_power(audio) / (10 ** (snr_db / 10))
    noisy = audio + rng.standard_normal(len(audio)).astype(np.float32) * np.float32(np.sqrt(noise_power))
    return noisy.astype(np.float32)


def group_of(item: Item) -> str:
    return f"interviews/{item.language}" if item.set_name == "interviews" else item.set_name


@dataclass
class Run:
    file: str
    group: str
    language: str
    condition: str
    config: str
    hypothesis: str
    errors: int
    ref_units: int
    errors_num: int  # Korean: digits read as Sino-Korean numbers first; English: same as errors
    cpu_s: float
    audio_s: float


def transcribe(audio: np.ndarray, item: Item, config_name: str) -> tuple[str, float]:
    use_highpass, steps = CONFIGS[config_name]
    started = time.process_time()
    signal = highpass(audio) if use_highpass else audio
    segments = transcribe_offline(server_stt_config(steps), signal, language=item.language)
    return " ".join(s.text for s in segments), time.process_time() - started


def verdicts(runs: list[Run]) -> dict[str, dict[str, str]]:
    """{condition: {step: verdict}} following the rule in the module docstring."""
    totals: dict[tuple[str, str, str], ErrorCounts] = {}
    for r in runs:
        key = (r.condition, r.config, r.group)
        totals[key] = totals.get(key, ErrorCounts(0, 0)) + ErrorCounts(r.errors_num, r.ref_units)
    out: dict[str, dict[str, str]] = {}
    for condition in sorted({r.condition for r in runs}):
        out[condition] = {}
        groups = sorted({g for c, _, g in totals if c == condition})
        for config in CONFIGS:
            if config == "baseline" or (condition, config, groups[0]) not in totals:
                continue
            better = worse = False
            for g in groups:
                base, this = totals[(condition, "baseline", g)], totals[(condition, config, g)]
                threshold = max(3, 0.01 * base.ref_units)
                delta = this.errors - base.errors
                better |= delta <= -threshold
                worse |= delta >= threshold
            out[condition][config] = (
                "mixed" if better and worse else "helps" if better else "hurts" if worse else "neutral"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--files", nargs="+", default=[], help="substrings of file names to keep")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--conditions", nargs="+", default=["clean", "noisy"], choices=["clean", "noisy"])
    parser.add_argument("--snr-db", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every run and the verdicts here")
    args = parser.parse_args()
    if "baseline" not in args.configs:
        args.configs.insert(0, "baseline")

    items = select_items(shared_data_dir(), args.sets, args.files)
    if not items:
        sys.exit(f"no files with reference text under {shared_data_dir()} for {args.sets} {args.files}")
    transcribe_offline(server_stt_config(), np.zeros(16000, dtype=np.float32), language="en")  # load the model

    runs: list[Run] = []
    for item in items:
        clean = file_to_16k_mono(str(item.path))
        for condition in args.conditions:
            seed = args.seed + zlib.crc32(item.name.encode())
            audio = clean if condition == "clean" else add_white_noise(clean, args.snr_db, seed)
            for config in args.configs:
                text, cpu_s = transcribe(audio, item, config)
                assert item.text is not None
                counts = error_counts(item.text, text, item.language)
                counts_num = error_counts(item.text, text, item.language, ko_numbers=True)
                runs.append(Run(item.name, group_of(item), item.language, condition, config, text,
                                counts.errors, counts.ref_units, counts_num.errors, cpu_s, len(clean) / 16000))
                print(f"  {item.name:42s} {condition:5s} {config:9s} {counts.errors:3d}/{counts.ref_units:<4d}"
                      f" cpu {cpu_s:5.1f} s", file=sys.stderr)

    groups = sorted({r.group for r in runs})
    headers = ["condition / config"]
    for g in groups:
        lang = next(r.language for r in runs if r.group == g)
        headers += [f"{g} CER%", f"{g} CER% (num)"] if lang == "ko" else [f"{g} WER%"]
    headers += ["CPU s / audio s"]
    rows = []
    for condition in args.conditions:
        for config in args.configs:
            sel = [r for r in runs if r.condition == condition and r.config == config]
            row = [f"{condition} {config}"]
            for g in groups:
                gs = [r for r in sel if r.group == g]
                plain = sum((ErrorCounts(r.errors, r.ref_units) for r in gs), ErrorCounts(0, 0))
                num = sum((ErrorCounts(r.errors_num, r.ref_units) for r in gs), ErrorCounts(0, 0))
                row.append(fmt(100 * plain.rate, ".1f"))
                if gs and gs[0].language == "ko":
                    row.append(fmt(100 * num.rate, ".1f"))
            row.append(fmt(sum(r.cpu_s for r in sel) / max(1e-9, sum(r.audio_s for r in sel)), ".3f"))
            rows.append(row)
    print()
    print(f"Offline WER/CER by preprocessing step ({len(items)} files; noisy = white noise at {args.snr_db:g} dB SNR)")
    print_table(headers, rows)
    found = verdicts(runs)
    print("\nVerdicts (vs baseline of the same condition; Korean on the digit-normalised CER):")
    for condition, by_step in found.items():
        print(f"  {condition}: " + ", ".join(f"{step} {verdict}" for step, verdict in by_step.items()))
    if args.json:
        args.json.write_text(json.dumps({"runs": [asdict(r) for r in runs], "verdicts": found,
                                         "snr_db": args.snr_db, "seed": args.seed}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
