"""The roles people have, as Django groups with model permissions (docs/api.md "Logins and roles").

Why groups and model permissions instead of ``is_staff``: staff is "may open the admin", not "may read
every candidate's interview". What a person may do comes from their group, the same in the console, the
REST API, the WebSocket and the admin (which checks model permissions for non-superusers by itself):

- **interviewer**: runs interviews (``add_interview``) and sees the ones they ran; writes their own
  question sets.
- **reviewer**: reads every interview, transcript and report (``view_*``); runs nothing, changes nothing.
- **interview admin**: everything on interviews, question sets and reports, including shared question sets
  and erasure of any interview.

Ownership still counts: everyone sees and may erase their own interviews.
"""

from __future__ import annotations

from typing import Any

INTERVIEWER = "interviewer"
REVIEWER = "reviewer"
ADMIN = "interview admin"

PERM_RUN_INTERVIEWS = "interview_sessions.add_interview"
PERM_READ_ALL_INTERVIEWS = "interview_sessions.view_interview"
PERM_ERASE_ANY_INTERVIEW = "interview_sessions.delete_interview"
PERM_ADD_QUESTION_SET = "analysis.add_questionset"
PERM_READ_ALL_QUESTION_SETS = "analysis.view_questionset"
PERM_CHANGE_ANY_QUESTION_SET = "analysis.change_questionset"
PERM_DELETE_ANY_QUESTION_SET = "analysis.delete_questionset"

ROLE_APPS = ("interview_sessions", "analysis", "scoring")
"""Apps whose every permission the admin role holds."""

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    INTERVIEWER: (PERM_RUN_INTERVIEWS, PERM_ADD_QUESTION_SET),
    REVIEWER: (
        PERM_READ_ALL_INTERVIEWS, "interview_sessions.view_segment", "interview_sessions.view_note",
        "analysis.view_answeranalysis", PERM_READ_ALL_QUESTION_SETS, "analysis.view_question",
        "scoring.view_interviewreport",
    ),  # fmt: skip
    ADMIN: (),  # every permission of ROLE_APPS, filled in by roles_sync
}


def roles_sync(apps: Any) -> None:
    """Create the groups and give each exactly its permissions (idempotent; used by the data migration,
    and by tests after a flush). ``apps`` is the migration's app registry or ``django.apps.apps``."""
    from django.contrib.auth.management import create_permissions

    for label in ("auth", "contenttypes", *ROLE_APPS):
        config = apps.get_app_config(label)
        config.models_module = getattr(config, "models_module", None) or True
        create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        if name == ADMIN:
            perms = list(Permission.objects.filter(content_type__app_label__in=ROLE_APPS))
        else:
            perms = []
            for dotted in wanted:
                app_label, codename = dotted.split(".", 1)
                perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(perms)
