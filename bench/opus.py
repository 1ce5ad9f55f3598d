"""PCM16 vs Opus on the socket: bytes per audio minute and WER/CER, side by side.

Each selected shared file (as 16 kHz mono, what the console sends) is streamed twice through the same
server and a byte-counting relay: as PCM16 and as raw Opus packets (``encoding=opus``: 20 ms packets, ``--bitrate`` bit/s, what a
browser's WebCodecs AudioEncoder sends). Bytes are (a) the audio payload the client sent and (b) the TCP
bytes upstream (WebSocket framing and permessage-deflate included), per minute of audio.

    .venv/bin/python -m bench.opus [--files en/ ko/ interviews/ | --all] [--speed 4] [--bitrate 24000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from analysis.audio.preprocess import file_to_16k_mono
from bench.common import DEFAULT_SETS, ErrorCounts, error_counts, metric_name, print_table, select_items, shared_data_dir
from bench.harness import relay, spawn_server
from clients.python.interview_client import stream_audio


async def run(args: argparse.Namespace) -> None:
    items = select_items(shared_data_dir(), DEFAULT_SETS, [] if args.all else args.files)
    if not items:
        sys.exit("no files selected (--files SUBSTR ... or --all)")
    server = spawn_server("embedded", "") if args.url is None else None
    url = args.url or server.url
    rows, pooled = [], {}
    try:
        warm = file_to_16k_mono(str(items[0].path))
        await stream_audio(url, warm, sample_rate=16000, params={"language": items[0].language}, speed=4.0)
        for item in items:
            audio, sr = file_to_16k_mono(str(item.path)), 16000  # what the console sends: 16 kHz mono
            channels = 1
            minutes = item.duration_s / 60
            cells = [item.name]
            for encoding in ("pcm_s16le", "opus"):
                proxy, relayed, wire = await relay(url)
                try:
                    log = await stream_audio(relayed, audio, sample_rate=sr, channels=channels, speed=args.speed,
                                             params={"language": item.language}, encoding=encoding,
                                             opus_bitrate=args.bitrate)  # fmt: skip
                finally:
                    proxy.close()
                counts = error_counts(item.text or "", log.transcript(), item.language, ko_numbers=item.language == "ko")
                key = (item.set_name + ("/" + item.language if item.set_name == "interviews" else ""), encoding)
                pooled[key] = pooled.get(key, ErrorCounts(0, 0)) + counts
                cells += [f"{log.bytes_sent / minutes / 1024:.0f}", f"{wire.up / minutes / 1024:.0f}",
                          f"{metric_name(item.language)} {counts.rate:.3f}"]
                errors = [e["code"] for e in log.of_type("error_message")]
                print(f"  {encoding}: {log.transcript()!r}" + (f" errors {errors}" if errors else ""), file=sys.stderr)
            rows.append(cells)
            print("\t".join(cells), file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\nPCM16 vs Opus ({args.bitrate / 1000:g} kbit/s, 20 ms packets) at {args.speed:g}x; KiB per audio minute")
    print_table(["file", "PCM payload", "PCM wire", "PCM error", "Opus payload", "Opus wire", "Opus error"], rows)
    print("\nPooled error rates (errors / reference units; Korean numbers read as Hangul):")
    groups = sorted({g for g, _ in pooled})
    print_table(["group", "PCM %", "Opus %", "ref units"],
                [[g, f"{100 * pooled[(g, 'pcm_s16le')].rate:.1f}", f"{100 * pooled[(g, 'opus')].rate:.1f}",
                  str(pooled[(g, "opus")].ref_units)] for g in groups])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server's WebSocket URL (default: spawn an embedded one)")
    parser.add_argument("--files", nargs="+", default=[], help="substrings of file names")
    parser.add_argument("--all", action="store_true", help="every file of en/, ko/ and interviews/")
    parser.add_argument("--speed", type=float, default=4.0, help="pace at this multiple of real time (≤ 4)")
    parser.add_argument("--bitrate", type=int, default=24000, help="Opus bit rate")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
