"""``manage.py import_recording FILE ...``: recorded interviews from the command line (docs/recordings.md).

Each file becomes an interview, as ``POST /api/interviews/`` makes one. With a broker (``REDIS_URL``) the
whole-recording pass is queued on ``interviews_final`` for the workers; on the embedded default, or with
``--inline``, it runs here and the command prints its progress.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.audio.decode import RecordingError
from analysis.models import QuestionSet
from analysis.recording_tasks import recording_enqueue
from analysis.recordings import RecordingHint, recording_failed, recording_import, recording_process
from sessions.models import Interview, RecordingImport


class Command(BaseCommand):
    help = "Import recorded interviews (WAV, MP3, M4A, MP4, WebM/Ogg Opus, FLAC) and analyse them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--consent", action="store_true", help="the candidate agreed to recording and analysis")
        parser.add_argument("--language", choices=Interview.Language.values, default="auto")
        parser.add_argument("--question-set", default="", help="question set slug")
        parser.add_argument("--candidate", default="", help="candidate name")
        parser.add_argument("--owner", default="", help="username owning the interviews (default: none)")
        parser.add_argument("--layout", choices=RecordingImport.Layout.values, default="mono",
                            help="two_channel: one speaker per channel, interviewer on channel 0")  # fmt: skip
        parser.add_argument("--hints", type=Path, default=None,
                            help='JSON file: [{"at": s, "speaker": "interviewer"|"candidate", "kind": "note"|"question"}]')
        parser.add_argument("--terms", default="", help="domain words, comma-separated (hotwords, docs/stt.md)")
        parser.add_argument("--inline", action="store_true", help="run the pass in this process even with a broker")

    def handle(self, *args: Any, files: list[Path], consent: bool, language: str, question_set: str, candidate: str,
               owner: str, layout: str, hints: Path | None, inline: bool, terms: str, **options: Any) -> None:
        if not consent:
            raise CommandError("--consent is required: the candidate must have agreed to recording and analysis")
        user = get_user_model().objects.filter(username=owner).first() if owner else None
        if owner and user is None:
            raise CommandError(f"no user {owner!r}")
        qs = QuestionSet.objects.filter(slug=question_set).first() if question_set else None
        if question_set and qs is None:
            raise CommandError(f"no question set {question_set!r}")
        hint_list = self._hints(hints)
        inline = inline or settings.EMBEDDED
        failures = 0
        for path in files:
            if not path.is_file():
                self.stderr.write(f"{path}: no such file")
                failures += 1
                continue
            try:
                interview = recording_import(
                    source=str(path), filename=path.name, owner=user, language=language, question_set=qs,
                    candidate_name=candidate, consent=True, layout=layout, hints=hint_list,
                    custom_terms=[t for t in terms.split(",") if t.strip()],
                )  # fmt: skip
            except RecordingError as exc:
                self.stderr.write(f"{path}: refused ({exc.code}): {exc.message}")
                failures += 1
                continue
            self.stdout.write(f"{path}: interview {interview.pk} ({interview.duration_s:.1f} s of audio)")
            if inline:
                failures += not self._run(str(interview.pk))
            else:
                recording_enqueue(str(interview.pk))
                self.stdout.write(f"  queued on interviews_final; report: /interviews/{interview.pk}/report/")
        if failures:
            raise CommandError(f"{failures} of {len(files)} file(s) failed")

    def _hints(self, path: Path | None) -> list[RecordingHint]:
        if path is None:
            return []
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return [RecordingHint(at=float(h["at"]), speaker=h.get("speaker", ""), kind=h.get("kind", "note"),
                                  text=h.get("text", "")) for h in raw]  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"--hints: {exc}") from exc

    def _run(self, interview_id: str) -> bool:
        try:
            recording_process(interview_id=interview_id)
        except Exception as exc:  # noqa: BLE001 - recorded on the interview and reported, then the next file
            recording_failed(interview_id=interview_id, reason=f"{type(exc).__name__}: {exc}")
            self.stderr.write(f"  failed: {type(exc).__name__}: {exc}")
            return False
        recording = RecordingImport.objects.get(pk=interview_id)
        self.stdout.write(f"  {recording.stage}; report: /interviews/{interview_id}/report/")
        return True
