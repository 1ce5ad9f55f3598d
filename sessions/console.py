"""The browser console: the start page, the live page and the report page (docs/console.md).

Why plain Django views and templates: the console must work offline and without a build step, so the pages
are server-rendered HTML that load a few ES modules from ``static/console/``. The views only validate input
and read rows; everything live happens over the interview WebSocket (protocol v1) from the browser.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.static import serve

from analysis.models import QuestionSet
from scoring.selectors import report_html
from sessions.access.console import console_access
from sessions.access.roles import PERM_READ_ALL_INTERVIEWS, PERM_RUN_INTERVIEWS
from sessions.api.selectors import question_sets_visible_to
from sessions.models import Interview, Note, RecordingImport, Segment

logger = logging.getLogger(__name__)

CONSOLE_STATIC_DIR = Path(settings.BASE_DIR) / "static" / "console"
CHUNK_MS = 200
# "Enroll the interviewer's voice": the live page asks the interviewer to read a prompt for this long before
# the candidate speaks, and the socket gets enroll_s (docs/diarization.md, "Enrollment"). Ten seconds give the
# speaker encoder about eight windows of the voice, the prompt takes about that long to read aloud.
CONSOLE_ENROLL_S = 10
"""Audio per binary frame: small enough for a live transcript, large enough to keep per-frame cost low."""

# The audio worklet module must be served as JavaScript; some system MIME tables lack .mjs.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


INTERVIEW_LANGUAGE_CHOICES = [
    (Interview.Language.AUTO.value, _("Detect")),
    (Interview.Language.KOREAN.value, _("Korean")),
    (Interview.Language.ENGLISH.value, _("English")),
]
MODE_CHOICES = [(Interview.Mode.INTERVIEW.value, _("Interview")), (Interview.Mode.PRACTICE.value, _("Practice"))]
ROLE_LABELS = {"interviewer": _("Interviewer"), "candidate": _("Candidate"), "unknown": _("Unknown")}
"""Speaker roles as the interface names them (the model's labels stay English for the admin's choices)."""
STATUS_LABELS = {"live": _("live"), "finalizing": _("finalizing"), "completed": _("completed"),
                 "abandoned": _("abandoned"), "failed": _("failed")}
STAGE_LABELS = {"queued": _("queued"), "transcribe": _("transcribing"), "diarize": _("separating speakers"),
                "analyze": _("analysing answers"), "done": _("done"), "failed": _("failed")}


class StartForm(forms.Form):
    """What the start page asks; the live page re-validates the same fields from its query string.

    Question sets are looked up among those the user may see (``question_sets_visible_to``): somebody
    else's private set is "unknown" here exactly as on the API and the WebSocket.
    """

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    # the interview's language (what is spoken), not the interface's: labels follow the interface language
    language = forms.ChoiceField(choices=INTERVIEW_LANGUAGE_CHOICES, initial=Interview.Language.AUTO)
    question_set = forms.SlugField(required=False)
    candidate = forms.CharField(required=False, max_length=200, strip=True)
    channels = forms.TypedChoiceField(
        choices=[(1, _("Microphone only")), (2, _("Microphone + shared tab audio (remote interviewer)"))],
        coerce=int,
        initial=1,
    )
    mode = forms.ChoiceField(choices=MODE_CHOICES, initial=Interview.Mode.INTERVIEW, required=False)
    # the interviewer reads a short prompt for CONSOLE_ENROLL_S seconds before the candidate speaks
    enroll = forms.BooleanField(required=False)
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("The candidate must agree to recording and analysis before the interview starts.")},
    )

    def clean_question_set(self) -> QuestionSet | None:
        slug = self.cleaned_data.get("question_set") or ""
        if not slug:
            return None
        found = question_sets_visible_to(user=self.user).filter(slug=slug).first()
        if found is None:
            raise forms.ValidationError(_("Unknown question set."))
        return found


def _question_sets(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"slug": qs.slug, "name": qs.name, "language": qs.language, "questions": [q.text for q in qs.questions.all()]}
        for qs in question_sets_visible_to(user=request.user).order_by("language", "name")
    ]


@console_access(PERM_RUN_INTERVIEWS)
def start(request: HttpRequest) -> HttpResponse:
    """``/``: choose language, question set, candidate, channels; consent is required to go on."""
    form = StartForm(initial={"language": "auto", "channels": 1, "mode": Interview.Mode.INTERVIEW}, user=request.user)
    return render(request, "console/start.html", {"form": form, "question_sets": _question_sets(request)})


@console_access(PERM_RUN_INTERVIEWS)
def live(request: HttpRequest) -> HttpResponse:
    """``/interviews/live/``: the page that captures audio and shows the live transcript and scores.

    The interview itself is created by the WebSocket handshake, not here: a reload or a second tab then
    cannot leave orphan rows behind, and the same parameters go to the socket unchanged.
    """
    if request.method == "POST":
        form = StartForm(request.POST, user=request.user)
    else:  # the old GET form: everything but the name (which would sit in the URL and in every log)
        form = StartForm(request.GET.dict() | {"candidate": ""} if request.GET else None, user=request.user)
    if not form.is_valid():
        status = 400 if form.is_bound else 200
        return render(request, "console/start.html", {"form": form, "question_sets": _question_sets(request)},
                      status=status)  # fmt: skip
    data = form.cleaned_data
    question_set: QuestionSet | None = data["question_set"]
    practice = data.get("mode") == Interview.Mode.PRACTICE
    if practice:
        data["channels"] = 1  # one person rehearsing: one microphone
    # enrollment pins the interviewer's voice on one microphone; two channels already say who is who
    enroll_s = CONSOLE_ENROLL_S if data.get("enroll") and not practice and data["channels"] == 1 else 0
    config = {
        "ws_path": "/ws/interviews/",
        "params": {
            "language": data["language"],
            "sample_rate": "16000",
            "channels": str(data["channels"]),
            "consent": "1",
            "question_set": question_set.slug if question_set else "",
            "mode": Interview.Mode.PRACTICE if practice else Interview.Mode.INTERVIEW,
            "enroll_s": str(enroll_s),
        },
        # sent in a session_info message after the first connection_ack: a name never goes in a URL
        "candidate": data["candidate"],
        "chunk_ms": CHUNK_MS,
        "questions": [q.text for q in question_set.questions.all()] if question_set else [],
        "question_set_name": question_set.name if question_set else "",
        "report_url_template": reverse("console-report", kwargs={"interview_id": UUID(int=0)}),
        "worklet_url": f"{settings.STATIC_URL}console/pcm-worklet.js",
        "debug": bool(settings.DEBUG),
        # A logged-in page asks for a one-time ticket before every connect and resume (docs/console.md).
        "ticket_url": reverse("ws-ticket") if request.user.is_authenticated else "",
        "csrf_token": get_token(request) if request.user.is_authenticated else "",
    }
    return render(
        request,
        "console/live.html",
        {"config": config, "candidate": data["candidate"], "channels": data["channels"],
         "language": data["language"], "question_set": question_set, "practice": practice, "enroll_s": enroll_s},
    )


def _may_view(request: HttpRequest, interview: Interview) -> bool:
    """Owners and reviewers see a report; anonymous interviews (DEBUG only) are visible to anyone in DEBUG."""
    if interview.owner_id is None:
        return bool(settings.DEBUG)
    user = request.user
    return bool(user.is_authenticated and (user.pk == interview.owner_id or user.has_perm(PERM_READ_ALL_INTERVIEWS)))


@console_access()
def report(request: HttpRequest, interview_id: UUID) -> HttpResponse:
    """``/interviews/<uuid>/report/``: the scoring report when it can be rendered, else the transcript.

    Outside DEBUG an anonymous visitor is sent to the login page first; a logged-in user who may not see
    the interview gets 404 (the page does not confirm that it exists).
    """
    interview = get_object_or_404(Interview.objects.select_related("question_set"), pk=interview_id)
    if not _may_view(request, interview):
        raise Http404("No such interview")
    html = report_html(interview)
    if html:
        return HttpResponse(html)
    return render(request, "console/transcript.html", _transcript_context(interview))


def _transcript_context(interview: Interview) -> dict[str, Any]:
    """Segments and the questions asked, merged in time order, for the fallback transcript page."""
    segments = list(Segment.objects.filter(interview=interview).order_by("index"))
    notes = list(Note.objects.filter(interview=interview).order_by("at", "id"))
    rows: list[dict[str, Any]] = [
        {"kind": "segment", "at": s.start, "end": s.end, "text": s.text, "role": s.role or "unknown",
         "role_label": ROLE_LABELS.get(s.role or "unknown", ROLE_LABELS["unknown"]),
         "speaker": s.speaker, "confidence": s.confidence}
        for s in segments
    ]
    rows += [{"kind": n.kind, "at": n.at, "text": n.text, "speaker": n.speaker} for n in notes]
    rows.sort(key=lambda r: (r["at"], 0 if r["kind"] != "segment" else 1))
    words = sum(len(s.text.split()) for s in segments)
    recording = RecordingImport.objects.filter(interview=interview).first()
    by_role: dict[str, float] = {}
    for s in segments:
        by_role[s.role or "unknown"] = by_role.get(s.role or "unknown", 0.0) + max(0.0, s.end - s.start)
    return {
        "interview": interview,
        "rows": rows,
        "segment_count": len(segments),
        "word_count": words,
        "talk_time": [(ROLE_LABELS.get(role, role), seconds) for role, seconds in sorted(by_role.items())],
        "pending": interview.status in (Interview.Status.LIVE, Interview.Status.FINALIZING),
        "recording": recording,
        "status_label": STATUS_LABELS.get(interview.status, interview.status),
        "stage_label": STAGE_LABELS.get(recording.stage, recording.stage) if recording else "",
    }


def console_static(request: HttpRequest, path: str) -> HttpResponse:
    """Serve ``static/console/`` when Django itself serves HTTP (daphne has no static handler).

    In a deployment behind a web server, ``collectstatic`` puts the same files under the same URLs, and the
    proxy answers first. ``serve`` normalises the path and refuses anything outside the folder.
    """
    response = serve(request, path, document_root=str(CONSOLE_STATIC_DIR))
    response["Cache-Control"] = "no-cache"
    return response
