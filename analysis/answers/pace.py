"""The one comfortable speaking pace per language unit, used by every judgement of pace.

Finished-answer feedback (``analysis.answers.feedback``), the live nudges while an answer goes on and the
rubric's default delivery targets (``scoring.rubric``) all read these numbers, so one answer's feedback
cannot call a pace too fast that its score calls comfortable. Where they come from: docs/scoring.md.
"""

from __future__ import annotations

# unit -> (slowest, fastest) comfortable rate: words per minute (English), syllables per minute (Korean)
PACE_RANGE: dict[str, tuple[float, float]] = {"wpm": (110.0, 170.0), "spm": (250.0, 400.0)}
