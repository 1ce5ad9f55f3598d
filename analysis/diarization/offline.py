"""Final pass over a whole recording: turns, relabelled transcript segments and roles.

Why a separate pass: the live labeller must commit labels with only the past in view and never revises
them; once the session ends the whole recording is available, so clustering every window at once (with k
estimated from the eigengap) corrects early mistakes. ``relabel`` maps the new clusters back onto the live
labels so that "S1" keeps meaning the same voice in the stored transcript.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.signal import resample_poly

from analysis.diarization.clustering import spectral_cluster
from analysis.diarization.embeddings import SAMPLE_RATE, embed_windows, sliding_windows, speech_regions
from analysis.diarization.live import QUESTION_LEAD_S, LabeledSegment, SegmentIn, channel_turns, split_words
from analysis.diarization.roles import (
    Hint,
    RoleDecision,
    RoleEvidence,
    assign_roles,
    clicks_answered_alone,
    question_score,
)
from analysis.diarization.rttm import Turn

# Offline windows overlap more than live ones: cost is paid once per session and the finer hop places
# speaker changes within ~0.25 s instead of ~0.4 s.
OFFLINE_HOP_S = 0.5
FRAME_S = 0.05
REFINE_WINDOW_S = 0.75
REFINE_HOP_S = 0.25
MIN_TURN_S = 0.5  # shorter flips inside a speech region are window noise, not turns
MERGE_GAP_S = 0.3


def _to_mono_16k(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        g = np.gcd(sr, SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


def _smooth(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Absorb runs shorter than ``min_frames`` into their longer neighbour, shortest first."""
    labels = labels.copy()
    while True:
        if len(labels) == 0:
            return labels
        change = np.flatnonzero(np.diff(labels)) + 1
        bounds = np.concatenate([[0], change, [len(labels)]])
        runs = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        if len(runs) < 2:
            return labels
        lengths = [b - a for a, b in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_frames:
            return labels
        a, b = runs[i]
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(runs) else -1
        labels[a:b] = labels[a - 1] if left >= right else labels[b]


def _merge_turns(turns: list[Turn]) -> list[Turn]:
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and out[-1].speaker == t.speaker and t.start - out[-1].end <= MERGE_GAP_S:
            out[-1] = Turn(out[-1].start, max(out[-1].end, t.end), t.speaker)
        else:
            out.append(t)
    return out


def diarize_recording(
    audio: np.ndarray, sr: int = SAMPLE_RATE, *, num_speakers: int | None = None, max_speakers: int | None = None
) -> list[Turn]:
    """Speaker turns for a whole recording (speakers "S1", "S2", ... by first appearance).

    ``max_speakers`` bounds the estimated number of voices (what the live session heard); clusters closer
    than a voice (clustering.MERGE_SIMILARITY) are merged whenever ``num_speakers`` is not given.

    Audio of shape (n, 2) is treated as one speaker per channel (channel 0 = S1, the interviewer's
    microphone): speakers are then separated by per-channel VAD, never by clustering.
    """
    x = np.asarray(audio)
    if x.ndim == 2 and x.shape[1] == 2:
        if sr != SAMPLE_RATE:
            g = np.gcd(sr, SAMPLE_RATE)
            x = resample_poly(x.astype(np.float32), SAMPLE_RATE // g, sr // g, axis=0)
        return channel_turns(x.astype(np.float32))
    wave = _to_mono_16k(x, sr)
    regions = speech_regions(wave)
    windows = sliding_windows(regions, hop=OFFLINE_HOP_S)
    emb = embed_windows(wave, windows)
    if len(emb) == 0:
        return []
    if max_speakers is not None and max_speakers <= 1 and not num_speakers:
        num_speakers = 1
    k_max = max(2, min(6, max_speakers)) if max_speakers else 6
    labels = spectral_cluster(emb.vectors, num_speakers=num_speakers, k_max=k_max).labels
    centers = emb.centers
    if REFINE_WINDOW_S:
        # Turns shorter than a clustering window ("Hello?" - "Neither did I.") are placed by short
        # windows compared with the cluster centroids: the clusters come from the reliable long windows,
        # the timing from the short ones.
        k = int(labels.max()) + 1
        cents = np.stack([emb.vectors[labels == c].mean(axis=0) for c in range(k)])
        cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-9)
        short = embed_windows(
            wave, sliding_windows(regions, window=REFINE_WINDOW_S, hop=REFINE_HOP_S, min_len=0.25)
        )
        if len(short):
            labels = np.argmax(short.vectors @ cents.T, axis=1)
            centers = short.centers
    turns: list[Turn] = []
    for start, end in regions:
        frames = np.arange(start, end, FRAME_S) + FRAME_S / 2
        inside = (centers >= start - 0.01) & (centers <= end + 0.01)
        if not inside.any():
            nearest = int(np.argmin(np.abs(centers - (start + end) / 2)))
            turns.append(Turn(start, end, f"S{labels[nearest] + 1}"))
            continue
        idx = np.flatnonzero(inside)
        near = idx[np.argmin(np.abs(frames[:, None] - centers[idx][None, :]), axis=1)]
        frame_labels = _smooth(labels[near], int(MIN_TURN_S / FRAME_S))
        change = np.flatnonzero(np.diff(frame_labels)) + 1
        bounds = np.concatenate([[0], change, [len(frame_labels)]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            t0 = start if a == 0 else float(frames[a] - FRAME_S / 2)
            t1 = end if b == len(frame_labels) else float(frames[b] - FRAME_S / 2)
            turns.append(Turn(round(t0, 3), round(t1, 3), f"S{frame_labels[a] + 1}"))
    return _merge_turns(turns)


def _speaker_at(turns: list[Turn], t: float) -> str | None:
    best, dist = None, 1.0  # a hint within 1 s of a turn still belongs to it
    for turn in turns:
        d = 0.0 if turn.start <= t <= turn.end else min(abs(t - turn.start), abs(t - turn.end))
        if d < dist or (d == 0.0 and best is None):
            best, dist = turn.speaker, d
    return best


def assign_turn_roles(
    turns: list[Turn],
    *,
    hints: Sequence[Hint | dict] = (),
    segments: Sequence[SegmentIn | LabeledSegment] = (),
    enroll_until: float = 0.0,
) -> dict[str, RoleDecision]:
    """Roles for offline speakers from hints, who speaks first and question cues in segment text.

    ``enroll_until``: the first seconds are the interviewer's enrollment; the speaker with most speech in
    them is the enrolled interviewer (strong evidence, ``roles.W_ENROLLED``).
    """
    evidence: dict[str, RoleEvidence] = {}
    ordered = sorted(turns, key=lambda t: t.start)
    enrolled: dict[str, float] = {}
    for t in ordered:
        evidence.setdefault(t.speaker, RoleEvidence()).speech_s += t.duration
        inside = min(t.end, enroll_until) - t.start
        if inside > 0:
            enrolled[t.speaker] = enrolled.get(t.speaker, 0.0) + inside
    if ordered:
        evidence[ordered[0].speaker].first = True
    if enrolled:
        evidence[max(enrolled, key=enrolled.__getitem__)].enrolled = True
    clicks: list[tuple[float, str]] = []
    for raw in hints:
        h = Hint.coerce(raw)
        if h.kind == "question":  # evidence for the voice that speaks next (see live.QUESTION_LEAD_S)
            nxt = next((t.speaker for t in ordered if t.start >= h.at - QUESTION_LEAD_S), None)
            if nxt is not None:
                evidence[nxt].question_hints += 1
                clicks.append((h.at, nxt))
            continue
        spk = _speaker_at(ordered, h.at)
        if spk is None:
            continue
        if h.speaker == "interviewer":
            evidence[spk].speaker_hints += 1
        elif h.speaker == "candidate":
            evidence[spk].speaker_hints -= 1
    spans = [(t.start, t.end, t.speaker) for t in ordered]
    for voice in clicks_answered_alone(clicks, spans, lead_s=QUESTION_LEAD_S,
                                       end=max((t.end for t in ordered), default=None)):
        evidence[voice].answered_alone += 1
    for seg in segments:
        spk = _speaker_at(ordered, (seg.start + seg.end) / 2)
        if spk is not None:
            evidence[spk].question_text += question_score(seg.text)
    return assign_roles(evidence)


def map_speakers(segments: Sequence[SegmentIn | LabeledSegment], turns: list[Turn]) -> dict[str, str]:
    """Offline speaker -> live label by maximum overlap (Hungarian); unmatched ones get fresh labels."""
    live = sorted({s.speaker for s in segments if isinstance(s, LabeledSegment) and s.speaker})
    offline = sorted({t.speaker for t in turns})
    mapping: dict[str, str] = {}
    if live and offline:
        overlap = np.zeros((len(offline), len(live)))
        for t in turns:
            for s in segments:
                if isinstance(s, LabeledSegment) and s.speaker:
                    overlap[offline.index(t.speaker), live.index(s.speaker)] += max(
                        0.0, min(t.end, s.end) - max(t.start, s.start)
                    )
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols):
            if overlap[r, c] > 0:
                mapping[offline[r]] = live[c]
    used = set(mapping.values()) | set(live)
    n = 1
    for spk in offline:
        if spk in mapping:
            continue
        while f"S{n}" in used:
            n += 1
        mapping[spk] = f"S{n}"
        used.add(f"S{n}")
    return mapping


def relabel(
    segments: Sequence[LabeledSegment | SegmentIn],
    turns: list[Turn],
    hints: Sequence[Hint | dict] = (),
) -> tuple[list[LabeledSegment], int]:
    """Final labels for transcript segments from offline turns; returns (segments, how many changed).

    A segment that spans a change of offline speaker is split at the change on word timestamps. The count
    is of input segments whose speaker or role differs in any output piece; an unlabelled ``SegmentIn``
    always counts as changed.
    """
    mapping = map_speakers(segments, turns)
    mapped = sorted((Turn(t.start, t.end, mapping[t.speaker]) for t in turns), key=lambda t: t.start)
    roles = assign_turn_roles(mapped, hints=hints, segments=segments)
    out: list[LabeledSegment] = []
    changed = 0
    for seg in segments:
        pieces = split_words(seg, lambda t: _speaker_at(mapped, t))
        labelled: list[LabeledSegment] = []
        for piece, spk in pieces:
            speaker = spk or (seg.speaker if isinstance(seg, LabeledSegment) else "") or "S1"
            labelled.append(LabeledSegment.of(piece, speaker, roles.get(speaker, RoleDecision("unknown", 0.5))))
        if not isinstance(seg, LabeledSegment) or any(
            p.speaker != seg.speaker or p.role != seg.role for p in labelled
        ):
            changed += 1
        out.extend(labelled)
    return out, changed
