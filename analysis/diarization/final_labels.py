"""Final speaker labels that are never worse than the live ones.

Why: the final pass re-clusters the whole recording, which corrects early live mistakes, but an unbounded
re-clustering can also be wrong where live was right (a two-person Korean mock interview streamed through
the service came out of it with three speakers, the interviewer split in two). So the final labels start
from the live ones and change them only where the re-clustering is both different and clearly better:

1. the number of voices is bounded by what the session showed (live voices with at least
   ``MIN_VOICE_S`` of speech) or by a ``num_speakers`` hint; clusters closer than a voice are merged;
2. final speakers are mapped onto live labels by overlap (Hungarian), so "S1" keeps its meaning;
3. where a live piece of speech and the final clustering disagree, the piece's voice vector is compared
   with both voices' centroids (from the windows where live and final agree): the label changes only if
   the final voice is closer by ``CHANGE_MARGIN``; otherwise the live label is kept;
4. a live voice no final speaker maps to (live split one voice in two) is merged into the voice it sounds
   like when their windows are closer than ``MERGE_SIMILARITY``.

Every decision is recorded (``FinalLabels.summary()``) so the report can say how many labels the final pass
changed and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.diarization.clustering import MERGE_SIMILARITY
from analysis.diarization.embeddings import SAMPLE_RATE, embed_windows, sliding_windows
from analysis.diarization.live import PRACTICE_DECISION, PRACTICE_SPEAKER, LabeledSegment, SegmentIn, split_words
from analysis.diarization.offline import _speaker_at, assign_turn_roles, diarize_recording, map_speakers
from analysis.diarization.roles import Hint, RoleDecision
from analysis.diarization.rttm import Turn

MIN_VOICE_S = 3.0  # a live voice with less speech than this does not raise the bound on voices
CHANGE_MARGIN = 0.05  # cosine by which the final voice must be closer than the live one to relabel
JUDGE_HOP_S = 0.75
MIN_UNCOVERED_S = 0.3  # final speech outside every live segment shorter than this is ignored


@dataclass(frozen=True)
class LabelChange:
    start: float
    end: float
    live: str
    final: str
    applied: bool
    reason: str
    margin: float | None = None

    def to_dict(self) -> dict:
        out = {"start": round(self.start, 2), "end": round(self.end, 2), "live": self.live, "final": self.final,
               "applied": self.applied, "reason": self.reason}
        if self.margin is not None:
            out["score"] = round(self.margin, 3)
        return out


@dataclass
class FinalLabels:
    """Reconciled turns (live label names) with roles, and what was decided where live and final differ."""

    turns: list[Turn]
    roles: dict[str, RoleDecision]
    decisions: list[LabelChange] = field(default_factory=list)
    live_speakers: int = 0
    final_speakers: int = 0
    bound: int | None = None

    def speaker_at(self, t: float) -> str | None:
        return _speaker_at(self.turns, t)

    def label(self, segments: Sequence[SegmentIn | LabeledSegment]) -> list[LabeledSegment]:
        """Final labels for transcript segments (live ones, or the final re-transcription)."""
        out: list[LabeledSegment] = []
        for seg in segments:
            for piece, spk in split_words(seg, self.speaker_at):
                speaker = spk or (seg.speaker if isinstance(seg, LabeledSegment) else "") or "S1"
                out.append(LabeledSegment.of(piece, speaker, self.roles.get(speaker, RoleDecision("unknown", 0.5))))
        return out

    def changed(self, live: Sequence[LabeledSegment]) -> int:
        """How many live segments have another speaker or role in any of their final pieces."""
        n = 0
        for seg in live:
            pieces = self.label([seg])
            if any(p.speaker != seg.speaker or p.role != seg.role for p in pieces):
                n += 1
        return n

    def summary(self, live: Sequence[LabeledSegment]) -> dict:
        applied = [d for d in self.decisions if d.applied]
        kept = [d for d in self.decisions if not d.applied]
        reasons: dict[str, int] = {}
        for d in self.decisions:
            reasons[d.reason] = reasons.get(d.reason, 0) + 1
        role_changes = sorted(
            {s.speaker for s in live if s.speaker in self.roles and self.roles[s.speaker].role != s.role}
        )
        return {
            "changed": self.changed(live),
            "speaker_changes_applied": len(applied),
            "kept_live": len(kept),
            "reasons": reasons,
            "role_changes": [
                {"speaker": spk, "live": next(s.role for s in live if s.speaker == spk), "final": self.roles[spk].role}
                for spk in role_changes
            ],
            "live_speakers": self.live_speakers,
            "final_speakers": self.final_speakers,
            "bound": self.bound,
            "decisions": [d.to_dict() for d in self.decisions[:50]],
        }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _uncovered(turn: Turn, covered: list[tuple[float, float]]) -> list[Turn]:
    parts = [(turn.start, turn.end)]
    for a, b in covered:
        nxt = []
        for s, e in parts:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if a > s:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        parts = nxt
    return [Turn(s, e, turn.speaker) for s, e in parts if e - s >= MIN_UNCOVERED_S]


def final_labels(
    audio: np.ndarray,
    live: Sequence[LabeledSegment],
    *,
    hints: Sequence[Hint | dict] = (),
    num_speakers: int | None = None,
    turns: list[Turn] | None = None,
    practice: bool = False,
    enroll_until: float = 0.0,
) -> FinalLabels:
    """Reconcile a re-clustering of ``audio`` (16 kHz mono, or (n, 2) per channel) with the live labels.

    ``practice``: a candidate rehearsing alone; every voice is the candidate and nothing is re-clustered.
    ``enroll_until``: the first seconds are the interviewer's enrollment: live labels there are kept (the
    live path pinned them) and that voice is the interviewer.
    """
    if practice:
        whole = [Turn(s.start, s.end, PRACTICE_SPEAKER) for s in sorted(live, key=lambda s: s.start)]
        n = len(audio) / SAMPLE_RATE
        return FinalLabels(whole or [Turn(0.0, n, PRACTICE_SPEAKER)], {PRACTICE_SPEAKER: PRACTICE_DECISION},
                           [], len({s.speaker for s in live}), 1, 1)
    live = sorted((s for s in live if s.speaker), key=lambda s: s.start)
    speech: dict[str, float] = {}
    for s in live:
        speech[s.speaker] = speech.get(s.speaker, 0.0) + max(0.0, s.end - s.start)
    major = [spk for spk, sec in speech.items() if sec >= MIN_VOICE_S]
    bound = num_speakers or (max(1, len(major)) if live else None)
    if turns is None:
        turns = diarize_recording(audio, num_speakers=num_speakers, max_speakers=bound)
    final_speakers = len({t.speaker for t in turns})
    if not live:
        return FinalLabels(turns, assign_turn_roles(turns, hints=hints, enroll_until=enroll_until), [], 0,
                           final_speakers, bound)
    if np.asarray(audio).ndim == 2:  # two channels: the channel decides, as it did live
        mapping = map_speakers(live, turns)
        mapped = sorted((Turn(t.start, t.end, mapping[t.speaker]) for t in turns), key=lambda t: t.start)
        roles = assign_turn_roles(mapped, hints=hints, segments=live)  # the channel pins the interviewer
        return FinalLabels(mapped, roles, [], len(speech), final_speakers, bound)

    mapping = map_speakers(live, turns)
    mapped = sorted((Turn(t.start, t.end, mapping[t.speaker]) for t in turns), key=lambda t: t.start)

    # Windows of live speech, each with its live and final label.
    windows = sliding_windows([(s.start, s.end) for s in live], hop=JUDGE_HOP_S)
    emb = embed_windows(np.asarray(audio, dtype=np.float32), windows)
    centers = emb.centers
    vecs = emb.vectors
    live_of = []
    for c in centers:
        seg = next((s for s in live if s.start - 1e-6 <= c <= s.end + 1e-6), None)
        live_of.append(seg.speaker if seg else None)
    decisions: list[LabelChange] = []

    # A final voice the live session never had, but which sounds like a live voice: one voice cut in two.
    final_of = [_speaker_at(mapped, float(c)) for c in centers]
    for lab in sorted({t.speaker for t in mapped} - set(speech)):
        own = [i for i in range(len(centers)) if final_of[i] == lab]
        sims = {}
        for other in speech:
            ref = [i for i in range(len(centers)) if live_of[i] == other and final_of[i] == other]
            if own and ref:
                sims[other] = float((vecs[own] @ vecs[ref].T).mean())
        best = max(sims, key=sims.__getitem__) if sims else None
        if best is not None and sims[best] >= MERGE_SIMILARITY:
            span = [t for t in mapped if t.speaker == lab]
            decisions.append(LabelChange(span[0].start, span[-1].end, best, lab, False,
                                         "final cluster merged back: same voice", sims[best]))
            mapped = [Turn(t.start, t.end, best if t.speaker == lab else t.speaker) for t in mapped]
    final_of = [_speaker_at(mapped, float(c)) for c in centers]

    def final_at(t: float) -> str | None:
        return _speaker_at(mapped, t)

    def centroid(label: str, exclude: set[int]) -> np.ndarray | None:
        """The voice of ``label`` where live and final agree (else where final says so), leaving out ``exclude``."""
        for agreed in (True, False):
            idx = [i for i in range(len(centers))
                   if i not in exclude and final_of[i] == label and (live_of[i] == label or not agreed)]
            if idx:
                return _unit(vecs[idx].mean(axis=0))
        return None

    merged: dict[str, str] = {}
    final_labels_set = {t.speaker for t in mapped}
    for lab in sorted(set(speech) - final_labels_set):
        # a live voice the re-clustering did not keep: one voice the live path split in two?
        own = [i for i in range(len(centers)) if live_of[i] == lab]
        best, best_sim = None, -1.0
        for other in final_labels_set:
            ref = [i for i in range(len(centers)) if live_of[i] == other and final_of[i] == other]
            if own and ref:
                sim = float((vecs[own] @ vecs[ref].T).mean())
                if sim > best_sim:
                    best, best_sim = other, sim
        if best is not None and best_sim >= MERGE_SIMILARITY:
            merged[lab] = best
            span = [s for s in live if s.speaker == lab]
            decisions.append(LabelChange(span[0].start, span[-1].end, lab, best, True, "same voice as another live speaker", best_sim))

    pieces: list[Turn] = []
    for seg in live:
        if seg.speaker in merged:
            pieces.append(Turn(seg.start, seg.end, merged[seg.speaker]))
            continue
        for piece, spk in split_words(seg, final_at):
            if spk is None or spk == seg.speaker:
                pieces.append(Turn(piece.start, piece.end, seg.speaker))
                continue
            if (piece.start + piece.end) / 2 < enroll_until:
                decisions.append(LabelChange(piece.start, piece.end, seg.speaker, spk, False, "enrolled interviewer: kept live"))
                pieces.append(Turn(piece.start, piece.end, seg.speaker))
                continue
            inside = [i for i in range(len(centers)) if piece.start - 1e-6 <= centers[i] <= piece.end + 1e-6]
            a, b = centroid(spk, set(inside)), centroid(seg.speaker, set(inside))
            if seg.speaker not in final_labels_set and speech[seg.speaker] < MIN_VOICE_S:
                # a few seconds the live path gave a voice of their own, which the whole recording does not
                # support as a voice: the final clustering places them
                decisions.append(LabelChange(piece.start, piece.end, seg.speaker, spk, True, "minor live voice not found by the final pass"))
                pieces.append(Turn(piece.start, piece.end, spk))
                continue
            if not inside or a is None or b is None:
                decisions.append(LabelChange(piece.start, piece.end, seg.speaker, spk, False, "nothing to judge by: kept live"))
                pieces.append(Turn(piece.start, piece.end, seg.speaker))
                continue
            v = _unit(vecs[inside].mean(axis=0))
            margin = float(v @ a) - float(v @ b)
            if margin >= CHANGE_MARGIN:
                decisions.append(LabelChange(piece.start, piece.end, seg.speaker, spk, True, "voice closer to the final speaker", margin))
                pieces.append(Turn(piece.start, piece.end, spk))
            else:
                decisions.append(LabelChange(piece.start, piece.end, seg.speaker, spk, False, "low confidence: kept live", margin))
                pieces.append(Turn(piece.start, piece.end, seg.speaker))
    covered = [(s.start, s.end) for s in live]
    extra = [part for t in mapped for part in _uncovered(t, covered)]
    extra = [Turn(t.start, t.end, merged.get(t.speaker, t.speaker)) for t in extra]
    reconciled = sorted(pieces + extra, key=lambda t: t.start)
    roles = assign_turn_roles(reconciled, hints=hints, segments=live, enroll_until=enroll_until)
    return FinalLabels(reconciled, roles, decisions, len(speech), final_speakers, bound)
