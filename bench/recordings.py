"""Recorded-interview formats: bytes per audio minute and WER/CER of the whole-recording transcription.

Each shared mock interview (``interviews/``: real recordings of two people in alternating turns, en and
ko) is encoded into every upload format (``bench/audioencode.py``: the encoders a browser, a phone or a call
recorder use), decoded the way an upload is (``analysis.audio.decode``), and transcribed the way the
whole-recording pass does (``transcribe_offline`` with ``FINAL_WHISPER_MODEL``/``FINAL_BEAM_SIZE``).
Prints the file size per audio minute, decode CPU-seconds and the error rate per format.

    .venv/bin/python -m bench.recordings [--formats wav mp3 m4a webm mp4]
"""

from __future__ import annotations

import argparse
import io
import resource
import time
from dataclasses import replace

import soundfile as sf

from analysis.audio.decode import decode_to_wav
from analysis.stt.engine import transcribe_offline
from bench.audioencode import FORMATS, encode
from bench.common import error_counts, metric_name, print_table, read_manifest, shared_data_dir
from bench.preprocess import server_stt_config


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", nargs="+", default=sorted(FORMATS), choices=sorted(FORMATS))
    args = parser.parse_args()
    config = replace(server_stt_config(), beam_size=5)  # the final pass: base, beam 5
    rows = []
    for item in read_manifest(shared_data_dir() / "interviews"):
        audio, sr = sf.read(item.path, dtype="float32")
        minutes = len(audio) / sr / 60
        for suffix in args.formats:
            data = encode(audio, sr, suffix)
            out = io.BytesIO()
            t0 = cpu_s()
            decode_to_wav(io.BytesIO(data), out)
            decode_cpu = cpu_s() - t0
            decoded, _ = sf.read(io.BytesIO(out.getvalue()), dtype="float32")
            t0, w0 = cpu_s(), time.monotonic()
            segments = transcribe_offline(config, decoded, language=item.language)
            stt_cpu, wall = cpu_s() - t0, time.monotonic() - w0
            hypothesis = " ".join(s.text for s in segments)
            counts = error_counts(item.text or "", hypothesis, item.language, ko_numbers=item.language == "ko")
            rows.append([item.name, suffix, f"{len(data) / minutes / 1024:.0f}", f"{decode_cpu:.2f}",
                         f"{stt_cpu:.1f}", f"{wall:.1f}", f"{metric_name(item.language)} {counts.rate:.3f}"])
            print(*rows[-1], sep="\t", flush=True)
    print()
    print_table(["recording", "format", "KiB/audio min", "decode CPU s", "STT CPU s", "STT wall s*", "error"], rows)
    print("* wall-clock, measured under whatever load the machine has")


if __name__ == "__main__":
    main()
