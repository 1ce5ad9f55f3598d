"""``manage.py purge_interviews``: the retention purge by hand (cron without Celery beat, or a one-off)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sessions.retention import expired_interviews, interviews_purge_expired, retention_cutoff


class Command(BaseCommand):
    help = "Erase interviews (rows, audio files, live state) started more than RETENTION_DAYS days ago."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override RETENTION_DAYS for this run")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be erased")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        if days is not None and days < 0:
            self.stderr.write("--days cannot be negative")
            raise SystemExit(2)
        if dry_run:
            cutoff = retention_cutoff(days=days)
            count = len(expired_interviews(cutoff=cutoff))
            self.stdout.write(f"{count} interview(s) started before {cutoff.isoformat()} would be erased")
            return
        result = interviews_purge_expired(days=days)
        self.stdout.write(
            f"erased {result.interviews} interview(s) started before {result.cutoff.isoformat()}: "
            f"{result.rows} rows, {result.files} files, {result.keys} live keys"
        )
