"""The interviewer, reviewer and interview-admin groups with their model permissions (sessions.access.roles)."""

from __future__ import annotations

from django.db import migrations


def create_roles(apps, schema_editor):  # noqa: ANN001
    from sessions.access.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("interview_sessions", "0002_interview_analysis_affect_interview_consent_and_more"),
        ("analysis", "0001_initial"),
        ("scoring", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
