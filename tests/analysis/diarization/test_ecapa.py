"""The SpeechBrain ECAPA backend, on a tiny model the test builds and saves in SpeechBrain's own layout.

No pretrained ECAPA weights exist offline here, so the model is randomly initialised: these tests check the
real loading path (hyperparams.yaml with a hub ``pretrained_path``, Pretrainer, checkpoints used in place),
the real embedding code on real speech, and that the live and final diarizers run on it end to end. They do
not assert speaker separation, which a random model cannot provide.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.diarization import embeddings
from analysis.diarization.embeddings import EcapaEncoder, SpeakerModelUnavailable, embed_windows
from analysis.diarization.final_labels import final_labels
from analysis.diarization.offline import diarize_recording
from analysis.diarization.simulate import simulate_live

N_MELS = 80
CHANNELS = [32, 32, 32, 32, 96]
EMB_DIM = 24
N_SPEAKERS = 5

# The layout and keys of speechbrain/spkrec-ecapa-voxceleb's hyperparams.yaml, with small layer sizes.
HYPERPARAMS = f"""\
n_mels: {N_MELS}
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
out_n_neurons: {N_SPEAKERS}

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {CHANNELS}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: {EMB_DIM}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {EMB_DIM}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""

SPKREC_FILES = {
    "hyperparams.yaml",
    "embedding_model.ckpt",
    "mean_var_norm_emb.ckpt",
    "classifier.ckpt",
    "label_encoder.txt",
}


def save_tiny_ecapa(path: Path, seed: int = 7) -> dict[str, torch.Tensor]:
    """Write a random tiny ECAPA in spkrec-ecapa-voxceleb's layout; returns the embedding model's weights."""
    with embeddings.speechbrain_without_torchaudio():
        from speechbrain.dataio.encoder import CategoricalEncoder
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
        from speechbrain.processing.features import InputNormalization

    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    (path / "hyperparams.yaml").write_text(HYPERPARAMS, encoding="utf-8")
    model = ECAPA_TDNN(
        N_MELS,
        channels=CHANNELS,
        kernel_sizes=[5, 3, 3, 3, 1],
        dilations=[1, 2, 3, 4, 1],
        attention_channels=16,
        lin_neurons=EMB_DIM,
    )
    torch.save(model.state_dict(), path / "embedding_model.ckpt")
    torch.save(Classifier(EMB_DIM, out_neurons=N_SPEAKERS).state_dict(), path / "classifier.ckpt")
    norm = InputNormalization(norm_type="global", std_norm=False)
    norm._save(path / "mean_var_norm_emb.ckpt")  # SpeechBrain's own checkpoint hook for this module
    labels = CategoricalEncoder()
    labels.update_from_iterable([f"id{i:05d}" for i in range(N_SPEAKERS)])
    labels.save(path / "label_encoder.txt")
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def tiny_ecapa(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    path = tmp_path_factory.mktemp("spkrec-ecapa-tiny")
    return path, save_tiny_ecapa(path)


@pytest.fixture(autouse=True)
def fresh_encoder_cache(monkeypatch):
    monkeypatch.delenv("SPEAKER_MODEL", raising=False)
    monkeypatch.delenv("SPEAKER_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach the hub fails instead of waiting
    embeddings._encoder_for.cache_clear()
    yield
    embeddings._encoder_for.cache_clear()


def speech_windows(turns: list[dict]) -> list[tuple[float, float]]:
    first, second = turns[0], turns[1]
    return [
        (first["start"] + 1, first["start"] + 2.5),
        (first["start"] + 4, first["start"] + 5.5),
        (second["start"] + 1, second["start"] + 2.5),
        (second["start"] + 3, second["start"] + 3.8),
    ]


def test_speechbrain_is_installed_without_changing_torch() -> None:
    assert torch.__version__.startswith("2.13.0")
    with embeddings.speechbrain_without_torchaudio():
        import speechbrain
    assert speechbrain.__version__ == "1.1.2"


@pytest.mark.models
def test_loads_saved_weights_from_the_directory_and_embeds_real_speech(tiny_ecapa, interviews, monkeypatch) -> None:
    path, saved = tiny_ecapa
    monkeypatch.setenv("SPEAKER_MODEL_DIR", str(path))
    enc = embeddings.get_encoder()
    assert isinstance(enc, EcapaEncoder) and enc.dim == EMB_DIM
    loaded = enc._model.mods.embedding_model.state_dict()
    assert loaded.keys() == saved.keys()
    for k, v in saved.items():  # the checkpoint was loaded, not a fresh random init
        assert torch.equal(loaded[k], v), k
    # used in place: nothing fetched, linked or written into the model directory
    assert {p.name for p in path.iterdir()} == SPKREC_FILES
    assert not isinstance(sys.modules.get("torchaudio"), embeddings._TorchaudioStandIn)

    audio, turns = interviews["mock_interview_en"]
    wins = speech_windows(turns)
    emb = embed_windows(audio, wins)
    assert emb.vectors.shape == (len(wins), EMB_DIM) and emb.vectors.dtype == np.float32
    assert np.all(np.isfinite(emb.vectors))
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb.starts, [w[0] for w in wins], atol=1e-3)
    assert np.linalg.matrix_rank(emb.vectors) == len(wins)  # different speech, different vectors

    again = embed_windows(audio, wins)
    np.testing.assert_array_equal(again.vectors, emb.vectors)  # deterministic
    alone = embed_windows(audio, wins[2:3])
    np.testing.assert_allclose(alone.vectors[0], emb.vectors[2], atol=1e-5)  # batch company does not matter


@pytest.mark.models
def test_old_setting_name_is_an_alias_and_a_conflict_is_refused(tiny_ecapa, tmp_path, monkeypatch) -> None:
    path, _ = tiny_ecapa
    monkeypatch.setenv("SPEAKER_MODEL", str(path))
    assert isinstance(embeddings.get_encoder(), EcapaEncoder)
    monkeypatch.setenv("SPEAKER_MODEL_DIR", str(tmp_path))
    with pytest.raises(SpeakerModelUnavailable, match="disagree"):
        embeddings.get_encoder()


def test_missing_checkpoint_fails_clearly(tiny_ecapa, tmp_path, monkeypatch) -> None:
    path, _ = tiny_ecapa
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hyperparams.yaml").write_text((path / "hyperparams.yaml").read_text())
    monkeypatch.setenv("SPEAKER_MODEL_DIR", str(broken))
    with pytest.raises(SpeakerModelUnavailable, match="cannot load the ECAPA model"):
        embeddings.get_encoder()
    assert "torchaudio" not in sys.modules or not isinstance(sys.modules["torchaudio"], embeddings._TorchaudioStandIn)


def test_a_torchaudio_call_on_the_speechbrain_side_fails_loudly(tiny_ecapa) -> None:
    with embeddings.speechbrain_without_torchaudio():
        from speechbrain.nnet import CNN
    ta = CNN.torchaudio
    if isinstance(ta, embeddings._TorchaudioStandIn):
        with pytest.raises(AttributeError, match="no torchaudio build matches"):
            ta.functional  # noqa: B018
    assert not isinstance(sys.modules.get("torchaudio"), embeddings._TorchaudioStandIn)


@pytest.mark.models
def test_live_and_final_diarization_run_end_to_end_on_ecapa(tiny_ecapa, interviews, monkeypatch) -> None:
    path, _ = tiny_ecapa
    monkeypatch.setenv("SPEAKER_MODEL_DIR", str(path))
    audio, turns = interviews["mock_interview_en"]
    run = simulate_live(audio, chunk_s=2.0)
    assert run.segments, "the live labeller produced no segments"
    assert all(s.speaker and s.role in ("interviewer", "candidate", "unknown") for s in run.segments)
    speech = sum(t["end"] - t["start"] for t in turns)
    assert sum(s.end - s.start for s in run.segments) > 0.5 * speech
    raw = diarize_recording(audio)
    assert raw and all(t.end > t.start for t in raw)
    final = final_labels(audio, run.segments)  # the product's final pass, bounded by the live voices
    relabelled = final.label(run.segments)
    assert relabelled and {s.speaker for s in relabelled} <= {s.speaker for s in run.segments} | {"S1"}
