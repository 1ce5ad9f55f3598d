"""Diarization benchmark on the shared recordings: DER (live and final), role accuracy, cost.

Run: .venv/bin/python -m bench.diarize  (reads $SHARED_DATA_DIR, default ../shared/data)
     .venv/bin/python -m bench.diarize --backend ecapa --speaker-model-dir DIR  (SpeechBrain ECAPA weights)

For every manifest entry with an RTTM, and for each emotion_ko speaker's four moods in one session (one
voice, the interviewer never speaks, a typed question before each answer): DER with pyannote.metrics,
overlap scored, at collar 0.25 s (UEM when the manifest gives one, else the whole file), and its speaker
confusion part (confusion time / reference speech), for
  - live: the recording replayed through LiveDiarizer in 2 s chunks (analysis.diarization.simulate:
    VAD utterances as committed segments, pseudo-words, state through JSON between calls), with every role
    correction applied (what the console shows at the end);
  - final: analysis.diarization.final_labels.final_labels (re-clustering bounded by the live voices,
    reconciled with the live labels), and "raw": diarize_recording alone, unbounded, for comparison.
Role accuracy is the share of labelled reference speech time (turns.json with roles) whose hypothesised
role matches. "changed" is the number of live segments the final pass relabelled / the disagreements it
kept live. Cost is process CPU seconds (all threads) per audio second.
"""

from __future__ import annotations

import argparse
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
from analysis.diarization.final_labels import final_labels
from analysis.diarization.offline import diarize_recording
from analysis.diarization.roles import Hint
from analysis.diarization.rttm import Turn, parse_rttm
from analysis.diarization.simulate import simulate_live

REPO = Path(__file__).resolve().parents[1]


def annotation(turns: list[Turn]) -> Annotation:
    ann = Annotation()
    for t in turns:
        ann[Segment(t.start, t.end)] = t.speaker
    return ann


def der(ref: list[Turn], hyp: list[Turn], uem: Timeline, collar: float = 0.25) -> tuple[float, float]:
    """(DER, speaker confusion) as shares of reference speech."""
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    parts = metric(annotation(ref), annotation(hyp), uem=uem, detailed=True)
    total = parts["total"] or 1.0
    return float(parts["diarization error rate"]), float(parts["confusion"] / total)


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


def recordings(data: Path):
    """(name, audio, reference turns, uem, role turns or None, hints) for every recording benchmarked."""
    for manifest in sorted(data.glob("*/manifest.jsonl")):
        for line in manifest.read_text().splitlines():
            item = json.loads(line)
            if "rttm" not in item:
                continue
            folder = manifest.parent
            audio = load(folder / item["path"])
            if audio.ndim == 2:
                continue
            dur = len(audio) / 16000
            ref = parse_rttm((folder / item["rttm"]).read_text())
            uem = Timeline([Segment(0, dur)])
            if "uem" in item:
                parts = [ln.split() for ln in (folder / item["uem"]).read_text().splitlines() if ln.strip()]
                uem = Timeline([Segment(float(p[2]), float(p[3])) for p in parts])
            turns = None
            if isinstance(item.get("turns"), str):
                loaded = json.loads((folder / item["turns"]).read_text())
                turns = loaded if all("role" in t for t in loaded) else None
            hints = []
            if turns:  # the console's question clicks: just before each question, one while an answer ends
                asks = [t for t in turns if t["role"] == "interviewer"]
                answers = [t for t in turns if t["role"] == "candidate"]
                hints = [Hint(at=max(0.0, t["start"] - 0.3), speaker="interviewer", kind="question") for t in asks]
                if answers and len(hints) > 1:
                    hints[1] = Hint(at=answers[0]["end"] - 1.0, speaker="interviewer", kind="question")
            yield f"{folder.name}/{Path(item['path']).stem}", audio, ref, uem, turns, hints
    moods = data / "emotion_ko"
    for speaker in ("ema", "emf"):
        parts, ref, turns, hints, t = [np.zeros(16000, np.float32)], [], [], [], 1.0
        for n in ("00001", "00101", "00201", "00301"):
            audio = load(moods / f"{speaker}{n}.wav")
            regions = speech_regions(audio)
            a, b = t + regions[0][0], t + regions[-1][1]
            ref.append(Turn(a, b, speaker))
            turns.append({"start": a, "end": b, "role": "candidate"})
            hints.append(Hint(at=t - 1.0, speaker="interviewer", kind="question"))
            parts += [audio, np.zeros(2 * 16000, np.float32)]
            t += len(audio) / 16000 + 2.0
        audio = np.concatenate(parts)
        yield f"emotion_ko/{speaker} four moods", audio, ref, Timeline([Segment(0, len(audio) / 16000)]), turns, hints


def select_backend(argv: list[str] | None = None) -> str:
    """Apply ``--backend`` to the environment ``get_encoder()`` reads; returns a one-line description."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["env", "resemblyzer", "ecapa"], default="env",
                        help="speaker encoder: env (SPEAKER_MODEL_DIR decides), resemblyzer, or ecapa")
    parser.add_argument("--speaker-model-dir", default="",
                        help="SpeechBrain ECAPA directory (hyperparams.yaml + embedding_model.ckpt ...)")
    args = parser.parse_args(argv)
    if args.backend == "resemblyzer":
        os.environ.pop("SPEAKER_MODEL_DIR", None)
        os.environ.pop("SPEAKER_MODEL", None)
    elif args.backend == "ecapa" or args.speaker_model_dir:
        model_dir = args.speaker_model_dir or os.environ.get("SPEAKER_MODEL_DIR") or os.environ.get("SPEAKER_MODEL")
        if not model_dir:
            parser.error("--backend ecapa needs --speaker-model-dir (or SPEAKER_MODEL_DIR)")
        os.environ.pop("SPEAKER_MODEL", None)
        os.environ["SPEAKER_MODEL_DIR"] = model_dir
    chosen = os.environ.get("SPEAKER_MODEL_DIR") or os.environ.get("SPEAKER_MODEL")
    return f"SpeechBrain ECAPA from {chosen}" if chosen else "resemblyzer GE2E"


def main() -> None:
    backend = select_backend()
    data = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
    t0 = time.perf_counter()
    get_encoder().embed([np.zeros(24000, dtype=np.float32)])  # first LSTM pass allocates; keep it out of timings
    speech_regions(np.zeros(16000, dtype=np.float32))
    print(f"speaker encoder: {backend} ({get_encoder().dim}-d)")
    print(f"model load (encoder + VAD): {time.perf_counter() - t0:.2f} s wall\n")
    rows = []
    for name, audio, ref, uem, turns, hints in recordings(data):
        dur = len(audio) / 16000
        run = simulate_live(audio, hints=hints)
        live = run.corrected
        live_turns = [Turn(s.start, s.end, s.speaker) for s in live]
        c0 = time.process_time()
        raw = diarize_recording(audio)
        fl = final_labels(audio, live, hints=hints)
        final_cpu = time.process_time() - c0
        summary = fl.summary(live)
        roles_live = roles_final = float("nan")
        if turns:
            roles_live, _ = role_accuracy([(s.start, s.end, s.role) for s in live], turns)
            roles_final, _ = role_accuracy([(t.start, t.end, fl.roles[t.speaker].role) for t in fl.turns], turns)
        live_der, live_conf = der(ref, live_turns, uem)
        fin_der, fin_conf = der(ref, fl.turns, uem)
        raw_der, raw_conf = der(ref, raw, uem)
        rows.append({
            "file": name, "dur": dur,
            "spk": f"{len({t.speaker for t in ref})}/{len({t.speaker for t in live_turns})}/{len({t.speaker for t in fl.turns})}/{len({t.speaker for t in raw})}",
            "live_conf": live_conf, "live_der": live_der, "fin_conf": fin_conf, "fin_der": fin_der,
            "raw_conf": raw_conf, "raw_der": raw_der, "role_live": roles_live, "role_final": roles_final,
            "changed": f"{summary['changed']}/{summary['kept_live']}", "fixes": len(run.corrections),
            "live_cpu": run.label_cpu_s / dur, "fin_cpu": final_cpu / dur, "state_kb": run.max_state_bytes / 1024,
        })

    def pct(x: float) -> str:
        return "   -  " if np.isnan(x) else f"{100 * x:5.1f}%"

    header = (
        f"{'recording':30} {'dur s':>5} {'spk r/l/f/raw':>13} | {'live conf':>9} {'DER':>6} | {'final conf':>10} {'DER':>6} | "
        f"{'raw conf':>8} {'DER':>6} | {'role live':>9} {'final':>6} | {'changed/kept':>12} {'role fixes':>10} | "
        f"{'live cpu/s':>10} {'final cpu/s':>11} | {'state KB':>8}"
    )
    print(header)
    print("-" * len(header))
    worse = []
    for r in rows:
        print(
            f"{r['file']:30} {r['dur']:5.1f} {r['spk']:>13} | {pct(r['live_conf']):>9} {pct(r['live_der']):>6} | "
            f"{pct(r['fin_conf']):>10} {pct(r['fin_der']):>6} | {pct(r['raw_conf']):>8} {pct(r['raw_der']):>6} | "
            f"{pct(r['role_live']):>9} {pct(r['role_final']):>6} | {r['changed']:>12} {r['fixes']:>10} | "
            f"{r['live_cpu']:10.3f} {r['fin_cpu']:11.3f} | {r['state_kb']:8.1f}"
        )
        if r["fin_conf"] > r["live_conf"] + 1e-9 or (r["role_final"] < r["role_live"] - 1e-9):
            worse.append(r["file"])
    print(
        "\nconf: speaker confusion (confused time / reference speech); DER: pyannote.metrics, overlap scored, collar"
        " 0.25 s. spk r/l/f/raw: speakers in reference / live / final / raw re-clustering.\nTargets: confusion"
        " <= 5% live and <= 2% final, role accuracy >= 98% live and final on two-person interviews, final never"
        " worse than live.\nrole: share of labelled speech with the right role (live with role corrections"
        " applied). changed/kept: live segments the final pass relabelled / disagreements it left live.\n"
        f"final worse than live on: {', '.join(worse) if worse else 'none'}"
    )


if __name__ == "__main__":
    main()
