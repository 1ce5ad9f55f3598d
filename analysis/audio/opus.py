"""Raw Opus packets on the socket (``encoding=opus``, docs/protocol.md): framing, duration, decoding.

A chunk's payload is one or more Opus packets (RFC 6716), each prefixed by its length as a 16-bit
big-endian integer: exactly what WebCodecs' ``AudioEncoder`` (codec ``opus``) or libopus hands out, with no
container. Why raw packets and not MediaRecorder's WebM/Ogg: a container stream is only decodable from its
first bytes, so a chunk could not be decoded on its own by whichever worker picks it up, nor resent after
a resume; a packet can.

The duration of a packet is read from its TOC byte without decoding, so the consumer checks pace and
offsets as cheaply as for PCM. Decoding (PyAV's libopus) is 48 kHz PCM16; the previous chunk's packets are
decoded first, on the same decoder, so the chunk starts from the decoder state it had in the stream (no
click at chunk boundaries) and they double as the resampler's context. Pure: no Django.
"""

from __future__ import annotations

import struct

import av
import numpy as np

SAMPLE_RATE = 48000
MAX_PACKET_MS = 120.0

# Frame duration in 1/48000 s per TOC configuration (RFC 6716 section 3.1, table 2).
_SILK = [480, 960, 1920, 2880]  # 10, 20, 40, 60 ms
_HYBRID = [480, 960]  # 10, 20 ms
_CELT = [120, 240, 480, 960]  # 2.5, 5, 10, 20 ms


class OpusFrameError(ValueError):
    """A payload that is not a sequence of length-prefixed Opus packets."""


def _frame_samples(config: int) -> int:
    if config < 12:
        return _SILK[config % 4]
    if config < 16:
        return _HYBRID[config % 2]
    return _CELT[config % 4]


def packet_samples(packet: bytes) -> int:
    """Samples (at 48 kHz, per channel) that ``packet`` decodes to, from its TOC byte(s)."""
    if not packet:
        raise OpusFrameError("empty Opus packet")
    toc = packet[0]
    code = toc & 0x3
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            raise OpusFrameError("Opus packet with code 3 lacks its frame count byte")
        count = packet[1] & 0x3F
        if count == 0:
            raise OpusFrameError("Opus packet with zero frames")
    samples = count * _frame_samples(toc >> 3)
    if samples > MAX_PACKET_MS * SAMPLE_RATE / 1000:
        raise OpusFrameError("Opus packet longer than 120 ms")
    return samples


def split_packets(payload: bytes) -> list[bytes]:
    """The packets of one chunk payload: ``(u16 big-endian length, packet)*``."""
    packets: list[bytes] = []
    offset = 0
    while offset < len(payload):
        if offset + 2 > len(payload):
            raise OpusFrameError(f"truncated length prefix at byte {offset}")
        (length,) = struct.unpack_from(">H", payload, offset)
        offset += 2
        if length == 0 or offset + length > len(payload):
            raise OpusFrameError(f"packet of {length} bytes at byte {offset - 2} does not fit the payload")
        packets.append(payload[offset : offset + length])
        offset += length
    if not packets:
        raise OpusFrameError("no Opus packets in the chunk")
    return packets


def join_packets(packets: list[bytes]) -> bytes:
    """The inverse of ``split_packets`` (clients, tests, bench)."""
    return b"".join(struct.pack(">H", len(p)) + p for p in packets)


def payload_samples(payload: bytes) -> int:
    """Samples (48 kHz, per channel) of a whole chunk payload; validates its framing."""
    return sum(packet_samples(p) for p in split_packets(payload))


def _decoder(channels: int) -> av.CodecContext:
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = SAMPLE_RATE
    decoder.layout = "stereo" if channels == 2 else "mono"
    return decoder


def _decode(decoder: av.CodecContext, packets: list[bytes], channels: int, expected: int) -> np.ndarray:
    blocks = []
    for packet in packets:
        for frame in decoder.decode(av.Packet(packet)):
            pcm = frame.to_ndarray()
            if frame.format.is_planar:
                pcm = pcm.T
            else:
                pcm = pcm.reshape(-1, channels)
            if pcm.dtype != np.int16:
                pcm = (np.clip(pcm, -1.0, 1.0) * 32767.0).astype(np.int16)
            blocks.append(pcm)
    out = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.int16)
    # The PCM path counts samples from the TOC; keep the decoded length to exactly that.
    if len(out) < expected:
        out = np.concatenate([out, np.zeros((expected - len(out), channels), np.int16)])
    return out[:expected]


def decode_chunk(payload: bytes, previous: bytes | None, *, channels: int) -> tuple[bytes, bytes | None]:
    """(this chunk, previous chunk) as interleaved PCM16 at 48 kHz; the previous one primes the decoder."""
    decoder = _decoder(channels)
    previous_pcm = None
    if previous:
        prev_packets = split_packets(previous)
        previous_pcm = _decode(decoder, prev_packets, channels, sum(map(packet_samples, prev_packets))).tobytes()
    packets = split_packets(payload)
    pcm = _decode(decoder, packets, channels, sum(map(packet_samples, packets)))
    return pcm.tobytes(), previous_pcm


def encode_pcm(audio: np.ndarray, sample_rate: int, *, channels: int = 1, bitrate: int = 24000,
               frame_ms: int = 20) -> list[bytes]:
    """Raw Opus packets of ``audio`` (float32, (n,) or (n, channels)) — what a browser's AudioEncoder sends.

    For clients, tests and the bench; the server only decodes.
    """
    from fractions import Fraction

    x = np.asarray(audio, dtype=np.float32).reshape(len(audio), -1)
    layout = "stereo" if channels == 2 else "mono"
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = layout
    encoder.format = "s16"
    encoder.bit_rate = bitrate
    encoder.options = {"frame_duration": str(frame_ms), "application": "voip"}
    encoder.time_base = Fraction(1, SAMPLE_RATE)
    encoder.open()
    resampler = av.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE, frame_size=encoder.frame_size)
    frame = av.AudioFrame.from_ndarray((np.clip(x, -1, 1) * 32767).astype(np.int16).reshape(1, -1), format="s16",
                                       layout=layout)  # fmt: skip
    frame.sample_rate = sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    packets: list[bytes] = []
    for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
        packets += [bytes(p) for p in encoder.encode(resampled)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets
