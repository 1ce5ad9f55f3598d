"""Diarization benchmark on the shared recordings: DER (live and final), role accuracy, cost.

Run: .venv/bin/python -m bench.diarize  (reads $SHARED_DATA_DIR, default ../shared/data)

For every manifest entry with an RTTM: DER with pyannote.metrics, overlap scored, at collar 0.25 s and 0 s
(UEM when the manifest gives one, else the whole file), for
  - live: the recording replayed through LiveDiarizer in 2 s chunks (analysis.diarization.simulate:
    VAD utterances as committed segments, pseudo-words, state through JSON between calls);
  - final: analysis.diarization.offline.diarize_recording.
Role accuracy is the share of reference speech time (turns.json with roles) whose hypothesised role
matches. Cost is process CPU seconds (all threads) and wall seconds per audio second.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from analysis.diarization.embeddings import get_encoder, speech_regions
from analysis.diarization.offline import assign_turn_roles, diarize_recording
from analysis.diarization.rttm import Turn, parse_rttm
from analysis.diarization.simulate import simulate_live

REPO = Path(__file__).resolve().parents[1]


def annotation(turns: list[Turn]) -> Annotation:
    ann = Annotation()
    for t in turns:
        ann[Segment(t.start, t.end)] = t.speaker
    return ann


def der(ref: list[Turn], hyp: list[Turn], uem: Timeline, collar: float) -> float:
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    return float(metric(annotation(ref), annotation(hyp), uem=uem))


def role_accuracy(hyp: list[tuple[float, float, str]], turns: list[dict]) -> tuple[float, float]:
    """(share of labelled reference speech time with the right role, share of reference time labelled).

    The mock interviews' reference turns include the silence padding they were assembled with, so time
    the VAD rightly leaves unlabelled is reported as coverage, not as a role error.
    """
    right = labelled = total = 0.0
    for t in turns:
        total += t["end"] - t["start"]
        for s, e, role in hyp:
            overlap = max(0.0, min(e, t["end"]) - max(s, t["start"]))
            labelled += overlap
            right += overlap * (role == t["role"])
    return (right / labelled if labelled else float("nan")), (labelled / total if total else float("nan"))


def load(path: Path) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sr != 16000:
        g = np.gcd(sr, 16000)
        audio = resample_poly(audio, 16000 // g, sr // g).astype(np.float32)
    return audio


def main() -> None:
    data = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
    t0 = time.perf_counter()
    get_encoder().embed([np.zeros(24000, dtype=np.float32)])  # first LSTM pass allocates; keep it out of timings
    speech_regions(np.zeros(16000, dtype=np.float32))
    print(f"model load (encoder + VAD): {time.perf_counter() - t0:.2f} s wall\n")
    rows = []
    for manifest in sorted(data.glob("*/manifest.jsonl")):
        for line in manifest.read_text().splitlines():
            item = json.loads(line)
            if "rttm" not in item:
                continue
            folder = manifest.parent
            audio = load(folder / item["path"])
            dur = len(audio) / 16000
            ref = parse_rttm((folder / item["rttm"]).read_text())
            uem = Timeline([Segment(0, dur)])
            if "uem" in item:
                parts = [ln.split() for ln in (folder / item["uem"]).read_text().splitlines() if ln.strip()]
                uem = Timeline([Segment(float(p[2]), float(p[3])) for p in parts])

            run = simulate_live(audio)
            live_turns = [Turn(s.start, s.end, s.speaker) for s in run.segments]
            c0, w0 = time.process_time(), time.perf_counter()
            final = diarize_recording(audio)
            final_cpu, final_wall = time.process_time() - c0, time.perf_counter() - w0

            roles_live = roles_final = cover = float("nan")
            if isinstance(item.get("turns"), str):
                turns = json.loads((folder / item["turns"]).read_text())
                if all("role" in t for t in turns):
                    roles_live, cover = role_accuracy([(s.start, s.end, s.role) for s in run.segments], turns)
                    decided = assign_turn_roles(final)
                    roles_final, _ = role_accuracy([(t.start, t.end, decided[t.speaker].role) for t in final], turns)
            rows.append(
                {
                    "file": f"{folder.name}/{Path(item['path']).stem}",
                    "dur": dur,
                    "spk": f"{len({t.speaker for t in ref})}/{len({t.speaker for t in live_turns})}/{len({t.speaker for t in final})}",
                    "live25": der(ref, live_turns, uem, 0.25),
                    "live0": der(ref, live_turns, uem, 0.0),
                    "fin25": der(ref, final, uem, 0.25),
                    "fin0": der(ref, final, uem, 0.0),
                    "role_live": roles_live,
                    "role_final": roles_final,
                    "cover": cover,
                    "live_cpu": run.label_cpu_s / dur,
                    "live_wall": run.label_wall_s / dur,
                    "live_call": run.max_call_wall_s,
                    "fin_cpu": final_cpu / dur,
                    "fin_wall": final_wall / dur,
                    "state_kb": run.max_state_bytes / 1024,
                }
            )

    def pct(x: float) -> str:
        return "   -  " if np.isnan(x) else f"{100 * x:5.1f}%"

    header = (
        f"{'file':34} {'dur s':>6} {'spk r/l/f':>9} | {'live DER':>8} {'@0':>6} | {'final DER':>9} {'@0':>6} | "
        f"{'role live':>9} {'final':>6} {'cover':>6} | {'live cpu/s':>10} {'wall/s':>6} {'max call':>8} | "
        f"{'final cpu/s':>11} {'wall/s':>6} | {'state KB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['file']:34} {r['dur']:6.1f} {r['spk']:>9} | {pct(r['live25']):>8} {pct(r['live0']):>6} | "
            f"{pct(r['fin25']):>9} {pct(r['fin0']):>6} | {pct(r['role_live']):>9} {pct(r['role_final']):>6} {pct(r['cover']):>6} | "
            f"{r['live_cpu']:10.3f} {r['live_wall']:6.3f} {r['live_call']:7.2f}s | "
            f"{r['fin_cpu']:11.3f} {r['fin_wall']:6.3f} | {r['state_kb']:8.1f}"
        )
    print(
        "\nDER: pyannote.metrics, overlap scored, collar 0.25 s (and 0 s). spk r/l/f: speakers in reference /"
        " live / final.\nTargets: final DER <= 10%, live DER <= 20% on two-speaker recordings, role accuracy"
        " >= 98%.\ncpu/s: process CPU seconds (all threads) per audio second; wall/s likewise in wall time;"
        " max call: slowest label() call.\nrole: share of labelled speech with the right role; cover: share of"
        " reference turn time labelled (the mock interviews' turns include silence padding)."
    )


if __name__ == "__main__":
    main()
