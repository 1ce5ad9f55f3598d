from django.apps import AppConfig


class InterviewSessionsConfig(AppConfig):
    name = "sessions"
    # "sessions" is taken by django.contrib.sessions.
    label = "interview_sessions"
    verbose_name = "Interviews"
    default_auto_field = "django.db.models.BigAutoField"
