"""Role corrections: when the live diarizer changes a voice's role, the record follows.

Why a module of its own: the diarizer (pure) only says "voice S1 is the candidate after all"; the stored
segments, the answers analysed from them and the client's view must all follow, so that the report is
always built from the latest roles. The live stages call two functions here: ``roles_correct`` from the
diarize stage (stored segments, the ``role_correction`` event) and ``answers_reset`` from the analyze
stage (answers analysed under the old roles are analysed again).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from analysis.diarization.live import RoleCorrection
from analysis.models import AnswerAnalysis
from sessions import events
from sessions.models import Segment


def roles_correct(*, session_id: str, corrections: list[RoleCorrection]) -> events.RoleCorrection:
    """Give every stored segment of the corrected speakers its new role (and name, for a voice merged into
    another), applying the corrections in the order found; return the event for the client."""
    ids: set[int] = set()
    with transaction.atomic():
        for c in corrections:
            rows = Segment.objects.filter(interview_id=session_id, speaker=c.speaker)
            if c.merged_into:
                ids.update(rows.values_list("index", flat=True))
                rows.update(speaker=c.merged_into, role=c.role, role_confidence=round(float(c.confidence), 3))
            else:
                ids.update(rows.exclude(role=c.role).values_list("index", flat=True))
                rows.update(role=c.role, role_confidence=round(float(c.confidence), 3))
    return events.role_correction(speakers=[c.to_dict() for c in corrections], segment_ids=list(ids))  # type: ignore[misc]


def answers_reset(*, session_id: str, stage: dict[str, Any], roles_version: int) -> bool:
    """Forget the live answers analysed before the roles last changed; True when something was reset.

    The answers are rebuilt from the stored segments on the next analyze step (and scored again), so the
    live report never keeps an interviewer turn as an answer, or drops an answer, after a correction.
    """
    if int(stage.get("roles_version", 0)) == roles_version:
        return False
    AnswerAnalysis.objects.filter(interview_id=session_id, is_final=False).delete()
    stage["analysed"] = []
    stage.pop("feedback_at", None)
    stage["roles_version"] = roles_version
    return True
