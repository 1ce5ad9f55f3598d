"""The durable recording (``sessions.recording``): ordered, idempotent, hole-free appends; chunk audio recomputed
exactly as the live preprocess stage made it; the final WAV streamed with the duration that was sent."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from analysis.audio.preprocess import ChunkFormat, preprocess_chunk
from sessions.recording import RECORD, Recording, RecordingGap


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _chunks(n: int, frames: int, channels: int = 1, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(frames * channels) * 3000).astype("<i2").tobytes() for _ in range(n)]


def test_appends_in_order_idempotent_and_refuses_holes(media):
    rec = Recording("s1", sample_rate=16000, channels=1)
    chunks = _chunks(3, 1600)
    for seq, pcm in enumerate(chunks):
        entry = rec.append(seq, pcm)
        assert entry.seq == seq and entry.offset == seq * 3200 and entry.length == 3200
    assert rec.append(1, chunks[1]).offset == 3200  # a retried accept writes nothing twice
    assert rec.last_seq() == 2 and rec.data_path.stat().st_size == 9600
    with pytest.raises(RecordingGap):
        rec.append(5, chunks[0])
    assert rec.last_seq() == 2 and rec.duration_s() == pytest.approx(0.3)
    raw, previous, entry = rec.chunk(2)
    assert raw == chunks[2] and previous == chunks[1] and entry.in_offset(1) == 3200


def test_a_torn_write_is_cut_off_by_the_next_append(media):
    rec = Recording("s2", sample_rate=16000, channels=1)
    chunks = _chunks(2, 800)
    rec.append(0, chunks[0])
    with open(rec.data_path, "ab") as data:  # the data of chunk 1 landed, its index record did not
        data.write(b"\x01\x02" * 100)
    with open(rec.index_path, "ab") as index:
        index.write(RECORD.pack(1, 1600, 200)[:7])  # and a torn record
    assert rec.last_seq() == 0
    rec.index_path.write_bytes(rec.index_path.read_bytes()[: RECORD.size])
    rec.append(1, chunks[1])
    assert rec.data_path.read_bytes() == chunks[0] + chunks[1]


@pytest.mark.parametrize(("sample_rate", "channels"), [(16000, 1), (48000, 2), (44100, 1)])
def test_recomputed_audio_equals_the_live_preprocess_and_the_wav_streams(media, sample_rate, channels):
    rec = Recording("s3", sample_rate=sample_rate, channels=channels)
    frames = sample_rate // 10
    chunks = _chunks(12, frames, channels, seed=sample_rate)
    for seq, pcm in enumerate(chunks):
        rec.append(seq, pcm)
    fmt = ChunkFormat(sample_rate, channels)
    live = [
        preprocess_chunk(pcm, fmt=fmt, in_offset=seq * frames, previous_raw=chunks[seq - 1] if seq else None,
                         steps=("highpass",)).mono
        for seq, pcm in enumerate(chunks)
    ]
    again = [mono for _s, mono, _m in rec.preprocessed(0, 11, steps=("highpass",))]
    for a, b in zip(live, again):
        np.testing.assert_array_equal(a, b)
    middle = [mono for _s, mono, _m in rec.preprocessed(5, 7, steps=("highpass",))]
    np.testing.assert_array_equal(np.concatenate(middle), np.concatenate(live[5:8]))

    buffer = io.BytesIO()
    duration = rec.write_wav(buffer, steps=("highpass",), keep_channels=True)
    buffer.seek(0)
    with wave.open(buffer) as wav:
        assert wav.getframerate() == 16000 and wav.getnchannels() == channels
        assert wav.getnframes() == sum(len(x) for x in live)
    assert duration == pytest.approx(rec.duration_s(), abs=1e-3) == pytest.approx(1.2)


def test_a_missing_chunk_is_an_error_never_a_shifted_timeline(media):
    rec = Recording("s4", sample_rate=16000, channels=1)
    for seq, pcm in enumerate(_chunks(3, 1600)):
        rec.append(seq, pcm)
    with rec.data_path.open("r+b") as data:
        data.truncate(5000)  # chunk 2 lost its bytes (disk trouble)
    with pytest.raises(RecordingGap):
        list(rec.preprocessed(0, 2, steps=()))
    with pytest.raises(RecordingGap):
        list(rec.preprocessed(0, 3, steps=()))


def test_two_sockets_appending_the_same_chunks_at_once_keep_the_index_whole(media):
    """A blip leaves the old socket's consumer appending chunk n while the resumed socket resends it: both
    appended, the index had chunk n twice and every later chunk was refused as a gap ("corrupt at record")."""
    import threading

    chunks = _chunks(40, 160)
    start = threading.Barrier(6)

    def appender() -> None:
        rec = Recording("s-race", sample_rate=16000, channels=1)
        start.wait()
        for seq, pcm in enumerate(chunks):
            rec.append(seq, pcm)

    threads = [threading.Thread(target=appender) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rec = Recording("s-race", sample_rate=16000, channels=1)
    assert [e.seq for e in rec.entries()] == list(range(40))
    assert rec.data_path.stat().st_size == 40 * 320
    assert [rec.chunk(seq)[0] for seq in range(40)] == chunks
