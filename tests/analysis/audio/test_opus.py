"""Raw Opus packets: TOC durations (RFC 6716 table 2), framing errors, and decoding chunk by chunk."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly
from shareddata import DATA

from analysis.audio import opus

CLIP = DATA / "en" / "1272-128104-0000.wav"


@pytest.mark.parametrize(("toc", "extra", "ms"), [
    (0 << 3 | 0, b"", 10), (1 << 3 | 0, b"", 20), (3 << 3 | 0, b"", 60),  # SILK, one frame
    (13 << 3 | 0, b"", 20), (12 << 3 | 1, b"", 20),  # hybrid; code 1 = two frames
    (16 << 3 | 0, b"", 2.5), (19 << 3 | 2, b"", 40),  # CELT; code 2 = two frames
    (19 << 3 | 3, bytes([3]), 60), (3 << 3 | 3, bytes([2]), 120),  # code 3: count in the next byte
])
def test_packet_duration_from_the_toc(toc: int, extra: bytes, ms: float) -> None:
    assert opus.packet_samples(bytes([toc]) + extra + b"\x00" * 8) == int(ms * 48)


@pytest.mark.parametrize("payload", [
    b"", b"\x00", b"\x00\x05abc", b"\x00\x00", opus.join_packets([bytes([19 << 3 | 3])]),
    opus.join_packets([bytes([3 << 3 | 3, 3])]),  # 180 ms in one packet
])
def test_bad_framing_is_refused(payload: bytes) -> None:
    with pytest.raises(opus.OpusFrameError):
        opus.payload_samples(payload)


@pytest.mark.skipif(not CLIP.exists(), reason="shared data not available")
def test_chunks_decoded_independently_match_one_continuous_decode() -> None:
    audio, sr = sf.read(CLIP, dtype="float32")
    packets = opus.encode_pcm(audio, sr)
    assert abs(sum(map(opus.packet_samples, packets)) / 48000 - len(audio) / sr) < 0.03
    chunks = [opus.join_packets(packets[i:i + 12]) for i in range(0, len(packets), 12)]
    pieces, previous = [], None
    for chunk in chunks:  # as the workers do: each chunk alone, primed by the previous one
        pcm, _ = opus.decode_chunk(chunk, previous, channels=1)
        assert len(pcm) == 2 * opus.payload_samples(chunk)
        pieces.append(np.frombuffer(pcm, np.int16))
        previous = chunk
    whole, _ = opus.decode_chunk(opus.join_packets(packets), None, channels=1)
    stitched = np.concatenate(pieces)
    reference = np.frombuffer(whole, np.int16).astype(np.float64)
    error = stitched.astype(np.float64) - reference
    snr_db = 10 * np.log10((reference**2).sum() / max((error**2).sum(), 1e-9))
    assert snr_db > 40, snr_db  # primed chunks ~53 dB from a continuous decode; unprimed ones ~9 dB (clicks)
    decoded = resample_poly(stitched.astype(np.float32) / 32768, 1, 3)
    n = min(len(audio), len(decoded)) - 400
    best_lag = max(range(0, 400, 2), key=lambda lag: np.corrcoef(audio[:n], decoded[lag:lag + n])[0, 1])
    assert np.corrcoef(audio[:n], decoded[best_lag:best_lag + n])[0, 1] > 0.7  # same speech (a speech codec keeps spectra, not waveforms; WER is tested end to end)
    assert 80 <= best_lag <= 120  # delayed by the encoder's look-ahead only (6.5 ms = 104 samples)
    assert sum(map(len, packets)) * 8 / (len(audio) / sr) < 30_000  # ~24 kbit/s against 256 for PCM16
