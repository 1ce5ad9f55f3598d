"""``POST /api/interviews/``: upload a recorded interview (multipart), analysed by the whole-recording pass.

Thin: the serializer parses the form, ``analysis.recordings.recording_import`` decodes and stores (or
refuses with a ``RecordingError``, storing nothing), the pass is queued after commit, and the answer is
``202`` with the interview, its progress and where to look (docs/recordings.md).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from analysis.audio.decode import ACCEPTED, RecordingError
from analysis.models import QuestionSet
from analysis.recording_tasks import recording_enqueue
from analysis.recordings import RecordingHint, recording_import
from sessions.api.selectors import question_sets_visible_to
from sessions.api.serializers import ErrorSerializer, InterviewDetailSerializer
from sessions.models import Interview, RecordingImport


class RecordingRefused(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_recording"


class RecordingTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class HintSerializer(serializers.Serializer):
    at = serializers.FloatField(min_value=0)
    speaker = serializers.ChoiceField(choices=["interviewer", "candidate", ""], required=False, default="")
    kind = serializers.ChoiceField(choices=["note", "question"], required=False, default="note")
    text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["speaker"] and attrs["kind"] != "question" and not attrs["text"]:
            raise ValidationError("a hint names a speaker, marks a question or carries a note")
        return attrs


class RecordingUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"the recording: {ACCEPTED}")
    language = serializers.ChoiceField(choices=Interview.Language.values, default=Interview.Language.AUTO)
    question_set = serializers.SlugField(required=False, allow_blank=True, help_text="slug of a visible question set")
    candidate_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    consent = serializers.BooleanField(help_text="the candidate agreed to recording and analysis (must be true)")
    layout = serializers.ChoiceField(choices=RecordingImport.Layout.values, default=RecordingImport.Layout.MONO)
    analysis_affect = serializers.BooleanField(required=False, allow_null=True, default=None)
    terms = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                  help_text="domain words, comma-separated: recognised as hotwords (docs/stt.md)")
    hints = serializers.CharField(
        required=False, allow_blank=True, default="",
        help_text='JSON list of {"at": s, "speaker": "interviewer"|"candidate", "kind": "note"|"question", "text"}',
    )

    def validate_hints(self, value: str) -> list[RecordingHint]:
        if not value.strip():
            return []
        try:
            raw = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not JSON: {exc.msg}") from exc
        if not isinstance(raw, list) or len(raw) > 1000:
            raise ValidationError("a JSON list of at most 1000 hints")
        hints = HintSerializer(data=raw, many=True)
        hints.is_valid(raise_exception=True)
        return [RecordingHint(**h) for h in hints.validated_data]

    def validate_question_set(self, value: str) -> QuestionSet | None:
        if not value:
            return None
        found = question_sets_visible_to(user=self.context["request"].user).filter(slug=value).first()
        if found is None:
            raise ValidationError("no such question set")
        return found

    def validate_consent(self, value: bool) -> bool:
        if not value:
            raise ValidationError("the candidate's consent to recording and analysis is required", code="consent_required")
        return value


UPLOAD_SCHEMA = extend_schema(
    operation_id="interviews_upload",
    summary="Upload a recorded interview; analysed by the whole-recording pass (202, progress in `recording`)",
    request={"multipart/form-data": RecordingUploadSerializer},
    responses={202: InterviewDetailSerializer, 400: OpenApiResponse(ErrorSerializer, description="corrupt, "
               "unsupported or invalid upload (nothing stored)"), 413: ErrorSerializer},  # fmt: skip
)


def interview_upload(request: Request) -> Response:
    upload = request.FILES.get("file")
    if upload is not None and upload.size > settings.RECORDING_MAX_BYTES:
        raise RecordingTooLarge(f"the file is {upload.size} bytes; at most {settings.RECORDING_MAX_BYTES} are accepted")
    form = RecordingUploadSerializer(data=request.data, context={"request": request})
    form.is_valid(raise_exception=True)
    data = form.validated_data
    try:
        interview = recording_import(
            source=data["file"], filename=data["file"].name or "", owner=request.user, language=data["language"],
            question_set=data.get("question_set"), candidate_name=data["candidate_name"], consent=data["consent"],
            layout=data["layout"], hints=data["hints"], analysis_affect=data["analysis_affect"],
            custom_terms=[t for t in data["terms"].split(",") if t.strip()],
        )  # fmt: skip
    except RecordingError as exc:
        raise RecordingRefused(exc.message, code=exc.code) from exc
    recording_enqueue(str(interview.pk))
    body = InterviewDetailSerializer(interview, context={"request": request}).data
    response = Response(body, status=status.HTTP_202_ACCEPTED)
    response["Location"] = f"/api/interviews/{interview.pk}/"
    return response
