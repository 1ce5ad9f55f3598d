"""Shapes of the API: interviews (list and detail), list filters, question sets with nested questions,
WebSocket tickets. Serializers validate and shape; writes with rules go through small helpers here only
when they are plain nested saves (question sets), everything else through services.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers

from analysis.models import Question, QuestionSet
from analysis.recordings import recording_status
from scoring.rubric_check import rubric_error
from sessions.models import Interview, Note, RecordingImport


class InterviewFilterSerializer(serializers.Serializer):
    """Query parameters of ``GET /api/interviews/`` (validated: a bad value is a 400, never a 500)."""

    status = serializers.ChoiceField(choices=Interview.Status.choices, required=False)
    language = serializers.ChoiceField(choices=Interview.Language.choices, required=False)
    started_from = serializers.DateField(required=False, help_text="first day, inclusive (YYYY-MM-DD, UTC)")
    started_to = serializers.DateField(required=False, help_text="last day, inclusive (YYYY-MM-DD, UTC)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("started_from"), attrs.get("started_to")
        if first and last and first > last:
            raise serializers.ValidationError({"started_to": "must not be before started_from"})
        return attrs


class InterviewListSerializer(serializers.ModelSerializer):
    overall_score = serializers.FloatField(read_only=True, allow_null=True)
    question_set = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.PrimaryKeyRelatedField(read_only=True)
    has_audio = serializers.SerializerMethodField()

    class Meta:
        model = Interview
        fields = [
            "id", "owner", "candidate_name", "status", "end_reason", "language", "detected_language", "started_at", "ended_at",
            "duration_s", "overall_score", "question_set", "consent", "has_audio",
        ]  # fmt: skip
        read_only_fields = fields

    def get_has_audio(self, obj: Interview) -> bool:
        return bool(obj.audio)


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["at", "kind", "speaker", "text"]
        read_only_fields = fields


class AnswerSummarySerializer(serializers.Serializer):
    index = serializers.IntegerField()
    is_final = serializers.BooleanField()
    question_text = serializers.CharField()
    start = serializers.FloatField(allow_null=True)
    end = serializers.FloatField(allow_null=True)
    overall = serializers.FloatField(allow_null=True)
    scores = serializers.DictField()
    feedback = serializers.ListField()


class InterviewDetailSerializer(InterviewListSerializer):
    notes = NoteSerializer(many=True, read_only=True)
    answers = AnswerSummarySerializer(many=True, read_only=True)
    segment_count = serializers.SerializerMethodField()
    has_final_transcript = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    recording = serializers.SerializerMethodField(help_text="uploaded recordings only: the pass's stage and progress")

    class Meta(InterviewListSerializer.Meta):
        fields = [
            *InterviewListSerializer.Meta.fields, "channels", "sample_rate", "analysis_affect", "error_message",
            "segment_count", "has_final_transcript", "notes", "answers", "links", "recording",
        ]  # fmt: skip
        read_only_fields = fields

    def get_segment_count(self, obj: Interview) -> int:
        return obj.segments.count()

    def get_has_final_transcript(self, obj: Interview) -> bool:
        return bool(obj.final_segments)

    def get_recording(self, obj: Interview) -> dict[str, Any] | None:
        recording = RecordingImport.objects.filter(interview=obj).first()
        return recording_status(recording) if recording is not None else None

    def get_links(self, obj: Interview) -> dict[str, str]:
        base = f"/api/interviews/{obj.pk}"
        links = {f"transcript_{fmt}": f"{base}/transcript.{fmt}" for fmt in ("json", "srt", "vtt", "txt")}
        links.update(rttm=f"{base}/diarization.rttm", report_json=f"{base}/report.json",
                     report_html=f"{base}/report.html", audio=f"{base}/audio")  # fmt: skip
        return links


class QuestionSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(min_value=0, max_value=100_000, required=False, default=0)
    text = serializers.CharField(max_length=4000)
    competency = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    expected_keywords = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=100, required=False, default=list
    )

    class Meta:
        model = Question
        fields = ["id", "order", "text", "competency", "expected_keywords"]
        read_only_fields = ["id"]


class QuestionSetSerializer(serializers.ModelSerializer):
    """A question set and its questions; writing ``questions`` replaces the whole list (order matters)."""

    questions = QuestionSerializer(many=True, required=False)
    rubric = serializers.DictField(required=False, default=dict, help_text="Rubric override: {'weights': {...}}")
    owner = serializers.PrimaryKeyRelatedField(read_only=True)
    is_shared = serializers.SerializerMethodField()

    class Meta:
        model = QuestionSet
        fields = ["id", "name", "slug", "language", "rubric", "owner", "is_shared", "created_at", "questions"]
        read_only_fields = ["id", "owner", "is_shared", "created_at"]

    def get_is_shared(self, obj: QuestionSet) -> bool:
        return obj.owner_id is None

    def validate_rubric(self, value: dict[str, Any]) -> dict[str, Any]:
        """Refuse a rubric the scorer cannot use, with the scorer's reason (a typo never changes scores)."""
        problem = rubric_error(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    @staticmethod
    def _write_questions(question_set: QuestionSet, questions: list[dict[str, Any]]) -> None:
        question_set.questions.all().delete()
        Question.objects.bulk_create(
            [Question(question_set=question_set, **q) for q in questions]
        )

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> QuestionSet:
        questions = validated_data.pop("questions", [])
        question_set = QuestionSet.objects.create(**validated_data)
        self._write_questions(question_set, questions)
        return question_set

    @transaction.atomic
    def update(self, instance: QuestionSet, validated_data: dict[str, Any]) -> QuestionSet:
        questions = validated_data.pop("questions", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()
        if questions is not None:
            self._write_questions(instance, questions)
        return instance


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(read_only=True, help_text="one-time, valid for expires_in seconds")
    expires_in = serializers.IntegerField(read_only=True)
    ws_url = serializers.CharField(read_only=True, help_text="append language=..&consent=1 etc. (docs/protocol.md)")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
