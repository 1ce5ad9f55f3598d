"""API views: thin. Each parses, asks a selector or a service, responds.

Exports (transcripts, RTTM, report, audio) return plain Django responses with their own media types;
content negotiation is forced to JSON for them, so a client asking ``Accept: text/vtt`` gets the file (or a
JSON error), never a 406 from DRF's renderer matching.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import mimetypes
from collections.abc import AsyncIterator
from typing import IO, Any

from django.core.files.storage import Storage
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scoring.report import render_report_html
from sessions.api import exports, uploads
from sessions.api.permissions import CanRunInterviews, InterviewAccess, QuestionSetAccess
from sessions.api.ranges import RangeNotSatisfiable, parse_range
from sessions.api.selectors import (
    interview_report_dict, interview_transcript, interviews_visible_to, question_sets_visible_to,
)  # fmt: skip
from sessions.api.serializers import (
    ErrorSerializer, InterviewDetailSerializer, InterviewFilterSerializer, InterviewListSerializer,
    QuestionSetSerializer, WsTicketSerializer,
)  # fmt: skip
from sessions.api.throttles import TicketThrottle
from sessions.models import Interview
from sessions.retention import interview_erase
from sessions.tickets import ticket_issue

logger = logging.getLogger(__name__)

STREAM_CHUNK = 64 * 1024
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ERRORS = {404: OpenApiResponse(ErrorSerializer, description="unknown id, someone else's interview, or not ready")}


class InterviewPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# --- interviews ---------------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(parameters=[InterviewFilterSerializer], summary="Interviews the caller may see"),
    retrieve=extend_schema(summary="One interview with notes and answers", responses={200: InterviewDetailSerializer, **ERRORS}),
    destroy=extend_schema(
        summary="Erase the interview everywhere (rows, audio file, live state)", responses={204: None, **ERRORS}
    ),
)
class InterviewViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsAuthenticated, InterviewAccess]
    filter_backends = [filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["candidate_name"]
    ordering_fields = ["started_at", "ended_at", "duration_s", "candidate_name", "status", "overall_score"]
    ordering = ["-started_at"]
    pagination_class = InterviewPagination
    lookup_value_regex = UUID_RE

    def get_serializer_class(self) -> type:
        return InterviewListSerializer if self.action == "list" else InterviewDetailSerializer

    def get_queryset(self) -> QuerySet[Interview]:
        queryset = interviews_visible_to(user=self.request.user)
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("notes", "answers")
        if self.action != "list":
            return queryset
        params = InterviewFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if "status" in data:
            queryset = queryset.filter(status=data["status"])
        if "language" in data:
            queryset = queryset.filter(language=data["language"])
        if "started_from" in data:
            queryset = queryset.filter(started_at__gte=_day_start(data["started_from"]))
        if "started_to" in data:
            queryset = queryset.filter(started_at__lt=_day_start(data["started_to"] + dt.timedelta(days=1)))
        return queryset

    def perform_destroy(self, instance: Interview) -> None:
        interview_erase(interview=instance)

    def get_permissions(self) -> list[Any]:
        if self.action == "create":  # uploading a recording is running an interview (the interviewer role)
            return [IsAuthenticated(), CanRunInterviews()]
        return super().get_permissions()

    @uploads.UPLOAD_SCHEMA
    def create(self, request: Request) -> Response:
        """``POST /api/interviews/``: a recorded interview (sessions/api/uploads.py)."""
        return uploads.interview_upload(request)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


# --- exports ------------------------------------------------------------------------------------------------
class InterviewFileView(APIView):
    """Base of the per-interview exports: the caller's interview (404 otherwise), JSON for errors."""

    permission_classes = [IsAuthenticated, InterviewAccess]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)

    def get_interview(self, request: Request, pk: Any) -> Interview:
        interview = interviews_visible_to(user=request.user).filter(pk=pk).first()
        if interview is None:
            raise NotFound("No such interview.")
        self.check_object_permissions(request, interview)
        return interview


def _text(body: str, content_type: str, filename: str | None = None) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


TRANSCRIPT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "txt": "text/plain"}


class TranscriptView(InterviewFileView):
    """Segments of the final pass when it stored them, else the live ones; ``X-Transcript-Source`` says which."""

    @extend_schema(
        operation_id="interviews_transcript",
        summary="Transcript (final pass when stored, else live) as JSON, SRT, WebVTT or text",
        parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["json", "srt", "vtt", "txt"])],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/plain"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request, pk: Any, fmt: str) -> HttpResponse:
        interview = self.get_interview(request, pk)
        segments, source = interview_transcript(interview=interview)
        if fmt == "json":
            body = exports.to_json(
                segments, interview_id=str(interview.pk), language=interview.effective_language, source=source
            )
            response: HttpResponse = Response(body)
        elif fmt == "srt":
            response = _text(exports.to_srt(segments), TRANSCRIPT_TYPES[fmt], f"{interview.pk}.srt")
        elif fmt == "vtt":
            response = _text(exports.to_vtt(segments), TRANSCRIPT_TYPES[fmt], f"{interview.pk}.vtt")
        elif fmt == "txt":
            response = _text(exports.to_txt(segments), TRANSCRIPT_TYPES[fmt], f"{interview.pk}.txt")
        else:
            raise NotFound("Unknown transcript format; use json, srt, vtt or txt.")
        response["X-Transcript-Source"] = source
        return response


@extend_schema(
    summary="Speaker turns as RTTM (NIST), file id = interview id",
    responses={(200, "text/plain"): OpenApiTypes.STR, **ERRORS},
)
class DiarizationRttmView(InterviewFileView):
    """One SPEAKER line per transcript segment, scoreable with pyannote.metrics or dscore."""

    def get(self, request: Request, pk: Any) -> HttpResponse:
        interview = self.get_interview(request, pk)
        segments, source = interview_transcript(interview=interview)
        response = _text(exports.to_diarization_rttm(segments, file_id=str(interview.pk)), "text/plain",
                         f"{interview.pk}.rttm")  # fmt: skip
        response["X-Transcript-Source"] = source
        return response


def _report_or_404(interview: Interview) -> dict[str, Any]:
    report = interview_report_dict(interview=interview)
    if report is None:
        raise NotFound("No report yet: it is stored when the final pass of a completed interview finishes.",
                       code="report_not_ready")  # fmt: skip
    return report


@extend_schema(summary="The stored report (docs/report.schema.json)", responses={200: OpenApiTypes.OBJECT, **ERRORS})
class ReportJsonView(InterviewFileView):
    """404 with code ``report_not_ready`` until the final pass stores the report."""

    def get(self, request: Request, pk: Any) -> Response:
        return Response(_report_or_404(self.get_interview(request, pk)))


@extend_schema(summary="The stored report as a standalone HTML page", responses={(200, "text/html"): OpenApiTypes.STR, **ERRORS})
class ReportHtmlView(InterviewFileView):
    """The report rendered by ``scoring.report.render_report_html``; same 404 as report.json until ready."""

    def get(self, request: Request, pk: Any) -> HttpResponse:
        report = _report_or_404(self.get_interview(request, pk))
        response = _text(render_report_html(report), "text/html")
        # The page is self-contained (inline CSS and SVG): nothing else may load or run in it.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return response


async def _file_chunks(storage: Storage, name: str, start: int, length: int) -> AsyncIterator[bytes]:
    """The file's bytes ``start``..``start+length`` in 64 KiB blocks, read in a thread one block at a time.

    Why async: under daphne (ASGI) Django consumes a *sync* iterator by first reading it whole into a
    list, so a two-hour two-channel WAV (~460 MB) would sit in the server's memory per request. An async
    iterator is sent block by block; the blocking reads run in a worker thread, off the event loop.
    """
    handle: IO[bytes] = await asyncio.to_thread(storage.open, name, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = length
        while remaining > 0:
            block = await asyncio.to_thread(handle.read, min(STREAM_CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        await asyncio.to_thread(handle.close)


@extend_schema(
    summary="The interview's audio (WAV); honours a single HTTP Range (206)",
    parameters=[OpenApiParameter("Range", str, OpenApiParameter.HEADER, required=False)],
    responses={(200, "audio/wav"): OpenApiTypes.BINARY, (206, "audio/wav"): OpenApiTypes.BINARY,
               416: OpenApiResponse(description="range beyond the file"), **ERRORS},  # fmt: skip
)
class AudioView(InterviewFileView):
    """Streams the stored WAV to its owner or staff; browsers seek with Range requests (206)."""

    def get(self, request: Request, pk: Any) -> HttpResponse:
        interview = self.get_interview(request, pk)
        if not interview.audio or not interview.audio.storage.exists(interview.audio.name):
            raise NotFound("No audio stored for this interview (yet).", code="audio_not_ready")
        storage, name = interview.audio.storage, interview.audio.name
        size = storage.size(name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:
            byte_range = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            response = HttpResponse(status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE)
            response["Content-Range"] = f"bytes */{size}"
            return response
        start, length = (byte_range.start, byte_range.length) if byte_range else (0, size)
        response = StreamingHttpResponse(_file_chunks(storage, name, start, length), content_type=content_type)
        if byte_range is not None:
            response.status_code = status.HTTP_206_PARTIAL_CONTENT
            response["Content-Range"] = byte_range.content_range(size)
        response["Content-Length"] = str(length)
        response["Accept-Ranges"] = "bytes"
        response["Cache-Control"] = "private, no-store"
        return response


# --- question sets -----------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="Shared question sets and the caller's own"),
    create=extend_schema(summary="Create a question set (owned by the caller) with its questions"),
)
class QuestionSetViewSet(viewsets.ModelViewSet):
    serializer_class = QuestionSetSerializer
    permission_classes = [IsAuthenticated, QuestionSetAccess]
    pagination_class = None

    def get_queryset(self) -> QuerySet[Any]:
        return question_sets_visible_to(user=self.request.user)

    def perform_create(self, serializer: QuestionSetSerializer) -> None:
        serializer.save(owner=self.request.user)


# --- WebSocket tickets ---------------------------------------------------------------------------------------
class WsTicketView(APIView):
    """Issue a one-time ticket for ``ws://HOST/ws/interviews/?ticket=...`` (browsers cannot send tokens).

    Only for people who may run interviews (the interviewer role): a ticket opens the interview socket.
    """

    permission_classes = [IsAuthenticated, CanRunInterviews]
    throttle_classes = [*APIView.throttle_classes, TicketThrottle]
    throttle_scope = "ws_ticket"

    @extend_schema(summary="One-time WebSocket ticket, valid 60 s", request=None, responses={201: WsTicketSerializer})
    def post(self, request: Request) -> Response:
        issued = ticket_issue(user_id=int(request.user.pk))
        logger.info("ws ticket issued to user %s", request.user.pk)
        body = {"ticket": issued.ticket, "expires_in": issued.expires_in, "ws_url": issued.ws_url}
        response = Response(WsTicketSerializer(body).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


__all__ = [
    "AudioView", "DiarizationRttmView", "InterviewViewSet", "QuestionSetViewSet", "ReportHtmlView", "ReportJsonView",
    "TranscriptView", "WsTicketView",
]  # fmt: skip
