"""Chunked preprocessing tiles the 16 kHz session timeline exactly, at any client rate and chunking."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.audio.preprocess import (
    AudioFormatError,
    ChunkFormat,
    decode_pcm16,
    highpass,
    normalize_loudness,
    preprocess_chunk,
    to_int16_bytes,
)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000])
def test_chunks_tile_the_timeline_without_drift(sample_rate):
    rng = np.random.default_rng(1)
    t = np.arange(sample_rate * 3) / sample_rate
    signal = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    pcm = to_int16_bytes(signal)
    offset, previous, pieces = 0, None, []
    while offset < len(signal):
        n = min(int(rng.integers(sample_rate // 50, sample_rate // 3)), len(signal) - offset)
        raw = pcm[offset * 2 : (offset + n) * 2]
        out = preprocess_chunk(raw, fmt=ChunkFormat(sample_rate, 1), in_offset=offset, previous_raw=previous, steps=())
        pieces.append(out)
        previous, offset = raw, offset + n
    for a, b in zip(pieces, pieces[1:]):
        assert a.start_sample + len(a.mono) == b.start_sample
    joined = np.concatenate([p.mono for p in pieces])
    assert len(joined) == -(-len(signal) * 16000 // sample_rate)
    reference = 0.3 * np.sin(2 * np.pi * 440 * np.arange(len(joined)) / 16000)
    interior = np.ones(len(joined), dtype=bool)
    for p in pieces:  # the resampler sees no future at a chunk's last samples; everything else is exact
        interior[p.start_sample + len(p.mono) - 8 : p.start_sample + len(p.mono)] = False
    interior[:50] = False
    assert np.abs(joined - reference)[interior].max() < 0.01


def test_stereo_mixes_down_and_keeps_channels():
    left = np.full(1600, 0.5, dtype=np.float32)
    right = np.zeros(1600, dtype=np.float32)
    raw = to_int16_bytes(np.stack([left, right], axis=1).reshape(-1))
    out = preprocess_chunk(raw, fmt=ChunkFormat(16000, 2), in_offset=0, previous_raw=None, steps=())
    assert out.channels is not None and out.channels.shape == (1600, 2)
    assert abs(float(out.mono.mean()) - 0.25) < 1e-3


def test_decode_rejects_partial_frames():
    with pytest.raises(AudioFormatError):
        decode_pcm16(b"\x00\x00\x00", 2)


def test_highpass_removes_dc_and_rumble():
    t = np.arange(16000) / 16000
    rumble = (0.2 + 0.3 * np.sin(2 * np.pi * 20 * t)).astype(np.float32)
    voice = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    out = highpass(rumble + voice)[4000:]
    assert abs(float(out.mean())) < 0.01
    assert np.std(out - voice[4000:]) < 0.05


def test_loudness_normalisation_reaches_the_target_level():
    t = np.arange(16000) / 16000
    quiet = (0.01 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    out = normalize_loudness(quiet, target_dbfs=-20.0)
    level = 20 * np.log10(np.sqrt(np.mean(out**2)))
    assert -21.5 < level < -18.5
