"""The upload decoder on real speech encoded, in the test, into every accepted format; and refusals."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import soundfile as sf
from bench.audioencode import FORMATS, encode
from shareddata import DATA

from analysis.audio.decode import RecordingError, decode_to_wav

MOCK = DATA / "interviews" / "mock_interview_en.wav"
STEREO = DATA / "diarization" / "faster_whisper_stereo" / "stereo_diarization.wav"
pytestmark = pytest.mark.skipif(not MOCK.exists(), reason="shared data not available")


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    audio, sr = sf.read(MOCK, dtype="float32")
    return audio[: sr * 6], sr


def _decode(data: bytes, **kwargs: object) -> tuple[np.ndarray, object]:
    out = io.BytesIO()
    info = decode_to_wav(io.BytesIO(data), out, **kwargs)  # type: ignore[arg-type]
    audio, sr = sf.read(io.BytesIO(out.getvalue()), dtype="float32", always_2d=True)
    assert sr == 16000
    return audio, info


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_accepted_format_decodes_to_the_same_speech(speech: tuple[np.ndarray, int], suffix: str) -> None:
    reference, sr = speech
    audio, info = _decode(encode(reference, sr, suffix))
    assert info.channels == 1 and audio.shape[1] == 1
    assert abs(info.duration_s - 6.0) < 0.1, info  # encoder padding is trimmed or negligible
    # The decoded waveform matches the original (codec delay searched over +-50 ms): it is the same speech.
    a, b = reference, audio[: len(reference), 0]
    best = max(_corr(a, b, lag) for lag in range(-800, 801, 16))
    assert best > 0.9, f"{suffix}: correlation {best:.3f}"


def _corr(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    if lag >= 0:
        x, y = a[: len(a) - lag], b[lag:]
    else:
        x, y = a[-lag:], b[: len(b) + lag]
    n = min(len(x), len(y))
    return float(np.corrcoef(x[:n], y[:n])[0, 1])


def test_two_channel_layout_keeps_the_channels_apart() -> None:
    if not STEREO.exists():
        pytest.skip("stereo sample not available")
    stereo, sr = sf.read(STEREO, dtype="float32", always_2d=True)
    audio, info = _decode(encode(stereo, sr, "m4a"), layout="two_channel")
    assert info.channels == 2 and info.source_channels == 2 and audio.shape[1] == 2
    n = min(len(stereo), len(audio)) - 2000
    assert _best(stereo[:, 0], audio[:, 0], n) > 0.9 and _best(stereo[:, 1], audio[:, 1], n) > 0.9
    mono, info = _decode(encode(stereo, sr, "wav"))
    assert info.channels == 1 and mono.shape[1] == 1


def _best(a: np.ndarray, b: np.ndarray, n: int) -> float:
    return max(_corr(a[:n], b[:n], lag) for lag in range(-800, 801, 16))


def test_two_channel_layout_refuses_a_mono_recording(speech: tuple[np.ndarray, int]) -> None:
    with pytest.raises(RecordingError) as err:
        _decode(encode(*speech, "wav"), layout="two_channel")
    assert err.value.code == "layout_mismatch"


@pytest.mark.parametrize("case", ["random", "text", "empty", "truncated_m4a", "garbled_webm"])
def test_corrupt_files_are_refused(speech: tuple[np.ndarray, int], case: str) -> None:
    m4a, webm = encode(*speech, "m4a"), encode(*speech, "webm")
    data = {
        "random": os.urandom(40_000), "text": b"not audio at all\n" * 200, "empty": b"",
        "truncated_m4a": m4a[: len(m4a) // 3], "garbled_webm": webm[:300] + os.urandom(20_000),
    }[case]
    with pytest.raises(RecordingError) as err:
        _decode(data)
    assert err.value.code == "corrupt"


def test_limits(speech: tuple[np.ndarray, int]) -> None:
    with pytest.raises(RecordingError) as err:
        _decode(encode(*speech, "mp3"), max_duration_s=2.0)
    assert err.value.code == "too_long"
    with pytest.raises(RecordingError) as err:
        _decode(encode(speech[0][:1600], speech[1], "wav"))
    assert err.value.code == "too_short"
